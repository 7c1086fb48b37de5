package spec

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPresetLabels: the ImageNet presets carry torchvision's 1000 names,
// unchanged by the YAML round trip. imagenet_labels.txt is the output of
// torchvision 0.14 (see presets.go), read here independently of the embed.
func TestPresetLabels(t *testing.T) {
	b, err := os.ReadFile("imagenet_labels.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(want) != 1000 || want[0] != "tench" || want[999] != "toilet tissue" || want[397] != "puffer" {
		t.Fatalf("imagenet_labels.txt: %d names, %q … %q", len(want), want[0], want[len(want)-1])
	}
	for _, name := range []string{"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "plain18", "plain34", "preact-resnet18",
		"resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"} {
		s := mustPreset(t, name, PresetOptions{})
		if diff := cmp.Diff(want, s.Labels); diff != "" {
			t.Errorf("%s labels (-want +got):\n%s", name, diff)
		}
		wantPP := Preprocess{ResizeShort: 256, Interp: "bilinear", CropH: 224, CropW: 224,
			Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225}}
		if diff := cmp.Diff(wantPP, *s.Preprocess, cmpIgnorePos); diff != "" {
			t.Errorf("%s preprocess (-want +got):\n%s", name, diff)
		}
	}
	cifar := []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
	for _, name := range []string{"cifar-resnet20", "cifar-resnet1202", "cifar-plain56", "cifar-preact-resnet110"} {
		s := mustPreset(t, name, PresetOptions{})
		if diff := cmp.Diff(cifar, s.Labels); diff != "" {
			t.Errorf("%s labels (-want +got):\n%s", name, diff)
		}
		wantPP := Preprocess{Interp: "bilinear", Mean: []float64{0.4914, 0.4822, 0.4465}, Std: []float64{0.2470, 0.2435, 0.2616}}
		if diff := cmp.Diff(wantPP, *s.Preprocess, cmpIgnorePos); diff != "" {
			t.Errorf("%s preprocess (-want +got):\n%s", name, diff)
		}
	}
	if s := mustPreset(t, "unet", PresetOptions{}); s.Preprocess != nil || s.Labels != nil {
		t.Errorf("unet: preprocess %+v, labels %v; want neither", s.Preprocess, s.Labels)
	}
}

var cmpIgnorePos = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Pos" }, cmp.Ignore())

// TestPresetDataOptions: options that make the dataset's transform or names
// wrong leave them out, with a comment; a new H×W scales the ImageNet crop.
func TestPresetDataOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opt     PresetOptions
		pp      *Preprocess
		labels  int
		comment string
	}{
		{"resnet18", PresetOptions{Classes: 10}, &Preprocess{ResizeShort: 256, Interp: "bilinear", CropH: 224, CropW: 224},
			0, "# No labels: ImageNet has 1000 classes, the network 10."},
		{"resnet18", PresetOptions{Input: [3]int{1, 224, 224}}, nil,
			1000, "# No preprocess: ImageNet's transform is for 3-channel (rgb) pictures, the input has 1 channel."},
		{"resnet50", PresetOptions{Input: [3]int{3, 64, 96}}, &Preprocess{ResizeShort: 73, Interp: "bilinear", CropH: 64, CropW: 96}, 1000, "crop: [64, 96]"},
		{"resnet18", PresetOptions{Input: [3]int{3, 320, 320}}, &Preprocess{ResizeShort: 366, Interp: "bilinear", CropH: 320, CropW: 320}, 1000, "crop: 320"},
		{"cifar-resnet20", PresetOptions{Input: [3]int{3, 40, 40}, Classes: 100}, &Preprocess{Interp: "bilinear"},
			0, "# No labels: CIFAR-10 has 10 classes, the network 100."},
		{"cifar-resnet20", PresetOptions{Input: [3]int{1, 28, 28}}, nil, 10, "# No preprocess: CIFAR-10's transform"},
	} {
		src, err := Preset(tc.name, tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		s := mustPreset(t, tc.name, tc.opt)
		if !strings.Contains(string(src), tc.comment) {
			t.Errorf("%s %+v: text lacks %q", tc.name, tc.opt, tc.comment)
		}
		if len(s.Labels) != tc.labels {
			t.Errorf("%s %+v: %d labels, want %d", tc.name, tc.opt, len(s.Labels), tc.labels)
		}
		switch {
		case tc.pp == nil && s.Preprocess != nil:
			t.Errorf("%s %+v: preprocess %+v, want none", tc.name, tc.opt, s.Preprocess)
		case tc.pp != nil && s.Preprocess == nil:
			t.Errorf("%s %+v: no preprocess", tc.name, tc.opt)
		case tc.pp != nil:
			got := *s.Preprocess
			got.Mean, got.Std, got.Pos = nil, nil, Pos{}
			if diff := cmp.Diff(*tc.pp, got); diff != "" {
				t.Errorf("%s %+v: preprocess (-want +got):\n%s", tc.name, tc.opt, diff)
			}
		}
	}
}

// TestYAMLFlowString: every string comes back from a flow list unchanged.
func TestYAMLFlowString(t *testing.T) {
	tricky := []string{"plain", "two words", "carpenter's kit", "jack-o'-lantern", "yes", "No", "null", "true",
		"3", "1e3", "0x10", "a: b", "a, b", "[a]", "{a}", "#tag", "a #b", "-a", "'q'", `"dq"`, "a\\b", "é", "ü ber", "~", "*x", "&y", "!t", "%p", "@a", "`b`", "a.", "x-"}
	var items []string
	for _, s := range tricky {
		items = append(items, yamlFlowString(s))
	}
	src := ppSpec(3, 8, 8, "labels: ["+strings.Join(items, ", ")+"]\n")
	s, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	if diff := cmp.Diff(tricky, s.Labels); diff != "" {
		t.Errorf("(-want +got):\n%s\n%s", diff, src)
	}
}
