// Package onnx reads ONNX models (ModelProto) and tensors (TensorProto) from
// their protobuf wire format.
//
// The files are untrusted: the reader decodes only the messages the importer
// needs, checks every length against the bytes that remain, caps dimensions,
// element counts, nesting and repetition (see the limits below), refuses
// external data, and names the message it refused in every error
// ("graph.initializer[3] \"conv1.weight\": ..."). Unknown fields are skipped,
// as protobuf requires. Nothing here knows about resgen's specs; the
// importer (package importer) reads the decoded model.
package onnx

import "fmt"

// Limits on what a model may declare. They bound the work and memory a
// hostile file can cause before its data has been seen.
const (
	MaxRank       = 8        // dimensions of one tensor
	MaxDim        = 1 << 31  // one dimension
	MaxElements   = 1 << 28  // elements of one tensor (1 GiB of float32)
	MaxNesting    = 8        // graphs inside attributes inside graphs
	MaxNodes      = 1 << 20  // nodes of one graph
	MaxRepeated   = 1 << 20  // entries of any other repeated field of one message
	MaxStringSize = 64 << 10 // names, op types, string attributes
)

// DataType is TensorProto.DataType.
type DataType int32

// The data types of TensorProto.DataType.
const (
	Undefined DataType = iota
	Float
	Uint8
	Int8
	Uint16
	Int16
	Int32
	Int64
	String
	Bool
	Float16
	Double
	Uint32
	Uint64
	Complex64
	Complex128
	BFloat16
)

var dataTypeNames = [...]string{"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
	"STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"}

func (t DataType) String() string {
	if t >= 0 && int(t) < len(dataTypeNames) {
		return dataTypeNames[t]
	}
	return fmt.Sprintf("DataType(%d)", int32(t))
}

// IsFloat reports whether the type decodes into Tensor.Floats.
func (t DataType) IsFloat() bool { return t == Float || t == Float16 || t == BFloat16 || t == Double }

// IsInt reports whether the type decodes into Tensor.Ints.
func (t DataType) IsInt() bool {
	switch t {
	case Uint8, Int8, Uint16, Int16, Int32, Int64, Bool, Uint32, Uint64:
		return true
	}
	return false
}

// Model is a decoded ModelProto.
type Model struct {
	IRVersion       int64
	Producer        string // producer_name and producer_version
	Opsets          []Opset
	Graph           *Graph
	HasFunctions    bool // model-local functions (refused by the importer)
	HasTrainingInfo bool
}

// Opset is one OperatorSetIdProto: a domain ("" is ai.onnx) and its version.
type Opset struct {
	Domain  string
	Version int64
}

// OpsetVersion is the version the model imports for domain ("" or
// "ai.onnx" for the default domain); ok is false if it imports none.
func (m *Model) OpsetVersion(domain string) (v int64, ok bool) {
	if domain == "ai.onnx" {
		domain = ""
	}
	for _, o := range m.Opsets {
		d := o.Domain
		if d == "ai.onnx" {
			d = ""
		}
		if d == domain {
			return o.Version, true
		}
	}
	return 0, false
}

// Graph is a decoded GraphProto.
type Graph struct {
	Name               string
	Nodes              []*Node
	Initializers       []*Tensor
	Inputs, Outputs    []*ValueInfo
	ValueInfo          []*ValueInfo
	SparseInitializers int // count; the importer refuses them
}

// Node is a decoded NodeProto. Index is its position in Graph.Nodes.
type Node struct {
	Index           int
	Name            string
	OpType          string
	Domain          string
	Inputs, Outputs []string
	Attrs           []*Attribute
}

// String names the node for errors: `node 12 "/layer1/Conv" (Conv)`.
func (n *Node) String() string {
	if n.Name == "" {
		return fmt.Sprintf("node %d (%s)", n.Index, n.OpType)
	}
	return fmt.Sprintf("node %d %q (%s)", n.Index, n.Name, n.OpType)
}

// Attr returns the node's attribute called name, or nil.
func (n *Node) Attr(name string) *Attribute {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// AttrType is AttributeProto.AttributeType.
type AttrType int32

// The attribute types.
const (
	AttrUndefined AttrType = iota
	AttrFloat
	AttrInt
	AttrString
	AttrTensor
	AttrGraph
	AttrFloats
	AttrInts
	AttrStrings
	AttrTensors
	AttrGraphs
	AttrSparseTensor
	AttrSparseTensors
	AttrTypeProto
	AttrTypeProtos
)

var attrTypeNames = [...]string{"UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS",
	"STRINGS", "TENSORS", "GRAPHS", "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"}

func (t AttrType) String() string {
	if t >= 0 && int(t) < len(attrTypeNames) {
		return attrTypeNames[t]
	}
	return fmt.Sprintf("AttrType(%d)", int32(t))
}

// Attribute is a decoded AttributeProto. Graph-valued attributes are
// decoded (bounded by MaxNesting) so that their size is checked, but the
// importer refuses every op that has one.
type Attribute struct {
	Name    string
	RefName string // ref_attr_name (only inside functions)
	Type    AttrType
	F       float32
	I       int64
	S       []byte
	T       *Tensor
	G       *Graph
	Floats  []float32
	Ints    []int64
	Strings [][]byte
	Tensors []*Tensor
	Graphs  []*Graph
}

// Tensor is a decoded TensorProto. Floating-point data (FLOAT, FLOAT16,
// BFLOAT16, DOUBLE) is in Floats, converted to float32 (DOUBLE also in
// Doubles, exactly); integer and boolean data is in Ints. STRING and
// complex data is not decoded (HasData is still true).
type Tensor struct {
	Name     string
	Dims     []int64
	DataType DataType
	Floats   []float32
	Doubles  []float64
	Ints     []int64
	HasData  bool
}

// Len is the number of elements the dims declare (1 for a scalar).
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Dims {
		n *= int(d)
	}
	return n
}

// ValueInfo is a decoded ValueInfoProto holding a tensor type.
type ValueInfo struct {
	Name     string
	IsTensor bool // the type is a tensor type (not a sequence, map, …)
	ElemType DataType
	HasShape bool
	Dims     []Dim
}

// Dim is one TensorShapeProto.Dimension: a value, a symbolic parameter
// ("batch", "N"), or neither (unknown).
type Dim struct {
	Value int64
	Param string
	Known bool // Value is set
}

func (d Dim) String() string {
	switch {
	case d.Known:
		return fmt.Sprint(d.Value)
	case d.Param != "":
		return d.Param
	}
	return "?"
}
