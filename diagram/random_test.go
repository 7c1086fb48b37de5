package diagram

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resgen/resgen"
	"github.com/resgen/resgen/ir"
)

// randomSpec writes a spec of n random layers: convs (some strided),
// batchnorms, relus, pools, upsamplings, adds and concats reading earlier
// tensors of the right shape, under stage.block.layer, stage.layer or
// undotted names.
func randomSpec(r *rand.Rand, n int) string {
	type tensor struct {
		name    string
		c, h, w int
	}
	var b strings.Builder
	fmt.Fprintf(&b, "resgen: 1\nname: random\ninput: {channels: 3, height: 16, width: 16}\nlayers:\n")
	ts := []tensor{{"input", 3, 16, 16}}
	stage, block := 0, 0
	for i := 0; i < n; i++ {
		switch r.IntN(6) {
		case 0:
			stage, block = stage+1, 0
		case 1:
			block++
		}
		name := fmt.Sprintf("l%d", i)
		switch {
		case stage%3 == 1:
			name = fmt.Sprintf("s%d.%s", stage, name)
		case stage%3 == 2:
			name = fmt.Sprintf("s%d.%d.%s", stage, block, name)
		}
		cur := ts[len(ts)-1]
		t := cur
		t.name = name
		var same, sameHW []tensor
		for _, x := range ts[:len(ts)-1] {
			if x.h == cur.h && x.w == cur.w {
				sameHW = append(sameHW, x)
				if x.c == cur.c {
					same = append(same, x)
				}
			}
		}
		switch k := r.IntN(10); {
		case k < 3:
			s := 1
			if cur.h >= 4 && r.IntN(3) == 0 {
				s = 2
			}
			t.c = 4 << r.IntN(3)
			t.h, t.w = (cur.h-1)/s+1, (cur.w-1)/s+1
			fmt.Fprintf(&b, "  - {name: %s, op: conv2d, out: %d, kernel: 3, stride: %d, padding: 1, bias: false}\n", name, t.c, s)
		case k == 3:
			fmt.Fprintf(&b, "  - {name: %s, op: batchnorm}\n", name)
		case k == 4:
			fmt.Fprintf(&b, "  - {name: %s, op: relu}\n", name)
		case k == 5 && cur.h >= 4:
			t.h, t.w = cur.h/2, cur.w/2
			fmt.Fprintf(&b, "  - {name: %s, op: maxpool, kernel: 2}\n", name)
		case k == 6 && cur.h <= 16:
			t.h, t.w = cur.h*2, cur.w*2
			fmt.Fprintf(&b, "  - {name: %s, op: upsample, scale: 2}\n", name)
		case k == 7 && len(same) > 0:
			x := same[r.IntN(len(same))]
			fmt.Fprintf(&b, "  - {name: %s, op: add, from: [%s, %s]}\n", name, cur.name, x.name)
		case k == 8 && len(sameHW) > 0:
			x := sameHW[r.IntN(len(sameHW))]
			t.c = cur.c + x.c
			fmt.Fprintf(&b, "  - {name: %s, op: concat, from: [%s, %s]}\n", name, x.name, cur.name)
		default:
			fmt.Fprintf(&b, "  - {name: %s, op: relu}\n", name)
		}
		ts = append(ts, t)
	}
	return b.String()
}

// TestRandomGraphs: random networks draw, after every pass, with nothing
// overlapping, as well-formed XML.
func TestRandomGraphs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	us := 0
	for i := 0; i < 300; i++ {
		src := randomSpec(r, 2+r.IntN(40))
		g, err := resgen.Parse("random.yaml", []byte(src))
		if err != nil {
			t.Fatalf("case %d: %v\n%s", i, err, src)
		}
		bad := false
		err = ir.Run(g, true, func(pass string, g *ir.Graph) {
			d, err := build(g, Options{Pass: pass})
			if err != nil {
				t.Fatalf("case %d after %s: %v", i, pass, err)
			}
			if pass == "lower" && isUDiagram(d) {
				us++
			}
			for _, p := range checkLayout(d) {
				t.Errorf("case %d after %s: %s", i, pass, p)
				bad = true
			}
			checkXML(t, render(d))
		})
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if bad {
			t.Logf("case %d:\n%s", i, src)
			t.FailNow()
		}
	}
	t.Logf("%d of 300 drawn as a U", us)
	// Both layouts must have been tried.
	if us < 10 || us > 290 {
		t.Errorf("%d of 300 random networks drawn as a U", us)
	}
}

// isUDiagram: the diagram has a skip or flow arrow pointing up the page,
// which only the U's decoder arm draws.
func isUDiagram(d *diagram) bool {
	for _, e := range d.Edges {
		if e.Class == edgeFlow && e.From.X == e.To.X && e.To.Y < e.From.Y {
			return true
		}
	}
	return false
}
