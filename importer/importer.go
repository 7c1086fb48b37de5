// Package importer turns an ONNX model into a resgen spec (YAML a person can
// read and edit) and the weights that spec expects (safetensors).
//
// The graph is interpreted once, in topological order. Every value is either
// a constant known at import time (initializers, Constant nodes and anything
// computed only from them: the Shape/Gather/Unsqueeze/Concat subgraphs
// exporters emit for view, the pads of F.pad) or an activation, which names
// the spec tensor that holds it. Each op has one converter in the registry
// (ops.go) that says which opsets and attributes it accepts; it either
// folds constants or emits spec layers. Anything outside the registry is one
// error naming the node, its op type and the opset, and nothing is written.
//
// The output is a spec, never a shortcut into the IR: Import checks itself
// by parsing and lowering the spec it wrote and matching every parameter the
// compiler will read against the tensors it wrote, shape for shape.
package importer

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"go/token"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/resgen/resgen/ir"
	"github.com/resgen/resgen/onnx"
	"github.com/resgen/resgen/spec"
)

// Options controls Import.
type Options struct {
	// File is the model's path, for errors and the spec's header comment.
	File string
	// Name is the spec's name: (the Go package name); "" derives it from
	// the file name.
	Name string
	// Input is C, H, W of one item; zero uses the model's input shape. It
	// must agree with every dimension the model fixes.
	Input [3]int
}

// Result is an imported model.
type Result struct {
	Spec    []byte // spec.yaml
	Weights []byte // weights.safetensors
	Layers  int    // layers in the spec
	Params  int64  // values in Weights
}

// MinOpset and MaxOpset bound the default-domain opset a model may import.
const (
	MinOpset = 1
	MaxOpset = 17
)

// Import converts a decoded model.
func Import(m *onnx.Model, opt Options) (*Result, error) {
	file := opt.File
	if file == "" {
		file = "model.onnx"
	}
	im := &importer{file: file, values: map[string]*value{}, names: map[string]bool{spec.InputName: true}, weights: map[string]*tensor{}}
	if err := im.run(m, opt); err != nil {
		return nil, err
	}
	return im.result(opt)
}

// Error is an import error: the model file, the node (if any) and what.
type Error struct {
	File string
	Node string // `node 12 "/layer1/Conv" (Conv, opset 11)`, or ""
	Msg  string
}

func (e *Error) Error() string {
	if e.Node == "" {
		return e.File + ": " + e.Msg
	}
	return e.File + ": " + e.Node + ": " + e.Msg
}

type importer struct {
	file      string
	opset     int64
	values    map[string]*value
	uses      map[string]int // consumers of each ONNX value (graph output counts)
	layers    []*layer
	names     map[string]bool // spec tensor names taken
	weights   map[string]*tensor
	keys      []string // weight keys in insertion order
	input     *act
	output    *act
	batch     int64           // fixed batch size of the model's input, or batchSym
	soleLayer map[string]bool // module paths that name their one layer
	node      *onnx.Node
}

// tensor is a weight the spec will read.
type tensor struct {
	shape []int
	data  []float32
}

// value is one ONNX value: a constant or an activation.
type value struct {
	k *konst
	a *act
}

// konst is a tensor known at import time. Integer data may hold batchSym
// where a dimension is the (symbolic) batch size.
type konst struct {
	dtype onnx.DataType
	dims  []int64
	f     []float32 // float types
	i     []int64   // integer and bool types
}

func (k *konst) isInt() bool { return k.dtype.IsInt() }

func (k *konst) len() int {
	if k.isInt() {
		return len(k.i)
	}
	return len(k.f)
}

// batchSym stands for the symbolic batch size inside folded shape values.
const batchSym = math.MinInt64

// act is an activation: a spec tensor of one item, C×H×W (rank 4, as
// [N, C, H, W]) or a vector of C features (rank 2, [N, C]; H = W = 1).
// sliceH/W and padC are a pending option-A shortcut (strided Slice, channel
// Pad) not yet emitted as a layer.
type act struct {
	tensor  string
	rank    int
	c, h, w int
	layer   *layer // the layer that produced it; nil for the input or a pending shortcut
	src     *act   // for a pending shortcut, its input
	sliceH  int
	sliceW  int
	padC    int
	pending bool
}

func (a *act) dims() string {
	if a.rank == 2 {
		return fmt.Sprintf("[N, %d]", a.c)
	}
	return fmt.Sprintf("[N, %d, %d, %d]", a.c, a.h, a.w)
}

// layer is one spec layer being written.
type layer struct {
	name   string
	op     string
	fields []field
	from   []string
	out    *act
	params []string // weight keys, for the self-check
	node   *onnx.Node
}

type field struct {
	key string
	val string
}

func (l *layer) set(key string, val any) {
	s := fmt.Sprint(val)
	switch v := val.(type) {
	case [2]int:
		if v[0] == v[1] {
			s = strconv.Itoa(v[0])
		} else {
			s = fmt.Sprintf("[%d, %d]", v[0], v[1])
		}
	case float64:
		s = strconv.FormatFloat(v, 'g', -1, 64)
	}
	for i := range l.fields {
		if l.fields[i].key == key {
			l.fields[i].val = s
			return
		}
	}
	l.fields = append(l.fields, field{key, s})
}

func (im *importer) errorf(format string, args ...any) error {
	e := &Error{File: im.file, Msg: fmt.Sprintf(format, args...)}
	if im.node != nil {
		e.Node = fmt.Sprintf("%s, opset %d", strings.TrimSuffix(im.node.String(), ")"), im.opset) + ")"
	}
	return e
}

func (im *importer) run(m *onnx.Model, opt Options) error {
	g := m.Graph
	v, ok := m.OpsetVersion("")
	if !ok {
		return im.errorf("the model imports no opset of the default domain (ai.onnx)")
	}
	im.opset = v
	if v < MinOpset || v > MaxOpset {
		return im.errorf("opset %d of the default domain is not supported (want %d to %d)", v, MinOpset, MaxOpset)
	}
	if m.HasFunctions {
		return im.errorf("model-local functions are not supported")
	}
	if g.SparseInitializers > 0 {
		return im.errorf("sparse initializers are not supported")
	}
	for _, t := range g.Initializers {
		if t.Name == "" {
			return im.errorf("an initializer has no name")
		}
		if _, dup := im.values[t.Name]; dup {
			return im.errorf("initializer %q is defined twice", t.Name)
		}
		k, err := im.konstOf(t, "initializer "+strconv.Quote(t.Name))
		if err != nil {
			return err
		}
		im.values[t.Name] = &value{k: k}
	}
	if err := im.graphInput(g, opt); err != nil {
		return err
	}
	if len(g.Outputs) != 1 {
		return im.errorf("the graph has %d outputs; want exactly one", len(g.Outputs))
	}
	order, err := im.sortNodes(g)
	if err != nil {
		return err
	}
	im.findSoleLayers(order)
	im.uses = map[string]int{g.Outputs[0].Name: 1}
	for _, n := range order {
		for _, in := range n.Inputs {
			im.uses[in]++
		}
	}
	for _, n := range order {
		im.node = n
		if err := im.convert(n); err != nil {
			return err
		}
	}
	im.node = nil
	out := g.Outputs[0].Name
	ov := im.values[out]
	if ov == nil {
		return im.errorf("graph output %q is not computed by any node", out)
	}
	if ov.a == nil {
		return im.errorf("graph output %q is a constant; the network must compute it from the input", out)
	}
	a, err := im.materialize(ov.a)
	if err != nil {
		return err
	}
	if a == im.input || a.layer == nil {
		// The output is the input itself (an Identity graph): a spec needs a layer.
		l := im.emit(a, "identity", "output", nil)
		a = l.out
	}
	im.output = a
	if len(g.Outputs) == 1 {
		if err := checkDeclared(g.Outputs[0], a, im.batch); err != nil {
			return im.errorf("graph output %q: %v", out, err)
		}
	}
	return nil
}

// graphInput finds the one graph input that is not an initializer: the
// network input, float32 [N, C, H, W].
func (im *importer) graphInput(g *onnx.Graph, opt Options) error {
	var ins []*onnx.ValueInfo
	for _, vi := range g.Inputs {
		if _, init := im.values[vi.Name]; !init {
			ins = append(ins, vi)
		}
	}
	if len(ins) != 1 {
		names := make([]string, len(ins))
		for i, vi := range ins {
			names[i] = strconv.Quote(vi.Name)
		}
		return im.errorf("the graph has %d inputs (%s); want exactly one, the image batch [N, C, H, W]", len(ins), strings.Join(names, ", "))
	}
	vi := ins[0]
	where := fmt.Sprintf("graph input %q", vi.Name)
	if !vi.IsTensor || vi.ElemType != onnx.Float {
		return im.errorf("%s: type %s; want a float32 tensor", where, vi.ElemType)
	}
	if !vi.HasShape || len(vi.Dims) != 4 {
		return im.errorf("%s: shape %s; want [N, C, H, W] (rank 4)", where, dimsText(vi.Dims, vi.HasShape))
	}
	im.batch = batchSym
	if d := vi.Dims[0]; d.Known {
		if d.Value < 1 {
			return im.errorf("%s: batch dimension %d", where, d.Value)
		}
		im.batch = d.Value
	}
	var chw [3]int
	for i := range 3 {
		d := vi.Dims[i+1]
		switch {
		case opt.Input[i] > 0 && d.Known && d.Value != int64(opt.Input[i]):
			return im.errorf("%s: -input %dx%dx%d disagrees with the model's shape %s", where, opt.Input[0], opt.Input[1], opt.Input[2], dimsText(vi.Dims, true))
		case opt.Input[i] > 0:
			chw[i] = opt.Input[i]
		case !d.Known:
			return im.errorf("%s: dimension %d is symbolic (%s); give the size with -input CxHxW", where, i+1, d)
		case d.Value < 1 || d.Value > spec.MaxInt:
			return im.errorf("%s: dimension %d is %d; want 1 to %d", where, i+1, d.Value, spec.MaxInt)
		default:
			chw[i] = int(d.Value)
		}
	}
	im.input = &act{tensor: spec.InputName, rank: 4, c: chw[0], h: chw[1], w: chw[2]}
	im.values[vi.Name] = &value{a: im.input}
	return nil
}

func dimsText(ds []onnx.Dim, has bool) string {
	if !has {
		return "unknown"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// checkDeclared compares the computed output with the shape the graph
// declares, where it declares one.
func checkDeclared(vi *onnx.ValueInfo, a *act, batch int64) error {
	if !vi.HasShape {
		return nil
	}
	want := []int{a.c, a.h, a.w}
	if a.rank == 2 {
		want = want[:1]
	}
	if len(vi.Dims) != len(want)+1 {
		return fmt.Errorf("declared shape %s, computed %s", dimsText(vi.Dims, true), a.dims())
	}
	for i, d := range vi.Dims {
		if !d.Known {
			continue
		}
		if i == 0 {
			if batch != batchSym && d.Value != batch {
				return fmt.Errorf("declared batch %d, input batch %d", d.Value, batch)
			}
			continue
		}
		if d.Value != int64(want[i-1]) {
			return fmt.Errorf("declared shape %s, computed %s", dimsText(vi.Dims, true), a.dims())
		}
	}
	return nil
}

// sortNodes orders the nodes so that every value is defined before it is
// used, refusing dangling inputs, values defined twice and cycles.
func (im *importer) sortNodes(g *onnx.Graph) ([]*onnx.Node, error) {
	producer := map[string]*onnx.Node{}
	for _, n := range g.Nodes {
		for _, out := range n.Outputs {
			if out == "" {
				continue
			}
			if _, ok := im.values[out]; ok {
				im.node = n
				return nil, im.errorf("output %q is also a graph input or initializer", out)
			}
			if p := producer[out]; p != nil {
				im.node = n
				return nil, im.errorf("output %q is also produced by %s", out, p)
			}
			producer[out] = n
		}
	}
	deps := make([]int, len(g.Nodes))
	users := map[*onnx.Node][]*onnx.Node{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in == "" {
				continue // an omitted optional input
			}
			if _, ok := im.values[in]; ok {
				continue
			}
			p := producer[in]
			if p == nil {
				im.node = n
				return nil, im.errorf("input %q is not defined (no graph input, initializer or node output has that name)", in)
			}
			deps[n.Index]++
			users[p] = append(users[p], n)
		}
	}
	// Kahn's algorithm taking the earliest ready node first, so a graph
	// already in order (as exporters write them) keeps its order.
	var order []*onnx.Node
	ready := &nodeHeap{}
	for _, n := range g.Nodes {
		if deps[n.Index] == 0 {
			heap.Push(ready, n)
		}
	}
	for ready.Len() > 0 {
		n := heap.Pop(ready).(*onnx.Node)
		order = append(order, n)
		for _, u := range users[n] {
			if deps[u.Index]--; deps[u.Index] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	if len(order) < len(g.Nodes) {
		for _, n := range g.Nodes {
			if deps[n.Index] > 0 {
				im.node = n
				return nil, im.errorf("the graph has a cycle through this node (its inputs depend on its own outputs)")
			}
		}
	}
	im.node = nil
	return order, nil
}

// konstOf checks a tensor's data and makes it a constant.
func (im *importer) konstOf(t *onnx.Tensor, what string) (*konst, error) {
	k := &konst{dtype: t.DataType, dims: t.Dims}
	switch {
	case t.DataType.IsFloat():
		k.dtype = onnx.Float
		k.f = t.Floats
		if k.f == nil {
			k.f = []float32{}
		}
	case t.DataType.IsInt():
		k.i = t.Ints
		if k.i == nil {
			k.i = []int64{}
		}
	default:
		return nil, im.errorf("%s: data type %s is not supported", what, t.DataType)
	}
	if k.len() != t.Len() {
		return nil, im.errorf("%s: holds %d values; dims %v need %d", what, k.len(), t.Dims, t.Len())
	}
	if !boundedDims(k.dims) {
		return nil, im.errorf("%s: dims %v are too large", what, k.dims)
	}
	return k, nil
}

var badNameChar = regexp.MustCompile(`[^A-Za-z0-9_.]+`)

// modulePath reads the PyTorch module path from a node name written by
// torch.onnx.export ("/layer1/layer1.0/conv1/Conv" → "layer1.0.conv1") and
// the op part ("Conv"). Other names give "" and the name.
func modulePath(name string) (path, op string) {
	if !strings.HasPrefix(name, "/") {
		return "", name
	}
	segs := strings.Split(name[1:], "/")
	op = segs[len(segs)-1]
	for _, s := range segs[:len(segs)-1] {
		switch {
		case path == "":
			path = s
		case strings.HasPrefix(s, path+"."):
			path = s
		default:
			path += "." + s
		}
	}
	return path, op
}

// layerName derives a spec name for the layer a node emits. Layers with
// parameters take the module path (the state_dict prefix), or the prefix of
// their weight initializer's name ("fc.weight" → "fc"); other layers add
// their op ("layer1.0.add"). Names are made valid and unique.
func (im *importer) layerName(n *onnx.Node, kind string, weight string) string {
	path, op := modulePath(n.Name)
	var name string
	switch {
	case weight != "" && strings.HasSuffix(weight, ".weight") && !strings.Contains(weight, "::"):
		name = strings.TrimSuffix(weight, ".weight")
	case path != "" && (weight != "" || im.soleLayer[path]):
		name = path
	case path != "":
		name = path + "." + strings.ToLower(op)
	case op != "" && !strings.Contains(op, "::"):
		name = strings.ToLower(op)
	default:
		name = kind
	}
	return im.uniqueName(name, kind)
}

// emitting are the op types that may become a layer.
var emitting = map[string]bool{"Conv": true, "ConvTranspose": true, "BatchNormalization": true, "Relu": true, "Sigmoid": true,
	"Add": true, "Sum": true, "MaxPool": true, "AveragePool": true, "GlobalAveragePool": true, "Flatten": true, "Reshape": true,
	"Gemm": true, "MatMul": true, "Concat": true, "Resize": true, "Upsample": true, "Softmax": true}

// findSoleLayers marks the module paths of leaf modules (no other module
// inside them) with one op that may become a layer: such a layer takes the
// module's name ("avgpool", not "avgpool.globalaveragepool").
func (im *importer) findSoleLayers(nodes []*onnx.Node) {
	count := map[string]int{}
	var paths []string
	for _, n := range nodes {
		p, _ := modulePath(n.Name)
		if p == "" {
			continue
		}
		if _, seen := count[p]; !seen {
			paths = append(paths, p)
			count[p] = 0
		}
		if emitting[n.OpType] {
			count[p]++
		}
	}
	outer := map[string]bool{} // paths with a module inside them
	for _, p := range paths {
		for i := range len(p) {
			if p[i] == '.' {
				outer[p[:i]] = true
			}
		}
	}
	im.soleLayer = map[string]bool{}
	for _, p := range paths {
		inner := outer[p]
		im.soleLayer[p] = count[p] == 1 && !inner
	}
}

func (im *importer) uniqueName(name, kind string) string {
	name = badNameChar.ReplaceAllString(name, "_")
	parts := strings.Split(name, ".")
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	name = strings.Join(keep, ".")
	if name == "" {
		name = kind
	}
	base := name
	for i := 2; im.names[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	im.names[name] = true
	return name
}

// emit appends a layer reading from the activations ins and returns it;
// its output has the shape of ins[0] until the caller sets it.
func (im *importer) emit(in *act, op, name string, more []*act) *layer {
	l := &layer{name: name, op: op, node: im.node}
	l.from = append(l.from, in.tensor)
	for _, a := range more {
		l.from = append(l.from, a.tensor)
	}
	out := *in
	out.tensor, out.layer, out.src, out.pending = name, l, nil, false
	l.out = &out
	im.layers = append(im.layers, l)
	return l
}

// param records a weight under the layer's key.
func (im *importer) param(l *layer, suffix string, shape []int, data []float32) {
	key := l.name + "." + suffix
	im.weights[key] = &tensor{shape: shape, data: data}
	im.keys = append(im.keys, key)
	l.params = append(l.params, key)
}

// result writes the spec and the weights and checks them against each
// other through the compiler's own parser and lowering.
func (im *importer) result(opt Options) (*Result, error) {
	name := opt.Name
	if name == "" {
		base := im.file
		if i := strings.LastIndexAny(base, `/\`); i >= 0 {
			base = base[i+1:]
		}
		base = strings.TrimSuffix(base, ".onnx")
		name = strings.ToLower(badNameChar.ReplaceAllString(strings.ReplaceAll(base, ".", "_"), "_"))
		name = strings.ReplaceAll(name, "-", "_")
		if name == "" || name[0] >= '0' && name[0] <= '9' || token.IsKeyword(name) {
			name = "model_" + name
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# resgen spec imported from %s by resgen import; edit freely.\n", baseName(im.file))
	fmt.Fprintf(&b, "# Layer names come from the ONNX node names (PyTorch module paths where\n# the exporter kept them); weights.safetensors holds their tensors.\n")
	fmt.Fprintf(&b, "resgen: 1\nname: %s\n", name)
	fmt.Fprintf(&b, "input: {channels: %d, height: %d, width: %d}\n\nlayers:\n", im.input.c, im.input.h, im.input.w)
	prev := spec.InputName
	for _, l := range im.layers {
		var parts []string
		parts = append(parts, "name: "+l.name, "op: "+l.op)
		for _, f := range l.fields {
			parts = append(parts, f.key+": "+f.val)
		}
		if len(l.from) != 1 || l.from[0] != prev {
			if len(l.from) == 1 {
				parts = append(parts, "from: "+l.from[0])
			} else {
				parts = append(parts, "from: ["+strings.Join(l.from, ", ")+"]")
			}
		}
		fmt.Fprintf(&b, "  - {%s}\n", strings.Join(parts, ", "))
		prev = l.name
	}
	if im.output.tensor != prev {
		fmt.Fprintf(&b, "output: %s\n", im.output.tensor)
	}
	text := b.Bytes()
	weights, params, err := im.safetensors()
	if err != nil {
		return nil, err
	}
	if err := im.selfCheck(text); err != nil {
		return nil, err
	}
	return &Result{Spec: text, Weights: weights, Layers: len(im.layers), Params: params}, nil
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// selfCheck parses and lowers the spec, then matches the parameters the
// compiler reads with the tensors written, and the output shape.
func (im *importer) selfCheck(text []byte) error {
	s, err := spec.Parse("spec.yaml", text)
	if err != nil {
		return im.errorf("internal error: the spec written does not parse: %v", err)
	}
	g, err := ir.Lower(s)
	if err != nil {
		return im.errorf("the spec written does not compile: %v", err)
	}
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		for _, p := range ir.Params(n.Op) {
			t := im.weights[p.Key]
			if t == nil {
				return im.errorf("internal error: layer %s reads %s, which was not written", n.Name, p.Key)
			}
			if fmt.Sprint(t.shape) != fmt.Sprint(p.Shape) {
				return im.errorf("internal error: %s has shape %v, the compiler expects %v", p.Key, t.shape, p.Shape)
			}
			seen[p.Key] = true
		}
	}
	for _, k := range im.keys {
		if !seen[k] {
			return im.errorf("internal error: weight %s is not read by the spec", k)
		}
	}
	o := g.Output.Shape
	if o.C != im.output.c || o.H != im.output.h || o.W != im.output.w {
		return im.errorf("internal error: the spec's output is %s, the model's %s", o, im.output.dims())
	}
	return nil
}

// safetensors writes the weights, F32, keys sorted.
func (im *importer) safetensors() ([]byte, int64, error) {
	keys := append([]string(nil), im.keys...)
	sort.Strings(keys)
	var header bytes.Buffer
	header.WriteByte('{')
	off, params := 0, int64(0)
	for i, k := range keys {
		t := im.weights[k]
		if i > 0 {
			header.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		sb, _ := json.Marshal(t.shape)
		fmt.Fprintf(&header, `%s:{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}`, kb, sb, off, off+4*len(t.data))
		off += 4 * len(t.data)
		params += int64(len(t.data))
	}
	header.WriteByte('}')
	for header.Len()%8 != 0 {
		header.WriteByte(' ')
	}
	out := make([]byte, 8, 8+header.Len()+off)
	binary.LittleEndian.PutUint64(out, uint64(header.Len()))
	out = append(out, header.Bytes()...)
	for _, k := range keys {
		for _, x := range im.weights[k].data {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
		}
	}
	return out, params, nil
}

type nodeHeap []*onnx.Node

func (h nodeHeap) Len() int           { return len(h) }
func (h nodeHeap) Less(i, j int) bool { return h[i].Index < h[j].Index }
func (h nodeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)        { *h = append(*h, x.(*onnx.Node)) }
func (h *nodeHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

// boundedDims reports whether the product of the non-zero dims is at most
// onnx.MaxElements: an empty tensor may not declare dims whose loops would
// never end ([2³¹, 2³¹, 0]).
func boundedDims(dims []int64) bool {
	n := int64(1)
	for _, d := range dims {
		if d < 0 || d > onnx.MaxDim {
			return false
		}
		if d > 0 {
			n *= d
			if n > onnx.MaxElements {
				return false
			}
		}
	}
	return true
}
