package spec

import (
	"fmt"
	"math"
	"sort"

	"gopkg.in/yaml.v3"
)

// opDef describes one op of the spec language: its fields, whether it has
// parameters (and so needs a name, its state_dict key prefix), how many
// inputs it takes, and how to build its typed Op.
type opDef struct {
	name     string
	fields   []string // op-specific keys, besides the common ones
	required []string // keys that must be present
	params   bool
	multi    bool // takes two or more inputs (add, concat); otherwise exactly one
	build    func(r *fieldReader) Op
}

// commonKeys are allowed on every layer.
var commonKeys = []string{"name", "op", "block", "from", "if", "key"}

// invocationKeys are allowed on a block invocation, besides commonKeys.
var invocationKeys = []string{"args", "repeat", "first"}

var convFields = []string{"out", "kernel", "stride", "padding", "dilation", "groups", "bias"}

var opDefs = map[string]*opDef{}

func init() {
	for _, d := range []*opDef{
		{name: "conv2d", fields: convFields, required: []string{"out", "kernel"}, params: true, build: buildConv2D},
		{name: "conv_transpose2d", fields: append(convFields[:len(convFields):len(convFields)], "output_padding"),
			required: []string{"out", "kernel"}, params: true, build: buildConvTranspose2D},
		{name: "batchnorm", fields: []string{"eps"}, params: true, build: func(r *fieldReader) Op {
			return BatchNorm{Eps: r.positiveFloat("eps", 1e-5)}
		}},
		{name: "relu", build: func(*fieldReader) Op { return ReLU{} }},
		{name: "sigmoid", build: func(*fieldReader) Op { return Sigmoid{} }},
		{name: "softmax", build: func(*fieldReader) Op { return Softmax{} }},
		{name: "add", multi: true, build: func(*fieldReader) Op { return Add{} }},
		{name: "concat", multi: true, build: func(*fieldReader) Op { return Concat{} }},
		{name: "flatten", build: func(*fieldReader) Op { return Flatten{} }},
		{name: "linear", fields: []string{"out", "bias"}, required: []string{"out"}, params: true, build: func(r *fieldReader) Op {
			return Linear{Out: r.int("out", 0, 1), Bias: r.bool("bias", true)}
		}},
		{name: "maxpool", fields: []string{"kernel", "stride", "padding", "ceil_mode"}, required: []string{"kernel"}, build: func(r *fieldReader) Op {
			w := r.window()
			return MaxPool{w.kh, w.kw, w.sh, w.sw, w.ph, w.pw, r.bool("ceil_mode", false)}
		}},
		{name: "avgpool", fields: []string{"kernel", "stride", "padding", "ceil_mode", "count_include_pad"}, required: []string{"kernel"}, build: func(r *fieldReader) Op {
			w := r.window()
			return AvgPool{w.kh, w.kw, w.sh, w.sw, w.ph, w.pw, r.bool("ceil_mode", false), r.bool("count_include_pad", true)}
		}},
		{name: "global_avgpool", build: func(*fieldReader) Op { return GlobalAvgPool{} }},
		{name: "upsample", fields: []string{"scale", "mode", "align_corners"}, required: []string{"scale"}, build: buildUpsample},
		{name: "shortcut_a", fields: []string{"out", "stride"}, required: []string{"out"}, build: func(r *fieldReader) Op {
			return ShortcutA{Out: r.int("out", 0, 1), Stride: r.int("stride", 1, 1)}
		}},
		{name: "identity", build: func(*fieldReader) Op { return Identity{} }},
	} {
		opDefs[d.name] = d
	}
}

func opNames() []string {
	var ns []string
	for n := range opDefs {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func buildConv2D(r *fieldReader) Op {
	var c Conv2D
	c.Out = r.int("out", 0, 1)
	c.KernelH, c.KernelW, _ = r.pair("kernel", 1, 1)
	c.StrideH, c.StrideW, _ = r.pair("stride", 1, 1)
	c.PadH, c.PadW, _ = r.pair("padding", 0, 0)
	c.DilH, c.DilW, _ = r.pair("dilation", 1, 1)
	c.Groups = r.int("groups", 1, 1)
	c.Bias = r.bool("bias", true)
	r.checkGroups(c.Out, c.Groups)
	return c
}

func buildConvTranspose2D(r *fieldReader) Op {
	var c ConvTranspose2D
	c.Out = r.int("out", 0, 1)
	c.KernelH, c.KernelW, _ = r.pair("kernel", 1, 1)
	c.StrideH, c.StrideW, _ = r.pair("stride", 1, 1)
	c.PadH, c.PadW, _ = r.pair("padding", 0, 0)
	c.DilH, c.DilW, _ = r.pair("dilation", 1, 1)
	c.OutPadH, c.OutPadW, _ = r.pair("output_padding", 0, 0)
	c.Groups = r.int("groups", 1, 1)
	c.Bias = r.bool("bias", true)
	r.checkGroups(c.Out, c.Groups)
	// PyTorch: output padding must be smaller than either stride or dilation.
	if c.OutPadH >= max(c.StrideH, c.DilH) || c.OutPadW >= max(c.StrideW, c.DilW) {
		r.errorf(r.pos("output_padding"), "output_padding must be smaller than stride or dilation, got output_padding [%d, %d], stride [%d, %d], dilation [%d, %d]",
			c.OutPadH, c.OutPadW, c.StrideH, c.StrideW, c.DilH, c.DilW)
	}
	return c
}

func buildUpsample(r *fieldReader) Op {
	var u Upsample
	u.ScaleH, u.ScaleW, _ = r.pair("scale", 1, 1)
	u.Mode = r.oneOf("mode", "nearest", "nearest", "bilinear")
	u.AlignCorners = r.bool("align_corners", false)
	if u.AlignCorners && u.Mode != "bilinear" {
		r.errorf(r.pos("align_corners"), "align_corners needs mode: bilinear, got mode %s", u.Mode)
	}
	return u
}

// fieldReader reads and validates the fields of one layer instance.
type fieldReader struct {
	x    *expander
	e    *entry
	vars *env
	desc string // e.g. `conv2d "layer1.0.conv1"`
}

func (r *fieldReader) errorf(pos Pos, format string, args ...any) {
	r.x.layerError(r.e, r.desc, pos, fmt.Sprintf(format, args...))
}

func (r *fieldReader) pos(key string) Pos {
	if n := r.e.fields[key]; n != nil {
		return r.x.p.pos(n)
	}
	return r.e.pos
}

// value evaluates field key; ok is false if it is absent or an error was reported.
func (r *fieldReader) value(key string, n *yaml.Node) (value, bool) {
	return r.x.eval(n, r.vars, func(pos Pos, msg string) { r.errorf(pos, "%s: %s", key, msg) })
}

func (r *fieldReader) checkInt(key string, n *yaml.Node, v value, min int) (int, bool) {
	if v.kind != kindInt {
		r.errorf(r.x.p.pos(n), "%s must be an integer, got %s %s%s", key, v.kind, v, exprHint(v))
		return 0, false
	}
	if v.i < int64(min) {
		r.errorf(r.x.p.pos(n), "%s must be ≥ %d, got %d", key, min, v.i)
		return 0, false
	}
	return int(v.i), true
}

// int reads an integer field ≥ min, or def if absent.
func (r *fieldReader) int(key string, def, min int) int {
	n := r.e.fields[key]
	if n == nil {
		return def
	}
	if n.Kind != yaml.ScalarNode {
		r.errorf(r.x.p.pos(n), "%s must be an integer", key)
		return def
	}
	v, ok := r.value(key, n)
	if !ok {
		return def
	}
	i, ok := r.checkInt(key, n, v, min)
	if !ok {
		return def
	}
	return i
}

// pair reads a field that is an integer or [h, w], each ≥ min.
func (r *fieldReader) pair(key string, def, min int) (h, w int, present bool) {
	n := r.e.fields[key]
	if n == nil {
		return def, def, false
	}
	switch {
	case n.Kind == yaml.ScalarNode:
		v, ok := r.value(key, n)
		if !ok {
			return def, def, true
		}
		i, ok := r.checkInt(key, n, v, min)
		if !ok {
			return def, def, true
		}
		return i, i, true
	case n.Kind == yaml.SequenceNode && len(n.Content) == 2:
		hw := [2]int{def, def}
		for j, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				r.errorf(r.x.p.pos(c), "%s must be an integer or [h, w]", key)
				continue
			}
			if v, ok := r.value(key, c); ok {
				if i, ok := r.checkInt(key, c, v, min); ok {
					hw[j] = i
				}
			}
		}
		return hw[0], hw[1], true
	}
	r.errorf(r.x.p.pos(n), "%s must be an integer or [h, w]", key)
	return def, def, true
}

func (r *fieldReader) bool(key string, def bool) bool {
	n := r.e.fields[key]
	if n == nil {
		return def
	}
	if n.Kind != yaml.ScalarNode {
		r.errorf(r.x.p.pos(n), "%s must be true or false", key)
		return def
	}
	v, ok := r.value(key, n)
	if !ok {
		return def
	}
	if v.kind != kindBool {
		r.errorf(r.x.p.pos(n), "%s must be true or false, got %s %s%s", key, v.kind, v, exprHint(v))
		return def
	}
	return v.b
}

func (r *fieldReader) positiveFloat(key string, def float64) float64 {
	n := r.e.fields[key]
	if n == nil {
		return def
	}
	if n.Kind != yaml.ScalarNode {
		r.errorf(r.x.p.pos(n), "%s must be a number", key)
		return def
	}
	v, ok := r.value(key, n)
	if !ok {
		return def
	}
	var f float64
	switch v.kind {
	case kindInt:
		f = float64(v.i)
	case kindFloat:
		f = v.f
	default:
		r.errorf(r.x.p.pos(n), "%s must be a number, got %s %s", key, v.kind, v)
		return def
	}
	if !(f > 0) || math.IsInf(f, 0) || f > MaxInt {
		r.errorf(r.x.p.pos(n), "%s must be a positive finite number, got %v", key, f)
		return def
	}
	return f
}

func (r *fieldReader) oneOf(key, def string, allowed ...string) string {
	n := r.e.fields[key]
	if n == nil {
		return def
	}
	if n.Kind != yaml.ScalarNode {
		r.errorf(r.x.p.pos(n), "%s must be one of %s", key, joinNames(allowed))
		return def
	}
	v, ok := r.value(key, n)
	if !ok {
		return def
	}
	if v.kind != kindString || !contains(allowed, v.s) {
		r.errorf(r.x.p.pos(n), "%s must be one of %s, got %s", key, joinNames(allowed), v)
		return def
	}
	return v.s
}

type window struct{ kh, kw, sh, sw, ph, pw int }

// window reads pooling kernel, stride (default: kernel) and padding.
func (r *fieldReader) window() window {
	var w window
	w.kh, w.kw, _ = r.pair("kernel", 1, 1)
	var present bool
	w.sh, w.sw, present = r.pair("stride", 1, 1)
	if !present {
		w.sh, w.sw = w.kh, w.kw
	}
	w.ph, w.pw, _ = r.pair("padding", 0, 0)
	// PyTorch rejects padding larger than half the kernel.
	if 2*w.ph > w.kh || 2*w.pw > w.kw {
		r.errorf(r.pos("padding"), "padding must be at most half the kernel, got padding [%d, %d] for kernel [%d, %d]", w.ph, w.pw, w.kh, w.kw)
	}
	return w
}

func (r *fieldReader) checkGroups(out, groups int) {
	if groups > 0 && out%groups != 0 {
		r.errorf(r.pos("groups"), "out (%d) must be divisible by groups (%d)", out, groups)
	}
}

// exprHint explains why a string that looks like an expression was not
// evaluated.
func exprHint(v value) string {
	if v.kind != kindString {
		return ""
	}
	if _, err := parseExpr(v.s); err != nil {
		return ""
	}
	return " (only text with a $variable is an expression)"
}
