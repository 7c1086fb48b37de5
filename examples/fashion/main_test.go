package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resgen/resgen/runtime"
)

var update = flag.Bool("update", false, "copy the embedded data from testdata/fashion")

// refDir is what reference/fashion.py wrote when it trained the model.
const refDir = "../../testdata/fashion"

// TestEmbeddedData: the files embedded in the command are the ones
// reference/fashion.py wrote, and pytorch-1000-labels-idx1-ubyte holds
// PyTorch's predictions for them. -update rewrites them.
func TestEmbeddedData(t *testing.T) {
	want := map[string][]byte{}
	for _, name := range []string{"t10k-1000-images-idx3-ubyte.gz", "t10k-1000-labels-idx1-ubyte.gz"} {
		b, err := os.ReadFile(filepath.Join(refDir, name))
		if err != nil {
			t.Fatal(err)
		}
		want[name] = b
	}
	b, err := os.ReadFile(filepath.Join(refDir, "predictions.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := runtime.ReadSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	dt, _ := st.DType("pred")
	shape, _ := st.Shape("pred")
	raw, _ := st.Bytes("pred")
	if dt != "I64" || !slices.Equal(shape, []int{10000}) {
		t.Fatalf("predictions.safetensors: pred is %s %v, want I64 [10000]", dt, shape)
	}
	idx := []byte{0, 0, 0x08, 1, 0, 0, 0x03, 0xe8} // 1,000 unsigned bytes
	for i := range 1000 {
		idx = append(idx, byte(binary.LittleEndian.Uint64(raw[8*i:])))
	}
	want["pytorch-1000-labels-idx1-ubyte"] = idx

	for name, w := range want {
		path := filepath.Join("data", name)
		if *update {
			if err := os.WriteFile(path, w, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, w) {
			t.Errorf("%s differs from what %s gives; go test ./examples/fashion -update", path, refDir)
		}
	}
}

// TestRun runs the command on a few images and checks what it printed and
// the PNG it wrote.
func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sheet.png")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-n", "23", "-o", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	s := stdout.String()
	for _, want := range []string{
		"23 test images in", "per image",
		"accuracy ", "PyTorch on the same images", "same label as PyTorch for 23/23",
		"0 T-shirt/top", "9 Ankle boot", "recall",
		"contact sheet of the first 23 images (wrong ones in red): " + out + "\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// 10 columns, 3 rows.
	if b := img.Bounds(); b.Dx() != 2*margin+10*cellW || b.Dy() != margin+headerH+3*cellH+margin/2 {
		t.Errorf("sheet is %v", b)
	}
}

func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "usage: fashion [-n N] [-o FILE]"},
		{[]string{"-n", "0"}, 2, "fashion: -n 0: want 1 to 1000"},
		{[]string{"-n", "1001"}, 2, "fashion: -n 1001: want 1 to 1000"},
		{[]string{"extra"}, 2, `fashion: unexpected argument "extra"`},
		{[]string{"-bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"-n", "1", "-o", filepath.Join(t.TempDir(), "missing", "x.png")}, 1, "fashion: open "},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}
