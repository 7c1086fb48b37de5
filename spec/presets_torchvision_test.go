package spec_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/resgen/resgen/ir"
	"github.com/resgen/resgen/spec"
)

// torchvisionPresets are the presets whose state_dict and parameter count
// torchvision printed into testdata/torchvision/NAME.txt
// (reference/reference.py state-dicts).
var torchvisionPresets = []string{"resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"}

// TestTorchvisionStateDicts: each preset, lowered to the IR, reads exactly
// torchvision's state_dict keys with their shapes, in torchvision's order
// (less num_batches_tracked, which inference does not read), and has
// torchvision's parameter count.
func TestTorchvisionStateDicts(t *testing.T) {
	for _, name := range torchvisionPresets {
		t.Run(name, func(t *testing.T) {
			wantParams, wantKeys := readTorchvision(t, name)
			src, err := spec.Preset(name, spec.PresetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s, err := spec.Parse(name+".yaml", src)
			if err != nil {
				t.Fatal(err)
			}
			g, err := ir.Lower(s)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			var params int64
			for _, n := range g.Nodes {
				for _, p := range ir.Params(n.Op) {
					keys = append(keys, p.Key+" "+dims(p.Shape))
				}
				params += ir.TrainableParams(n.Op)
			}
			if diff := cmp.Diff(wantKeys, keys); diff != "" {
				t.Errorf("state_dict keys and shapes (-torchvision +preset):\n%s", diff)
			}
			if params != wantParams {
				t.Errorf("params %d, torchvision %d", params, wantParams)
			}
		})
	}
}

// readTorchvision reads the parameter count and the "key shape" lines of
// testdata/torchvision/NAME.txt, without num_batches_tracked.
func readTorchvision(t *testing.T, name string) (int64, []string) {
	t.Helper()
	path := filepath.Join("testdata", "torchvision", name+".txt")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (write it with /usr/bin/python3 reference/reference.py state-dicts)", err)
	}
	params := int64(-1)
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
		case len(f) == 2 && f[0] == "params":
			if params, err = strconv.ParseInt(f[1], 10, 64); err != nil {
				t.Fatalf("%s:%d: %v", path, line, err)
			}
		case len(f) == 2 && strings.HasSuffix(f[0], ".num_batches_tracked"):
		case len(f) == 2:
			keys = append(keys, f[0]+" "+f[1])
		default:
			t.Fatalf("%s:%d: want \"key shape\", have %q", path, line, sc.Text())
		}
	}
	if params < 0 || len(keys) < 100 {
		t.Fatalf("%s: params %d, %d keys", path, params, len(keys))
	}
	return params, keys
}

func dims(shape []int) string {
	var s []string
	for _, d := range shape {
		s = append(s, fmt.Sprint(d))
	}
	return strings.Join(s, "x")
}

// TestWidePresetWidths: the parameter counts (torchvision's), and a
// base width small enough to round the inner width to zero is refused with
// the smallest width that works.
func TestWidePresetWidths(t *testing.T) {
	for _, tc := range []struct {
		name     string
		params   int64
		minWidth int
	}{
		{"resnext50_32x4d", 25028904, 16},
		{"resnext101_32x8d", 88791336, 8},
		{"resnext101_64x4d", 83455272, 16},
		{"wide_resnet50_2", 68883240, 1},
		{"wide_resnet101_2", 126886696, 1},
	} {
		if got, _ := readTorchvision(t, tc.name); got != tc.params {
			t.Errorf("%s: testdata says %d params, the issue %d", tc.name, got, tc.params)
		}
		if tc.minWidth > 1 {
			_, err := spec.Preset(tc.name, spec.PresetOptions{Width: tc.minWidth - 1})
			want := fmt.Sprintf("width must be ≥ %d for %s", tc.minWidth, tc.name)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s width %d: error %v, want %q", tc.name, tc.minWidth-1, err, want)
			}
		}
		src, err := spec.Preset(tc.name, spec.PresetOptions{Width: tc.minWidth, Classes: 3, Input: [3]int{1, 32, 32}})
		if err != nil {
			t.Fatalf("%s width %d: %v", tc.name, tc.minWidth, err)
		}
		s, err := spec.Parse(tc.name+".yaml", src)
		if err == nil {
			_, err = ir.Lower(s)
		}
		if err != nil {
			t.Errorf("%s width %d: %v", tc.name, tc.minWidth, err)
		}
	}
}
