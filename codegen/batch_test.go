package codegen

import (
	"fmt"
	"testing"

	"github.com/resgen/resgen/ir"
	"github.com/resgen/resgen/spec"
)

// TestItemRunsKeepThePlan replays forwardBatch's schedule for every preset
// (and U-Net with its in-place concats) on the batch arena and checks that
// no write of item i lands on memory another value or item still needs:
// what itemRuns promises when it runs several nodes for one item at a time.
func TestItemRunsKeepThePlan(t *testing.T) {
	for _, p := range spec.Presets() {
		t.Run(p.Name, func(t *testing.T) {
			opt := spec.PresetOptions{}
			if p.Name == "unet" {
				opt.Width, opt.Input = 8, [3]int{3, 64, 64}
			}
			src, err := spec.Preset(p.Name, opt)
			if err != nil {
				t.Fatal(err)
			}
			s, err := spec.Parse(p.Name+".yaml", src)
			if err != nil {
				t.Fatal(err)
			}
			g, err := ir.Lower(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := ir.Run(g, true, nil); err != nil {
				t.Fatal(err)
			}
			e := newEmitter(g)
			merged := 0
			for _, k := range []int{2, 3, 8} {
				var runs [][]*ir.Node
				for _, st := range forwardStages(g.Nodes) {
					runs = append(runs, e.itemRuns(st)...)
				}
				for _, r := range runs {
					merged = max(merged, len(r))
				}
				if err := replayBatch(g, runs, k); err != nil {
					t.Fatalf("k=%d: %v", k, err)
				}
			}
			if merged < 2 {
				t.Errorf("no run holds more than one node: the test checks nothing")
			}
		})
	}
}

// replayBatch executes runs as forwardBatch does for k items (a batchConv
// run over all items, any other run node after node for item 0, then item
// 1, …) and reports the first write that overlaps a value-item which is
// still to be read, other than the write's own in-place input.
func replayBatch(g *ir.Graph, runs [][]*ir.Node, k int) error {
	type vi struct {
		v    *ir.Node
		item int
	}
	slot := func(x *ir.Node, i int) (lo, hi int) {
		b := g.Memory.Buffers[x.Buf]
		if x.Pitch != 0 {
			l := x.Shape.H * x.Shape.W * x.Pitch
			return k*b.Offset + i*l + x.BufOff, k*b.Offset + i*l + x.Extent()
		}
		l := x.Shape.Len()
		return k*b.Offset + i*l, k*b.Offset + (i+1)*l
	}
	type step struct {
		n    *ir.Node
		item int
	}
	var steps []step
	for _, r := range runs {
		if batchConv(r[0]) {
			for i := range k {
				steps = append(steps, step{r[0], i})
			}
			continue
		}
		for i := range k {
			for _, n := range r {
				steps = append(steps, step{n, i})
			}
		}
	}
	lastRead := map[vi]int{}
	for si, s := range steps {
		for _, in := range s.n.Inputs {
			lastRead[vi{in, s.item}] = si
		}
	}
	lastRead[vi{g.Output, 0}] = len(steps) // read after the schedule
	for i := 1; i < k; i++ {
		lastRead[vi{g.Output, i}] = len(steps)
	}
	live := map[vi]bool{}
	for si, s := range steps {
		wlo, whi := slot(s.n, s.item)
		for x := range live {
			if x.v == s.n && x.item == s.item || lastRead[x] < si {
				continue
			}
			own := false
			for _, in := range s.n.Inputs {
				own = own || in == x.v && x.item == s.item
			}
			lo, hi := slot(x.v, x.item)
			if whi <= lo || hi <= wlo || besideInConcat(g, s.n, x.v, s.item, x.item) {
				continue
			}
			if own && lastRead[x] == si {
				// Its own input, last read now: in place (a residual, a
				// concat's parts), which the one-item plan allows too.
				continue
			}
			return fmt.Errorf("%s item %d writes [%d,%d), over %s item %d [%d,%d), read until step %d (now %d)",
				s.n.Name, s.item, wlo, whi, x.v.Name, x.item, lo, hi, lastRead[x], si)
		}
		live[vi{s.n, s.item}] = true
	}
	return nil
}

// besideInConcat reports whether x (item i) and y (item j) are different
// channels of the same item of one concat (written in place, with its
// pitch), which interleave but share no float.
func besideInConcat(g *ir.Graph, x, y *ir.Node, i, j int) bool {
	if x.Pitch == 0 || y.Pitch == 0 || x.Buf != y.Buf || x.Pitch != y.Pitch || i != j {
		return false
	}
	base := func(n *ir.Node) int { return n.BufOff % n.Pitch }
	return base(x)+x.Shape.C <= base(y) || base(y)+y.Shape.C <= base(x)
}
