package importer

import (
	"strings"
	"testing"

	"github.com/resgen/resgen/onnx"
)

// graph builds a model of nodes over the input [N, 4, 6, 6] at opset.
type graph struct {
	opset int64
	nodes []*onnx.Node
	inits []*onnx.Tensor
	out   string
}

func node(op, name string, ins, outs []string, attrs ...*onnx.Attribute) *onnx.Node {
	return &onnx.Node{OpType: op, Name: name, Inputs: ins, Outputs: outs, Attrs: attrs}
}

func ints(name string, v ...int64) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttrInts, Ints: v}
}

func intAttr(name string, v int64) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttrInt, I: v}
}

func floats(name string, dims []int64) *onnx.Tensor {
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(i%7) / 7
	}
	return &onnx.Tensor{Name: name, Dims: dims, DataType: onnx.Float, Floats: f, HasData: true}
}

func int64s(name string, v ...int64) *onnx.Tensor {
	return &onnx.Tensor{Name: name, Dims: []int64{int64(len(v))}, DataType: onnx.Int64, Ints: v, HasData: true}
}

func (g graph) model() *onnx.Model {
	if g.opset == 0 {
		g.opset = 13
	}
	for i, n := range g.nodes {
		n.Index = i
	}
	out := g.out
	if out == "" {
		out = g.nodes[len(g.nodes)-1].Outputs[0]
	}
	return &onnx.Model{Opsets: []onnx.Opset{{Version: g.opset}}, Graph: &onnx.Graph{
		Nodes:        g.nodes,
		Initializers: g.inits,
		Inputs:       []*onnx.ValueInfo{{Name: "x", IsTensor: true, ElemType: onnx.Float, HasShape: true, Dims: []onnx.Dim{{Param: "N"}, {Value: 4, Known: true}, {Value: 6, Known: true}, {Value: 6, Known: true}}}},
		Outputs:      []*onnx.ValueInfo{{Name: out, IsTensor: true, ElemType: onnx.Float}},
	}}
}

func importGraph(t *testing.T, g graph) (string, error) {
	t.Helper()
	res, err := Import(g.model(), Options{File: "m.onnx", Name: "m"})
	if err != nil {
		return "", err
	}
	return string(res.Spec), nil
}

// flattenHead is GlobalAveragePool → view(N, -1) as torch exports it at
// opset 13: Shape, Gather, Unsqueeze, Concat, Reshape.
func flattenHead(in string) ([]*onnx.Node, []*onnx.Tensor) {
	return []*onnx.Node{
			node("GlobalAveragePool", "/avgpool/GlobalAveragePool", []string{in}, []string{"g"}),
			node("Shape", "/Shape", []string{"g"}, []string{"s"}),
			node("Gather", "/Gather", []string{"s", "zero"}, []string{"n"}, intAttr("axis", 0)),
			node("Unsqueeze", "/Unsqueeze", []string{"n", "axes0"}, []string{"n1"}),
			node("Concat", "/Concat", []string{"n1", "minus1"}, []string{"shape"}, intAttr("axis", 0)),
			node("Reshape", "/Reshape", []string{"g", "shape"}, []string{"f"}),
		}, []*onnx.Tensor{
			{Name: "zero", DataType: onnx.Int64, Ints: []int64{0}, HasData: true},
			int64s("axes0", 0), int64s("minus1", -1),
		}
}

func TestViewFoldsToFlatten(t *testing.T) {
	nodes, inits := flattenHead("x")
	spec, err := importGraph(t, graph{nodes: nodes, inits: inits})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"{name: avgpool, op: global_avgpool}", "{name: reshape, op: flatten}"} {
		if !strings.Contains(spec, want) {
			t.Errorf("spec lacks %q:\n%s", want, spec)
		}
	}
}

// A MatMul's bias Add joins the linear layer only when the MatMul output
// has no other reader.
func TestMatMulBias(t *testing.T) {
	nodes, inits := flattenHead("x")
	nodes = append(nodes,
		node("MatMul", "/fc/MatMul", []string{"f", "w"}, []string{"mm"}),
		node("Add", "/fc/Add", []string{"mm", "fc.bias"}, []string{"y"}))
	inits = append(inits, floats("w", []int64{4, 3}), floats("fc.bias", []int64{3}))
	spec, err := importGraph(t, graph{nodes: nodes, inits: inits})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(spec, "{name: fc, op: linear, out: 3}") {
		t.Errorf("bias not fused:\n%s", spec)
	}
	nodes = append(nodes, node("Add", "/sum", []string{"y", "mm"}, []string{"z"}))
	_, err = importGraph(t, graph{nodes: nodes, inits: inits})
	if err == nil || !strings.Contains(err.Error(), `node 7 "/fc/Add" (Add, opset 13): adding a constant [3] to an activation is supported only as the bias of a MatMul`) {
		t.Errorf("error %v", err)
	}
}

// One option-A shortcut read twice is one shortcut_a layer.
func TestShortcutSharedOnce(t *testing.T) {
	nodes := []*onnx.Node{
		node("Slice", "/layer2/layer2.0/Slice", []string{"x", "st", "en", "ax", "sp"}, []string{"s"}),
		node("Pad", "/layer2/layer2.0/Pad", []string{"s", "pads"}, []string{"p"}),
		node("Add", "/add", []string{"p", "p"}, []string{"a"}),
		node("Relu", "/relu", []string{"p"}, []string{"r"}),
		node("Add", "/add2", []string{"a", "r"}, []string{"y"}),
	}
	inits := []*onnx.Tensor{int64s("st", 0, 0), int64s("en", 1<<62, 1<<62), int64s("ax", 2, 3), int64s("sp", 2, 2), int64s("pads", 0, 2, 0, 0, 0, 2, 0, 0)}
	spec, err := importGraph(t, graph{nodes: nodes, inits: inits})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(spec, "op: shortcut_a"); n != 1 || !strings.Contains(spec, "{name: layer2.0.shortcut, op: shortcut_a, out: 8, stride: 2}") {
		t.Errorf("%d shortcut_a layers:\n%s", n, spec)
	}
}

// Sum of three activations is one add layer; of one, nothing.
func TestSum(t *testing.T) {
	nodes := []*onnx.Node{
		node("Relu", "/a/Relu", []string{"x"}, []string{"a"}),
		node("Sigmoid", "/b/Sigmoid", []string{"x"}, []string{"b"}),
		node("Sum", "/Sum", []string{"a", "b", "x"}, []string{"s"}),
		node("Sum", "/Sum_1", []string{"s"}, []string{"y"}),
	}
	spec, err := importGraph(t, graph{nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(spec, "{name: sum, op: add, from: [a, b, input]}\n") || strings.Contains(spec, "sum_1") {
		t.Errorf("spec:\n%s", spec)
	}
}

func TestRefusals(t *testing.T) {
	w := floats("w", []int64{4, 4, 3, 3})
	for _, tc := range []struct {
		name string
		g    graph
		msg  string
	}{
		{"reshape across the batch", graph{nodes: []*onnx.Node{node("Reshape", "r", []string{"x", "s"}, []string{"y"})}, inits: []*onnx.Tensor{int64s("s", -1)}},
			`node 0 "r" (Reshape, opset 13): shape [-1] flattens the batch into one dimension`},
		{"softmax over C·H·W before opset 13", graph{opset: 11, nodes: []*onnx.Node{node("Softmax", "sm", []string{"x"}, []string{"y"})}},
			"softmax over axis 1 of [N, 4, 6, 6]: only the channel axis is supported"},
		{"conv weight from the input", graph{nodes: []*onnx.Node{node("Conv", "c", []string{"x", "x"}, []string{"y"})}},
			`the weight (input 1, "x") must be a constant`},
		{"unsupported attribute", graph{nodes: []*onnx.Node{node("Conv", "c", []string{"x", "w"}, []string{"y"}, intAttr("foo", 1))}, inits: []*onnx.Tensor{w}},
			`node 0 "c" (Conv, opset 13): attribute "foo" is not supported for Conv`},
		{"sliced batch", graph{nodes: []*onnx.Node{node("Slice", "s", []string{"x", "st", "en", "ax"}, []string{"y"}), node("Relu", "r", []string{"y"}, []string{"z"})},
			inits: []*onnx.Tensor{int64s("st", 0), int64s("en", 1), int64s("ax", 0)}}, "slicing the batch axis is not supported"},
		{"different strides along H and W", graph{nodes: []*onnx.Node{node("Slice", "s", []string{"x", "st", "en", "ax", "sp"}, []string{"y"}), node("Relu", "r", []string{"y"}, []string{"z"})},
			inits: []*onnx.Tensor{int64s("st", 0, 0), int64s("en", 99, 99), int64s("ax", 2, 3), int64s("sp", 2, 3)}}, "steps 2 along H and 3 along W"},
		{"broadcast add", graph{nodes: []*onnx.Node{node("GlobalAveragePool", "g", []string{"x"}, []string{"g"}), node("Add", "a", []string{"x", "g"}, []string{"y"})}},
			"inputs have shapes [N, 4, 6, 6] and [N, 4, 1, 1]; broadcasting is not supported"},
		{"empty constant with huge dims", graph{nodes: []*onnx.Node{node("Gather", "g", []string{"e", "i"}, []string{"y"}, intAttr("axis", 2))},
			inits: []*onnx.Tensor{{Name: "e", Dims: []int64{1 << 31, 1 << 31, 0}, DataType: onnx.Float}, int64s("i", 0)}}, `initializer "e": dims [2147483648 2147483648 0] are too large`},
		{"constant output", graph{nodes: []*onnx.Node{node("Shape", "s", []string{"x"}, []string{"y"})}}, `graph output "y" is a constant`},
		{"second output used", graph{nodes: []*onnx.Node{node("MaxPool", "m", []string{"x"}, []string{"y", "idx"}, ints("kernel_shape", 2, 2))}, out: "idx"},
			`output 1 ("idx") is not supported`},
		{"nearest align_corners", graph{nodes: []*onnx.Node{node("Resize", "u", []string{"x", "", "sc"}, []string{"y"}, &onnx.Attribute{Name: "coordinate_transformation_mode", Type: onnx.AttrString, S: []byte("align_corners")})},
			inits: []*onnx.Tensor{{Name: "sc", Dims: []int64{4}, DataType: onnx.Float, Floats: []float32{1, 1, 2, 2}, HasData: true}}}, "is not PyTorch's nearest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importGraph(t, tc.g)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v; want one containing %q", err, tc.msg)
			}
		})
	}
}
