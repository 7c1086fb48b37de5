package importer

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/resgen/resgen/onnx"
)

// opDef is one entry of the registry: the opsets of the default domain the
// converter understands (the versions whose semantics it implements), the
// attributes it accepts (any other is refused), and the converter.
type opDef struct {
	since, until int64
	attrs        []string
	convert      func(c *call) error
}

// registry lists every ONNX op the importer understands. Ops marked
// "constants only" appear in the subgraphs exporters emit to compute shapes
// and pads; they are folded at import time and refused on activations.
var registry map[string]*opDef

func init() {
	registry = map[string]*opDef{
		"Conv":               {1, 17, []string{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}, convConv},
		"ConvTranspose":      {1, 17, []string{"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides"}, convConvTranspose},
		"BatchNormalization": {6, 17, []string{"epsilon", "is_test", "momentum", "spatial", "training_mode"}, convBatchNorm},
		"Relu":               {6, 17, nil, convUnary("relu")},
		"Sigmoid":            {6, 17, nil, convUnary("sigmoid")},
		"Add":                {7, 17, nil, convAdd},
		"Sum":                {8, 17, nil, convSum},
		"MaxPool":            {1, 17, []string{"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"}, convPool(true)},
		"AveragePool":        {1, 17, []string{"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"}, convPool(false)},
		"GlobalAveragePool":  {1, 17, nil, convGlobalAvgPool},
		"Flatten":            {1, 17, []string{"axis"}, convFlatten},
		"Reshape":            {5, 17, []string{"allowzero"}, convReshape},
		"Gemm":               {7, 17, []string{"alpha", "beta", "transA", "transB"}, convGemm},
		"MatMul":             {1, 17, nil, convMatMul},
		"Concat":             {4, 17, []string{"axis"}, convConcat},
		"Resize":             {10, 17, []string{"coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside", "extrapolation_value", "mode", "nearest_mode"}, convResize},
		"Upsample":           {7, 9, []string{"mode", "scales"}, convResize},
		"Softmax":            {1, 17, []string{"axis"}, convSoftmax},
		"Pad":                {2, 17, []string{"mode", "pads", "value"}, convPad},
		"Slice":              {1, 17, []string{"axes", "ends", "starts"}, convSlice},
		"Identity":           {1, 17, nil, convIdentity},
		"Constant":           {1, 17, []string{"value", "value_float", "value_floats", "value_int", "value_ints"}, convConstant},
		"Shape":              {1, 17, []string{"start", "end"}, convShape},
		"Gather":             {1, 17, []string{"axis"}, convGather},
		"Unsqueeze":          {1, 17, []string{"axes"}, convUnsqueeze},
		"Squeeze":            {1, 17, []string{"axes"}, convSqueeze},
		"Cast":               {6, 17, []string{"to"}, convCast},               // constants only, or to float
		"Transpose":          {1, 17, []string{"perm"}, convTranspose},        // constants only
		"ConstantOfShape":    {9, 17, []string{"value"}, convConstantOfShape}, // constants only
	}
}

// Ops lists the op types of the registry, sorted.
func Ops() []string {
	var ops []string
	for k := range registry {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}

// call is one node being converted.
type call struct {
	im  *importer
	n   *onnx.Node
	ins []*value // nil where an optional input is omitted
}

func (im *importer) convert(n *onnx.Node) error {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return im.errorf("op domain %q is not supported (only the default ONNX domain)", n.Domain)
	}
	d := registry[n.OpType]
	if d == nil {
		return im.errorf("op type %s is not supported by resgen import (it imports %s)", n.OpType, strings.Join(Ops(), ", "))
	}
	if im.opset < d.since || im.opset > d.until {
		return im.errorf("%s is supported at opsets %d to %d, not %d", n.OpType, d.since, d.until, im.opset)
	}
	for _, a := range n.Attrs {
		if !slices.Contains(d.attrs, a.Name) {
			return im.errorf("attribute %q is not supported for %s", a.Name, n.OpType)
		}
		if a.RefName != "" {
			return im.errorf("attribute %q refers to a function attribute; not supported", a.Name)
		}
	}
	c := &call{im: im, n: n}
	for _, in := range n.Inputs {
		if in == "" {
			c.ins = append(c.ins, nil)
			continue
		}
		v := im.values[in]
		if v == nil {
			return im.errorf("input %q is not defined", in) // sortNodes makes this unreachable
		}
		c.ins = append(c.ins, v)
	}
	if err := d.convert(c); err != nil {
		return err
	}
	for i, out := range n.Outputs {
		if out != "" && im.values[out] == nil && im.uses[out] > 0 {
			return im.errorf("output %d (%q) is not supported (only the first output of %s is)", i, out, n.OpType)
		}
	}
	return nil
}

func (c *call) errorf(format string, args ...any) error { return c.im.errorf(format, args...) }

// in returns input i or nil if absent.
func (c *call) in(i int) *value {
	if i < len(c.ins) {
		return c.ins[i]
	}
	return nil
}

func (c *call) inputs(min, max int) error {
	if len(c.ins) < min || len(c.ins) > max || c.in(0) == nil && min > 0 {
		if min == max {
			return c.errorf("has %d inputs; want %d", len(c.ins), min)
		}
		return c.errorf("has %d inputs; want %d to %d", len(c.ins), min, max)
	}
	for i := 0; i < min; i++ {
		if c.ins[i] == nil {
			return c.errorf("input %d is missing", i)
		}
	}
	return nil
}

// act returns input i as an activation, emitting any pending shortcut.
func (c *call) act(i int) (*act, error) {
	v := c.in(i)
	if v == nil || v.a == nil {
		return nil, c.errorf("input %d (%q) must be computed from the network input, not a constant", i, c.n.Inputs[i])
	}
	return c.im.materialize(v.a)
}

// konst returns input i as a constant.
func (c *call) konst(i int, what string) (*konst, error) {
	v := c.in(i)
	if v == nil {
		return nil, c.errorf("%s (input %d) is missing", what, i)
	}
	if v.k == nil {
		return nil, c.errorf("%s (input %d, %q) must be a constant (an initializer or computed from them), not computed from the network input", what, i, c.n.Inputs[i])
	}
	return v.k, nil
}

func (c *call) allConst() bool {
	for _, v := range c.ins {
		if v != nil && v.k == nil {
			return false
		}
	}
	return true
}

func (c *call) out(v *value) { c.im.values[c.n.Outputs[0]] = v }

func (c *call) outAct(a *act) { c.out(&value{a: a}) }

func (c *call) outConst(k *konst) error {
	if len(k.dims) > onnx.MaxRank {
		return c.errorf("folded constant has rank %d (limit %d)", len(k.dims), onnx.MaxRank)
	}
	if !boundedDims(k.dims) || int64(k.len()) != dimsLen(k.dims) {
		return c.errorf("folded constant has dims %v (%d values): too large or inconsistent", k.dims, k.len())
	}
	c.out(&value{k: k})
	return nil
}

func (c *call) attr(name string) *onnx.Attribute { return c.n.Attr(name) }

func (c *call) attrInt(name string, def int64) (int64, error) {
	a := c.attr(name)
	if a == nil {
		return def, nil
	}
	if a.Type != onnx.AttrInt {
		return 0, c.errorf("attribute %q has type %s; want INT", name, a.Type)
	}
	return a.I, nil
}

func (c *call) attrFloat(name string, def float32) (float32, error) {
	a := c.attr(name)
	if a == nil {
		return def, nil
	}
	if a.Type != onnx.AttrFloat {
		return 0, c.errorf("attribute %q has type %s; want FLOAT", name, a.Type)
	}
	return a.F, nil
}

func (c *call) attrInts(name string, def []int64) ([]int64, error) {
	a := c.attr(name)
	if a == nil {
		return def, nil
	}
	if a.Type != onnx.AttrInts {
		return nil, c.errorf("attribute %q has type %s; want INTS", name, a.Type)
	}
	return a.Ints, nil
}

func (c *call) attrString(name, def string) (string, error) {
	a := c.attr(name)
	if a == nil {
		return def, nil
	}
	if a.Type != onnx.AttrString {
		return "", c.errorf("attribute %q has type %s; want STRING", name, a.Type)
	}
	return string(a.S), nil
}

// ---------------------------------------------------------------- helpers --

// small checks that ints fit the spec's limits.
func (c *call) small(what string, vs ...int64) ([]int, error) {
	out := make([]int, len(vs))
	for i, v := range vs {
		if v < 0 || v > 1<<20 {
			return nil, c.errorf("%s %v: values must be 0 to %d", what, vs, 1<<20)
		}
		out[i] = int(v)
	}
	return out, nil
}

// pair reads a 2-D attribute (kernel, strides, dilations) of positive ints.
func (c *call) pair(name string, def int64) ([2]int, error) {
	v, err := c.attrInts(name, []int64{def, def})
	if err != nil {
		return [2]int{}, err
	}
	if len(v) != 2 {
		return [2]int{}, c.errorf("attribute %s %v: want 2 values (2-D); only 2-D ops are supported", name, v)
	}
	s, err := c.small("attribute "+name, v...)
	if err != nil {
		return [2]int{}, err
	}
	if s[0] < 1 || s[1] < 1 {
		return [2]int{}, c.errorf("attribute %s %v: want values ≥ 1", name, v)
	}
	return [2]int{s[0], s[1]}, nil
}

// pads reads symmetric 2-D padding [top, left, bottom, right], resolving
// auto_pad; in, k, s, d give the SAME_* arithmetic.
func (c *call) pads(in, k, s, d [2]int, allowSame bool) ([2]int, error) {
	auto, err := c.attrString("auto_pad", "NOTSET")
	if err != nil {
		return [2]int{}, err
	}
	switch auto {
	case "NOTSET":
	case "VALID":
		return [2]int{}, nil
	case "SAME_UPPER", "SAME_LOWER":
		if !allowSame {
			return [2]int{}, c.errorf("auto_pad %s is not supported here", auto)
		}
		var p [2]int
		for i := range 2 {
			out := (in[i] + s[i] - 1) / s[i]
			total := max((out-1)*s[i]+(k[i]-1)*d[i]+1-in[i], 0)
			if total%2 != 0 {
				return [2]int{}, c.errorf("auto_pad %s needs asymmetric padding (%d in total along axis %d); resgen pads both sides equally", auto, total, i+2)
			}
			p[i] = total / 2
		}
		return p, nil
	default:
		return [2]int{}, c.errorf("auto_pad %q: want NOTSET, VALID, SAME_UPPER or SAME_LOWER", auto)
	}
	v, err := c.attrInts("pads", []int64{0, 0, 0, 0})
	if err != nil {
		return [2]int{}, err
	}
	if len(v) != 4 {
		return [2]int{}, c.errorf("attribute pads %v: want 4 values (2-D)", v)
	}
	if v[0] != v[2] || v[1] != v[3] {
		return [2]int{}, c.errorf("attribute pads %v is asymmetric; resgen pads both sides equally (want [t, l, t, l])", v)
	}
	p, err := c.small("attribute pads", v[0], v[1])
	if err != nil {
		return [2]int{}, err
	}
	return [2]int{p[0], p[1]}, nil
}

func (c *call) rank4(a *act, what string) error {
	if a.rank != 4 {
		return c.errorf("%s is %s; want [N, C, H, W]", what, a.dims())
	}
	return nil
}

func weightName(c *call, i int) string {
	if i < len(c.n.Inputs) {
		return c.n.Inputs[i]
	}
	return ""
}

func dimsOf(k *konst) []int {
	d := make([]int, len(k.dims))
	for i, x := range k.dims {
		d[i] = int(x)
	}
	return d
}

func convOut(in, k, s, p, d int) int {
	span := d*(k-1) + 1
	if in+2*p < span {
		return 0
	}
	return (in+2*p-span)/s + 1
}

// ---------------------------------------------------------------- converters --

func convConv(c *call) error {
	if err := c.inputs(2, 3); err != nil {
		return err
	}
	x, err := c.act(0)
	if err != nil {
		return err
	}
	if err := c.rank4(x, "the input"); err != nil {
		return err
	}
	w, err := c.konst(1, "the weight")
	if err != nil {
		return err
	}
	if len(w.dims) != 4 || w.isInt() {
		return c.errorf("weight %q has dims %v (%s); want a float [O, I/groups, kH, kW] (only 2-D convolutions are supported)", c.n.Inputs[1], w.dims, w.dtype)
	}
	groups, err := c.attrInt("group", 1)
	if err != nil {
		return err
	}
	wd := dimsOf(w)
	if groups < 1 || int64(x.c)%groups != 0 || int64(wd[0])%groups != 0 || int64(wd[1])*groups != int64(x.c) {
		return c.errorf("group %d with weight dims %v does not fit %d input channels", groups, w.dims, x.c)
	}
	k := [2]int{wd[2], wd[3]}
	if ks, err := c.pair("kernel_shape", 1); err != nil {
		return err
	} else if c.attr("kernel_shape") != nil && ks != k {
		return c.errorf("kernel_shape %v disagrees with the weight's dims %v", ks, w.dims)
	}
	s, err := c.pair("strides", 1)
	if err != nil {
		return err
	}
	d, err := c.pair("dilations", 1)
	if err != nil {
		return err
	}
	p, err := c.pads([2]int{x.h, x.w}, k, s, d, true)
	if err != nil {
		return err
	}
	oh, ow := convOut(x.h, k[0], s[0], p[0], d[0]), convOut(x.w, k[1], s[1], p[1], d[1])
	if oh < 1 || ow < 1 {
		return c.errorf("kernel %v (dilation %v) is larger than the padded input %dx%d", k, d, x.h+2*p[0], x.w+2*p[1])
	}
	var bias *konst
	if c.in(2) != nil {
		if bias, err = c.konst(2, "the bias"); err != nil {
			return err
		}
		if bias.len() != wd[0] || bias.isInt() {
			return c.errorf("bias %q has dims %v; want [%d]", c.n.Inputs[2], bias.dims, wd[0])
		}
	}
	l := c.im.emit(x, "conv2d", c.im.layerName(c.n, "conv", weightName(c, 1)), nil)
	l.set("out", wd[0])
	l.set("kernel", k)
	if s != [2]int{1, 1} {
		l.set("stride", s)
	}
	if p != [2]int{} {
		l.set("padding", p)
	}
	if d != [2]int{1, 1} {
		l.set("dilation", d)
	}
	if groups != 1 {
		l.set("groups", groups)
	}
	if bias == nil {
		l.set("bias", false)
	}
	c.im.param(l, "weight", wd, w.f)
	if bias != nil {
		c.im.param(l, "bias", []int{wd[0]}, bias.f)
	}
	l.out.c, l.out.h, l.out.w = wd[0], oh, ow
	c.outAct(l.out)
	return nil
}

func convConvTranspose(c *call) error {
	if err := c.inputs(2, 3); err != nil {
		return err
	}
	x, err := c.act(0)
	if err != nil {
		return err
	}
	if err := c.rank4(x, "the input"); err != nil {
		return err
	}
	w, err := c.konst(1, "the weight")
	if err != nil {
		return err
	}
	if len(w.dims) != 4 || w.isInt() {
		return c.errorf("weight %q has dims %v; want a float [I, O/groups, kH, kW] (only 2-D is supported)", c.n.Inputs[1], w.dims)
	}
	wd := dimsOf(w)
	groups, err := c.attrInt("group", 1)
	if err != nil {
		return err
	}
	if groups < 1 || wd[0] != x.c || int64(x.c)%groups != 0 {
		return c.errorf("group %d with weight dims %v does not fit %d input channels", groups, w.dims, x.c)
	}
	out := wd[1] * int(groups)
	k := [2]int{wd[2], wd[3]}
	if ks, err := c.pair("kernel_shape", 1); err != nil {
		return err
	} else if c.attr("kernel_shape") != nil && ks != k {
		return c.errorf("kernel_shape %v disagrees with the weight's dims %v", ks, w.dims)
	}
	s, err := c.pair("strides", 1)
	if err != nil {
		return err
	}
	d, err := c.pair("dilations", 1)
	if err != nil {
		return err
	}
	p, err := c.pads([2]int{x.h, x.w}, k, s, d, false)
	if err != nil {
		return err
	}
	op := [2]int{}
	if c.attr("output_padding") != nil {
		v, err := c.attrInts("output_padding", nil)
		if err != nil {
			return err
		}
		if len(v) != 2 {
			return c.errorf("attribute output_padding %v: want 2 values", v)
		}
		s2, err := c.small("attribute output_padding", v...)
		if err != nil {
			return err
		}
		op = [2]int{s2[0], s2[1]}
	}
	for i := range 2 {
		if op[i] >= max(s[i], d[i]) {
			return c.errorf("output_padding %v must be smaller than stride %v or dilation %v", op, s, d)
		}
	}
	oh := (x.h-1)*s[0] - 2*p[0] + d[0]*(k[0]-1) + op[0] + 1
	ow := (x.w-1)*s[1] - 2*p[1] + d[1]*(k[1]-1) + op[1] + 1
	if oh < 1 || ow < 1 {
		return c.errorf("padding %v leaves an empty output", p)
	}
	if c.attr("output_shape") != nil {
		v, err := c.attrInts("output_shape", nil)
		if err != nil {
			return err
		}
		if n := len(v); n < 2 || v[n-2] != int64(oh) || v[n-1] != int64(ow) {
			return c.errorf("output_shape %v differs from the %dx%d the pads give; only explicit pads are supported", v, oh, ow)
		}
	}
	var bias *konst
	if c.in(2) != nil {
		if bias, err = c.konst(2, "the bias"); err != nil {
			return err
		}
		if bias.len() != out || bias.isInt() {
			return c.errorf("bias %q has dims %v; want [%d]", c.n.Inputs[2], bias.dims, out)
		}
	}
	l := c.im.emit(x, "conv_transpose2d", c.im.layerName(c.n, "conv_transpose", weightName(c, 1)), nil)
	l.set("out", out)
	l.set("kernel", k)
	if s != [2]int{1, 1} {
		l.set("stride", s)
	}
	if p != [2]int{} {
		l.set("padding", p)
	}
	if op != [2]int{} {
		l.set("output_padding", op)
	}
	if d != [2]int{1, 1} {
		l.set("dilation", d)
	}
	if groups != 1 {
		l.set("groups", groups)
	}
	if bias == nil {
		l.set("bias", false)
	}
	c.im.param(l, "weight", wd, w.f)
	if bias != nil {
		c.im.param(l, "bias", []int{out}, bias.f)
	}
	l.out.c, l.out.h, l.out.w = out, oh, ow
	c.outAct(l.out)
	return nil
}

func convBatchNorm(c *call) error {
	if err := c.inputs(5, 5); err != nil {
		return err
	}
	x, err := c.act(0)
	if err != nil {
		return err
	}
	if sp, err := c.attrInt("spatial", 1); err != nil {
		return err
	} else if sp != 1 {
		return c.errorf("spatial=%d is not supported (want 1)", sp)
	}
	// Before opset 7, is_test=0 (the default) means training: batch statistics.
	if c.im.opset < 7 {
		if t, err := c.attrInt("is_test", 0); err != nil {
			return err
		} else if t != 1 {
			return c.errorf("is_test=%d (training mode) is not supported; want is_test=1", t)
		}
	} else if c.attr("is_test") != nil {
		return c.errorf("attribute is_test is not used from opset 7 on")
	}
	if tm, err := c.attrInt("training_mode", 0); err != nil {
		return err
	} else if tm != 0 {
		return c.errorf("training_mode=%d is not supported (inference only)", tm)
	}
	eps, err := c.attrFloat("epsilon", 1e-5)
	if err != nil {
		return err
	}
	if !(eps > 0) || math.IsInf(float64(eps), 0) {
		return c.errorf("epsilon %v: want a positive number", eps)
	}
	names := []string{"scale", "bias", "mean", "var"}
	var ks [4]*konst
	for i := range ks {
		if ks[i], err = c.konst(i+1, names[i]); err != nil {
			return err
		}
		if ks[i].isInt() || ks[i].len() != x.c {
			return c.errorf("%s %q has dims %v; want [%d]", names[i], c.n.Inputs[i+1], ks[i].dims, x.c)
		}
	}
	l := c.im.emit(x, "batchnorm", c.im.layerName(c.n, "bn", weightName(c, 1)), nil)
	if eps != 1e-5 {
		l.set("eps", strconv.FormatFloat(float64(eps), 'g', -1, 32))
	}
	for i, suffix := range []string{"weight", "bias", "running_mean", "running_var"} {
		c.im.param(l, suffix, []int{x.c}, ks[i].f)
	}
	c.outAct(l.out)
	return nil
}

func convUnary(op string) func(c *call) error {
	return func(c *call) error {
		if err := c.inputs(1, 1); err != nil {
			return err
		}
		x, err := c.act(0)
		if err != nil {
			return err
		}
		l := c.im.emit(x, op, c.im.layerName(c.n, op, ""), nil)
		c.outAct(l.out)
		return nil
	}
}

func sameShape(a, b *act) bool { return a.rank == b.rank && a.c == b.c && a.h == b.h && a.w == b.w }

func convAdd(c *call) error {
	if err := c.inputs(2, 2); err != nil {
		return err
	}
	if c.allConst() {
		return foldArith(c, func(a, b int64) int64 { return a + b })
	}
	if c.in(0).k != nil || c.in(1).k != nil {
		// A bias after MatMul: the linear layer takes it.
		ai, ki := 0, 1
		if c.in(0).k != nil {
			ai, ki = 1, 0
		}
		x, err := c.act(ai)
		if err != nil {
			return err
		}
		b := c.in(ki).k
		l := x.layer
		if l != nil && l.op == "linear" && len(l.params) == 1 && c.im.uses[c.n.Inputs[ai]] == 1 && !b.isInt() && b.len() == x.c && len(b.dims) <= 2 && (len(b.dims) < 2 || b.dims[0] == 1) {
			l.set("bias", true)
			l.fields = slices.DeleteFunc(l.fields, func(f field) bool { return f.key == "bias" })
			c.im.param(l, "bias", []int{x.c}, b.f)
			c.outAct(x)
			return nil
		}
		return c.errorf("adding a constant %v to an activation is supported only as the bias of a MatMul (linear layer)", b.dims)
	}
	a, err := c.act(0)
	if err != nil {
		return err
	}
	b, err := c.act(1)
	if err != nil {
		return err
	}
	if !sameShape(a, b) {
		return c.errorf("inputs have shapes %s and %s; broadcasting is not supported", a.dims(), b.dims())
	}
	l := c.im.emit(a, "add", c.im.layerName(c.n, "add", ""), []*act{b})
	c.outAct(l.out)
	return nil
}

func convSum(c *call) error {
	if len(c.ins) < 1 {
		return c.errorf("has no inputs")
	}
	var xs []*act
	for i := range c.ins {
		x, err := c.act(i)
		if err != nil {
			return err
		}
		if !sameShape(xs0(xs, x), x) {
			return c.errorf("inputs have shapes %s and %s; broadcasting is not supported", xs[0].dims(), x.dims())
		}
		xs = append(xs, x)
	}
	if len(xs) == 1 {
		c.outAct(xs[0])
		return nil
	}
	l := c.im.emit(xs[0], "add", c.im.layerName(c.n, "add", ""), xs[1:])
	c.outAct(l.out)
	return nil
}

func xs0(xs []*act, x *act) *act {
	if len(xs) > 0 {
		return xs[0]
	}
	return x
}

func poolOutTorch(in, k, s, p int, ceil bool) int {
	num := in + 2*p - k
	if num < 0 {
		return 0
	}
	out := num/s + 1
	if ceil {
		out = (num+s-1)/s + 1
		if (out-1)*s >= in+p {
			out--
		}
	}
	return out
}

func poolOutONNX(in, k, s, p int, ceil bool) int {
	num := in + 2*p - k
	if num < 0 {
		return 0
	}
	if ceil {
		return (num+s-1)/s + 1
	}
	return num/s + 1
}

func convPool(isMax bool) func(c *call) error {
	return func(c *call) error {
		if err := c.inputs(1, 1); err != nil {
			return err
		}
		x, err := c.act(0)
		if err != nil {
			return err
		}
		if err := c.rank4(x, "the input"); err != nil {
			return err
		}
		if c.attr("kernel_shape") == nil {
			return c.errorf("attribute kernel_shape is missing")
		}
		k, err := c.pair("kernel_shape", 1)
		if err != nil {
			return err
		}
		s, err := c.pair("strides", 1)
		if err != nil {
			return err
		}
		if d, err := c.pair("dilations", 1); err != nil {
			return err
		} else if d != [2]int{1, 1} {
			return c.errorf("dilations %v: dilated pooling is not supported", d)
		}
		if so, err := c.attrInt("storage_order", 0); err != nil {
			return err
		} else if so != 0 {
			return c.errorf("storage_order %d is not supported", so)
		}
		ceil, err := c.attrInt("ceil_mode", 0)
		if err != nil {
			return err
		}
		cip, err := c.attrInt("count_include_pad", 0)
		if err != nil {
			return err
		}
		p, err := c.pads([2]int{x.h, x.w}, k, s, [2]int{1, 1}, true)
		if err != nil {
			return err
		}
		if 2*p[0] > k[0] || 2*p[1] > k[1] {
			return c.errorf("pads %v are more than half the kernel %v (PyTorch's and resgen's limit)", p, k)
		}
		var out [2]int
		for i, in := range []int{x.h, x.w} {
			t, o := poolOutTorch(in, k[i], s[i], p[i], ceil != 0), poolOutONNX(in, k[i], s[i], p[i], ceil != 0)
			if t < 1 {
				return c.errorf("kernel %v is larger than the padded input", k)
			}
			if t != o {
				return c.errorf("ceil_mode output size %d along axis %d differs from PyTorch's %d (the last window would start in the padding); not supported", o, i+2, t)
			}
			if ceil != 0 && !isMax && cip != 0 && t != poolOutTorch(in, k[i], s[i], p[i], false) {
				return c.errorf("ceil_mode with count_include_pad=1 and a window past the padding is not supported")
			}
			out[i] = t
		}
		op := "avgpool"
		if isMax {
			op = "maxpool"
		}
		l := c.im.emit(x, op, c.im.layerName(c.n, op, ""), nil)
		l.set("kernel", k)
		if s != k {
			l.set("stride", s)
		}
		if p != [2]int{} {
			l.set("padding", p)
		}
		if ceil != 0 {
			l.set("ceil_mode", true)
		}
		if !isMax && cip == 0 && p != [2]int{} {
			l.set("count_include_pad", false)
		}
		l.out.h, l.out.w = out[0], out[1]
		c.outAct(l.out)
		return nil
	}
}

func convGlobalAvgPool(c *call) error {
	if err := c.inputs(1, 1); err != nil {
		return err
	}
	x, err := c.act(0)
	if err != nil {
		return err
	}
	if err := c.rank4(x, "the input"); err != nil {
		return err
	}
	l := c.im.emit(x, "global_avgpool", c.im.layerName(c.n, "global_avgpool", ""), nil)
	l.out.h, l.out.w = 1, 1
	c.outAct(l.out)
	return nil
}

// flatten emits (or, for a vector, skips) a flatten of x to [N, C·H·W].
func (c *call) flatten(x *act) {
	if x.rank == 2 {
		c.outAct(x)
		return
	}
	l := c.im.emit(x, "flatten", c.im.layerName(c.n, "flatten", ""), nil)
	l.out.rank, l.out.c, l.out.h, l.out.w = 2, x.c*x.h*x.w, 1, 1
	c.outAct(l.out)
}

func convFlatten(c *call) error {
	if err := c.inputs(1, 1); err != nil {
		return err
	}
	axis, err := c.attrInt("axis", 1)
	if err != nil {
		return err
	}
	if c.allConst() {
		k := c.in(0).k
		r := int64(len(k.dims))
		if axis < 0 {
			axis += r
		}
		if axis < 0 || axis > r {
			return c.errorf("axis %d out of range for rank %d", axis, r)
		}
		a, b := int64(1), int64(1)
		for i, d := range k.dims {
			if int64(i) < axis {
				a *= d
			} else {
				b *= d
			}
		}
		return c.outConst(reshaped(k, []int64{a, b}))
	}
	x, err := c.act(0)
	if err != nil {
		return err
	}
	if axis < 0 {
		axis += int64(x.rank)
	}
	if axis != 1 {
		return c.errorf("axis %d: only axis 1 (keep the batch, flatten each item) is supported", axis)
	}
	c.flatten(x)
	return nil
}

func convReshape(c *call) error {
	shapeIn := 1
	if c.im.opset < 5 {
		return c.errorf("Reshape before opset 5 is not supported")
	}
	if err := c.inputs(2, 2); err != nil {
		return err
	}
	sk, err := c.konst(shapeIn, "the shape")
	if err != nil {
		return err
	}
	if !sk.isInt() || len(sk.dims) != 1 {
		return c.errorf("shape has dims %v (%s); want a 1-D integer tensor", sk.dims, sk.dtype)
	}
	allowZero, err := c.attrInt("allowzero", 0)
	if err != nil {
		return err
	}
	if c.in(0).k != nil {
		k := c.in(0).k
		dims, err := reshapeDims(c, k.dims, sk.i, allowZero != 0)
		if err != nil {
			return err
		}
		return c.outConst(reshaped(k, dims))
	}
	x, err := c.act(0)
	if err != nil {
		return err
	}
	target := sk.i
	in := []int64{batchSym, int64(x.c), int64(x.h), int64(x.w)}
	if x.rank == 2 {
		in = in[:2]
	}
	if len(target) < 1 {
		return c.errorf("shape %v: empty", target)
	}
	b := target[0]
	if b == 0 && allowZero == 0 || b == batchSym || c.im.batch != batchSym && b == c.im.batch {
		// the batch stays first
	} else if b == -1 && len(target) == 1 {
		return c.errorf("shape %v flattens the batch into one dimension; not supported", target)
	} else {
		return c.errorf("shape %v does not keep the batch dimension first (per-item reshapes only)", target)
	}
	item := int64(x.c * x.h * x.w)
	rest := slices.Clone(target[1:])
	known, infer := int64(1), -1
	for i, d := range rest {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d == 0 && allowZero == 0:
			if i+1 >= len(in) {
				return c.errorf("shape %v: 0 copies a dimension the input does not have", target)
			}
			rest[i] = in[i+1]
			known *= rest[i]
		case d < 1:
			return c.errorf("shape %v: dimension %d is not supported", target, d)
		default:
			known *= d
			if known > item {
				return c.errorf("shape %v does not fit an item of %d values", target, item)
			}
		}
	}
	if infer >= 0 {
		if known == 0 || item%known != 0 {
			return c.errorf("shape %v does not fit an item of %d values", target, item)
		}
		rest[infer] = item / known
		known = item
	}
	if known != item {
		return c.errorf("shape %v does not fit an item of %d values (%s)", target, item, x.dims())
	}
	switch {
	case len(rest) == 1:
		c.flatten(x)
	case len(rest) == 3 && rest[0] == int64(x.c) && rest[1] == int64(x.h) && rest[2] == int64(x.w):
		y := *x
		y.rank = 4
		c.outAct(&y)
	case len(rest) == 3 && x.rank == 2 && rest[1] == 1 && rest[2] == 1:
		y := *x
		y.rank = 4
		c.outAct(&y)
	default:
		return c.errorf("shape %v: only flattening an item ([N, -1]) or keeping its shape is supported; the input is %s", target, x.dims())
	}
	return nil
}

func convGemm(c *call) error {
	if err := c.inputs(2, 3); err != nil {
		return err
	}
	for _, name := range []string{"alpha", "beta"} {
		if v, err := c.attrFloat(name, 1); err != nil {
			return err
		} else if v != 1 {
			return c.errorf("%s=%v is not supported (want 1)", name, v)
		}
	}
	if ta, err := c.attrInt("transA", 0); err != nil {
		return err
	} else if ta != 0 {
		return c.errorf("transA=%d is not supported", ta)
	}
	tb, err := c.attrInt("transB", 0)
	if err != nil {
		return err
	}
	x, err := c.act(0)
	if err != nil {
		return err
	}
	if x.rank != 2 {
		return c.errorf("the input is %s; Gemm wants [N, features]", x.dims())
	}
	w, err := c.konst(1, "the weight")
	if err != nil {
		return err
	}
	var bias *konst
	if c.in(2) != nil {
		if bias, err = c.konst(2, "the bias"); err != nil {
			return err
		}
	}
	return c.linear(x, w, tb != 0, bias)
}

func convMatMul(c *call) error {
	if err := c.inputs(2, 2); err != nil {
		return err
	}
	x, err := c.act(0)
	if err != nil {
		return err
	}
	if x.rank != 2 {
		return c.errorf("the input is %s; only [N, features] × [features, out] is supported", x.dims())
	}
	w, err := c.konst(1, "the weight")
	if err != nil {
		return err
	}
	return c.linear(x, w, false, nil)
}

// linear emits a linear layer; w is [in, out], or [out, in] if transposed.
func (c *call) linear(x *act, w *konst, transposed bool, bias *konst) error {
	if len(w.dims) != 2 || w.isInt() {
		return c.errorf("weight %q has dims %v; want a 2-D float matrix", c.n.Inputs[1], w.dims)
	}
	in, out := int(w.dims[0]), int(w.dims[1])
	if transposed {
		in, out = out, in
	}
	if in != x.c {
		return c.errorf("weight %q has dims %v; the input has %d features", c.n.Inputs[1], w.dims, x.c)
	}
	data := w.f
	if !transposed {
		data = make([]float32, len(w.f))
		for i := range in {
			for o := range out {
				data[o*in+i] = w.f[i*out+o]
			}
		}
	}
	var b []float32
	if bias != nil {
		if bias.isInt() {
			return c.errorf("bias is %s; want float", bias.dtype)
		}
		switch {
		case bias.len() == out && (len(bias.dims) == 1 || len(bias.dims) == 2 && bias.dims[0] == 1):
			b = bias.f
		case bias.len() == 1:
			b = make([]float32, out)
			for i := range b {
				b[i] = bias.f[0]
			}
		default:
			return c.errorf("bias has dims %v; want [%d] or [1, %d]", bias.dims, out, out)
		}
	}
	l := c.im.emit(x, "linear", c.im.layerName(c.n, "linear", weightName(c, 1)), nil)
	l.set("out", out)
	if b == nil {
		l.set("bias", false)
	}
	c.im.param(l, "weight", []int{out, in}, data)
	if b != nil {
		c.im.param(l, "bias", []int{out}, b)
	}
	l.out.c = out
	c.outAct(l.out)
	return nil
}

func convConcat(c *call) error {
	if len(c.ins) < 1 {
		return c.errorf("has no inputs")
	}
	axis, err := c.attrInt("axis", 1)
	if err != nil {
		return err
	}
	if c.attr("axis") == nil && c.im.opset >= 4 {
		return c.errorf("attribute axis is missing")
	}
	if c.allConst() {
		return foldConcat(c, axis)
	}
	var xs []*act
	for i := range c.ins {
		x, err := c.act(i)
		if err != nil {
			return err
		}
		xs = append(xs, x)
	}
	r := int64(xs[0].rank)
	if axis < 0 {
		axis += r
	}
	if axis != 1 {
		return c.errorf("axis %d: only concatenation along channels (axis 1) is supported", axis)
	}
	ch := 0
	for _, x := range xs {
		if x.rank != xs[0].rank || x.h != xs[0].h || x.w != xs[0].w {
			return c.errorf("inputs have shapes %s and %s; they must agree except in channels", xs[0].dims(), x.dims())
		}
		ch += x.c
	}
	if len(xs) == 1 {
		c.outAct(xs[0])
		return nil
	}
	l := c.im.emit(xs[0], "concat", c.im.layerName(c.n, "concat", ""), xs[1:])
	l.out.c = ch
	c.outAct(l.out)
	return nil
}

func convResize(c *call) error {
	isUpsample := c.n.OpType == "Upsample"
	x, err := c.act(0)
	if err != nil {
		return err
	}
	if err := c.rank4(x, "the input"); err != nil {
		return err
	}
	mode, err := c.attrString("mode", "nearest")
	if err != nil {
		return err
	}
	ctm := "asymmetric" // Upsample and Resize-10
	nearest := "floor"
	if !isUpsample && c.im.opset >= 11 {
		if ctm, err = c.attrString("coordinate_transformation_mode", "half_pixel"); err != nil {
			return err
		}
		if nearest, err = c.attrString("nearest_mode", "round_prefer_floor"); err != nil {
			return err
		}
	}
	// The scales: an attribute (Upsample-7), input 1 (Upsample-9,
	// Resize-10) or input 2, else sizes in input 3 (Resize-11+).
	var scales []float32
	var sizes []int64
	switch {
	case isUpsample && c.im.opset < 9:
		a := c.attr("scales")
		if a == nil || a.Type != onnx.AttrFloats {
			return c.errorf("attribute scales (FLOATS) is missing")
		}
		scales = a.Floats
	case isUpsample || c.im.opset == 10:
		if err := c.inputs(2, 2); err != nil {
			return err
		}
		k, err := c.konst(1, "scales")
		if err != nil {
			return err
		}
		scales = k.f
	default:
		if c.attr("scales") != nil {
			return c.errorf("attribute scales is not supported for Resize")
		}
		if len(c.ins) < 2 || len(c.ins) > 4 {
			return c.errorf("has %d inputs; want 2 to 4", len(c.ins))
		}
		if len(c.ins) > 2 && c.in(2) != nil {
			k, err := c.konst(2, "scales")
			if err != nil {
				return err
			}
			if k.len() > 0 {
				scales = k.f
			}
		}
		if scales == nil && len(c.ins) > 3 && c.in(3) != nil {
			k, err := c.konst(3, "sizes")
			if err != nil {
				return err
			}
			sizes = k.i
		}
		if scales == nil && sizes == nil {
			return c.errorf("neither scales nor sizes is given")
		}
	}
	var sh, sw int
	if scales != nil {
		if len(scales) != 4 || scales[0] != 1 || scales[1] != 1 {
			return c.errorf("scales %v: want [1, 1, sH, sW]", scales)
		}
		sh, sw = int(scales[2]), int(scales[3])
		if float32(sh) != scales[2] || float32(sw) != scales[3] || sh < 1 || sw < 1 || sh > 1<<10 || sw > 1<<10 {
			return c.errorf("scales %v: only whole-number upsampling factors are supported", scales)
		}
	} else {
		if len(sizes) != 4 || sizes[1] != int64(x.c) || sizes[2]%int64(x.h) != 0 || sizes[3]%int64(x.w) != 0 || sizes[2] < 1 || sizes[3] < 1 {
			return c.errorf("sizes %v: want [N, %d, k·%d, m·%d] (whole-number upsampling of %s)", sizes, x.c, x.h, x.w, x.dims())
		}
		sh, sw = int(sizes[2]/int64(x.h)), int(sizes[3]/int64(x.w))
		if sh > 1<<10 || sw > 1<<10 {
			return c.errorf("sizes %v: factors above %d are not supported", sizes, 1<<10)
		}
	}
	var specMode string
	align := false
	switch mode {
	case "nearest":
		specMode = "nearest"
		ok := false
		switch ctm {
		case "asymmetric":
			ok = nearest == "floor" || nearest == "round_prefer_floor" && sh <= 2 && sw <= 2
		case "half_pixel", "pytorch_half_pixel":
			ok = nearest == "round_prefer_floor" || nearest == "round_prefer_ceil"
		}
		if !ok && !(sh == 1 && sw == 1) {
			return c.errorf("nearest with coordinate_transformation_mode %q and nearest_mode %q is not PyTorch's nearest (floor(i/scale)); not supported", ctm, nearest)
		}
	case "linear", "bilinear":
		specMode = "bilinear"
		switch ctm {
		case "align_corners":
			align = true
		case "half_pixel", "pytorch_half_pixel":
		default:
			if !(sh == 1 && sw == 1) {
				return c.errorf("linear with coordinate_transformation_mode %q is not supported (want half_pixel, pytorch_half_pixel or align_corners)", ctm)
			}
		}
	default:
		return c.errorf("mode %q is not supported (want nearest or linear)", mode)
	}
	if sh == 1 && sw == 1 {
		c.outAct(x)
		return nil
	}
	l := c.im.emit(x, "upsample", c.im.layerName(c.n, "upsample", ""), nil)
	l.set("scale", [2]int{sh, sw})
	if specMode != "nearest" {
		l.set("mode", specMode)
	}
	if align {
		l.set("align_corners", true)
	}
	l.out.h, l.out.w = x.h*sh, x.w*sw
	c.outAct(l.out)
	return nil
}

func convSoftmax(c *call) error {
	if err := c.inputs(1, 1); err != nil {
		return err
	}
	x, err := c.act(0)
	if err != nil {
		return err
	}
	def := int64(1)
	if c.im.opset >= 13 {
		def = -1
	}
	axis, err := c.attrInt("axis", def)
	if err != nil {
		return err
	}
	if axis < 0 {
		axis += int64(x.rank)
	}
	ok := false
	switch {
	case x.rank == 2:
		ok = axis == 1
	case c.im.opset >= 13:
		ok = axis == 1
	default:
		// Before opset 13, Softmax flattens the axes from axis on.
		ok = axis == 1 && x.h == 1 && x.w == 1 || axis == 3 && x.w == 1 && x.h == 1
	}
	if !ok {
		return c.errorf("softmax over axis %d of %s: only the channel axis is supported", axis, x.dims())
	}
	l := c.im.emit(x, "softmax", c.im.layerName(c.n, "softmax", ""), nil)
	c.outAct(l.out)
	return nil
}

// pending starts or extends an option-A shortcut (strided slice, channel
// pad) of v, which becomes one shortcut_a layer where it is used.
func (c *call) pending(v *value) (*act, error) {
	if v.a == nil {
		return nil, c.errorf("slicing or padding a constant here is not supported")
	}
	if v.a.pending {
		p := *v.a
		p.layer = nil
		return &p, nil
	}
	x := v.a
	return &act{tensor: x.tensor, rank: x.rank, c: x.c, h: x.h, w: x.w, src: x, sliceH: 1, sliceW: 1, pending: true, layer: nil}, nil
}

// materialize emits a pending shortcut as a shortcut_a layer.
func (im *importer) materialize(a *act) (*act, error) {
	if !a.pending {
		return a, nil
	}
	if a.layer != nil { // emitted before: a.layer holds the emitted output
		return a.layer.out, nil
	}
	if a.sliceH == 1 && a.sliceW == 1 && a.padC == 0 {
		return a.src, nil
	}
	if a.sliceH != a.sliceW {
		return nil, im.errorf("a strided Slice with steps %d along H and %d along W is not supported (shortcut_a takes one stride)", a.sliceH, a.sliceW)
	}
	name := "shortcut"
	if a.tensor != "" {
		name = a.tensor
	}
	l := im.emit(a.src, "shortcut_a", im.uniqueName(name, "shortcut"), nil)
	l.set("out", a.src.c+2*a.padC)
	if a.sliceH != 1 {
		l.set("stride", a.sliceH)
	}
	l.out.c, l.out.h, l.out.w = a.c, a.h, a.w
	a.layer = l
	return l.out, nil
}

func (c *call) shortcutName() string {
	path, _ := modulePath(c.n.Name)
	if path == "" {
		return "shortcut"
	}
	return path + ".shortcut"
}

func convSlice(c *call) error {
	var starts, ends, axes, steps []int64
	if c.im.opset < 10 {
		if err := c.inputs(1, 1); err != nil {
			return err
		}
		var err error
		if starts, err = c.attrInts("starts", nil); err != nil {
			return err
		}
		if ends, err = c.attrInts("ends", nil); err != nil {
			return err
		}
		if axes, err = c.attrInts("axes", nil); err != nil {
			return err
		}
	} else {
		if len(c.n.Attrs) > 0 {
			return c.errorf("attributes starts/ends/axes are not used from opset 10 on (inputs are)")
		}
		if err := c.inputs(3, 5); err != nil {
			return err
		}
		ints := func(i int, what string) ([]int64, error) {
			if c.in(i) == nil {
				return nil, nil
			}
			k, err := c.konst(i, what)
			if err != nil {
				return nil, err
			}
			if !k.isInt() || len(k.dims) != 1 {
				return nil, c.errorf("%s has dims %v (%s); want a 1-D integer tensor", what, k.dims, k.dtype)
			}
			return k.i, nil
		}
		var err error
		if starts, err = ints(1, "starts"); err != nil {
			return err
		}
		if ends, err = ints(2, "ends"); err != nil {
			return err
		}
		if axes, err = ints(3, "axes"); err != nil {
			return err
		}
		if steps, err = ints(4, "steps"); err != nil {
			return err
		}
	}
	if len(starts) != len(ends) || axes != nil && len(axes) != len(starts) || steps != nil && len(steps) != len(starts) {
		return c.errorf("starts %v, ends %v, axes %v and steps %v differ in length", starts, ends, axes, steps)
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	if c.in(0).k != nil {
		return foldSlice(c, c.in(0).k, starts, ends, axes, steps)
	}
	p, err := c.pending(c.in(0))
	if err != nil {
		return err
	}
	if p.rank != 4 {
		return c.errorf("slicing %s is not supported", p.dims())
	}
	dims := []int{0, p.c, p.h, p.w}
	seen := map[int64]bool{}
	for i := range starts {
		ax := axes[i]
		if ax < 0 {
			ax += 4
		}
		if ax < 0 || ax > 3 || seen[ax] {
			return c.errorf("axes %v: out of range or repeated", axes)
		}
		seen[ax] = true
		st, en, step := starts[i], ends[i], steps[i]
		if ax == 0 {
			if st == 0 && step == 1 && en >= math.MaxInt32 {
				continue
			}
			return c.errorf("slicing the batch axis is not supported")
		}
		dim := int64(dims[ax])
		if st < 0 {
			st += dim
		}
		if step < 1 || st > 0 || en < dim {
			return c.errorf("slice [%d:%d:%d] on axis %d: only x[:, :, ::s, ::s] (start 0, to the end, step s ≥ 1) is supported", starts[i], ends[i], steps[i], ax)
		}
		if step > 1<<10 {
			return c.errorf("step %d is too large", step)
		}
		switch ax {
		case 1:
			if step != 1 {
				return c.errorf("slicing channels with step %d is not supported", step)
			}
		case 2:
			p.sliceH *= int(step)
			p.h = (p.h + int(step) - 1) / int(step)
		case 3:
			p.sliceW *= int(step)
			p.w = (p.w + int(step) - 1) / int(step)
		}
	}
	p.tensor = c.shortcutName()
	c.outAct(p)
	return nil
}

func convPad(c *call) error {
	mode, err := c.attrString("mode", "constant")
	if err != nil {
		return err
	}
	if mode != "constant" {
		return c.errorf("mode %q is not supported (only constant zero padding of channels)", mode)
	}
	var pads []int64
	var value float32
	if c.im.opset < 11 {
		if err := c.inputs(1, 1); err != nil {
			return err
		}
		if pads, err = c.attrInts("pads", nil); err != nil {
			return err
		}
		if value, err = c.attrFloat("value", 0); err != nil {
			return err
		}
	} else {
		if c.attr("pads") != nil || c.attr("value") != nil {
			return c.errorf("attributes pads/value are not used from opset 11 on (inputs are)")
		}
		if err := c.inputs(2, 3); err != nil {
			return err
		}
		k, err := c.konst(1, "pads")
		if err != nil {
			return err
		}
		if !k.isInt() {
			return c.errorf("pads is %s; want integers", k.dtype)
		}
		pads = k.i
		if c.in(2) != nil {
			v, err := c.konst(2, "constant_value")
			if err != nil {
				return err
			}
			if v.len() != 1 {
				return c.errorf("constant_value has dims %v; want a scalar", v.dims)
			}
			if v.isInt() {
				value = float32(v.i[0])
			} else {
				value = v.f[0]
			}
		}
	}
	if value != 0 {
		return c.errorf("padding value %v is not supported (only 0)", value)
	}
	p, err := c.pending(c.in(0))
	if err != nil {
		return err
	}
	if p.rank != 4 || len(pads) != 8 {
		return c.errorf("pads %v for %s: want 8 values for [N, C, H, W]", pads, p.dims())
	}
	for i, v := range pads {
		if i == 1 || i == 5 {
			continue
		}
		if v != 0 {
			return c.errorf("pads %v: only padding channels (pads[1] and pads[5]) is supported", pads)
		}
	}
	if pads[1] != pads[5] || pads[1] < 0 || pads[1] > 1<<20 {
		return c.errorf("pads %v: channels must be padded equally on both sides", pads)
	}
	p.padC += int(pads[1])
	p.c += 2 * int(pads[1])
	if p.tensor == p.src.tensor {
		p.tensor = c.shortcutName()
	}
	c.outAct(p)
	return nil
}

func convIdentity(c *call) error {
	if err := c.inputs(1, 1); err != nil {
		return err
	}
	c.out(c.in(0))
	return nil
}
