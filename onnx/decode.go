package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Error is a decoding error: where in the model (a path of messages such
// as `graph.node[4] "/conv1/Conv".attribute[0] "pads"`) and what.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "onnx: " + e.Msg
	}
	return "onnx: " + e.Path + ": " + e.Msg
}

// ReadModel decodes a ModelProto.
func ReadModel(b []byte) (*Model, error) {
	if len(b) == 0 {
		return nil, &Error{Msg: "empty file (want an ONNX ModelProto)"}
	}
	m := &Model{}
	d := &decoder{}
	err := d.fields(b, "model", func(num protowire.Number, typ protowire.Type, v field) error {
		switch num {
		case 1:
			return v.int(&m.IRVersion)
		case 2, 3:
			var s string
			if err := v.string(&s); err != nil {
				return err
			}
			if m.Producer != "" && s != "" {
				m.Producer += " "
			}
			m.Producer += s
		case 7:
			if m.Graph != nil {
				return v.errorf("more than one graph")
			}
			msg, err := v.message()
			if err != nil {
				return err
			}
			m.Graph, err = d.graph(msg, "graph", 0)
			return err
		case 8:
			msg, err := v.message()
			if err != nil {
				return err
			}
			if len(m.Opsets) >= MaxRepeated {
				return v.errorf("more than %d opset imports", MaxRepeated)
			}
			var o Opset
			err = d.fields(msg, fmt.Sprintf("opset_import[%d]", len(m.Opsets)), func(num protowire.Number, _ protowire.Type, v field) error {
				switch num {
				case 1:
					return v.string(&o.Domain)
				case 2:
					return v.int(&o.Version)
				}
				return nil
			})
			m.Opsets = append(m.Opsets, o)
			return err
		case 20:
			m.HasTrainingInfo = true
		case 25:
			m.HasFunctions = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.Graph == nil {
		return nil, &Error{Msg: "the model has no graph (is this an ONNX file?)"}
	}
	return m, nil
}

// ReadTensor decodes a TensorProto on its own, as the ONNX test data stores
// inputs and outputs.
func ReadTensor(b []byte) (*Tensor, error) {
	d := &decoder{}
	return d.tensor(b, "tensor")
}

type decoder struct{}

// field is one field's value as read from the wire, with the path of the
// message it belongs to for errors.
type field struct {
	path  string
	typ   protowire.Type
	bytes []byte // BytesType
	num   uint64 // VarintType, Fixed32Type, Fixed64Type
}

func (v field) errorf(format string, args ...any) error {
	return &Error{Path: v.path, Msg: fmt.Sprintf(format, args...)}
}

func (v field) int(dst *int64) error {
	if v.typ != protowire.VarintType {
		return v.errorf("wire type %d where an integer (varint) was expected", v.typ)
	}
	*dst = int64(v.num)
	return nil
}

func (v field) message() ([]byte, error) {
	if v.typ != protowire.BytesType {
		return nil, v.errorf("wire type %d where a message was expected", v.typ)
	}
	return v.bytes, nil
}

func (v field) string(dst *string) error {
	if v.typ != protowire.BytesType {
		return v.errorf("wire type %d where a string was expected", v.typ)
	}
	if len(v.bytes) > MaxStringSize {
		return v.errorf("string of %d bytes (the limit is %d)", len(v.bytes), MaxStringSize)
	}
	if !utf8.Valid(v.bytes) {
		return v.errorf("string is not valid UTF-8")
	}
	*dst = string(v.bytes)
	return nil
}

// fields walks the fields of one message, calling f for each. Lengths are
// checked by protowire against the bytes that remain.
func (d *decoder) fields(b []byte, path string, f func(protowire.Number, protowire.Type, field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return &Error{Path: path, Msg: fmt.Sprintf("bad field tag: %v (truncated or not an ONNX file?)", protowire.ParseError(n))}
		}
		b = b[n:]
		v := field{path: path, typ: typ}
		switch typ {
		case protowire.VarintType:
			v.num, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v.num = uint64(x)
		case protowire.Fixed64Type:
			v.num, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v.bytes, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return &Error{Path: path, Msg: fmt.Sprintf("field %d: %v (a truncated file, or not an ONNX model?)", num, protowire.ParseError(n))}
		}
		b = b[n:]
		if typ == protowire.StartGroupType || typ == protowire.EndGroupType {
			continue // groups are not used by onnx.proto
		}
		if err := f(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) graph(b []byte, path string, depth int) (*Graph, error) {
	if depth > MaxNesting {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("graphs nested more than %d deep", MaxNesting)}
	}
	g := &Graph{}
	err := d.fields(b, path, func(num protowire.Number, typ protowire.Type, v field) error {
		switch num {
		case 1:
			msg, err := v.message()
			if err != nil {
				return err
			}
			if len(g.Nodes) >= MaxNodes {
				return v.errorf("more than %d nodes", MaxNodes)
			}
			n, err := d.node(msg, fmt.Sprintf("%s.node[%d]", path, len(g.Nodes)), depth)
			if err != nil {
				return err
			}
			n.Index = len(g.Nodes)
			g.Nodes = append(g.Nodes, n)
		case 2:
			return v.string(&g.Name)
		case 5:
			msg, err := v.message()
			if err != nil {
				return err
			}
			if len(g.Initializers) >= MaxRepeated {
				return v.errorf("more than %d initializers", MaxRepeated)
			}
			t, err := d.tensor(msg, fmt.Sprintf("%s.initializer[%d]", path, len(g.Initializers)))
			if err != nil {
				return err
			}
			g.Initializers = append(g.Initializers, t)
		case 11, 12, 13:
			msg, err := v.message()
			if err != nil {
				return err
			}
			list, name := &g.Inputs, "input"
			if num == 12 {
				list, name = &g.Outputs, "output"
			} else if num == 13 {
				list, name = &g.ValueInfo, "value_info"
			}
			if len(*list) >= MaxRepeated {
				return v.errorf("more than %d %ss", MaxRepeated, name)
			}
			vi, err := d.valueInfo(msg, fmt.Sprintf("%s.%s[%d]", path, name, len(*list)))
			if err != nil {
				return err
			}
			*list = append(*list, vi)
		case 15:
			g.SparseInitializers++
		}
		return nil
	})
	return g, err
}

func (d *decoder) node(b []byte, path string, depth int) (*Node, error) {
	n := &Node{}
	err := d.fields(b, path, func(num protowire.Number, typ protowire.Type, v field) error {
		switch num {
		case 1, 2:
			list := &n.Inputs
			if num == 2 {
				list = &n.Outputs
			}
			if len(*list) >= MaxRepeated {
				return v.errorf("more than %d inputs or outputs", MaxRepeated)
			}
			var s string
			if err := v.string(&s); err != nil {
				return err
			}
			*list = append(*list, s)
		case 3:
			if err := v.string(&n.Name); err != nil {
				return err
			}
			path = fmt.Sprintf("%s %q", path, n.Name)
		case 4:
			return v.string(&n.OpType)
		case 7:
			return v.string(&n.Domain)
		case 5:
			msg, err := v.message()
			if err != nil {
				return err
			}
			if len(n.Attrs) >= MaxRepeated {
				return v.errorf("more than %d attributes", MaxRepeated)
			}
			a, err := d.attribute(msg, fmt.Sprintf("%s.attribute[%d]", path, len(n.Attrs)), depth)
			if err != nil {
				return err
			}
			n.Attrs = append(n.Attrs, a)
		}
		return nil
	})
	return n, err
}

func (d *decoder) attribute(b []byte, path string, depth int) (*Attribute, error) {
	a := &Attribute{}
	err := d.fields(b, path, func(num protowire.Number, typ protowire.Type, v field) error {
		switch num {
		case 1:
			if err := v.string(&a.Name); err != nil {
				return err
			}
			path = fmt.Sprintf("%s %q", path, a.Name)
		case 21:
			return v.string(&a.RefName)
		case 20:
			var t int64
			if err := v.int(&t); err != nil {
				return err
			}
			a.Type = AttrType(t)
		case 2:
			if typ != protowire.Fixed32Type {
				return v.errorf("wire type %d where a float was expected", typ)
			}
			a.F = math.Float32frombits(uint32(v.num))
		case 3:
			return v.int(&a.I)
		case 4:
			if typ != protowire.BytesType {
				return v.errorf("wire type %d where bytes were expected", typ)
			}
			if len(v.bytes) > MaxStringSize {
				return v.errorf("string attribute of %d bytes (the limit is %d)", len(v.bytes), MaxStringSize)
			}
			a.S = v.bytes
		case 5:
			msg, err := v.message()
			if err != nil {
				return err
			}
			a.T, err = d.tensor(msg, path+".t")
			return err
		case 6:
			msg, err := v.message()
			if err != nil {
				return err
			}
			a.G, err = d.graph(msg, path+".g", depth+1)
			return err
		case 7:
			return appendFloats(v, &a.Floats)
		case 8:
			return appendVarints(v, &a.Ints)
		case 9:
			if typ != protowire.BytesType {
				return v.errorf("wire type %d where bytes were expected", typ)
			}
			if len(a.Strings) >= MaxRepeated {
				return v.errorf("more than %d strings", MaxRepeated)
			}
			a.Strings = append(a.Strings, v.bytes)
		case 10:
			msg, err := v.message()
			if err != nil {
				return err
			}
			if len(a.Tensors) >= MaxRepeated {
				return v.errorf("more than %d tensors", MaxRepeated)
			}
			t, err := d.tensor(msg, fmt.Sprintf("%s.tensors[%d]", path, len(a.Tensors)))
			if err != nil {
				return err
			}
			a.Tensors = append(a.Tensors, t)
		case 11:
			msg, err := v.message()
			if err != nil {
				return err
			}
			if len(a.Graphs) >= MaxRepeated {
				return v.errorf("more than %d graphs", MaxRepeated)
			}
			g, err := d.graph(msg, fmt.Sprintf("%s.graphs[%d]", path, len(a.Graphs)), depth+1)
			if err != nil {
				return err
			}
			a.Graphs = append(a.Graphs, g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if a.Type == AttrUndefined {
		// IR version 1 models leave the type out; infer it from the field set.
		switch {
		case a.G != nil:
			a.Type = AttrGraph
		case a.T != nil:
			a.Type = AttrTensor
		case a.S != nil:
			a.Type = AttrString
		case a.Floats != nil:
			a.Type = AttrFloats
		case a.Ints != nil:
			a.Type = AttrInts
		case a.Strings != nil:
			a.Type = AttrStrings
		}
	}
	return a, nil
}

func (d *decoder) valueInfo(b []byte, path string) (*ValueInfo, error) {
	vi := &ValueInfo{}
	err := d.fields(b, path, func(num protowire.Number, typ protowire.Type, v field) error {
		switch num {
		case 1:
			return v.string(&vi.Name)
		case 2:
			msg, err := v.message()
			if err != nil {
				return err
			}
			return d.fields(msg, path+".type", func(num protowire.Number, typ protowire.Type, v field) error {
				if num != 1 {
					return nil
				}
				msg, err := v.message()
				if err != nil {
					return err
				}
				vi.IsTensor = true
				return d.fields(msg, path+".type.tensor_type", func(num protowire.Number, typ protowire.Type, v field) error {
					switch num {
					case 1:
						var t int64
						if err := v.int(&t); err != nil {
							return err
						}
						vi.ElemType = DataType(t)
					case 2:
						msg, err := v.message()
						if err != nil {
							return err
						}
						vi.HasShape = true
						return d.fields(msg, path+".type.tensor_type.shape", func(num protowire.Number, typ protowire.Type, v field) error {
							if num != 1 {
								return nil
							}
							msg, err := v.message()
							if err != nil {
								return err
							}
							if len(vi.Dims) >= MaxRank {
								return v.errorf("more than %d dimensions", MaxRank)
							}
							var dim Dim
							err = d.fields(msg, fmt.Sprintf("%s.type.tensor_type.shape.dim[%d]", path, len(vi.Dims)), func(num protowire.Number, typ protowire.Type, v field) error {
								switch num {
								case 1:
									dim.Known = true
									return v.int(&dim.Value)
								case 2:
									return v.string(&dim.Param)
								}
								return nil
							})
							vi.Dims = append(vi.Dims, dim)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	if err == nil {
		path = fmt.Sprintf("%s %q", path, vi.Name)
		for i, d := range vi.Dims {
			if d.Known && (d.Value < 0 || d.Value > MaxDim) {
				return nil, &Error{Path: path, Msg: fmt.Sprintf("dimension %d is %d (want 0 to %d)", i, d.Value, int64(MaxDim))}
			}
		}
	}
	return vi, err
}

// tensor decodes a TensorProto and checks its data against its dims.
func (d *decoder) tensor(b []byte, path string) (*Tensor, error) {
	t := &Tensor{}
	var (
		raw                        []byte
		hasRaw, external           bool
		floats                     []float32
		doubles                    []float64
		int32s, int64s, uint64s    []int64
		nFloat, nInt32, nInt64, nU int
	)
	err := d.fields(b, path, func(num protowire.Number, typ protowire.Type, v field) error {
		switch num {
		case 1:
			if err := appendVarints(v, &t.Dims); err != nil {
				return err
			}
			if len(t.Dims) > MaxRank {
				return v.errorf("more than %d dimensions", MaxRank)
			}
		case 2:
			var dt int64
			if err := v.int(&dt); err != nil {
				return err
			}
			t.DataType = DataType(dt)
		case 3:
			return v.errorf("segmented tensors are not supported")
		case 4:
			nFloat++
			return appendFloats(v, &floats)
		case 5:
			nInt32++
			return appendVarints(v, &int32s)
		case 6:
			t.HasData = true
		case 7:
			nInt64++
			return appendVarints(v, &int64s)
		case 8:
			if err := v.string(&t.Name); err != nil {
				return err
			}
		case 9:
			if typ != protowire.BytesType {
				return v.errorf("wire type %d where raw_data bytes were expected", typ)
			}
			raw, hasRaw = v.bytes, true
		case 10:
			return appendDoubles(v, &doubles)
		case 11:
			nU++
			return appendVarints(v, &uint64s)
		case 13:
			external = true
		case 14:
			var loc int64
			if err := v.int(&loc); err != nil {
				return err
			}
			external = external || loc == 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if t.Name != "" {
		path = fmt.Sprintf("%s %q", path, t.Name)
	}
	if external {
		return nil, &Error{Path: path, Msg: "the tensor's data is stored in an external file; external data is not supported (save the model with onnx.save(model, f, save_as_external_data=False))"}
	}
	n := int64(1)
	for i, dim := range t.Dims {
		if dim < 0 || dim > MaxDim {
			return nil, &Error{Path: path, Msg: fmt.Sprintf("dims %v: dimension %d is %d (want 0 to %d)", t.Dims, i, dim, int64(MaxDim))}
		}
		n *= dim
		if n > MaxElements {
			return nil, &Error{Path: path, Msg: fmt.Sprintf("dims %v: more than %d elements", t.Dims, MaxElements)}
		}
	}
	count := int(n)
	size := elemSize(t.DataType)
	errorf := func(format string, args ...any) error {
		return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case t.DataType == String || t.DataType == Complex64 || t.DataType == Complex128:
		t.HasData = t.HasData || hasRaw || nFloat > 0 || len(doubles) > 0
		return t, nil
	case size == 0:
		return nil, errorf("unknown data type %d", int32(t.DataType))
	case hasRaw:
		t.HasData = true
		if len(raw) != count*size {
			return nil, errorf("raw_data holds %d bytes; dims %v of %s need %d", len(raw), t.Dims, t.DataType, count*size)
		}
		decodeRaw(t, raw, count)
		return t, nil
	}
	// Typed fields: each data type has exactly one.
	var got int
	switch t.DataType {
	case Float:
		got = len(floats)
		t.Floats = floats
	case Double:
		got = len(doubles)
		t.Doubles = doubles
		t.Floats = make([]float32, len(doubles))
		for i, x := range doubles {
			t.Floats[i] = float32(x)
		}
	case Float16, BFloat16:
		got = len(int32s)
		t.Floats = make([]float32, len(int32s))
		for i, x := range int32s {
			t.Floats[i] = halfToFloat(t.DataType, uint16(x))
		}
	case Int64:
		got = len(int64s)
		t.Ints = int64s
	case Uint32, Uint64:
		got = len(uint64s)
		t.Ints = uint64s
		if t.DataType == Uint32 {
			for i := range t.Ints {
				t.Ints[i] = int64(uint32(t.Ints[i]))
			}
		}
	default: // INT32, INT16, INT8, UINT16, UINT8, BOOL in int32_data
		got = len(int32s)
		t.Ints = int32s
		for i, x := range t.Ints {
			t.Ints[i] = normInt(t.DataType, x)
		}
	}
	t.HasData = got > 0 || nFloat+nInt32+nInt64+nU > 0 || len(doubles) > 0
	if got != count && (got > 0 || count > 0) {
		return nil, errorf("holds %d values; dims %v need %d", got, t.Dims, count)
	}
	return t, nil
}

func elemSize(t DataType) int {
	switch t {
	case Float, Int32, Uint32:
		return 4
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Int64, Double, Uint64:
		return 8
	}
	return 0
}

// normInt wraps an int32_data value to its declared type, as a C++ reader
// would when it stores it.
func normInt(t DataType, x int64) int64 {
	switch t {
	case Int32:
		return int64(int32(x))
	case Int16:
		return int64(int16(x))
	case Int8:
		return int64(int8(x))
	case Uint16:
		return int64(uint16(x))
	case Uint8:
		return int64(uint8(x))
	case Bool:
		if x != 0 {
			return 1
		}
		return 0
	}
	return x
}

func decodeRaw(t *Tensor, raw []byte, n int) {
	le := binary.LittleEndian
	switch t.DataType {
	case Float:
		t.Floats = make([]float32, n)
		for i := range t.Floats {
			t.Floats[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case Double:
		t.Doubles = make([]float64, n)
		t.Floats = make([]float32, n)
		for i := range t.Doubles {
			t.Doubles[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
			t.Floats[i] = float32(t.Doubles[i])
		}
	case Float16, BFloat16:
		t.Floats = make([]float32, n)
		for i := range t.Floats {
			t.Floats[i] = halfToFloat(t.DataType, le.Uint16(raw[2*i:]))
		}
	default:
		t.Ints = make([]int64, n)
		for i := range t.Ints {
			switch t.DataType {
			case Int64, Uint64:
				t.Ints[i] = int64(le.Uint64(raw[8*i:]))
			case Int32:
				t.Ints[i] = int64(int32(le.Uint32(raw[4*i:])))
			case Uint32:
				t.Ints[i] = int64(le.Uint32(raw[4*i:]))
			case Int16:
				t.Ints[i] = int64(int16(le.Uint16(raw[2*i:])))
			case Uint16:
				t.Ints[i] = int64(le.Uint16(raw[2*i:]))
			case Int8:
				t.Ints[i] = int64(int8(raw[i]))
			case Uint8:
				t.Ints[i] = int64(raw[i])
			case Bool:
				t.Ints[i] = normInt(Bool, int64(raw[i]))
			}
		}
	}
}

func halfToFloat(t DataType, h uint16) float32 {
	if t == BFloat16 {
		return math.Float32frombits(uint32(h) << 16)
	}
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value is mant × 2^-24.
		f := float32(mant) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | mant<<13)
}

// appendVarints reads a repeated int64 field in packed or unpacked form.
func appendVarints(v field, dst *[]int64) error {
	switch v.typ {
	case protowire.VarintType:
		if len(*dst) >= MaxElements {
			return v.errorf("more than %d values", MaxElements)
		}
		*dst = append(*dst, int64(v.num))
		return nil
	case protowire.BytesType:
		b := v.bytes
		for len(b) > 0 {
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return v.errorf("packed integers: %v", protowire.ParseError(n))
			}
			if len(*dst) >= MaxElements {
				return v.errorf("more than %d values", MaxElements)
			}
			*dst = append(*dst, int64(x))
			b = b[n:]
		}
		return nil
	}
	return v.errorf("wire type %d where integers were expected", v.typ)
}

func appendFloats(v field, dst *[]float32) error {
	switch v.typ {
	case protowire.Fixed32Type:
		if len(*dst) >= MaxElements {
			return v.errorf("more than %d values", MaxElements)
		}
		*dst = append(*dst, math.Float32frombits(uint32(v.num)))
		return nil
	case protowire.BytesType:
		if len(v.bytes)%4 != 0 {
			return v.errorf("packed floats: %d bytes is not a multiple of 4", len(v.bytes))
		}
		if len(*dst)+len(v.bytes)/4 > MaxElements {
			return v.errorf("more than %d values", MaxElements)
		}
		for b := v.bytes; len(b) > 0; b = b[4:] {
			*dst = append(*dst, math.Float32frombits(binary.LittleEndian.Uint32(b)))
		}
		return nil
	}
	return v.errorf("wire type %d where floats were expected", v.typ)
}

func appendDoubles(v field, dst *[]float64) error {
	switch v.typ {
	case protowire.Fixed64Type:
		if len(*dst) >= MaxElements {
			return v.errorf("more than %d values", MaxElements)
		}
		*dst = append(*dst, math.Float64frombits(v.num))
		return nil
	case protowire.BytesType:
		if len(v.bytes)%8 != 0 {
			return v.errorf("packed doubles: %d bytes is not a multiple of 8", len(v.bytes))
		}
		if len(*dst)+len(v.bytes)/8 > MaxElements {
			return v.errorf("more than %d values", MaxElements)
		}
		for b := v.bytes; len(b) > 0; b = b[8:] {
			*dst = append(*dst, math.Float64frombits(binary.LittleEndian.Uint64(b)))
		}
		return nil
	}
	return v.errorf("wire type %d where doubles were expected", v.typ)
}
