package ir

import (
	"fmt"
	"sort"
	"strings"

	"github.com/resgen/resgen/spec"
)

// MaxTensorLen bounds the number of values of any one activation or
// parameter (per batch item). It keeps every size computation of the
// compiler, the generated code and the runtime far from integer overflow and
// keeps indices within int32 for kernels that want them.
const MaxTensorLen = 1 << 30

// Error is a problem in a spec found while building or checking the graph.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every problem found, in file order.
type ErrorList []*Error

// maxErrors caps how many problems one run reports.
const maxErrors = 20

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func posOf(p spec.Pos) Pos { return Pos{File: p.File, Line: p.Line, Col: p.Col} }

// Lower builds the graph of a parsed spec, inferring every shape. Every
// shape error is reported with the position of the offending field.
func Lower(s *spec.Spec) (*Graph, error) {
	l := &lowerer{byName: map[string]*Node{}, failed: map[string]bool{}}
	g := &Graph{Name: s.Name}
	in := &Node{Name: "input", Op: &Input{}, Shape: Shape{s.Input.C, s.Input.H, s.Input.W}, Pos: posOf(s.Input.Pos), Buf: -1}
	if err := l.checkLen(in.Shape, in.Pos, "input"); err {
		return nil, l.errs
	}
	g.Input = in
	g.Nodes = append(g.Nodes, in)
	l.byName["input"] = in
	for _, ly := range s.Layers {
		n := l.lower(ly)
		if n == nil {
			l.failed[ly.Name] = true
			if len(l.errs) >= maxErrors {
				break
			}
			continue
		}
		g.Nodes = append(g.Nodes, n)
		l.byName[n.Name] = n
	}
	if len(l.errs) == 0 {
		out := s.Output
		if out == "" && len(g.Nodes) > 0 {
			out = g.Nodes[len(g.Nodes)-1].Name
		}
		g.Output = l.byName[out]
		if g.Output == nil {
			l.errorf(posOf(s.OutputPos), "output %q is not a tensor of the spec", out)
		} else if g.Output == in {
			l.errorf(posOf(s.OutputPos), "the network has no layers: output is the input")
		}
	}
	g.Preprocess = lowerPreprocess(s.Preprocess)
	g.Winograd = s.Winograd
	if s.Labels != nil && g.Output != nil {
		if out := g.Output.Shape; len(s.Labels) != out.C {
			what := "classes"
			if out.H != 1 || out.W != 1 {
				what = "channels per pixel"
			}
			l.errorf(posOf(s.LabelsPos), "labels: %d given, but the output %q has %d %s", len(s.Labels), g.Output.Name, out.C, what)
		}
		g.Labels = s.Labels
	}
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool {
			a, b := l.errs[i].Pos, l.errs[j].Pos
			if a.File != b.File {
				return a.File < b.File
			}
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		return nil, l.errs
	}
	return g, nil
}

type lowerer struct {
	byName map[string]*Node
	failed map[string]bool // layers that had an error; readers stay quiet
	errs   ErrorList
}

func (l *lowerer) errorf(p Pos, format string, args ...any) {
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
	}
}

// checkLen reports a shape whose element count is out of range; it returns
// true if it reported.
func (l *lowerer) checkLen(s Shape, p Pos, what string) bool {
	if s.C < 1 || s.H < 1 || s.W < 1 {
		l.errorf(p, "%s: shape %s has a size below 1", what, s)
		return true
	}
	if !boundedLen([]int{s.C, s.H, s.W}) {
		l.errorf(p, "%s: shape %s has more than %d values (the limit for one tensor)", what, s, MaxTensorLen)
		return true
	}
	return false
}

func (l *lowerer) lower(ly *spec.Layer) *Node {
	pos := posOf(ly.Pos)
	field := func(name string) Pos {
		if p, ok := ly.Fields[name]; ok {
			return posOf(p)
		}
		return pos
	}
	what := fmt.Sprintf("%s %q", ly.Op.Kind(), ly.Name)
	if _, dup := l.byName[ly.Name]; dup {
		l.errorf(pos, "%s: a tensor named %q is already defined", what, ly.Name)
		return nil
	}
	ins := make([]*Node, 0, len(ly.Inputs))
	for _, name := range ly.Inputs {
		n := l.byName[name]
		if n == nil {
			if !l.failed[name] { // else its own error was reported
				l.errorf(field("from"), "%s: unknown tensor %q", what, name)
			}
			return nil
		}
		ins = append(ins, n)
	}
	n := &Node{Name: ly.Name, Inputs: ins, Pos: pos, Buf: -1}
	arity := func(want int) bool {
		if len(ins) != want {
			l.errorf(field("from"), "%s: takes %d input(s), got %d", what, want, len(ins))
			return false
		}
		return true
	}
	key := ly.Key
	if key == "" {
		key = ly.Name
	}
	switch op := ly.Op.(type) {
	case spec.Conv2D:
		if !arity(1) {
			return nil
		}
		x := ins[0].Shape
		c := &Conv{Out: op.Out, KH: op.KernelH, KW: op.KernelW, StrideH: op.StrideH, StrideW: op.StrideW,
			PadH: op.PadH, PadW: op.PadW, DilH: op.DilH, DilW: op.DilW, Groups: op.Groups}
		if c.Groups < 1 || x.C%c.Groups != 0 || c.Out%c.Groups != 0 {
			l.errorf(field("groups"), "%s: groups=%d must divide input channels (%d) and out (%d)", what, c.Groups, x.C, c.Out)
			return nil
		}
		oh, okH := convOut(x.H, c.KH, c.StrideH, c.PadH, c.DilH)
		ow, okW := convOut(x.W, c.KW, c.StrideW, c.PadW, c.DilW)
		if !okH || !okW {
			l.errorf(field("kernel"), "%s: kernel %dx%d (dilation %dx%d) is larger than the padded input %dx%d", what,
				c.KH, c.KW, c.DilH, c.DilW, x.H+2*c.PadH, x.W+2*c.PadW)
			return nil
		}
		c.Weight = Param{Key: key + ".weight", Shape: []int{c.Out, x.C / c.Groups, c.KH, c.KW}}
		if op.Bias {
			c.Bias = &Param{Key: key + ".bias", Shape: []int{c.Out}}
		}
		n.Op, n.Shape = c, Shape{c.Out, oh, ow}
	case spec.ConvTranspose2D:
		if !arity(1) {
			return nil
		}
		x := ins[0].Shape
		c := &ConvTranspose{Out: op.Out, KH: op.KernelH, KW: op.KernelW, StrideH: op.StrideH, StrideW: op.StrideW,
			PadH: op.PadH, PadW: op.PadW, OutPadH: op.OutPadH, OutPadW: op.OutPadW, DilH: op.DilH, DilW: op.DilW, Groups: op.Groups}
		if c.Groups < 1 || x.C%c.Groups != 0 || c.Out%c.Groups != 0 {
			l.errorf(field("groups"), "%s: groups=%d must divide input channels (%d) and out (%d)", what, c.Groups, x.C, c.Out)
			return nil
		}
		if (c.OutPadH >= c.StrideH && c.OutPadH >= c.DilH) || (c.OutPadW >= c.StrideW && c.OutPadW >= c.DilW) {
			l.errorf(field("output_padding"), "%s: output_padding %dx%d must be smaller than stride or dilation", what, c.OutPadH, c.OutPadW)
			return nil
		}
		oh := (x.H-1)*c.StrideH - 2*c.PadH + c.DilH*(c.KH-1) + c.OutPadH + 1
		ow := (x.W-1)*c.StrideW - 2*c.PadW + c.DilW*(c.KW-1) + c.OutPadW + 1
		if oh < 1 || ow < 1 {
			l.errorf(field("padding"), "%s: padding %dx%d leaves an empty output", what, c.PadH, c.PadW)
			return nil
		}
		c.Weight = Param{Key: key + ".weight", Shape: []int{x.C, c.Out / c.Groups, c.KH, c.KW}}
		if op.Bias {
			c.Bias = &Param{Key: key + ".bias", Shape: []int{c.Out}}
		}
		n.Op, n.Shape = c, Shape{c.Out, oh, ow}
	case spec.Linear:
		if !arity(1) {
			return nil
		}
		x := ins[0].Shape
		if x.H != 1 || x.W != 1 {
			l.errorf(field("from"), "%s: input is a %s map, want a vector: add flatten or global_avgpool before it", what, x)
			return nil
		}
		c := &Conv{Out: op.Out, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1, Linear: true,
			Weight: Param{Key: key + ".weight", Shape: []int{op.Out, x.C}}}
		if op.Bias {
			c.Bias = &Param{Key: key + ".bias", Shape: []int{op.Out}}
		}
		n.Op, n.Shape = c, Shape{op.Out, 1, 1}
	case spec.BatchNorm:
		if !arity(1) {
			return nil
		}
		n.Op = &Affine{BN: BatchNorm{Prefix: key, C: ins[0].Shape.C, Eps: op.Eps}}
		n.Shape = ins[0].Shape
	case spec.ReLU:
		if !arity(1) {
			return nil
		}
		n.Op, n.Shape = &ReLU{}, ins[0].Shape
	case spec.Sigmoid:
		if !arity(1) {
			return nil
		}
		n.Op, n.Shape = &Sigmoid{}, ins[0].Shape
	case spec.Softmax:
		if !arity(1) {
			return nil
		}
		n.Op, n.Shape = &Softmax{}, ins[0].Shape
	case spec.Identity:
		if !arity(1) {
			return nil
		}
		n.Op, n.Shape = &Identity{}, ins[0].Shape
	case spec.Add:
		if len(ins) < 2 {
			l.errorf(field("from"), "%s: needs at least 2 inputs, got %d", what, len(ins))
			return nil
		}
		for _, in := range ins[1:] {
			if in.Shape != ins[0].Shape {
				l.errorf(field("from"), "%s: inputs differ in shape: %q is %s, %q is %s", what, ins[0].Name, ins[0].Shape, in.Name, in.Shape)
				return nil
			}
		}
		n.Op, n.Shape = &Add{}, ins[0].Shape
	case spec.Concat:
		if len(ins) < 2 {
			l.errorf(field("from"), "%s: needs at least 2 inputs, got %d", what, len(ins))
			return nil
		}
		c := 0
		for _, in := range ins {
			if in.Shape.H != ins[0].Shape.H || in.Shape.W != ins[0].Shape.W {
				l.errorf(field("from"), "%s: inputs differ in spatial size: %q is %dx%d, %q is %dx%d", what,
					ins[0].Name, ins[0].Shape.H, ins[0].Shape.W, in.Name, in.Shape.H, in.Shape.W)
				return nil
			}
			c += in.Shape.C
		}
		n.Op, n.Shape = &Concat{}, Shape{c, ins[0].Shape.H, ins[0].Shape.W}
	case spec.Flatten:
		if !arity(1) {
			return nil
		}
		n.Op, n.Shape = &Flatten{}, Shape{ins[0].Shape.Len(), 1, 1}
	case spec.GlobalAvgPool:
		if !arity(1) {
			return nil
		}
		n.Op, n.Shape = &GlobalAvgPool{}, Shape{ins[0].Shape.C, 1, 1}
	case spec.MaxPool, spec.AvgPool:
		if !arity(1) {
			return nil
		}
		var p *Pool
		if m, ok := op.(spec.MaxPool); ok {
			p = &Pool{Max: true, KH: m.KernelH, KW: m.KernelW, StrideH: m.StrideH, StrideW: m.StrideW, PadH: m.PadH, PadW: m.PadW, CeilMode: m.CeilMode}
		} else {
			a := op.(spec.AvgPool)
			p = &Pool{KH: a.KernelH, KW: a.KernelW, StrideH: a.StrideH, StrideW: a.StrideW, PadH: a.PadH, PadW: a.PadW, CeilMode: a.CeilMode, CountIncludePad: a.CountIncludePad}
		}
		if 2*p.PadH > p.KH || 2*p.PadW > p.KW {
			l.errorf(field("padding"), "%s: padding %dx%d must be at most half the kernel %dx%d", what, p.PadH, p.PadW, p.KH, p.KW)
			return nil
		}
		x := ins[0].Shape
		oh, okH := poolOut(x.H, p.KH, p.StrideH, p.PadH, p.CeilMode)
		ow, okW := poolOut(x.W, p.KW, p.StrideW, p.PadW, p.CeilMode)
		if !okH || !okW {
			l.errorf(field("kernel"), "%s: kernel %dx%d is larger than the padded input %dx%d", what, p.KH, p.KW, x.H+2*p.PadH, x.W+2*p.PadW)
			return nil
		}
		n.Op, n.Shape = p, Shape{x.C, oh, ow}
	case spec.Upsample:
		if !arity(1) {
			return nil
		}
		x := ins[0].Shape
		if op.Mode != "nearest" && op.Mode != "bilinear" {
			l.errorf(field("mode"), "%s: mode %q: want nearest or bilinear", what, op.Mode)
			return nil
		}
		n.Op = &Upsample{ScaleH: op.ScaleH, ScaleW: op.ScaleW, Bilinear: op.Mode == "bilinear", AlignCorners: op.AlignCorners}
		n.Shape = Shape{x.C, x.H * op.ScaleH, x.W * op.ScaleW}
	case spec.ShortcutA:
		if !arity(1) {
			return nil
		}
		x := ins[0].Shape
		if op.Out < x.C || (op.Out-x.C)%2 != 0 {
			l.errorf(field("out"), "%s: out=%d must be at least the input channels (%d) and differ from them by an even number", what, op.Out, x.C)
			return nil
		}
		n.Op = &ShortcutA{Stride: op.Stride}
		n.Shape = Shape{op.Out, (x.H + op.Stride - 1) / op.Stride, (x.W + op.Stride - 1) / op.Stride}
	default:
		l.errorf(pos, "%s: op not supported by the compiler", what)
		return nil
	}
	if l.checkLen(n.Shape, pos, what) {
		return nil
	}
	for _, p := range Params(n.Op) {
		if !boundedLen(p.Shape) {
			l.errorf(pos, "%s: parameter %s of shape %v has more than %d values (the limit for one tensor)", what, p.Key, p.Shape, MaxTensorLen)
			return nil
		}
	}
	return n
}

// boundedLen reports whether every dimension is positive and their product
// is at most MaxTensorLen, without overflowing on the way.
func boundedLen(dims []int) bool {
	n := int64(1)
	for _, d := range dims {
		if d < 1 || int64(d) > MaxTensorLen {
			return false
		}
		n *= int64(d)
		if n > MaxTensorLen {
			return false
		}
	}
	return true
}

// convOut is PyTorch's output size of a convolution along one axis.
func convOut(in, k, s, p, d int) (int, bool) {
	span := d*(k-1) + 1
	if in+2*p < span || s < 1 {
		return 0, false
	}
	return (in+2*p-span)/s + 1, true
}

// poolOut is PyTorch's output size of pooling along one axis, including its
// rule that the last window must start inside the input or left padding.
func poolOut(in, k, s, p int, ceil bool) (int, bool) {
	if in+2*p < k || s < 1 {
		return 0, false
	}
	num := in + 2*p - k
	out := num/s + 1
	if ceil {
		out = (num+s-1)/s + 1
		if (out-1)*s >= in+p {
			out--
		}
	}
	return out, true
}

// lowerPreprocess copies the spec's transform, which spec has already
// checked against the input.
func lowerPreprocess(p *spec.Preprocess) *Preprocess {
	if p == nil {
		return nil
	}
	q := &Preprocess{Gray: p.Gray, ResizeShort: p.ResizeShort, ResizeH: p.ResizeH, ResizeW: p.ResizeW,
		Interp: p.Interp, CropH: p.CropH, CropW: p.CropW}
	for i := range p.Mean {
		q.Mean = append(q.Mean, float32(p.Mean[i]))
		q.Std = append(q.Std, float32(p.Std[i]))
	}
	return q
}
