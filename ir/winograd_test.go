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
		// The cost model: F(4,3) on 64 channels at 56x56 (about 2x fewer
		// cycles); direct at 512 channels on 28x28, where 4x larger
		// transformed weights cost more bandwidth than the MACs saved.
		{"auto", map[string]int{"big": 4, "s2": 0, "pw": 0, "late": 0}},
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
