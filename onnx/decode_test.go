package onnx

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
)

// tensorBytes builds a TensorProto field by field, as protoc would.
type pb []byte

func (b pb) varint(num protowire.Number, v uint64) pb {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func (b pb) bytes(num protowire.Number, v []byte) pb {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func (b pb) fixed32(num protowire.Number, v uint32) pb {
	b = protowire.AppendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, v)
}

func packedVarints(vs ...int64) []byte {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return b
}

func packedFloats(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendFixed32(b, math.Float32bits(v))
	}
	return b
}

func TestReadTensorForms(t *testing.T) {
	f16 := []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00} // 1, -2, smallest subnormal 2^-24
	for _, tc := range []struct {
		name   string
		b      pb
		floats []float32
		ints   []int64
	}{
		{"float_data packed", pb{}.varint(1, 2).varint(2, uint64(Float)).bytes(4, packedFloats(1.5, -2)), []float32{1.5, -2}, nil},
		{"float_data unpacked", pb{}.varint(1, 2).varint(2, uint64(Float)).fixed32(4, math.Float32bits(3)).fixed32(4, math.Float32bits(-0.25)), []float32{3, -0.25}, nil},
		{"raw float", pb{}.bytes(1, packedVarints(1, 1)).varint(2, uint64(Float)).bytes(9, packedFloats(3.25)), []float32{3.25}, nil},
		{"scalar", pb{}.varint(2, uint64(Float)).bytes(9, packedFloats(7)), []float32{7}, nil},
		{"int64_data", pb{}.varint(1, 3).varint(2, uint64(Int64)).bytes(7, packedVarints(-3, 7, 1<<40)), nil, []int64{-3, 7, 1 << 40}},
		{"raw int64", pb{}.varint(1, 2).varint(2, uint64(Int64)).bytes(9, []byte{0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 9, 0, 0, 0, 0, 0, 0, 0}), nil, []int64{-3, 9}},
		{"int32_data of INT8", pb{}.varint(1, 2).varint(2, uint64(Int8)).bytes(5, packedVarints(-5, 100)), nil, []int64{-5, 100}},
		{"raw bool", pb{}.varint(1, 3).varint(2, uint64(Bool)).bytes(9, []byte{0, 1, 2}), nil, []int64{0, 1, 1}},
		{"raw float16", pb{}.varint(1, 3).varint(2, uint64(Float16)).bytes(9, f16), []float32{1, -2, float32(math.Ldexp(1, -24))}, nil},
		{"raw bfloat16", pb{}.varint(1, 1).varint(2, uint64(BFloat16)).bytes(9, []byte{0x80, 0x3f}), []float32{1}, nil},
		{"empty", pb{}.varint(1, 0).varint(2, uint64(Float)), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := ReadTensor(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.floats, x.Floats); tc.floats != nil && diff != "" {
				t.Errorf("floats (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.ints, x.Ints); tc.ints != nil && diff != "" {
				t.Errorf("ints (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadTensorErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    pb
		msg  string
	}{
		{"short raw", pb{}.varint(1, 4).varint(2, uint64(Float)).bytes(9, packedFloats(1)).bytes(8, []byte("w")), `tensor "w": raw_data holds 4 bytes; dims [4] of FLOAT need 16`},
		{"too few values", pb{}.varint(1, 3).varint(2, uint64(Float)).bytes(4, packedFloats(1, 2)), "holds 2 values; dims [3] need 3"},
		{"negative dim", pb{}.varint(1, uint64(1<<64-1)).varint(2, uint64(Float)), "dimension 0 is -1"},
		{"huge", pb{}.bytes(1, packedVarints(1<<20, 1<<20)).varint(2, uint64(Float)), "more than 268435456 elements"},
		{"rank", pb{}.bytes(1, packedVarints(1, 1, 1, 1, 1, 1, 1, 1, 1)).varint(2, uint64(Float)), "more than 8 dimensions"},
		{"external", pb{}.varint(1, 1).varint(2, uint64(Float)).varint(14, 1), "external data is not supported"},
		{"segment", pb{}.bytes(3, nil), "segmented tensors are not supported"},
		{"unknown type", pb{}.varint(2, 99).bytes(9, nil), "unknown data type 99"},
		{"truncated", pb{}.varint(1, 4).varint(2, uint64(Float)).bytes(9, packedFloats(1, 2, 3, 4))[:12], "unexpected EOF"},
		{"wire type", pb{}.fixed32(2, 1), "wire type 5 where an integer (varint) was expected"},
		{"bad packed floats", pb{}.varint(2, uint64(Float)).bytes(4, []byte{1, 2, 3}), "not a multiple of 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTensor(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v; want one containing %q", err, tc.msg)
			}
		})
	}
}

// TestReadModel reads onnx/testdata/tiny.onnx, which onnx.helper wrote
// with these nodes, initializers and shapes.
func TestReadModel(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "tiny.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadModel(b)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m.OpsetVersion(""); !ok || v != 13 {
		t.Errorf("opset %d, %v; want 13", v, ok)
	}
	var ops []string
	for _, n := range m.Graph.Nodes {
		ops = append(ops, n.OpType)
	}
	want := []string{"Conv", "BatchNormalization", "Relu", "MaxPool", "Slice", "Pad", "Concat", "GlobalAveragePool", "Reshape", "Gemm", "Softmax"}
	if diff := cmp.Diff(want, ops); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
	conv := m.Graph.Nodes[0]
	if a := conv.Attr("pads"); a == nil || a.Type != AttrInts || !cmp.Equal(a.Ints, []int64{1, 1, 1, 1}) {
		t.Errorf("Conv pads: %+v", a)
	}
	if conv.Name != "/conv/Conv" || !cmp.Equal(conv.Inputs, []string{"input", "conv.weight", "conv.bias"}) {
		t.Errorf("Conv: %q %v", conv.Name, conv.Inputs)
	}
	in := m.Graph.Inputs[0]
	if in.Name != "input" || in.ElemType != Float || len(in.Dims) != 4 || in.Dims[0].Param != "N" || in.Dims[0].Known || in.Dims[1].Value != 2 {
		t.Errorf("input: %+v", in)
	}
	byName := map[string]*Tensor{}
	for _, x := range m.Graph.Initializers {
		byName[x.Name] = x
	}
	w := byName["conv.weight"]
	if w == nil || !cmp.Equal(w.Dims, []int64{4, 2, 3, 3}) || len(w.Floats) != 72 {
		t.Errorf("conv.weight: %+v", w)
	}
	if p := byName["pads"]; p == nil || !cmp.Equal(p.Ints, []int64{0, 2, 0, 0, 0, 2, 0, 0}) {
		t.Errorf("pads: %+v", p)
	}
}

func TestReadModelErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		msg  string
	}{
		{"empty", nil, "empty file"},
		{"no graph", pb{}.varint(1, 7), "the model has no graph"},
		{"two graphs", pb{}.bytes(7, nil).bytes(7, nil), "more than one graph"},
		{"bad utf8", pb{}.bytes(7, pb{}.bytes(1, pb{}.bytes(4, []byte{0xff}))), "not valid UTF-8"},
		{"deep", nested(MaxNesting + 2), "graphs nested more than 8 deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadModel(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v; want one containing %q", err, tc.msg)
			}
		})
	}
}

// nested is a model whose graph holds a node whose attribute holds a graph,
// depth times.
func nested(depth int) []byte {
	g := pb{}
	for range depth {
		attr := pb{}.bytes(1, []byte("body")).bytes(6, g)
		g = pb{}.bytes(1, pb{}.bytes(4, []byte("If")).bytes(5, attr))
	}
	return pb{}.bytes(7, g)
}
