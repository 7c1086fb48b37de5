// Package ir is resgen's typed graph: one node per tensor, in schedule order,
// with shapes inferred from the spec and positions kept for error messages.
//
// The graph is built from a parsed spec by Lower, checked by Verify, rewritten
// by the passes in Pipeline (pass.go) and finally read, never written, by
// codegen. Format prints a stable text form used by `resgen build -dump`.
package ir

import "fmt"

// Pos is a place in a spec file.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Shape is the per-item shape of an activation: channels, height, width.
// A vector of n features is {n, 1, 1}. Batch is not part of the IR: every
// item of a batch runs through the same graph.
type Shape struct{ C, H, W int }

// Len is the number of float32 values of one item.
func (s Shape) Len() int { return s.C * s.H * s.W }

func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W) }

// Act is an activation fused into a node's epilogue.
type Act uint8

const (
	ActNone Act = iota
	ActReLU
)

func (a Act) String() string {
	if a == ActReLU {
		return "relu"
	}
	return "none"
}

// Param is one tensor of the state_dict the generated code loads.
type Param struct {
	Key   string
	Shape []int
}

// Len is the number of values of the parameter.
func (p Param) Len() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// BatchNorm names the four tensors of a BatchNorm layer. The state_dict also
// holds Prefix.num_batches_tracked, which inference never reads.
type BatchNorm struct {
	Prefix string
	C      int
	Eps    float64
}

// Keys returns the state_dict keys read for the layer, in a fixed order:
// weight (gamma), bias (beta), running_mean, running_var.
func (b *BatchNorm) Keys() [4]string {
	return [4]string{b.Prefix + ".weight", b.Prefix + ".bias", b.Prefix + ".running_mean", b.Prefix + ".running_var"}
}

// Node is one operation and the tensor it produces.
type Node struct {
	Name   string // full dotted name from the spec; unique in a graph
	Op     Op
	Inputs []*Node
	Shape  Shape
	Pos    Pos

	// Fused lists the spec layers merged into this node by passes, in order,
	// so that dumps and generated comments can say what a kernel computes.
	Fused []string

	// Buf is the activation buffer assigned by PlanMemory, -1 before.
	Buf int

	// BufOff and Pitch place a value written straight into the concat that
	// reads it (PlanMemory): it starts BufOff floats into Buf and its
	// pixels are Pitch floats apart (the concat's channels). Pitch 0 means
	// a dense value, Shape.C floats per pixel, from the buffer's start.
	BufOff, Pitch int
}

// Extent is how many floats of its buffer n's value spans from the
// buffer's start: Shape.Len() for a dense value.
func (n *Node) Extent() int {
	if n.Pitch == 0 {
		return n.Shape.Len()
	}
	return n.BufOff + (n.Shape.H*n.Shape.W-1)*n.Pitch + n.Shape.C
}

// Graph is a whole network for one batch item.
type Graph struct {
	Name   string // from the spec; default Go package name
	Input  *Node
	Nodes  []*Node // schedule order; Nodes[0] is Input
	Output *Node

	// Memory is set by PlanMemory (or PlanTrainMemory).
	Memory *MemoryPlan

	// Train is set by PlanTrainMemory (ir/train.go): the gradient buffers.
	Train *TrainPlan

	// Preprocess (or nil) turns a picture into one input item; Labels (or
	// nil) names the output's channels. Both come from the spec; passes
	// leave them alone.
	Preprocess *Preprocess
	Labels     []string

	// Winograd is the spec's `winograd:` ("" or "auto", "off", "2", "4",
	// "6"), which the winograd pass follows; resgen build -winograd
	// overrides it.
	Winograd string
}

// Preprocess is torchvision's Resize → CenterCrop → ToTensor → Normalize,
// ending at the input's shape. Mean and Std are float32 because Normalize
// computes in the tensor's dtype.
type Preprocess struct {
	Gray             bool   // PIL convert("L"); else convert("RGB")
	ResizeShort      int    // > 0: the shorter side to this
	ResizeH, ResizeW int    // > 0: to exactly this; all resize fields 0: none
	Interp           string // nearest, bilinear or bicubic
	CropH, CropW     int    // > 0: center crop
	Mean, Std        []float32
}

func (p *Preprocess) String() string {
	s := "rgb"
	if p.Gray {
		s = "gray"
	}
	switch {
	case p.ResizeShort > 0:
		s += fmt.Sprintf(" resize %d %s", p.ResizeShort, p.Interp)
	case p.ResizeH > 0:
		s += fmt.Sprintf(" resize %dx%d %s", p.ResizeH, p.ResizeW, p.Interp)
	}
	if p.CropH > 0 {
		s += fmt.Sprintf(" crop %dx%d", p.CropH, p.CropW)
	}
	return s + fmt.Sprintf(" mean %v std %v", p.Mean, p.Std)
}

// MemoryPlan places every activation buffer in one arena of float32.
type MemoryPlan struct {
	Buffers  []Buffer
	ArenaLen int // float32 values
}

// PeakBytes is the arena size in bytes: the activation memory one Forward needs.
func (m *MemoryPlan) PeakBytes() int { return m.ArenaLen * 4 }

// Buffer is a region of the arena.
type Buffer struct{ Offset, Len int }

// Users returns, for every node, the nodes that read it (in schedule order).
func (g *Graph) Users() map[*Node][]*Node {
	u := make(map[*Node][]*Node, len(g.Nodes))
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			u[in] = append(u[in], n)
		}
	}
	return u
}

// Replace makes every reader of old read new instead, including the graph
// output. It does not remove old from the schedule.
func (g *Graph) Replace(old, new *Node) {
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if in == old {
				n.Inputs[i] = new
			}
		}
	}
	if g.Output == old {
		g.Output = new
	}
}

// Remove deletes nodes from the schedule.
func (g *Graph) Remove(dead map[*Node]bool) {
	out := g.Nodes[:0]
	for _, n := range g.Nodes {
		if !dead[n] {
			out = append(out, n)
		}
	}
	for i := len(out); i < len(g.Nodes); i++ {
		g.Nodes[i] = nil
	}
	g.Nodes = out
}

// Index returns the schedule position of every node.
func (g *Graph) Index() map[*Node]int {
	idx := make(map[*Node]int, len(g.Nodes))
	for i, n := range g.Nodes {
		idx[n] = i
	}
	return idx
}
