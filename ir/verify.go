package ir

import (
	"fmt"
	"sort"
	"strings"
)

// Verify checks the graph's invariants: the schedule starts with the input,
// every input of a node is scheduled before it, names are unique, shapes agree
// with the op, and the memory plan (if any) gives every live value its own
// room. Passes must leave a graph that verifies; tests run it after each.
func Verify(g *Graph) error {
	if g.Input == nil || len(g.Nodes) == 0 || g.Nodes[0] != g.Input {
		return fmt.Errorf("verify: schedule does not start with the input")
	}
	if g.Output == nil {
		return fmt.Errorf("verify: no output")
	}
	idx := make(map[*Node]int, len(g.Nodes))
	names := make(map[string]bool, len(g.Nodes))
	for i, n := range g.Nodes {
		if n == nil {
			return fmt.Errorf("verify: nil node at %d", i)
		}
		if names[n.Name] {
			return fmt.Errorf("verify: %q: duplicate name", n.Name)
		}
		names[n.Name] = true
		for _, in := range n.Inputs {
			j, ok := idx[in]
			if !ok || j >= i {
				return fmt.Errorf("verify: %q reads %q, which is not scheduled before it", n.Name, in.Name)
			}
		}
		if err := verifyShape(n); err != nil {
			return fmt.Errorf("verify: %q: %v", n.Name, err)
		}
		idx[n] = i
	}
	if _, ok := idx[g.Output]; !ok {
		return fmt.Errorf("verify: output %q is not scheduled", g.Output.Name)
	}
	if g.Memory != nil {
		return verifyMemory(g, idx)
	}
	return nil
}

func verifyShape(n *Node) error {
	if n.Shape.C < 1 || n.Shape.H < 1 || n.Shape.W < 1 {
		return fmt.Errorf("bad shape %s", n.Shape)
	}
	want := func(k int) error {
		if len(n.Inputs) != k {
			return fmt.Errorf("%s has %d inputs, want %d", n.Op.Kind(), len(n.Inputs), k)
		}
		return nil
	}
	switch op := n.Op.(type) {
	case *Input:
		return want(0)
	case *Conv:
		k := 1
		if op.Residual {
			k = 2
		}
		if err := want(k); err != nil {
			return err
		}
		if op.Residual && n.Inputs[1].Shape != n.Shape {
			return fmt.Errorf("residual %s differs from output %s", n.Inputs[1].Shape, n.Shape)
		}
		if op.Out != n.Shape.C {
			return fmt.Errorf("out=%d but shape %s", op.Out, n.Shape)
		}
		if op.BN != nil && op.BN.C != op.Out {
			return fmt.Errorf("folded batchnorm has %d channels, conv %d", op.BN.C, op.Out)
		}
	case *ConvTranspose:
		k := 1
		if op.Residual {
			k = 2
		}
		if err := want(k); err != nil {
			return err
		}
	case *Add:
		if len(n.Inputs) < 2 {
			return fmt.Errorf("add has %d inputs", len(n.Inputs))
		}
		for _, in := range n.Inputs {
			if in.Shape != n.Shape {
				return fmt.Errorf("add input %q is %s, output %s", in.Name, in.Shape, n.Shape)
			}
		}
	case *Concat:
		c := 0
		for _, in := range n.Inputs {
			c += in.Shape.C
		}
		if c != n.Shape.C {
			return fmt.Errorf("concat channels %d != %d", c, n.Shape.C)
		}
	case *Affine, *ReLU, *Sigmoid, *Softmax, *Identity:
		if err := want(1); err != nil {
			return err
		}
		if n.Inputs[0].Shape != n.Shape {
			return fmt.Errorf("elementwise op changes shape %s → %s", n.Inputs[0].Shape, n.Shape)
		}
	default:
		return want(1)
	}
	return nil
}

// verifyMemory checks that no two values whose lifetimes overlap share arena
// space, except where the consumer may write over its input in place.
// Buffers must be disjoint ranges of the arena, so only values in the same
// buffer can collide; within a buffer, lifetimes must follow one another.
// It runs in O(n log n) so that it stays cheap for very deep networks.
func verifyMemory(g *Graph, idx map[*Node]int) error {
	m := g.Memory
	bufs := make([]int, len(m.Buffers))
	for i := range bufs {
		bufs[i] = i
	}
	sort.Slice(bufs, func(i, j int) bool { return m.Buffers[bufs[i]].Offset < m.Buffers[bufs[j]].Offset })
	end := 0
	for _, b := range bufs {
		buf := m.Buffers[b]
		if buf.Offset < end || buf.Len < 0 || buf.Offset+buf.Len > m.ArenaLen {
			return fmt.Errorf("verify: buffer %d [%d,+%d) overlaps another or leaves the arena (%d)", b, buf.Offset, buf.Len, m.ArenaLen)
		}
		end = buf.Offset + buf.Len
	}
	last := lastUse(g)
	held := make([]*Node, len(m.Buffers)) // the latest value written to each buffer
	for _, n := range g.Nodes {
		if n.Buf < 0 || n.Buf >= len(m.Buffers) {
			return fmt.Errorf("verify: %q has no buffer", n.Name)
		}
		if m.Buffers[n.Buf].Len < n.Extent() {
			return fmt.Errorf("verify: %q: buffer %d holds %d values, not %d", n.Name, n.Buf, m.Buffers[n.Buf].Len, n.Extent())
		}
		if n.Pitch != 0 && (n.Pitch < n.Shape.C || n.BufOff < 0 || n.BufOff+n.Shape.C > n.Pitch) {
			return fmt.Errorf("verify: %q: channels [%d, +%d) do not fit a pixel pitch of %d", n.Name, n.BufOff, n.Shape.C, n.Pitch)
		}
		i := idx[n]
		if prev := held[n.Buf]; prev != nil {
			// n overwrites prev: prev must be dead, or read last by n in
			// place, or be n's input already written into n's channels.
			inside := prev.Pitch == n.Shape.C && last[prev] == i && isConcat(n)
			// Or both are parts of one concat, in disjoint channels.
			beside := prev.Pitch != 0 && n.Pitch == prev.Pitch &&
				(n.BufOff+n.Shape.C <= prev.BufOff || prev.BufOff+prev.Shape.C <= n.BufOff)
			if !(last[prev] < i || last[prev] == i && inPlaceOK(n, prev) || inside || beside) {
				return fmt.Errorf("verify: %q overwrites %q while it is live", n.Name, prev.Name)
			}
		}
		held[n.Buf] = n
	}
	return nil
}

// Format prints the graph as stable text: one line per node in schedule
// order, then the output and, once planned, the memory.
func Format(g *Graph) string {
	var b strings.Builder
	in := g.Input.Shape
	fmt.Fprintf(&b, "graph %s input %s\n", g.Name, in)
	if g.Preprocess != nil {
		fmt.Fprintf(&b, "preprocess %s\n", g.Preprocess)
	}
	if g.Labels != nil {
		fmt.Fprintf(&b, "labels %d %q\n", len(g.Labels), g.Labels[:min(len(g.Labels), 4)])
	}
	for _, n := range g.Nodes[1:] {
		fmt.Fprintf(&b, "  %%%s = %s(", n.Name, n.Op.Kind())
		for i, x := range n.Inputs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("%" + x.Name)
		}
		b.WriteString(")")
		if a := n.Op.Attrs(); a != "" {
			b.WriteString(" " + a)
		}
		fmt.Fprintf(&b, " -> %s", n.Shape)
		if len(n.Fused) > 0 {
			fmt.Fprintf(&b, " fused[%s]", strings.Join(n.Fused, " "))
		}
		if g.Memory != nil && n.Buf >= 0 {
			fmt.Fprintf(&b, " @%d", n.Buf)
			if n.Pitch != 0 {
				fmt.Fprintf(&b, "+%d/%d", n.BufOff, n.Pitch)
			}
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "output %%%s %s\n", g.Output.Name, g.Output.Shape)
	if m := g.Memory; m != nil {
		fmt.Fprintf(&b, "memory %d buffers, %d floats, %d bytes\n", len(m.Buffers), m.ArenaLen, m.PeakBytes())
		for i, buf := range m.Buffers {
			fmt.Fprintf(&b, "  @%d [%d, %d)\n", i, buf.Offset, buf.Offset+buf.Len)
		}
	}
	return b.String()
}

func isConcat(n *Node) bool {
	_, ok := n.Op.(*Concat)
	return ok
}
