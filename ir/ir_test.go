package ir

import (
	"fmt"
	"strings"
	"testing"

	"github.com/resgen/resgen/spec"
)

func lower(t *testing.T, src string) *Graph {
	t.Helper()
	s, err := spec.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Lower(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestPassOrder(t *testing.T) {
	if err := checkOrder(Pipeline); err != nil {
		t.Fatal(err)
	}
	rev := make([]Pass, len(Pipeline))
	for i, p := range Pipeline {
		rev[len(rev)-1-i] = p
	}
	if err := checkOrder(rev); err == nil {
		t.Fatal("reversed pipeline passed the order check")
	}
}

// TestPresets runs every preset through the pipeline, verifying after each
// pass, and checks what the passes promise: no BatchNorm, ReLU or add is
// left standalone in a torchvision ResNet, and the arena is a small
// multiple of the largest activation.
func TestPresets(t *testing.T) {
	for _, p := range spec.Presets() {
		if strings.HasSuffix(p.Name, "1202") {
			continue // slow to parse; covered by cmd/resgen's build test
		}
		t.Run(p.Name, func(t *testing.T) {
			text, err := spec.Preset(p.Name, spec.PresetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			g := lower(t, string(text))
			if err := Run(g, true, nil); err != nil {
				t.Fatal(err)
			}
			largest := 0
			for _, n := range g.Nodes {
				largest = max(largest, n.Shape.Len())
				if !strings.HasPrefix(p.Name, "resnet") {
					continue
				}
				switch n.Op.(type) {
				case *Affine, *ReLU, *Add:
					t.Errorf("%s: %s %q left unfused", p.Name, n.Op.Kind(), n.Name)
				}
			}
			if g.Memory.ArenaLen > 4*largest {
				t.Errorf("arena %d floats > 4× the largest activation %d", g.Memory.ArenaLen, largest)
			}
		})
	}
}

// TestFuseResidualAddKeepsOrder: the conv that takes the add moves to the
// add's place, after the shortcut branch it reads.
func TestFuseResidualAddKeepsOrder(t *testing.T) {
	g := lower(t, `resgen: 1
name: t
input: {channels: 4, height: 8, width: 8}
layers:
  - {name: a, op: conv2d, out: 4, kernel: 3, padding: 1}
  - {name: b, op: conv2d, from: input, out: 4, kernel: 1}
  - {name: b_bn, op: batchnorm}
  - {name: sum, op: add, from: [a, b_bn]}
  - {name: out, op: relu}
`)
	if err := Run(g, true, nil); err != nil {
		t.Fatal(err)
	}
	got := Format(g)
	want := "%b = conv2d(%input)"
	if i, j := strings.Index(got, want), strings.Index(got, "%a = conv2d(%input, %b)"); i < 0 || j < 0 || i > j {
		t.Errorf("want b scheduled before a, which adds it:\n%s", got)
	}
	if !strings.Contains(got, "+residual relu") {
		t.Errorf("add and relu not fused into a:\n%s", got)
	}
}

// TestOutputNotFusedAway: a conv whose raw output is the network output
// keeps it; nothing is folded into it.
func TestOutputNotFusedAway(t *testing.T) {
	g := lower(t, `resgen: 1
name: t
input: {channels: 4, height: 8, width: 8}
layers:
  - {name: a, op: conv2d, out: 4, kernel: 3, padding: 1}
  - {name: r, op: relu}
  - {name: b, op: identity, from: a}
output: a
`)
	if err := Run(g, true, nil); err != nil {
		t.Fatal(err)
	}
	if g.Output.Name != "a" || len(g.Nodes) != 2 {
		t.Errorf("output %q, %d nodes:\n%s", g.Output.Name, len(g.Nodes), Format(g))
	}
	if c := g.Output.Op.(*Conv); c.Act != ActNone {
		t.Errorf("relu fused into the output conv:\n%s", Format(g))
	}
}

// TestVerifyCatchesBadPlan: a plan that puts two live values in one buffer
// is rejected.
func TestVerifyCatchesBadPlan(t *testing.T) {
	text, err := spec.Preset("cifar-resnet20", spec.PresetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g := lower(t, string(text))
	if err := Run(g, true, nil); err != nil {
		t.Fatal(err)
	}
	// The first conv's output is live until the first block's residual
	// add; give the block's first conv the same buffer.
	g.Nodes[2].Buf = g.Nodes[1].Buf
	if err := Verify(g); err == nil || !strings.Contains(err.Error(), "while it is live") {
		t.Fatalf("Verify = %v, want an overlap error\n%s", err, Format(g))
	}
}

// TestConcatInPlace: convolutions a concat joins (read otherwise only by
// max pools) are written into the concat's channels (BufOff, Pitch), the
// concat takes the same buffer, and Verify accepts that but still catches
// a value that overwrites the concat's buffer while a part is live.
func TestConcatInPlace(t *testing.T) {
	g := lower(t, `resgen: 1
name: t
input: {channels: 4, height: 8, width: 8}
layers:
  - {name: skip, op: conv2d, out: 6, kernel: 3, padding: 1}
  - {name: down, op: maxpool, kernel: 2, stride: 2}
  - {name: mid, op: conv2d, out: 8, kernel: 3, padding: 1}
  - {name: up, op: conv_transpose2d, out: 5, kernel: 2, stride: 2}
  - {name: cat, op: concat, from: [skip, up]}
  - {name: side, op: conv_transpose2d, from: mid, out: 2, kernel: 2, stride: 2}
  - {name: cat2, op: concat, from: [side, cat]}
  - {name: head, op: conv2d, from: cat2, out: 3, kernel: 1}
`)
	if err := Run(g, true, nil); err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Node{}
	for _, n := range g.Nodes {
		byName[n.Name] = n
	}
	up, cat, side, cat2 := byName["up"], byName["cat"], byName["side"], byName["cat2"]
	if up.Buf != cat.Buf || up.BufOff != 6 || up.Pitch != 11 {
		t.Errorf("up @%d+%d/%d, cat @%d: want up inside cat at channel 6 of 11\n%s", up.Buf, up.BufOff, up.Pitch, cat.Buf, Format(g))
	}
	if side.Buf != cat2.Buf || side.BufOff != 0 || side.Pitch != 13 {
		t.Errorf("side @%d+%d/%d, cat2 @%d: want side inside cat2 at channel 0 of 13\n%s", side.Buf, side.BufOff, side.Pitch, cat2.Buf, Format(g))
	}
	// skip is read by a max pool too, which reads any pitch.
	if n := byName["skip"]; n.Buf != cat.Buf || n.BufOff != 0 || n.Pitch != 11 {
		t.Errorf("skip @%d+%d/%d: want inside cat at channel 0 of 11\n%s", n.Buf, n.BufOff, n.Pitch, Format(g))
	}
	// mid is read by two transposed convolutions: it stays dense.
	if n := byName["mid"]; n.Pitch != 0 {
		t.Errorf("mid placed in a concat\n%s", Format(g))
	}
	if !strings.Contains(Format(g), fmt.Sprintf("@%d+6/11", up.Buf)) {
		t.Errorf("Format does not show the placement:\n%s", Format(g))
	}
	// mid is live while side is written; moving mid into side's buffer
	// must be caught.
	byName["mid"].Buf = side.Buf
	if err := Verify(g); err == nil {
		t.Fatalf("Verify accepted mid and side in one buffer\n%s", Format(g))
	}
}
