package spec

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// stateDictKeys lists the PyTorch state_dict keys a spec's layers imply, in
// layer order (without BatchNorm's num_batches_tracked).
func stateDictKeys(s *Spec) []string {
	var keys []string
	for _, l := range s.Layers {
		var suffixes []string
		switch op := l.Op.(type) {
		case Conv2D:
			suffixes = []string{"weight"}
			if op.Bias {
				suffixes = append(suffixes, "bias")
			}
		case ConvTranspose2D:
			suffixes = []string{"weight"}
			if op.Bias {
				suffixes = append(suffixes, "bias")
			}
		case Linear:
			suffixes = []string{"weight"}
			if op.Bias {
				suffixes = append(suffixes, "bias")
			}
		case BatchNorm:
			suffixes = []string{"weight", "bias", "running_mean", "running_var"}
		}
		for _, s := range suffixes {
			keys = append(keys, l.Key+"."+s)
		}
	}
	return keys
}

func mustPreset(t *testing.T, name string, opt PresetOptions) *Spec {
	t.Helper()
	src, err := Preset(name, opt)
	if err != nil {
		t.Fatalf("Preset(%q, %+v): %v", name, opt, err)
	}
	s, err := Parse(name+".yaml", src)
	if err != nil {
		t.Fatalf("Parse(preset %q, %+v):\n%v\n--- text:\n%s", name, opt, err, src)
	}
	return s
}

func TestPresetsParse(t *testing.T) {
	infos := Presets()
	if len(infos) < 20 {
		t.Fatalf("Presets() has %d entries", len(infos))
	}
	for i, info := range infos {
		if i > 0 && infos[i-1].Name >= info.Name {
			t.Errorf("Presets() not sorted: %q before %q", infos[i-1].Name, info.Name)
		}
		t.Run(info.Name, func(t *testing.T) {
			s := mustPreset(t, info.Name, PresetOptions{})
			if want := (Input{C: info.Input[0], H: info.Input[1], W: info.Input[2]}); s.Input.C != want.C || s.Input.H != want.H || s.Input.W != want.W {
				t.Errorf("input %+v, want %v", s.Input, info.Input)
			}
			last := s.Layers[len(s.Layers)-1]
			if s.Output != last.Name {
				t.Errorf("output %q, want the last layer %q", s.Output, last.Name)
			}
			// Changed options must parse too and show up in the text.
			opt := PresetOptions{Classes: 7, Input: [3]int{1, info.Input[1] * 2, info.Input[2] * 2}, Width: info.Width / 2}
			s = mustPreset(t, info.Name, opt)
			if s.Input.C != 1 || s.Input.H != 2*info.Input[1] {
				t.Errorf("with options: input %+v", s.Input)
			}
			if got := s.Layers[0].Op; got.(Conv2D).Out != info.Width/2 {
				t.Errorf("with width %d: first conv %+v", info.Width/2, got)
			}
			var out int
			switch op := s.Layers[len(s.Layers)-1].Op.(type) {
			case Linear:
				out = op.Out
			case Conv2D:
				out = op.Out
			}
			if out != 7 {
				t.Errorf("with 7 classes: last layer %+v", s.Layers[len(s.Layers)-1].Op)
			}
		})
	}
}

func TestResNet18Keys(t *testing.T) {
	s := mustPreset(t, "resnet18", PresetOptions{})
	// From list(torchvision.models.resnet18().state_dict().keys()) (torchvision
	// with torch 1.13), without the *.num_batches_tracked counters.
	want := []string{
		"conv1.weight",
		"bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
		"layer1.0.conv1.weight",
		"layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.0.bn1.running_mean", "layer1.0.bn1.running_var",
		"layer1.0.conv2.weight",
		"layer1.0.bn2.weight", "layer1.0.bn2.bias", "layer1.0.bn2.running_mean", "layer1.0.bn2.running_var",
		"layer1.1.conv1.weight",
		"layer1.1.bn1.weight", "layer1.1.bn1.bias", "layer1.1.bn1.running_mean", "layer1.1.bn1.running_var",
		"layer1.1.conv2.weight",
		"layer1.1.bn2.weight", "layer1.1.bn2.bias", "layer1.1.bn2.running_mean", "layer1.1.bn2.running_var",
		"layer2.0.conv1.weight",
		"layer2.0.bn1.weight", "layer2.0.bn1.bias", "layer2.0.bn1.running_mean", "layer2.0.bn1.running_var",
		"layer2.0.conv2.weight",
		"layer2.0.bn2.weight", "layer2.0.bn2.bias", "layer2.0.bn2.running_mean", "layer2.0.bn2.running_var",
		"layer2.0.downsample.0.weight",
		"layer2.0.downsample.1.weight", "layer2.0.downsample.1.bias", "layer2.0.downsample.1.running_mean", "layer2.0.downsample.1.running_var",
		"layer2.1.conv1.weight",
		"layer2.1.bn1.weight", "layer2.1.bn1.bias", "layer2.1.bn1.running_mean", "layer2.1.bn1.running_var",
		"layer2.1.conv2.weight",
		"layer2.1.bn2.weight", "layer2.1.bn2.bias", "layer2.1.bn2.running_mean", "layer2.1.bn2.running_var",
		"layer3.0.conv1.weight",
		"layer3.0.bn1.weight", "layer3.0.bn1.bias", "layer3.0.bn1.running_mean", "layer3.0.bn1.running_var",
		"layer3.0.conv2.weight",
		"layer3.0.bn2.weight", "layer3.0.bn2.bias", "layer3.0.bn2.running_mean", "layer3.0.bn2.running_var",
		"layer3.0.downsample.0.weight",
		"layer3.0.downsample.1.weight", "layer3.0.downsample.1.bias", "layer3.0.downsample.1.running_mean", "layer3.0.downsample.1.running_var",
		"layer3.1.conv1.weight",
		"layer3.1.bn1.weight", "layer3.1.bn1.bias", "layer3.1.bn1.running_mean", "layer3.1.bn1.running_var",
		"layer3.1.conv2.weight",
		"layer3.1.bn2.weight", "layer3.1.bn2.bias", "layer3.1.bn2.running_mean", "layer3.1.bn2.running_var",
		"layer4.0.conv1.weight",
		"layer4.0.bn1.weight", "layer4.0.bn1.bias", "layer4.0.bn1.running_mean", "layer4.0.bn1.running_var",
		"layer4.0.conv2.weight",
		"layer4.0.bn2.weight", "layer4.0.bn2.bias", "layer4.0.bn2.running_mean", "layer4.0.bn2.running_var",
		"layer4.0.downsample.0.weight",
		"layer4.0.downsample.1.weight", "layer4.0.downsample.1.bias", "layer4.0.downsample.1.running_mean", "layer4.0.downsample.1.running_var",
		"layer4.1.conv1.weight",
		"layer4.1.bn1.weight", "layer4.1.bn1.bias", "layer4.1.bn1.running_mean", "layer4.1.bn1.running_var",
		"layer4.1.conv2.weight",
		"layer4.1.bn2.weight", "layer4.1.bn2.bias", "layer4.1.bn2.running_mean", "layer4.1.bn2.running_var",
		"fc.weight", "fc.bias",
	}
	if diff := cmp.Diff(want, stateDictKeys(s)); diff != "" {
		t.Errorf("resnet18 state_dict keys (-want +got):\n%s", diff)
	}
	if got := len(s.Layers); got != 69 {
		// 20 conv + 20 bn (3 downsample pairs) + relu/pool/add/... layers.
		t.Errorf("resnet18 has %d layers", got)
	}
}

// TestPresetCounts counts parameterised layers, which pins the block structure.
func TestPresetCounts(t *testing.T) {
	for _, tc := range []struct {
		name                          string
		conv, bn, linear, convT, adds int
	}{
		{"resnet18", 20, 20, 1, 0, 8},
		{"resnet34", 36, 36, 1, 0, 16},
		{"resnet50", 53, 53, 1, 0, 16},
		{"resnet101", 104, 104, 1, 0, 33},
		{"resnet152", 155, 155, 1, 0, 50},
		{"resnext50_32x4d", 53, 53, 1, 0, 16},
		{"resnext101_32x8d", 104, 104, 1, 0, 33},
		{"resnext101_64x4d", 104, 104, 1, 0, 33},
		{"wide_resnet50_2", 53, 53, 1, 0, 16},
		{"wide_resnet101_2", 104, 104, 1, 0, 33},
		{"plain18", 17, 17, 1, 0, 0},
		{"plain34", 33, 33, 1, 0, 0},
		{"cifar-resnet20", 19, 19, 1, 0, 9},
		{"cifar-resnet56", 55, 55, 1, 0, 27},
		{"cifar-resnet1202", 1201, 1201, 1, 0, 600},
		{"cifar-plain20", 19, 19, 1, 0, 0},
		{"preact-resnet18", 20, 18, 1, 0, 8},
		{"cifar-preact-resnet110", 111, 109, 1, 0, 54},
		{"unet", 19, 18, 0, 4, 0},
	} {
		s := mustPreset(t, tc.name, PresetOptions{Classes: 10})
		var conv, bn, linear, convT, adds, shortcuts int
		for _, l := range s.Layers {
			switch l.Op.(type) {
			case Conv2D:
				conv++
			case BatchNorm:
				bn++
			case Linear:
				linear++
			case ConvTranspose2D:
				convT++
			case Add:
				adds++
			case ShortcutA:
				shortcuts++
			}
		}
		if conv != tc.conv || bn != tc.bn || linear != tc.linear || convT != tc.convT || adds != tc.adds {
			t.Errorf("%s: %d conv, %d bn, %d linear, %d conv_transpose, %d add; want %d, %d, %d, %d, %d",
				tc.name, conv, bn, linear, convT, adds, tc.conv, tc.bn, tc.linear, tc.convT, tc.adds)
		}
		if strings.HasPrefix(tc.name, "cifar-resnet") && shortcuts != 2 {
			t.Errorf("%s: %d shortcut_a layers, want 2", tc.name, shortcuts)
		}
	}
}

func TestPresetGolden(t *testing.T) {
	for _, name := range []string{"resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "cifar-resnet20", "preact-resnet18", "unet"} {
		t.Run(name, func(t *testing.T) {
			got, err := Preset(name, PresetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "presets", name+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./spec -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestPresetOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  PresetOptions
		want string
	}{
		{"resnet18", PresetOptions{Classes: -3}, "classes must be from 1 to 1048576, got -3 (resnet18 has 1000 by default)"},
		{"resnet18", PresetOptions{Classes: 10, Width: -1}, "width must be ≥ 1, got -1"},
		{"resnet50", PresetOptions{Classes: 10, Width: 1 << 20}, "width 1048576 is too large"},
		{"resnext50_32x4d", PresetOptions{Width: 15}, "width must be ≥ 16 for resnext50_32x4d (narrower, the inner width of stage 1 rounds to 0), got 15"},
		{"wide_resnet50_2", PresetOptions{Width: -2}, "width must be ≥ 1, got -2"},
		{"resnet18", PresetOptions{Classes: 10, Input: [3]int{3, 16, 224}}, "input height must be from 32 to 1048576 for resnet18 (it downsamples by 32), got 16"},
		{"resnet18", PresetOptions{Classes: 10, Input: [3]int{0, 224, 224}}, "input channels must be from 1"},
		{"unet", PresetOptions{Classes: 2, Input: [3]int{3, 572, 572}}, "input height must be divisible by 16 for unet, got 572"},
		{"resnet19", PresetOptions{Classes: 2}, `unknown preset "resnet19" (did you mean "resnet18"?); presets: cifar-plain110,`},
	} {
		_, err := Preset(tc.name, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Preset(%q, %+v) = %v, want error containing %q", tc.name, tc.opt, err, tc.want)
		}
	}
}
