package ir

import (
	"testing"

	"github.com/resgen/resgen/spec"
)

// TestChooseWinograd: the spec's winograd: (or -winograd) decides, the cost
// model picks per layer under auto, and only 3×3 stride-1 ungrouped,
// undilated convolutions are ever touched.
func TestChooseWinograd(t *testing.T) {
	src := `resgen: 1
name: w
input: {channels: 64, height: 56, width: 56}
layers:
  - {name: big, op: conv2d, out: 64, kernel: 3, padding: 1}
  - {name: s2, op: conv2d, out: 64, kernel: 3, stride: 2, padding: 1}
  - {name: pw, op: conv2d, out: 512, kernel: 1}
  - {name: late, op: conv2d, out: 512, kernel: 3, padding: 1, from: pw}
`
	for _, tt := range []struct {
		mode string
		want map[string]int
	}{
		// The cost model: F(4,3) on 64 and 512 channels at 56x56 (about 2x
		// fewer cycles); TestWinogradLateLayer has the 7x7 case.
		{"auto", map[string]int{"big": 4, "s2": 0, "pw": 0, "late": 4}},
		{"off", map[string]int{"big": 0, "s2": 0, "pw": 0, "late": 0}},
		{"6", map[string]int{"big": 6, "s2": 0, "pw": 0, "late": 6}},
	} {
		s, err := spec.Parse("w.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		g, err := Lower(s)
		if err != nil {
			t.Fatal(err)
		}
		g.Winograd = tt.mode
		if err := ChooseWinograd(g); err != nil {
			t.Fatal(err)
		}
		for _, n := range g.Nodes {
			c, ok := n.Op.(*Conv)
			if !ok {
				continue
			}
			if want := tt.want[n.Name]; c.Winograd != want {
				t.Errorf("winograd %s: %s got F%d, want F%d", tt.mode, n.Name, c.Winograd, want)
			}
		}
	}
	g := &Graph{Winograd: "3"}
	if err := ChooseWinograd(g); err == nil {
		t.Error("winograd 3: no error")
	}
}

// TestWinogradLateLayer: at 512 channels on 7×7 (ResNet's last stage, batch
// 1) the transformed weights, 1.8× (F(2,3)) to 7× (F(6,3)) larger, cost more
// bandwidth than the multiplications saved, so the model keeps it direct;
// at 256 channels on 14×14 F(2,3) still wins (measured 0.98 vs 1.39 ms).
func TestWinogradLateLayer(t *testing.T) {
	for _, tt := range []struct {
		c, hw, want int
	}{{512, 7, 0}, {256, 14, 2}, {32, 16, 4}, {16, 32, 0}} {
		s := Shape{C: tt.c, H: tt.hw, W: tt.hw}
		if got := bestWinograd(s, s); got != tt.want {
			t.Errorf("%d channels at %dx%d: F%d, want F%d", tt.c, tt.hw, tt.hw, got, tt.want)
		}
	}
}
