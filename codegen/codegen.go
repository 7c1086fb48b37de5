// Package codegen emits the Go package of a compiled graph.
//
// It reads the final IR and never changes it. Emission is a fixed sequence
// of small gen functions, one per construct (header, shapes, model type, New,
// Forward, one statement per node); the result is gofmt'ed and the same
// bytes for the same graph.
package codegen

import (
	"bytes"
	"fmt"
	"go/format"
	"go/token"
	"sort"
	"strings"
	"unicode"

	"github.com/dave/jennifer/jen"
	"github.com/resgen/resgen/internal/winomat"
	"github.com/resgen/resgen/ir"
)

const rtPath = "github.com/resgen/resgen/runtime"

// Options says what to emit.
type Options struct {
	Package string // Go package name; validated
	Source  string // the spec's path as written into the header (slash-separated)
	Version string // resgen version for the header
	Embed   string // file (relative to the package directory) to embed, or ""
}

// stageSize is how many nodes one forward stage function holds. Splitting
// Forward keeps compile time linear in depth for networks such as
// ResNet-1202, while each stage is still straight-line calls.
const stageSize = 64

// forwardStages cuts nodes into the forward stages, stageSize nodes each.
func forwardStages(nodes []*ir.Node) [][]*ir.Node {
	var st [][]*ir.Node
	for i := 0; i < len(nodes); i += stageSize {
		st = append(st, nodes[i:min(i+stageSize, len(nodes))])
	}
	return st
}

// Generate returns the package's files by name.
func Generate(g *ir.Graph, opt Options) (map[string][]byte, error) {
	if err := ValidPackageName(opt.Package); err != nil {
		return nil, err
	}
	if g.Memory == nil {
		return nil, fmt.Errorf("codegen: graph has no memory plan (run the pipeline first)")
	}
	e := newEmitter(g)
	files := map[string][]byte{}
	model := jen.NewFile(opt.Package)
	e.genHeader(model, opt)
	e.genShapes(model)
	e.genModel(model)
	e.genOptions(model)
	e.genNew(model)
	e.genForward(model)
	src, err := render(model)
	if err != nil {
		return nil, err
	}
	files["model.go"] = src
	if opt.Embed != "" {
		emb := jen.NewFile(opt.Package)
		genEmbed(emb, opt)
		src, err := render(emb)
		if err != nil {
			return nil, err
		}
		files["embed.go"] = src
	}
	if err := addPreprocess(files, g, opt); err != nil {
		return nil, err
	}
	return files, nil
}

// ValidPackageName reports whether name can be the generated package's name.
func ValidPackageName(name string) error {
	if name == "" {
		return fmt.Errorf("package name is empty")
	}
	if !token.IsIdentifier(name) || name == "_" {
		return fmt.Errorf("package name %q is not a Go identifier", name)
	}
	if name == "main" {
		return fmt.Errorf("package name %q: the generated code is a library, not a command", name)
	}
	for _, r := range name {
		if r > unicode.MaxASCII {
			return fmt.Errorf("package name %q: use ASCII letters, digits and _", name)
		}
	}
	return nil
}

// PackageName turns a spec name such as "cifar-resnet20" into a package
// name in Go style ("cifarresnet20"): lower-case letters and digits only, not
// starting with a digit; "model" if nothing usable is left.
func PackageName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' && b.Len() > 0 {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s == "" || token.IsKeyword(s) || ValidPackageName(s) != nil {
		return "model"
	}
	return s
}

func render(f *jen.File) ([]byte, error) {
	var buf bytes.Buffer
	if err := f.Render(&buf); err != nil {
		return nil, fmt.Errorf("codegen: %v", err)
	}
	out, err := format.Source(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("codegen: generated code does not parse (a resgen bug): %v", err)
	}
	return out, nil
}

type emitter struct {
	g      *ir.Graph
	fields map[*ir.Node]string // kernel field of each node with weights
	order  []*ir.Node          // nodes with fields, in schedule order

	params, macs int64 // totals of the network
}

func newEmitter(g *ir.Graph) *emitter {
	e := &emitter{g: g, fields: map[*ir.Node]string{}}
	used := map[string]bool{"mu": true, "pool": true, "arena": true}
	for _, n := range g.Nodes {
		e.params += ir.TrainableParams(n.Op)
		e.macs += ir.MACs(n)
	}
	for _, n := range g.Nodes {
		switch n.Op.(type) {
		case *ir.Conv, *ir.ConvTranspose, *ir.Affine:
		default:
			continue
		}
		base := identFor(n.Name)
		name := base
		for i := 2; used[name] || used[name+"Scale"] || used[name+"Shift"]; i++ {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		used[name], used[name+"Scale"], used[name+"Shift"] = true, true, true
		e.fields[n] = name
		e.order = append(e.order, n)
	}
	return e
}

// identFor makes an unexported Go identifier from a layer name: letters and
// digits kept, everything else "_", prefixed so it never starts with a digit
// or collides with a keyword.
func identFor(name string) string {
	var b strings.Builder
	b.WriteString("l_")
	for _, r := range name {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// commentText makes arbitrary text (layer names come from the spec) safe in
// a line comment: no newlines or other control characters.
func commentText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

func (e *emitter) genHeader(f *jen.File, opt Options) {
	v := opt.Version
	if v == "" {
		v = "devel"
	}
	f.HeaderComment(fmt.Sprintf("Code generated by resgen %s from %s. DO NOT EDIT.", commentText(v), commentText(opt.Source)))
	f.ImportAlias(rtPath, "rt")
	params, macs := e.params, e.macs
	in, out := e.g.Input.Shape, e.g.Output.Shape
	doc := fmt.Sprintf("Package %s runs the network %q, compiled by resgen from %s.\n\n"+
		"Input: %d×%d×%d per item (NCHW float32). Output: %s per item.\n"+
		"Parameters: %d. Multiply-accumulates per item: %d. Activation memory: %d bytes.\n\n"+
		"Create a Model with New (safetensors bytes of the PyTorch state_dict) or Load\n"+
		"(a file path), then call Forward.",
		opt.Package, commentText(e.g.Name), commentText(opt.Source), in.C, in.H, in.W, shapeText(out), params, macs, e.g.Memory.PeakBytes())
	for _, line := range strings.Split(doc, "\n") {
		f.PackageComment(line)
	}
	addComment(f, "The generated code and the runtime it calls must agree; this fails to\ncompile if the runtime in go.mod is too old or too new for it.")
	f.Const().Id("_").Op("=").Qual(rtPath, "Version1")
}

func shapeText(s ir.Shape) string {
	if s.H == 1 && s.W == 1 {
		return fmt.Sprint(s.C)
	}
	return fmt.Sprintf("%d×%d×%d", s.C, s.H, s.W)
}

func (e *emitter) genShapes(f *jen.File) {
	in, out := e.g.Input.Shape, e.g.Output.Shape
	addComment(f, "InputShape is the shape of one input item: channels, height, width.\nForward reads items in this (NCHW) order.")
	f.Var().Id("InputShape").Op("=").Index(jen.Lit(3)).Int().Values(jen.Lit(in.C), jen.Lit(in.H), jen.Lit(in.W))
	if out.H == 1 && out.W == 1 {
		addComment(f, "OutputShape is the shape of one output item: one value per class.")
		f.Var().Id("OutputShape").Op("=").Index().Int().Values(jen.Lit(out.C))
	} else {
		addComment(f, "OutputShape is the shape of one output item: channels, height, width\n(NCHW order, as PyTorch).")
		f.Var().Id("OutputShape").Op("=").Index().Int().Values(jen.Lit(out.C), jen.Lit(out.H), jen.Lit(out.W))
	}
	f.Const().Defs(
		jen.Comment("InputLen is the number of float32 values of one input item."),
		jen.Id("InputLen").Op("=").Lit(in.Len()),
		jen.Comment("OutputLen is the number of float32 values of one output item."),
		jen.Id("OutputLen").Op("=").Lit(out.Len()),
		jen.Comment("ArenaBytes is the activation memory a Model holds for Forward."),
		jen.Id("ArenaBytes").Op("=").Lit(e.g.Memory.PeakBytes()),
		jen.Comment("Params is the number of trainable parameters (as PyTorch counts them)."),
		jen.Id("Params").Op("=").Lit(e.params),
		jen.Comment("MACs is the number of multiply-accumulates of one item."),
		jen.Id("MACs").Op("=").Lit(e.macs),
	)
}

func (e *emitter) genModel(f *jen.File) {
	fields := []jen.Code{
		jen.Id("mu").Qual("sync", "Mutex").Comment("Forward uses one arena; calls take turns"),
		jen.Id("pool").Op("*").Qual(rtPath, "Pool"),
		jen.Id("arena").Index().Float32(),
	}
	if e.batched() {
		fields = append(fields, jen.Id("batch").Index().Float32().Comment("the arena for batchItems items, grown on first use"))
	}
	fields = append(fields, jen.Line())
	for _, n := range e.order {
		name := e.fields[n]
		c := jen.Comment(commentText(n.Name))
		switch n.Op.(type) {
		case *ir.Conv:
			fields = append(fields, jen.Id(name).Op("*").Qual(rtPath, "Conv2D").Add(c))
		case *ir.ConvTranspose:
			fields = append(fields, jen.Id(name).Op("*").Qual(rtPath, "ConvTranspose2D").Add(c))
		case *ir.Affine:
			fields = append(fields, jen.List(jen.Id(name+"Scale"), jen.Id(name+"Shift")).Index().Float32().Add(c))
		}
	}
	addComment(f, "Model is the network with its weights loaded and packed. Forward may be\ncalled from several goroutines; calls on one Model run one at a time.")
	f.Type().Id("Model").Struct(fields...)
}

func (e *emitter) genOptions(f *jen.File) {
	addComment(f, "An Option configures New, Load and NewEmbedded.")
	f.Type().Id("Option").Func().Params(jen.Op("*").Id("options"))
	f.Type().Id("options").Struct(jen.Id("threads").Int())
	addComment(f, "WithThreads sets how many threads Forward uses. The default, 0, means\nGOMAXPROCS. Results are identical for every thread count.")
	f.Func().Id("WithThreads").Params(jen.Id("n").Int()).Id("Option").Block(
		jen.Return(jen.Func().Params(jen.Id("o").Op("*").Id("options")).Block(jen.Id("o").Dot("threads").Op("=").Id("n"))),
	)
}

func (e *emitter) genNew(f *jen.File) {
	addComment(f, "Load reads a safetensors or torch.save (.pth) file of the PyTorch\nstate_dict (DataParallel's module. prefix dropped) and calls New.")
	f.Func().Id("Load").Params(jen.Id("path").String(), jen.Id("opts").Op("...").Id("Option")).Params(jen.Op("*").Id("Model"), jen.Error()).Block(
		jen.List(jen.Id("b"), jen.Err()).Op(":=").Qual("os", "ReadFile").Call(jen.Id("path")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
		jen.List(jen.Id("m"), jen.Err()).Op(":=").Id("New").Call(jen.Id("b"), jen.Id("opts").Op("...")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(jen.Lit("%s: %w"), jen.Id("path"), jen.Err()))),
		jen.Return(jen.Id("m"), jen.Nil()),
	)

	body := []jen.Code{
		jen.Id("o").Op(":=").Id("options").Values(),
		jen.For(jen.List(jen.Id("_"), jen.Id("opt")).Op(":=").Range().Id("opts")).Block(jen.Id("opt").Call(jen.Op("&").Id("o"))),
		jen.List(jen.Id("l"), jen.Err()).Op(":=").Qual(rtPath, "NewLoader").Call(jen.Id("weights")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
		jen.Id("m").Op(":=").Op("&").Id("Model").Values(jen.Dict{
			jen.Id("arena"): jen.Make(jen.Index().Float32(), jen.Lit(e.g.Memory.ArenaLen)),
		}),
	}
	for _, n := range e.order {
		body = append(body, e.genLoad(n))
	}
	body = append(body,
		jen.If(jen.Err().Op(":=").Id("l").Dot("Err").Call(), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
		jen.Id("m").Dot("pool").Op("=").Qual(rtPath, "NewPool").Call(jen.Id("o").Dot("threads")),
		jen.Return(jen.Id("m"), jen.Nil()),
	)
	addComment(f, "New builds a Model from the bytes of a safetensors or torch.save (.pth)\nfile holding the PyTorch state_dict (told apart by content; a .pth is read\nby an allowlisted unpickler that runs no code). Every tensor the network\nneeds is checked for presence, dtype (F32, F16 or BF16) and shape; the error\nnames each one that is wrong. Other tensors, such as num_batches_tracked, are\nignored.")
	f.Func().Id("New").Params(jen.Id("weights").Index().Byte(), jen.Id("opts").Op("...").Id("Option")).Params(jen.Op("*").Id("Model"), jen.Error()).Block(body...)

	addComment(f, "Close stops the Model's worker threads. The Model must not be used after.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Close").Params().Block(
		jen.Id("m").Dot("mu").Dot("Lock").Call(),
		jen.Defer().Id("m").Dot("mu").Dot("Unlock").Call(),
		jen.Id("m").Dot("pool").Dot("Close").Call(),
	)
}

// keyed renders alternating field names and values as a one-line keyed
// composite literal body, in the order given.
func keyed(kv ...any) []jen.Code {
	var out []jen.Code
	for i := 0; i < len(kv); i += 2 {
		v, ok := kv[i+1].(jen.Code)
		if !ok {
			v = jen.Lit(kv[i+1])
		}
		out = append(out, jen.Id(kv[i].(string)).Op(":").Add(v))
	}
	return out
}

// comment adds text as // line comments (jennifer would turn a multi-line
// comment into a /* */ block).
func comment(text string) []jen.Code {
	var out []jen.Code
	for _, line := range strings.Split(text, "\n") {
		out = append(out, jen.Comment(line))
	}
	return out
}

func addComment(f *jen.File, text string) {
	for _, c := range comment(text) {
		f.Add(c)
	}
}

func actCode(a ir.Act) jen.Code {
	if a == ir.ActReLU {
		return jen.Qual(rtPath, "ActReLU")
	}
	return jen.Qual(rtPath, "ActNone")
}

// convConfig is the runtime's ConvConfig or ConvTransposeConfig literal
// for node n: its shapes and the given window (the transposed config's
// output padding is implied by its output shape).
func convConfig(typ string, n *ir.Node, kh, kw, sh, sw, ph, pw, dh, dw, groups int, act ir.Act, more ...any) jen.Code {
	in, out := n.Inputs[0].Shape, n.Shape
	return jen.Qual(rtPath, typ).Values(keyed(append([]any{
		"InC", in.C, "InH", in.H, "InW", in.W, "OutC", out.C, "OutH", out.H, "OutW", out.W,
		"KH", kh, "KW", kw, "StrideH", sh, "StrideW", sw, "PadH", ph, "PadW", pw,
		"DilH", dh, "DilW", dw, "Groups", groups, "Act", actCode(act)}, more...)...)...)
}

func (e *emitter) genLoad(n *ir.Node) jen.Code {
	name := e.fields[n]
	switch op := n.Op.(type) {
	case *ir.Conv:
		var more []any
		if op.Winograd != 0 {
			more = []any{"Winograd", op.Winograd}
		}
		if n.Pitch != 0 {
			more = append(more, "OutPitch", n.Pitch)
		}
		cfg := convConfig("ConvConfig", n, op.KH, op.KW, op.StrideH, op.StrideW, op.PadH, op.PadW, op.DilH, op.DilW, op.Groups, op.Act, more...)
		p := []any{"Weight", op.Weight.Key}
		if op.Bias != nil {
			p = append(p, "Bias", op.Bias.Key)
		}
		if op.Linear {
			p = append(p, "Linear", true)
		}
		if op.BN != nil {
			p = append(p, "BN", op.BN.Prefix, "Eps", op.BN.Eps)
		}
		return jen.Id("m").Dot(name).Op("=").Id("l").Dot("Conv2D").Call(jen.Lit(n.Name), cfg, jen.Qual(rtPath, "ConvParams").Values(keyed(p...)...))
	case *ir.ConvTranspose:
		var more []any
		if n.Pitch != 0 {
			more = []any{"OutPitch", n.Pitch}
		}
		cfg := convConfig("ConvTransposeConfig", n, op.KH, op.KW, op.StrideH, op.StrideW, op.PadH, op.PadW, op.DilH, op.DilW, op.Groups, op.Act, more...)
		bias := ""
		if op.Bias != nil {
			bias = op.Bias.Key
		}
		return jen.Id("m").Dot(name).Op("=").Id("l").Dot("ConvTranspose2D").Call(jen.Lit(n.Name), cfg, jen.Lit(op.Weight.Key), jen.Lit(bias))
	case *ir.Affine:
		return jen.List(jen.Id("m").Dot(name+"Scale"), jen.Id("m").Dot(name+"Shift")).Op("=").
			Id("l").Dot("BatchNorm").Call(jen.Lit(op.BN.Prefix), jen.Lit(op.BN.C), jen.Lit(op.BN.Eps))
	}
	panic(fmt.Sprintf("codegen: no loader for %T", n.Op))
}

func (e *emitter) genForward(f *jen.File) {
	addComment(f, "Forward runs the network on a batch: src holds N items of InputLen values\n(NCHW), dst receives N items of OutputLen values. N is len(src)/InputLen;\nlen(dst) must be N*OutputLen.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Forward").Params(jen.List(jen.Id("dst"), jen.Id("src")).Index().Float32()).Error().Block(
		jen.If(jen.Len(jen.Id("src")).Op("==").Lit(0).Op("||").Len(jen.Id("src")).Op("%").Id("InputLen").Op("!=").Lit(0)).Block(
			jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(e.g.Name+": Forward: len(src) = %d, want a positive multiple of InputLen (%d)"), jen.Len(jen.Id("src")), jen.Id("InputLen"))),
		),
		jen.Id("n").Op(":=").Len(jen.Id("src")).Op("/").Id("InputLen"),
		jen.If(jen.Len(jen.Id("dst")).Op("!=").Id("n").Op("*").Id("OutputLen")).Block(
			jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(e.g.Name+": Forward: len(dst) = %d, want %d (%d items of OutputLen %d)"), jen.Len(jen.Id("dst")), jen.Id("n").Op("*").Id("OutputLen"), jen.Id("n"), jen.Id("OutputLen"))),
		),
		jen.Id("m").Dot("mu").Dot("Lock").Call(),
		jen.Defer().Id("m").Dot("mu").Dot("Unlock").Call(),
		e.forwardLoop(),
		jen.Return(jen.Nil()),
	)
	if e.batched() {
		e.genForwardBatch(f)
	}

	stages := forwardStages(e.g.Nodes)
	var calls []jen.Code
	for i := range stages {
		calls = append(calls, jen.Id("m").Dot(fmt.Sprintf("stage%d", i)).Call(jen.Id("src")))
	}
	out := e.g.Output
	calls = append(calls, jen.Qual(rtPath, "NHWCToNCHW").Call(jen.Id("dst"), e.buf(jen.Id("m").Dot("arena"), out), jen.Lit(out.Shape.C), jen.Lit(out.Shape.H), jen.Lit(out.Shape.W)))
	addComment(f, "forward runs one item: each stage is straight-line kernel calls on\nslices of the arena fixed by the memory plan.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("forward").Params(jen.List(jen.Id("dst"), jen.Id("src")).Index().Float32()).Block(calls...)

	for i, st := range stages {
		body := []jen.Code{jen.Id("a").Op(":=").Id("m").Dot("arena")}
		usesPool := false
		for _, n := range st {
			stmt, pool := e.genNode(n)
			usesPool = usesPool || pool
			body = append(body, jen.Comment(e.describe(n)), stmt)
		}
		if usesPool {
			body = append([]jen.Code{jen.Id("p").Op(":=").Id("m").Dot("pool")}, body...)
		}
		f.Line()
		f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id(fmt.Sprintf("stage%d", i)).Params(jen.Id("src").Index().Float32()).Block(body...)
	}
}

// batchItems is how many items the generated forwardBatch runs at once.
const batchItems = 8

// batched reports whether the network has layers that run faster over
// several items at once (batchConv). Only then does Forward run batches
// through forwardBatch.
func (e *emitter) batched() bool {
	for _, n := range e.g.Nodes {
		if batchConv(n) {
			return true
		}
	}
	return false
}

// batchConv reports whether n is a convolution that forwardBatch runs over
// all items at once (Conv2D.ForwardBatch), because that is faster than one
// item at a time:
//
//   - a direct convolution whose weights per group exceed
//     batchWeightBytes (which runtime then runs panel by panel across the
//     items, reading each panel from memory once per batch instead of
//     once per item);
//   - a Winograd convolution whose transformed weights exceed
//     batchWinogradBytes, or whose item has too few tiles for two blocks of
//     winomat.Block's size (a batch's tiles then fill the blocks, so the
//     GEMMs are longer and both threads have work).
func batchConv(n *ir.Node) bool {
	c, ok := n.Op.(*ir.Conv)
	if !ok || c.Linear {
		return false
	}
	in, out := n.Inputs[0].Shape, n.Shape
	if m := c.Winograd; m != 0 {
		a := m + 2
		full := winomat.Block(1<<30, a, in.C, c.Out)
		return a*a*in.C*c.Out*4 > batchWinogradBytes || ir.WinogradTiles(out, m) < 2*full
	}
	// Per group, as runtime decides: a grouped convolution's groups run
	// one after another, each with its own weights.
	return c.KH*c.KW*(in.C/c.Groups)*(c.Out/c.Groups)*4 > batchWeightBytes
}

// batchWeightBytes is the weight size above which a convolution gains from
// running a batch at once: runtime's threshold for running a direct
// convolution's weight panels in the outer loop. Other layers run item by
// item, several in a row for one item where the memory plan allows
// (itemRuns), so that an item's activations stay in cache from one layer
// to the next instead of all items' passing through memory.
const batchWeightBytes = 512 << 10

// batchWinogradBytes is the same for transformed weights, which every block
// of tiles reads: up to a core's L2 (1 MB on Zen 4), one item's blocks
// re-read them from there. Measured on resnet50 at batch 8 (1 thread, Zen
// 4, alternating runs): item-major runs with layer1's 590 KB F(4,3) convs
// among them took a median 553 ms per batch, against 567 ms before runs.
const batchWinogradBytes = 1 << 20

// forwardLoop is Forward's loop over the items of src.
func (e *emitter) forwardLoop() jen.Code {
	item := func(buf, n string, i jen.Code) jen.Code {
		return jen.Id(buf).Index(jen.Add(i).Op("*").Id(n).Op(":").Parens(jen.Add(i).Op("+").Lit(1)).Op("*").Id(n))
	}
	one := jen.Id("m").Dot("forward").Call(item("dst", "OutputLen", jen.Id("i")), item("src", "InputLen", jen.Id("i")))
	if !e.batched() {
		return jen.For(jen.Id("i").Op(":=").Lit(0), jen.Id("i").Op("<").Id("n"), jen.Id("i").Op("++")).Block(one)
	}
	return jen.For(jen.Id("i").Op(":=").Lit(0), jen.Id("i").Op("<").Id("n"), jen.Empty()).Block(
		jen.Id("k").Op(":=").Min(jen.Id("n").Op("-").Id("i"), jen.Id("batchItems")),
		jen.If(jen.Id("k").Op("==").Lit(1)).Block(one, jen.Id("i").Op("++"), jen.Continue()),
		jen.Id("m").Dot("forwardBatch").Call(jen.Id("k"),
			jen.Id("dst").Index(jen.Id("i").Op("*").Id("OutputLen").Op(":").Parens(jen.Id("i").Op("+").Id("k")).Op("*").Id("OutputLen")),
			jen.Id("src").Index(jen.Id("i").Op("*").Id("InputLen").Op(":").Parens(jen.Id("i").Op("+").Id("k")).Op("*").Id("InputLen"))),
		jen.Id("i").Op("+=").Id("k"),
	)
}

// genForwardBatch writes forwardBatch: the stages over k items at once.
// The arena for k items is the one-item plan with every offset and length
// scaled by k, so value v of item i is at k·offset + i·len. The
// convolutions of batchConv take all k items (Conv2D.ForwardBatch); the
// nodes between them run in loops over the items (itemRuns).
func (e *emitter) genForwardBatch(f *jen.File) {
	f.Line()
	f.Comment("batchItems is the most items forwardBatch runs at once.")
	f.Const().Id("batchItems").Op("=").Lit(batchItems)
	itemBuf := func(x *ir.Node) jen.Code {
		base, lo, hi, stride := e.itemLayout(x)
		at := func() *jen.Statement { return jen.Id("k").Op("*").Lit(base).Op("+").Id("i").Op("*").Lit(stride) }
		if x.Pitch == 0 {
			return jen.Id("a").Index(at().Op(":").Id("k").Op("*").Lit(base).Op("+").Parens(jen.Id("i").Op("+").Lit(1)).Op("*").Lit(stride))
		}
		// Inside item i of the concat it is written into.
		return jen.Id("a").Index(at().Op("+").Lit(lo).Op(":").Add(at()).Op("+").Lit(hi))
	}
	allBuf := func(x *ir.Node) jen.Code {
		b := e.g.Memory.Buffers[x.Buf]
		if x.Pitch != 0 {
			// k items of the concat it is written into, from x's first
			// channel to its last item's last.
			l := x.Shape.H * x.Shape.W * x.Pitch
			return jen.Id("a").Index(jen.Id("k").Op("*").Lit(b.Offset).Op("+").Lit(x.BufOff).Op(":").
				Id("k").Op("*").Lit(b.Offset + l).Op("-").Lit(l - x.Extent()))
		}
		return jen.Id("a").Index(jen.Id("k").Op("*").Lit(b.Offset).Op(":").Id("k").Op("*").Lit(b.Offset + x.Shape.Len()))
	}
	var calls []jen.Code
	calls = append(calls, jen.If(jen.Len(jen.Id("m").Dot("batch")).Op("<").Id("k").Op("*").Lit(e.g.Memory.ArenaLen)).Block(
		jen.Id("m").Dot("batch").Op("=").Make(jen.Index().Float32(), jen.Id("batchItems").Op("*").Lit(e.g.Memory.ArenaLen)),
	))
	stages := forwardStages(e.g.Nodes)
	for i := range stages {
		calls = append(calls, jen.Id("m").Dot(fmt.Sprintf("batchStage%d", i)).Call(jen.Id("k"), jen.Id("src")))
	}
	out := e.g.Output
	calls = append(calls, jen.Id("a").Op(":=").Id("m").Dot("batch"),
		jen.For(jen.Id("i").Op(":=").Lit(0), jen.Id("i").Op("<").Id("k"), jen.Id("i").Op("++")).Block(
			jen.Qual(rtPath, "NHWCToNCHW").Call(jen.Id("dst").Index(jen.Id("i").Op("*").Id("OutputLen").Op(":").Parens(jen.Id("i").Op("+").Lit(1)).Op("*").Id("OutputLen")),
				itemBuf(out), jen.Lit(out.Shape.C), jen.Lit(out.Shape.H), jen.Lit(out.Shape.W))))
	addComment(f, "forwardBatch runs k ≤ batchItems items: each convolution that gains from\na batch over all k at once, the layers between them one item at a time,\nwith results identical to k forward calls.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("forwardBatch").Params(jen.Id("k").Int(), jen.List(jen.Id("dst"), jen.Id("src")).Index().Float32()).Block(calls...)

	for si, st := range stages {
		body := []jen.Code{jen.Id("p").Op(":=").Id("m").Dot("pool"), jen.Id("a").Op(":=").Id("m").Dot("batch"), jen.Id("_").Op("=").Id("p")}
		for _, run := range e.itemRuns(st) {
			if n := run[0]; batchConv(n) {
				res := jen.Code(jen.Nil())
				if len(n.Inputs) > 1 {
					res = allBuf(n.Inputs[1])
				}
				body = append(body, jen.Comment(e.describe(n)),
					jen.Id("m").Dot(e.fields[n]).Dot("ForwardBatch").Call(jen.Id("p"), jen.Id("k"), allBuf(n), allBuf(n.Inputs[0]), res))
				continue
			}
			var loop []jen.Code
			for _, n := range run {
				src := jen.Id("src").Index(jen.Id("i").Op("*").Id("InputLen").Op(":").Parens(jen.Id("i").Op("+").Lit(1)).Op("*").Id("InputLen"))
				stmt, _ := e.genNodeWith(n, itemBuf, src)
				loop = append(loop, jen.Comment(e.describe(n)), stmt)
			}
			body = append(body, jen.For(jen.Id("i").Op(":=").Lit(0), jen.Id("i").Op("<").Id("k"), jen.Id("i").Op("++")).Block(loop...))
		}
		f.Line()
		f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id(fmt.Sprintf("batchStage%d", si)).Params(jen.Id("k").Int(), jen.Id("src").Index().Float32()).Block(body...)
	}
}

// itemLayout places value x in forwardBatch's arena for k items: item i
// holds it at k·base + i·stride + [lo, hi). A value written into a concat
// (Pitch) lies inside each item of the concat's buffer.
func (e *emitter) itemLayout(x *ir.Node) (base, lo, hi, stride int) {
	base = e.g.Memory.Buffers[x.Buf].Offset
	if x.Pitch != 0 {
		return base, x.BufOff, x.Extent(), x.Shape.H * x.Shape.W * x.Pitch
	}
	return base, 0, x.Shape.Len(), x.Shape.Len()
}

// itemRuns splits a stage of forwardBatch into runs: each batchConv alone,
// and between them maximal runs of other nodes that one loop over the items
// can run node after node for each item, instead of each node over all
// items. A run ends where that would break the memory plan: the batch
// arena keeps item i of value v at k·offset + i·len, so two values whose
// one-item ranges overlap (one reusing the other's memory) must have the
// same offset and length, or a later node of item i would overwrite what
// an earlier node of item i+1 has yet to read or write.
func (e *emitter) itemRuns(nodes []*ir.Node) [][]*ir.Node {
	var runs [][]*ir.Node
	var run []*ir.Node
	var touched []*ir.Node // values the run reads or writes
	flush := func() {
		if len(run) > 0 {
			runs = append(runs, run)
		}
		run, touched = nil, nil
	}
	for _, n := range nodes {
		if batchConv(n) {
			flush()
			runs = append(runs, []*ir.Node{n})
			continue
		}
		vals := append([]*ir.Node{n}, n.Inputs...)
		if !e.itemSafe(touched, vals) {
			flush()
		}
		run = append(run, n)
		touched = append(touched, vals...)
	}
	flush()
	return runs
}

// itemSafe reports whether values vals can join a run that touches values
// touched: no pair of them shares memory in the one-item plan unless both
// have the same range there, so each item's copies coincide.
func (e *emitter) itemSafe(touched, vals []*ir.Node) bool {
	span := func(x *ir.Node) (lo, hi, stride int) {
		base, lo, hi, stride := e.itemLayout(x)
		return base + lo, base + hi, stride
	}
	for _, v := range vals {
		vlo, vhi, vs := span(v)
		for _, t := range touched {
			tlo, thi, ts := span(t)
			if t == v || vhi <= tlo || thi <= vlo {
				continue
			}
			if vlo != tlo || vhi != thi || vs != ts {
				return false
			}
		}
	}
	return true
}

// describe is the comment above a node's statement: the layer, what was
// fused into it and where it was written.
func (e *emitter) describe(n *ir.Node) string {
	s := n.Name
	if len(n.Fused) > 0 {
		s += " + " + strings.Join(n.Fused, " + ")
	}
	switch op := n.Op.(type) {
	case *ir.Conv:
		if op.Linear {
			s += ": linear"
		} else {
			s += fmt.Sprintf(": conv2d %dx%d/%d", op.KH, op.KW, op.StrideH)
		}
	case *ir.ConvTranspose:
		s += fmt.Sprintf(": conv_transpose2d %dx%d/%d", op.KH, op.KW, op.StrideH)
	default:
		s += ": " + n.Op.Kind()
		if a := n.Op.Attrs(); a != "" {
			s += " " + a
		}
	}
	s += " -> " + n.Shape.String()
	if n.Pos.Line > 0 {
		s += fmt.Sprintf(" (%s)", n.Pos)
	}
	return commentText(s)
}

// buf is the arena slice of a node's value.
func (e *emitter) buf(arena *jen.Statement, n *ir.Node) jen.Code {
	b := e.g.Memory.Buffers[n.Buf]
	return arena.Clone().Index(jen.Lit(b.Offset + n.BufOff).Op(":").Lit(b.Offset + n.Extent()))
}

func (e *emitter) genNode(n *ir.Node) (code jen.Code, usesPool bool) {
	return e.genNodeWith(n, func(x *ir.Node) jen.Code { return e.buf(jen.Id("a"), x) }, jen.Id("src"))
}

// genNodeWith is genNode with buf giving each value's slice and src the
// input item's.
func (e *emitter) genNodeWith(n *ir.Node, buf func(*ir.Node) jen.Code, src jen.Code) (code jen.Code, usesPool bool) {
	dst := buf(n)
	in := func(i int) jen.Code { return buf(n.Inputs[i]) }
	s := n.Shape
	switch op := n.Op.(type) {
	case *ir.Input:
		return jen.Qual(rtPath, "NCHWToNHWCP").Call(jen.Id("p"), dst, src, jen.Lit(s.C), jen.Lit(s.H), jen.Lit(s.W)), true
	case *ir.Conv, *ir.ConvTranspose:
		res := jen.Code(jen.Nil())
		if len(n.Inputs) > 1 {
			res = in(1)
		}
		return jen.Id("m").Dot(e.fields[n]).Dot("Forward").Call(jen.Id("p"), dst, in(0), res), true
	case *ir.Affine:
		name := e.fields[n]
		return jen.Qual(rtPath, "Affine").Call(dst, in(0), jen.Lit(s.C), jen.Id("m").Dot(name+"Scale"), jen.Id("m").Dot(name+"Shift"), actCode(op.Act)), false
	case *ir.Add:
		if len(n.Inputs) == 2 {
			return jen.Qual(rtPath, "Add").Call(dst, in(0), in(1), actCode(op.Act)), false
		}
		var stmts []jen.Code
		stmts = append(stmts, jen.Qual(rtPath, "Add").Call(dst, in(0), in(1), actCode(ir.ActNone)))
		for i := 2; i < len(n.Inputs); i++ {
			act := ir.ActNone
			if i == len(n.Inputs)-1 {
				act = op.Act
			}
			stmts = append(stmts, jen.Qual(rtPath, "Add").Call(buf(n), buf(n), in(i), actCode(act)))
		}
		return jen.Block(stmts...), false
	case *ir.ReLU:
		return jen.Qual(rtPath, "ReLU").Call(dst, in(0)), false
	case *ir.Sigmoid:
		return jen.Qual(rtPath, "Sigmoid").Call(dst, in(0)), false
	case *ir.Softmax:
		return jen.Qual(rtPath, "Softmax").Call(dst, in(0), jen.Lit(s.C)), false
	case *ir.Pool:
		x := n.Inputs[0].Shape
		kv := []any{"C", s.C, "InH", x.H, "InW", x.W, "OutH", s.H, "OutW", s.W, "KH", op.KH, "KW", op.KW,
			"StrideH", op.StrideH, "StrideW", op.StrideW, "PadH", op.PadH, "PadW", op.PadW,
			"CountIncludePad", op.CountIncludePad}
		if p := n.Inputs[0].Pitch; p != 0 {
			kv = append(kv, "InPitch", p) // a skip connection written into its concat
		}
		cfg := jen.Qual(rtPath, "PoolConfig").Values(keyed(kv...)...)
		if op.Max {
			return jen.Qual(rtPath, "MaxPool2DP").Call(jen.Id("p"), dst, in(0), cfg), true
		}
		return jen.Qual(rtPath, "AvgPool2D").Call(dst, in(0), cfg), false
	case *ir.GlobalAvgPool:
		x := n.Inputs[0].Shape
		return jen.Qual(rtPath, "GlobalAvgPoolP").Call(jen.Id("p"), dst, in(0), jen.Lit(x.H*x.W), jen.Lit(x.C)), true
	case *ir.Concat:
		args := []jen.Code{jen.Id("p"), dst, jen.Lit(s.H * s.W)}
		copied := 0
		for i, x := range n.Inputs {
			if x.Pitch != 0 && x.Buf == n.Buf {
				// Written in place by its producer.
				args = append(args, jen.Qual(rtPath, "ConcatPart").Values(keyed("C", x.Shape.C)...))
				continue
			}
			copied++
			args = append(args, jen.Qual(rtPath, "ConcatPart").Values(keyed("Src", in(i), "C", x.Shape.C)...))
		}
		if copied == 0 {
			return jen.Comment("(every part was written in place by its producer)"), false
		}
		return jen.Qual(rtPath, "ConcatP").Call(args...), true
	case *ir.Flatten:
		x := n.Inputs[0].Shape
		return jen.Qual(rtPath, "Flatten").Call(dst, in(0), jen.Lit(x.H), jen.Lit(x.W), jen.Lit(x.C)), false
	case *ir.Upsample:
		x := n.Inputs[0].Shape
		if op.Bilinear {
			return jen.Qual(rtPath, "UpsampleBilinear").Call(dst, in(0), jen.Lit(s.C), jen.Lit(x.H), jen.Lit(x.W), jen.Lit(s.H), jen.Lit(s.W), jen.Lit(op.AlignCorners)), false
		}
		return jen.Qual(rtPath, "UpsampleNearest").Call(dst, in(0), jen.Lit(s.C), jen.Lit(x.H), jen.Lit(x.W), jen.Lit(s.H), jen.Lit(s.W)), false
	case *ir.ShortcutA:
		x := n.Inputs[0].Shape
		return jen.Qual(rtPath, "ShortcutA").Call(dst, in(0), jen.Lit(x.C), jen.Lit(x.H), jen.Lit(x.W), jen.Lit(s.C), jen.Lit(s.H), jen.Lit(s.W), jen.Lit(op.Stride)), false
	case *ir.Identity:
		return jen.Copy(dst, in(0)), false
	}
	panic(fmt.Sprintf("codegen: no emitter for %T", n.Op))
}

func genEmbed(f *jen.File, opt Options) {
	f.HeaderComment(fmt.Sprintf("Code generated by resgen %s from %s. DO NOT EDIT.", commentText(opt.Version), commentText(opt.Source)))
	f.Anon("embed")
	addComment(f, "//go:embed "+opt.Embed)
	f.Var().Id("embeddedWeights").Index().Byte()
	addComment(f, fmt.Sprintf("NewEmbedded builds a Model from the weights embedded at build time\n(%s).", commentText(opt.Embed)))
	f.Func().Id("NewEmbedded").Params(jen.Id("opts").Op("...").Id("Option")).Params(jen.Op("*").Id("Model"), jen.Error()).Block(
		jen.Return(jen.Id("New").Call(jen.Id("embeddedWeights"), jen.Id("opts").Op("..."))),
	)
}

// SortedNames returns the file names of a Generate result in order.
func SortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
