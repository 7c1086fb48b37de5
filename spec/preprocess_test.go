package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const ppNet = "layers:\n  - {op: global_avgpool}\n"

func ppSpec(c, h, w int, extra string) string {
	return fmt.Sprintf("resgen: 1\nname: t\ninput: {channels: %d, height: %d, width: %d}\n", c, h, w) + ppNet + extra
}

func TestPreprocess(t *testing.T) {
	for _, tc := range []struct {
		name string
		c, h int
		src  string
		want Preprocess
	}{
		{"imagenet", 3, 224, "preprocess: {resize: 256, crop: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}\n",
			Preprocess{ResizeShort: 256, Interp: "bilinear", CropH: 224, CropW: 224, Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225}}},
		{"defaults: ToTensor only, color from the channels", 1, 28, "preprocess: {}\n",
			Preprocess{Gray: true, Interp: "bilinear", Mean: []float64{0}, Std: []float64{1}}},
		{"resize pair, bicubic, gray", 1, 20, "preprocess:\n  color: gray\n  resize: [20, 20]\n  interpolation: bicubic\n  mean: [0]\n  std: [2]\n",
			Preprocess{Gray: true, ResizeH: 20, ResizeW: 20, Interp: "bicubic", Mean: []float64{0}, Std: []float64{2}}},
		{"crop inside a resize pair", 3, 20, "preprocess: {color: rgb, resize: [24, 30], crop: [20, 20], interpolation: nearest}\n",
			Preprocess{ResizeH: 24, ResizeW: 30, Interp: "nearest", CropH: 20, CropW: 20, Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(ppSpec(tc.c, tc.h, tc.h, tc.src)))
			if err != nil {
				t.Fatal(err)
			}
			got := *s.Preprocess
			got.Pos = Pos{}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if s.Preprocess.Pos.Line < 6 {
				t.Errorf("Pos %v, want the preprocess: value", s.Preprocess.Pos)
			}
		})
	}
	s, err := Parse("t.yaml", []byte(ppSpec(3, 8, 8, "")))
	if err != nil || s.Preprocess != nil || s.Labels != nil {
		t.Errorf("no preprocess:, no labels: got %+v, %v, %v", s.Preprocess, s.Labels, err)
	}
}

func TestPreprocessErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		c, h, w int
		src     string
		want    []string
	}{
		{"unknown key and bad values", 3, 8, 8, "preprocess: {colour: rgb, interpolation: cubic, resize: 0, crop: [8, x]}\n",
			[]string{`t.yaml:6:14: preprocess: unknown key "colour" (did you mean "color"?); expected color, resize, interpolation, crop, mean, std`,
				`t.yaml:6:42: preprocess interpolation must be one of nearest, bilinear, bicubic, got "cubic" (did you mean "bicubic"?)`,
				`t.yaml:6:57: preprocess resize must be from 1 to 1048576, got 0`,
				`t.yaml:6:70: preprocess crop width must be an integer, got "x"`}},
		{"not a mapping", 3, 8, 8, "preprocess: [1]\n", []string{`t.yaml:6:13: preprocess must be a mapping (key: value), got a list`}},
		{"gray for rgb input", 3, 8, 8, "preprocess: {color: gray}\n",
			[]string{`t.yaml:6:21: preprocess color: gray gives 1 channel, but the input has 3`}},
		{"rgb for gray input", 1, 8, 8, "preprocess: {color: rgb}\n",
			[]string{`t.yaml:6:21: preprocess color: rgb gives 3 channels, but the input has 1`}},
		{"two channels", 2, 8, 8, "preprocess: {}\n",
			[]string{`t.yaml:6:13: preprocess: the input has 2 channels, but a picture gives 3 (rgb) or 1 (gray)`}},
		{"mean and std", 3, 8, 8, "preprocess: {mean: [0.5, 0.5], std: [0.2, 0, -1]}\n",
			[]string{`t.yaml:6:20: preprocess mean has 2 values, but the input has 3 channels`,
				`t.yaml:6:43: preprocess std must be > 0 (it divides), got 0`,
				`t.yaml:6:46: preprocess std must be > 0 (it divides), got -1`}},
		{"mean not numbers", 1, 8, 8, "preprocess: {mean: [a], std: 0.5}\n",
			[]string{`t.yaml:6:21: preprocess mean must be a list of numbers, got "a"`,
				`t.yaml:6:30: preprocess std must be a list of numbers, one per channel, got "0.5"`}},
		{"expression", 3, 8, 8, "vars: {s: 8}\npreprocess: {crop: $s}\n",
			[]string{`t.yaml:7:20: preprocess crop must be a literal value; expressions ($…) are not supported here`}},
		{"crop larger than resize", 3, 8, 8, "preprocess: {resize: [8, 6], crop: 8}\n",
			[]string{`t.yaml:6:36: preprocess crop 8x8 is larger than the resized picture 8x6`}},
		{"crop larger than shorter side", 3, 8, 8, "preprocess: {resize: 6, crop: 8}\n",
			[]string{`t.yaml:6:31: preprocess crop 8x8 is larger than the resized picture in both directions (resize: 6 is its shorter side)`}},
		{"crop not input size", 3, 8, 10, "preprocess: {resize: 12, crop: 8}\n",
			[]string{`t.yaml:6:32: preprocess crop 8x8 must be the input size 8x10`}},
		{"resize int without crop", 3, 8, 10, "preprocess: {resize: 12}\n",
			[]string{`t.yaml:6:22: preprocess resize: 12 sets only the shorter side, so the size depends on the picture; add crop: [8, 10] (the input size) or resize to [8, 10]`}},
		{"resize pair not input size", 3, 8, 10, "preprocess: {resize: [10, 8]}\n",
			[]string{`t.yaml:6:22: preprocess resize 10x8 must be the input size 8x10 (or add crop: [8, 10])`}},
		{"labels", 3, 8, 8, "labels: [a, b, '', a, ' c', [d]]\n",
			[]string{`t.yaml:6:16: labels[2]: empty label`}},
		{"duplicate label", 3, 8, 8, "labels: [a, b, a]\n",
			[]string{`t.yaml:6:16: labels[2]: duplicate label "a" (first at 6:10)`}},
		{"padded label", 3, 8, 8, "labels: [a, ' b']\n",
			[]string{`t.yaml:6:13: labels[1]: label " b" starts or ends with white space`}},
		{"control character", 3, 8, 8, "labels: [\"a\\tb\"]\n",
			[]string{`t.yaml:6:10: labels[0]: label "a\tb" has a control character`}},
		{"no labels", 3, 8, 8, "labels: []\n", []string{`t.yaml:6:9: labels: no labels given`}},
		{"labels mapping", 3, 8, 8, "labels: {a: 1}\n",
			[]string{`t.yaml:6:9: labels must be a list of class names or the name of a file with one per line, got a mapping`}},
		{"labels file outside", 3, 8, 8, "labels: ../x.txt\n",
			[]string{`t.yaml:6:9: labels: file "../x.txt" must be a relative path inside the spec's directory`}},
		{"missing labels file", 3, 8, 8, "labels: nope.txt\n",
			[]string{`t.yaml:6:9: labels: no file nope.txt next to the spec`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(ppSpec(tc.c, tc.h, tc.w, tc.src)))
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			lines := strings.Split(err.Error(), "\n")
			i := 0
			for _, l := range lines {
				if i < len(tc.want) && strings.Contains(l, tc.want[i]) {
					i++
				}
			}
			if i < len(tc.want) {
				t.Errorf("error does not contain %q (in order); got:\n%v", tc.want[i], err)
			}
		})
	}
}

func TestLabelsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("classes.txt", "cat\r\n dog \nyellow lady's slipper\n\n")
	write("dup.txt", "cat\ndog\ncat\n")
	write("blank.txt", "cat\n\ndog\n")
	write("empty.txt", "\n\n")
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	specPath := filepath.Join(dir, "net.yaml")

	// Parse resolves the file next to the spec, whatever the working directory.
	s, err := Parse(specPath, []byte(ppSpec(3, 8, 8, "labels: classes.txt\n")))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"cat", "dog", "yellow lady's slipper"}, s.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if want := (Pos{specPath, 6, 9}); s.LabelsPos != want {
		t.Errorf("LabelsPos %v, want %v", s.LabelsPos, want)
	}
	write("net.yaml", ppSpec(3, 8, 8, "labels: classes.txt\n"))
	if s, err := ParseFile(specPath); err != nil || len(s.Labels) != 3 {
		t.Errorf("ParseFile: %v, %v", s, err)
	}

	for file, want := range map[string]string{
		"dup.txt":   `labels: dup.txt:3: duplicate label "cat" (first on line 1)`,
		"blank.txt": `labels: blank.txt:2: empty label`,
		"empty.txt": `labels: empty.txt has no labels`,
		"sub":       `labels: sub is not a regular file`,
		"gone.txt":  `labels: no file gone.txt next to the spec (` + filepath.Join(dir, "gone.txt") + `)`,
	} {
		_, err := Parse(specPath, []byte(ppSpec(3, 8, 8, "labels: "+file+"\n")))
		if err == nil || err.Error() != specPath+":6:9: "+want {
			t.Errorf("labels: %s: got %v, want %s", file, err, want)
		}
	}
}
