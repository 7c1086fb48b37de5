package importer

import (
	"math"
	"slices"

	"github.com/resgen/resgen/onnx"
)

// Constant folding: the ops exporters use to compute shapes and pads at run
// time, evaluated at import time on constants. Integer data may carry
// batchSym (the symbolic batch size), which survives moving and copying but
// not arithmetic.

// maxFolded caps the elements of a folded constant (ConstantOfShape could
// otherwise ask for any size).
const maxFolded = 1 << 20

func reshaped(k *konst, dims []int64) *konst {
	return &konst{dtype: k.dtype, dims: dims, f: k.f, i: k.i}
}

func dimsLen(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

// reshapeDims resolves a Reshape target (0 copies, -1 infers) for data of dims.
func reshapeDims(c *call, dims, target []int64, allowZero bool) ([]int64, error) {
	out := slices.Clone(target)
	n := dimsLen(dims)
	known, infer := int64(1), -1
	for i, d := range out {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d == 0 && !allowZero:
			if i >= len(dims) {
				return nil, c.errorf("shape %v: 0 copies a dimension the input %v does not have", target, dims)
			}
			out[i] = dims[i]
			known *= out[i]
		case d < 0 || d > onnx.MaxDim:
			return nil, c.errorf("shape %v: dimension %d is not supported for a constant", target, d)
		default:
			known *= d
		}
		if known > onnx.MaxElements {
			return nil, c.errorf("shape %v is too large", target)
		}
		if known > n && n > 0 {
			return nil, c.errorf("shape %v does not fit %v", target, dims)
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, c.errorf("shape %v does not fit %v", target, dims)
		}
		out[infer] = n / known
		known = n
	}
	if known != n {
		return nil, c.errorf("shape %v does not fit %v", target, dims)
	}
	return out, nil
}

func convConstant(c *call) error {
	if len(c.ins) != 0 || len(c.n.Attrs) != 1 {
		return c.errorf("want no inputs and exactly one value attribute")
	}
	a := c.n.Attrs[0]
	switch a.Name {
	case "value":
		if a.Type != onnx.AttrTensor || a.T == nil {
			return c.errorf("attribute value has type %s; want TENSOR", a.Type)
		}
		k, err := c.im.konstOf(a.T, "attribute value")
		if err != nil {
			return err
		}
		return c.outConst(k)
	case "value_float":
		return c.outConst(&konst{dtype: onnx.Float, f: []float32{a.F}})
	case "value_floats":
		return c.outConst(&konst{dtype: onnx.Float, dims: []int64{int64(len(a.Floats))}, f: a.Floats})
	case "value_int":
		return c.outConst(&konst{dtype: onnx.Int64, i: []int64{a.I}})
	case "value_ints":
		return c.outConst(&konst{dtype: onnx.Int64, dims: []int64{int64(len(a.Ints))}, i: a.Ints})
	}
	return c.errorf("attribute %q is not supported", a.Name)
}

func convShape(c *call) error {
	if err := c.inputs(1, 1); err != nil {
		return err
	}
	var dims []int64
	if k := c.in(0).k; k != nil {
		dims = slices.Clone(k.dims)
	} else {
		x, err := c.act(0)
		if err != nil {
			return err
		}
		dims = []int64{c.im.batch, int64(x.c), int64(x.h), int64(x.w)}
		if x.rank == 2 {
			dims = dims[:2]
		}
	}
	r := int64(len(dims))
	start, err := c.attrInt("start", 0)
	if err != nil {
		return err
	}
	end, err := c.attrInt("end", r)
	if err != nil {
		return err
	}
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end = clamp(start), clamp(end)
	if end < start {
		end = start
	}
	out := dims[start:end]
	return c.outConst(&konst{dtype: onnx.Int64, dims: []int64{int64(len(out))}, i: out})
}

func convGather(c *call) error {
	if err := c.inputs(2, 2); err != nil {
		return err
	}
	if !c.allConst() {
		return c.errorf("Gather of an activation is not supported (only of constants, such as a shape)")
	}
	data, idx := c.in(0).k, c.in(1).k
	if !idx.isInt() {
		return c.errorf("indices are %s; want integers", idx.dtype)
	}
	axis, err := c.attrInt("axis", 0)
	if err != nil {
		return err
	}
	r := int64(len(data.dims))
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return c.errorf("axis %d out of range for rank %d", axis, r)
	}
	outer := dimsLen(data.dims[:axis])
	n := data.dims[axis]
	inner := dimsLen(data.dims[axis+1:])
	dims := slices.Concat(data.dims[:axis], idx.dims, data.dims[axis+1:])
	if len(dims) > onnx.MaxRank || dimsLen(dims) > maxFolded {
		return c.errorf("the gathered constant %v is too large", dims)
	}
	out := &konst{dtype: data.dtype, dims: dims}
	for o := int64(0); o < outer; o++ {
		for _, j := range idx.i {
			if j < 0 {
				j += n
			}
			if j < 0 || j >= n {
				return c.errorf("index %d out of range for dimension %d", j, n)
			}
			base := (o*n + j) * inner
			if data.isInt() {
				out.i = append(out.i, data.i[base:base+inner]...)
			} else {
				out.f = append(out.f, data.f[base:base+inner]...)
			}
		}
	}
	return c.outConst(out)
}

// axesArg reads axes from the attribute (before opset 13) or input 1.
func (c *call) axesArg() ([]int64, error) {
	if c.im.opset < 13 {
		return c.attrInts("axes", nil)
	}
	if c.attr("axes") != nil {
		return nil, c.errorf("attribute axes is not used from opset 13 on (input 1 is)")
	}
	if c.in(1) == nil {
		return nil, nil
	}
	k, err := c.konst(1, "axes")
	if err != nil {
		return nil, err
	}
	if !k.isInt() {
		return nil, c.errorf("axes are %s; want integers", k.dtype)
	}
	return k.i, nil
}

func convUnsqueeze(c *call) error {
	if len(c.ins) < 1 || len(c.ins) > 2 || c.in(0) == nil {
		return c.errorf("has %d inputs; want 1 or 2", len(c.ins))
	}
	axes, err := c.axesArg()
	if err != nil {
		return err
	}
	if axes == nil {
		return c.errorf("axes are missing")
	}
	if k := c.in(0).k; k != nil {
		r := int64(len(k.dims) + len(axes))
		if r > onnx.MaxRank {
			return c.errorf("result rank %d is too large", r)
		}
		ones := map[int64]bool{}
		for _, a := range axes {
			if a < 0 {
				a += r
			}
			if a < 0 || a >= r || ones[a] {
				return c.errorf("axes %v out of range or repeated", axes)
			}
			ones[a] = true
		}
		var dims []int64
		j := 0
		for i := int64(0); i < r; i++ {
			if ones[i] {
				dims = append(dims, 1)
			} else {
				dims = append(dims, k.dims[j])
				j++
			}
		}
		return c.outConst(reshaped(k, dims))
	}
	x, err := c.act(0)
	if err != nil {
		return err
	}
	s := slices.Clone(axes)
	slices.Sort(s)
	if x.rank == 2 && (slices.Equal(s, []int64{2, 3}) || slices.Equal(s, []int64{-2, -1})) {
		y := *x
		y.rank = 4
		c.outAct(&y)
		return nil
	}
	return c.errorf("unsqueezing %s along axes %v is not supported (only [N, C] → [N, C, 1, 1])", x.dims(), axes)
}

func convSqueeze(c *call) error {
	if len(c.ins) < 1 || len(c.ins) > 2 || c.in(0) == nil {
		return c.errorf("has %d inputs; want 1 or 2", len(c.ins))
	}
	axes, err := c.axesArg()
	if err != nil {
		return err
	}
	if k := c.in(0).k; k != nil {
		r := int64(len(k.dims))
		drop := map[int64]bool{}
		for _, a := range axes {
			if a < 0 {
				a += r
			}
			if a < 0 || a >= r || k.dims[a] != 1 {
				return c.errorf("axes %v: each must name a dimension of size 1 of %v", axes, k.dims)
			}
			drop[a] = true
		}
		var dims []int64
		for i, d := range k.dims {
			if drop[int64(i)] || axes == nil && d == 1 {
				continue
			}
			dims = append(dims, d)
		}
		return c.outConst(reshaped(k, dims))
	}
	x, err := c.act(0)
	if err != nil {
		return err
	}
	s := slices.Clone(axes)
	slices.Sort(s)
	if x.rank == 4 && x.h == 1 && x.w == 1 && (slices.Equal(s, []int64{2, 3}) || slices.Equal(s, []int64{-2, -1}) || axes == nil && x.c != 1) {
		y := *x
		y.rank = 2
		c.outAct(&y)
		return nil
	}
	return c.errorf("squeezing %s along axes %v is not supported (only [N, C, 1, 1] → [N, C])", x.dims(), axes)
}

func convCast(c *call) error {
	if err := c.inputs(1, 1); err != nil {
		return err
	}
	to, err := c.attrInt("to", 0)
	if err != nil {
		return err
	}
	dt := onnx.DataType(to)
	if c.in(0).a != nil {
		if dt != onnx.Float {
			return c.errorf("casting an activation to %s is not supported", dt)
		}
		c.out(c.in(0))
		return nil
	}
	k := c.in(0).k
	out := &konst{dtype: dt, dims: k.dims}
	switch {
	case dt.IsInt():
		out.i = make([]int64, k.len())
		for j := range out.i {
			if k.isInt() {
				out.i[j] = k.i[j]
				if dt == onnx.Bool && k.i[j] != 0 && k.i[j] != batchSym {
					out.i[j] = 1
				}
				continue
			}
			f := float64(k.f[j])
			if math.IsNaN(f) || math.Abs(f) > 1<<62 {
				return c.errorf("value %v does not fit %s", f, dt)
			}
			out.i[j] = int64(f)
			if dt == onnx.Bool && f != 0 {
				out.i[j] = 1
			}
		}
	case dt.IsFloat():
		out.dtype = onnx.Float
		out.f = make([]float32, k.len())
		for j := range out.f {
			if k.isInt() {
				if k.i[j] == batchSym {
					return c.errorf("casting the symbolic batch size to float is not supported")
				}
				out.f[j] = float32(k.i[j])
			} else {
				out.f[j] = k.f[j]
			}
		}
	default:
		return c.errorf("casting to %s is not supported", dt)
	}
	return c.outConst(out)
}

func convTranspose(c *call) error {
	if err := c.inputs(1, 1); err != nil {
		return err
	}
	if c.in(0).k == nil {
		return c.errorf("Transpose of an activation is not supported (only of constants)")
	}
	k := c.in(0).k
	r := len(k.dims)
	perm, err := c.attrInts("perm", nil)
	if err != nil {
		return err
	}
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != r {
		return c.errorf("perm %v for rank %d", perm, r)
	}
	seen := make([]bool, r)
	dims := make([]int64, r)
	for i, p := range perm {
		if p < 0 || p >= int64(r) || seen[p] {
			return c.errorf("perm %v is not a permutation", perm)
		}
		seen[p] = true
		dims[i] = k.dims[p]
	}
	n := k.len()
	out := &konst{dtype: k.dtype, dims: dims}
	if k.isInt() {
		out.i = make([]int64, n)
	} else {
		out.f = make([]float32, n)
	}
	// strides of the input
	stride := make([]int64, r)
	s := int64(1)
	for i := r - 1; i >= 0; i-- {
		stride[i] = s
		s *= k.dims[i]
	}
	idx := make([]int64, r)
	for o := 0; o < n; o++ {
		src := int64(0)
		for i := range r {
			src += idx[i] * stride[perm[i]]
		}
		if k.isInt() {
			out.i[o] = k.i[src]
		} else {
			out.f[o] = k.f[src]
		}
		for i := r - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < dims[i] {
				break
			}
			idx[i] = 0
		}
	}
	return c.outConst(out)
}

func convConstantOfShape(c *call) error {
	if err := c.inputs(1, 1); err != nil {
		return err
	}
	sk, err := c.konst(0, "the shape")
	if err != nil {
		return err
	}
	if !sk.isInt() || len(sk.dims) != 1 {
		return c.errorf("shape has dims %v; want a 1-D integer tensor", sk.dims)
	}
	n := int64(1)
	for _, d := range sk.i {
		if d < 0 || d > maxFolded {
			return c.errorf("shape %v is not supported for a folded constant", sk.i)
		}
		n *= d
		if n > maxFolded {
			return c.errorf("shape %v: more than %d values", sk.i, maxFolded)
		}
	}
	val := &konst{dtype: onnx.Float, f: []float32{0}}
	if a := c.attr("value"); a != nil {
		if a.Type != onnx.AttrTensor || a.T == nil {
			return c.errorf("attribute value has type %s; want TENSOR", a.Type)
		}
		if val, err = c.im.konstOf(a.T, "attribute value"); err != nil {
			return err
		}
		if val.len() != 1 {
			return c.errorf("attribute value has %d values; want 1", val.len())
		}
	}
	out := &konst{dtype: val.dtype, dims: slices.Clone(sk.i)}
	if val.isInt() {
		out.i = make([]int64, n)
		for i := range out.i {
			out.i[i] = val.i[0]
		}
	} else {
		out.f = make([]float32, n)
		for i := range out.f {
			out.f[i] = val.f[0]
		}
	}
	return c.outConst(out)
}

func foldConcat(c *call, axis int64) error {
	ks := make([]*konst, len(c.ins))
	for i, v := range c.ins {
		if v == nil {
			return c.errorf("input %d is missing", i)
		}
		ks[i] = v.k
	}
	r := int64(len(ks[0].dims))
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return c.errorf("axis %d out of range for rank %d", axis, r)
	}
	dims := slices.Clone(ks[0].dims)
	dims[axis] = 0
	for _, k := range ks {
		if int64(len(k.dims)) != r || k.isInt() != ks[0].isInt() {
			return c.errorf("inputs differ in rank or type")
		}
		for i := range k.dims {
			if int64(i) != axis && k.dims[i] != ks[0].dims[i] {
				return c.errorf("inputs have dims %v and %v", ks[0].dims, k.dims)
			}
		}
		dims[axis] += k.dims[axis]
	}
	if dimsLen(dims) > maxFolded {
		return c.errorf("the concatenated constant %v is too large", dims)
	}
	out := &konst{dtype: ks[0].dtype, dims: dims}
	outer := dimsLen(dims[:axis])
	for o := int64(0); o < outer; o++ {
		for _, k := range ks {
			inner := dimsLen(k.dims[axis:])
			if k.isInt() {
				out.i = append(out.i, k.i[o*inner:(o+1)*inner]...)
			} else {
				out.f = append(out.f, k.f[o*inner:(o+1)*inner]...)
			}
		}
	}
	if out.isInt() && out.i == nil {
		out.i = []int64{}
	} else if !out.isInt() && out.f == nil {
		out.f = []float32{}
	}
	return c.outConst(out)
}

// foldSlice is ONNX Slice on a constant: starts and ends clamped per axis,
// negative steps walking backwards.
func foldSlice(c *call, k *konst, starts, ends, axes, steps []int64) error {
	r := int64(len(k.dims))
	st := make([]int64, r)
	en := slices.Clone(k.dims)
	sp := make([]int64, r)
	for i := range sp {
		sp[i] = 1
	}
	seen := map[int64]bool{}
	for i := range starts {
		ax := axes[i]
		if ax < 0 {
			ax += r
		}
		if ax < 0 || ax >= r || seen[ax] {
			return c.errorf("axes %v out of range or repeated", axes)
		}
		seen[ax] = true
		d := k.dims[ax]
		step := steps[i]
		if step == 0 {
			return c.errorf("step 0")
		}
		s, e := starts[i], ends[i]
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		if step > 0 {
			s, e = min(max(s, 0), d), min(max(e, 0), d)
		} else {
			s, e = min(max(s, 0), d-1), min(max(e, -1), d-1)
		}
		st[ax], en[ax], sp[ax] = s, e, step
	}
	dims := make([]int64, r)
	for i := range dims {
		if sp[i] > 0 && en[i] > st[i] {
			dims[i] = (en[i] - st[i] + sp[i] - 1) / sp[i]
		} else if sp[i] < 0 && st[i] > en[i] {
			dims[i] = (st[i] - en[i] - sp[i] - 1) / -sp[i]
		}
	}
	out := &konst{dtype: k.dtype, dims: dims}
	n := dimsLen(dims)
	stride := make([]int64, r)
	s := int64(1)
	for i := r - 1; i >= 0; i-- {
		stride[i] = s
		s *= k.dims[i]
	}
	idx := make([]int64, r)
	if k.isInt() {
		out.i = make([]int64, 0, n)
	} else {
		out.f = make([]float32, 0, n)
	}
	for o := int64(0); o < n; o++ {
		src := int64(0)
		for i := range idx {
			src += (st[i] + idx[i]*sp[i]) * stride[i]
		}
		if k.isInt() {
			out.i = append(out.i, k.i[src])
		} else {
			out.f = append(out.f, k.f[src])
		}
		for i := r - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < dims[i] {
				break
			}
			idx[i] = 0
		}
	}
	return c.outConst(out)
}

// foldArith is integer arithmetic on constants with a scalar or same-shape
// operand (shape computations).
func foldArith(c *call, f func(a, b int64) int64) error {
	a, b := c.in(0).k, c.in(1).k
	if !a.isInt() || !b.isInt() {
		return c.errorf("arithmetic on float constants is not supported")
	}
	if b.len() != 1 && a.len() == 1 {
		a, b = b, a
	}
	if b.len() != 1 && !slices.Equal(a.dims, b.dims) {
		return c.errorf("operands have dims %v and %v", a.dims, b.dims)
	}
	out := &konst{dtype: a.dtype, dims: a.dims, i: make([]int64, a.len())}
	for j := range out.i {
		y := b.i[0]
		if b.len() != 1 {
			y = b.i[j]
		}
		if a.i[j] == batchSym || y == batchSym {
			return c.errorf("arithmetic on the symbolic batch size is not supported")
		}
		out.i[j] = f(a.i[j], y)
	}
	return c.outConst(out)
}
