package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ParseFile reads and parses the spec at path.
func ParseFile(path string) (*Spec, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src)
}

// Parse parses a spec and expands it into a flat list of layers. filename is
// used in positions. The error, if any, is an ErrorList.
func Parse(filename string, src []byte) (*Spec, error) {
	p := &parser{file: filename, exprs: make(map[*yaml.Node]exprResult)}
	f := p.load(src)
	if f == nil {
		return nil, p.errs.err()
	}
	s := expand(p, f)
	if f.preprocess != nil {
		s.Preprocess = p.preprocess(f.preprocess, s.Input)
	}
	if f.labels != nil {
		s.Labels, s.LabelsPos = p.labels(f.labels), p.pos(f.labels)
	}
	s.Winograd, s.WinogradPos = f.winograd, f.winogradPos
	if err := p.errs.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// file is a spec as written, before expansion.
type file struct {
	root      *yaml.Node
	name      string
	input     *yaml.Node
	vars      []arg
	blocks    map[string]*block
	layers    *layerList
	output    *yaml.Node
	layersPos Pos

	preprocess, labels *yaml.Node
	winograd           string
	winogradPos        Pos
}

// arg is a var or a block arg: a name and its (default) value node.
type arg struct {
	name    string
	keyPos  Pos
	node    *yaml.Node
	val     value // evaluated default
	defined bool  // val is valid
}

type block struct {
	name   string
	pos    Pos
	args   []arg
	inputs []string
	layers *layerList
	output *yaml.Node
}

func (b *block) argNames() []string {
	var ns []string
	for _, a := range b.args {
		ns = append(ns, a.name)
	}
	return ns
}

func (b *block) argIndex(name string) int {
	for i, a := range b.args {
		if a.name == name {
			return i
		}
	}
	return -1
}

// layerList is the layers of one scope (the top level or a block body).
type layerList struct {
	entries []*entry
	names   map[string]bool // every name given in the list, active or not
}

// entry is one item of a layers list: an op or a block invocation.
type entry struct {
	id     int
	pos    Pos
	scope  string // enclosing block name, "" at top level
	name   string // as written, or an automatic "_N"
	named  bool
	op     *opDef
	block  string
	fields map[string]*yaml.Node // value node of every key
	keys   []string              // keys in source order
	from   []*yaml.Node          // nil: default input
	ifNode *yaml.Node
	key    string
	repeat *yaml.Node
	args   []kv
	first  []kv
	bad    bool // a static error was reported; produce no layer
}

// staticDesc names an entry in errors found before expansion.
func (e *entry) staticDesc() string {
	d := fmt.Sprintf("layer %q", e.name)
	switch {
	case e.op != nil:
		d = fmt.Sprintf("%s %q", e.op.name, e.name)
	case e.block != "":
		d = fmt.Sprintf("%q (block %s)", e.name, e.block)
	}
	if e.scope != "" {
		d += fmt.Sprintf(" in block %q", e.scope)
	}
	return d
}

type kv struct {
	key    string
	keyPos Pos
	val    *yaml.Node
}

type exprResult struct {
	e   expr
	err error
}

type parser struct {
	file   string
	errs   errorSet
	exprs  map[*yaml.Node]exprResult
	nextID int
}

func (p *parser) pos(n *yaml.Node) Pos { return Pos{p.file, n.Line, n.Column} }

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs.errorf(p.pos(n), format, args...)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) load(src []byte) *file {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errs.errorf(Pos{p.file, 1, 1}, "empty spec; expected a mapping starting with resgen: 1")
			return nil
		}
		p.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "a spec is a single YAML document; remove the second ---")
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
	}
	if len(doc.Content) == 0 {
		p.errs.errorf(Pos{p.file, 1, 1}, "empty spec; expected a mapping starting with resgen: 1")
		return nil
	}
	root := doc.Content[0]
	f := &file{root: root, blocks: make(map[string]*block)}
	var sawVersion bool
	var blocksNode *yaml.Node
	for _, m := range p.mapping(root, "a spec") {
		switch m.key {
		case "resgen":
			sawVersion = true
			if m.val.Kind != yaml.ScalarNode || m.val.ShortTag() != "!!int" || m.val.Value != "1" {
				p.errorf(m.val, "resgen: must be 1 (the spec format version), got %s", nodeText(m.val))
			}
		case "name":
			f.name = p.scalar(m.val, "name")
			if f.name != "" && !isGoIdent(f.name) {
				p.errorf(m.val, "name must be a Go package name (letters, digits, _), got %q", f.name)
			}
		case "input":
			f.input = m.val
		case "vars":
			f.vars = p.args(m.val, "vars")
		case "blocks":
			blocksNode = m.val
		case "layers":
			f.layersPos = p.pos(m.val)
			f.layers = p.layerList(m.val, "")
		case "output":
			if p.scalar(m.val, "output") != "" {
				f.output = m.val
			}
		case "preprocess":
			f.preprocess = m.val
		case "labels":
			f.labels = m.val
		case "winograd":
			f.winograd = p.scalar(m.val, "winograd")
			f.winogradPos = p.pos(m.val)
			if !slices.Contains(WinogradChoices, f.winograd) {
				p.errorf(m.val, "winograd: must be one of %s, got %s", strings.Join(WinogradChoices, ", "), nodeText(m.val))
			}
		default:
			keys := []string{"resgen", "name", "input", "vars", "blocks", "layers", "output", "preprocess", "labels", "winograd"}
			p.errs.errorf(m.keyPos, "unknown top-level key %q%s; expected %s", m.key, suggest(m.key, keys), strings.Join(keys, ", "))
		}
	}
	if root.Kind != yaml.MappingNode {
		return nil
	}
	if !sawVersion {
		p.errorf(root, "missing resgen: 1 (the spec format version)")
	}
	if f.name == "" {
		p.errorf(root, "missing name: (the Go package name, e.g. name: resnet18)")
	}
	if f.input == nil {
		p.errorf(root, "missing input: {channels: C, height: H, width: W}")
	}
	if f.layers == nil {
		p.errorf(root, "missing layers:")
		f.layers = &layerList{}
	}
	if blocksNode != nil {
		p.loadBlocks(f, blocksNode)
	}
	p.checkEntries(f, f.layers, nil)
	for _, b := range f.blocks {
		p.checkEntries(f, b.layers, b)
	}
	p.checkRecursion(f)
	return f
}

func (p *parser) yamlError(err error) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.errs.errorf(Pos{p.file, line, 1}, "YAML: %s", m[2])
		return
	}
	p.errs.errorf(Pos{p.file, 1, 1}, "YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

func nodeText(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

// noAlias reports YAML aliases, which specs do not support: expanding them
// could multiply the size of the input, and blocks serve the same purpose.
func (p *parser) noAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		p.errorf(n, "YAML aliases (*%s) are not supported; use a block or vars instead", n.Value)
		return false
	}
	return true
}

// mapping returns the key/value pairs of a mapping node, reporting non-mappings,
// non-scalar and duplicate keys.
func (p *parser) mapping(n *yaml.Node, what string) []kv {
	if !p.noAlias(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping (key: value), got %s", what, nodeText(n))
		return nil
	}
	var kvs []kv
	seen := make(map[string]Pos)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !p.noAlias(k) || !p.noAlias(v) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "keys in %s must be plain names, got %s", what, nodeText(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.errorf(k, "duplicate key %q in %s (first at %d:%d)", k.Value, what, first.Line, first.Col)
			continue
		}
		seen[k.Value] = p.pos(k)
		kvs = append(kvs, kv{key: k.Value, keyPos: p.pos(k), val: v})
	}
	return kvs
}

// scalar returns the text of a scalar node, reporting anything else.
func (p *parser) scalar(n *yaml.Node, what string) string {
	if !p.noAlias(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.errorf(n, "%s must be a single value, got %s", what, nodeText(n))
		return ""
	}
	return n.Value
}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`)
	identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func isGoIdent(s string) bool {
	return identRE.MatchString(s) && !contains(goKeywords, s)
}

var goKeywords = strings.Fields(`break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var`)

// name reads a layer or tensor name: dot-separated parts of letters, digits and _.
func (p *parser) name(n *yaml.Node, what string) string {
	s := p.scalar(n, what)
	if s == "" {
		return ""
	}
	if !nameRE.MatchString(s) {
		p.errorf(n, "%s must be dot-separated parts of letters, digits and _, got %q", what, s)
		return ""
	}
	return s
}

// args reads vars or block args: a mapping of identifiers to values.
func (p *parser) args(n *yaml.Node, what string) []arg {
	var as []arg
	for _, m := range p.mapping(n, what) {
		if !identRE.MatchString(m.key) {
			p.errs.errorf(m.keyPos, "%s names must be identifiers (letters, digits, _), got %q", what, m.key)
			continue
		}
		if m.val.Kind != yaml.ScalarNode || m.val.ShortTag() == "!!null" {
			p.errorf(m.val, "%s %s must be an integer, bool, float or string, got %s", what, m.key, nodeText(m.val))
			continue
		}
		p.preparse(m.val, what+" "+m.key)
		as = append(as, arg{name: m.key, keyPos: m.keyPos, node: m.val})
	}
	return as
}

// preparse parses the expression in a scalar (if it has a `$`), reporting
// syntax errors once, whether or not the scalar is ever evaluated.
func (p *parser) preparse(n *yaml.Node, what string) {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			p.preparse(c, what)
		}
		return
	case yaml.ScalarNode:
	default:
		return
	}
	if !strings.Contains(n.Value, "$") {
		return
	}
	if _, done := p.exprs[n]; done {
		return
	}
	e, err := parseExpr(n.Value)
	p.exprs[n] = exprResult{e, err}
	if err != nil {
		p.errs.errorf(p.exprPos(n, err), "%s: %s", what, err.Error())
	}
}

// exprPos is the position of an error inside the expression in scalar n.
func (p *parser) exprPos(n *yaml.Node, err error) Pos {
	pos := p.pos(n)
	var ee *exprError
	if errors.As(err, &ee) && !strings.Contains(n.Value, "\n") {
		switch n.Style {
		case 0:
			pos.Col += ee.off
		case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
			if !strings.ContainsAny(n.Value, `\'"`) {
				pos.Col += ee.off + 1
			}
		}
	}
	return pos
}

func (p *parser) loadBlocks(f *file, n *yaml.Node) {
	for _, m := range p.mapping(n, "blocks") {
		if !identRE.MatchString(m.key) {
			p.errs.errorf(m.keyPos, "block names must be identifiers (letters, digits, _), got %q", m.key)
			continue
		}
		b := &block{name: m.key, pos: m.keyPos, inputs: []string{"in"}}
		f.blocks[b.name] = b
		for _, bm := range p.mapping(m.val, fmt.Sprintf("block %q", b.name)) {
			switch bm.key {
			case "args":
				b.args = p.args(bm.val, fmt.Sprintf("block %q args", b.name))
			case "inputs":
				b.inputs = p.inputs(bm.val, b.name)
			case "layers":
				b.layers = p.layerList(bm.val, b.name)
			case "output":
				if p.name(bm.val, "output") != "" {
					b.output = bm.val
				}
			default:
				p.errs.errorf(bm.keyPos, "block %q: unknown key %q%s; expected args, inputs, layers, output",
					b.name, bm.key, suggest(bm.key, []string{"args", "inputs", "layers", "output"}))
			}
		}
		if b.layers == nil {
			p.errs.errorf(b.pos, "block %q has no layers:", b.name)
			b.layers = &layerList{}
		}
	}
}

func (p *parser) inputs(n *yaml.Node, blockName string) []string {
	if !p.noAlias(n) {
		return []string{"in"}
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errorf(n, "block %q: inputs must be a non-empty list of names, e.g. [x, skip]", blockName)
		return []string{"in"}
	}
	var ins []string
	for _, c := range n.Content {
		s := p.scalar(c, "an input name")
		if s == "" {
			continue
		}
		if !identRE.MatchString(s) {
			p.errorf(c, "block %q: input names must be identifiers, got %q", blockName, s)
			continue
		}
		if contains(ins, s) {
			p.errorf(c, "block %q: duplicate input %q", blockName, s)
			continue
		}
		ins = append(ins, s)
	}
	if len(ins) == 0 {
		return []string{"in"}
	}
	return ins
}

// layerList reads the syntax of a layers list. Checks that need the blocks
// (keys of block invocations, args) happen later in checkEntries.
func (p *parser) layerList(n *yaml.Node, scope string) *layerList {
	l := &layerList{names: make(map[string]bool)}
	if !p.noAlias(n) {
		return l
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "layers must be a list, got %s", nodeText(n))
		return l
	}
	for _, c := range n.Content {
		e := p.entry(c, scope)
		if e == nil {
			continue
		}
		l.entries = append(l.entries, e)
		if e.named {
			l.names[e.name] = true
		}
	}
	// Automatic names: "_" + index in the list, lengthened until unique.
	for i, e := range l.entries {
		if !e.named {
			e.name = "_" + strconv.Itoa(i)
			for l.names[e.name] {
				e.name = "_" + e.name
			}
			l.names[e.name] = true
		}
	}
	return l
}

func (p *parser) entry(n *yaml.Node, scope string) *entry {
	p.nextID++
	e := &entry{id: p.nextID, pos: p.pos(n), scope: scope, fields: make(map[string]*yaml.Node)}
	kvs := p.mapping(n, "a layer")
	if n.Kind != yaml.MappingNode {
		return nil
	}
	keyPos := make(map[string]Pos)
	for _, m := range kvs {
		e.fields[m.key] = m.val
		e.keys = append(e.keys, m.key)
		keyPos[m.key] = m.keyPos
	}
	if v := e.fields["name"]; v != nil {
		if e.name = p.name(v, "name"); e.name != "" {
			e.named = true
		} else {
			e.bad = true
		}
	}
	opNode, blockNode := e.fields["op"], e.fields["block"]
	switch {
	case opNode != nil && blockNode != nil:
		p.errorf(blockNode, "a layer has either op: or block:, not both")
		e.bad = true
	case opNode != nil:
		s := p.scalar(opNode, "op")
		if e.op = opDefs[s]; e.op == nil {
			if s != "" {
				p.errorf(opNode, "unknown op %q%s; valid ops: %s", s, suggest(s, opNames()), strings.Join(opNames(), ", "))
			}
			e.bad = true
		}
	case blockNode != nil:
		if e.block = p.scalar(blockNode, "block"); e.block == "" {
			e.bad = true
		}
	default:
		p.errorf(n, "a layer needs op: (one of %s) or block:", strings.Join(opNames(), ", "))
		e.bad = true
	}
	// Keys this kind of layer accepts.
	allowed := commonKeys
	if e.op != nil {
		allowed = append(allowed[:len(allowed):len(allowed)], e.op.fields...)
	} else if e.block != "" {
		allowed = append(allowed[:len(allowed):len(allowed)], invocationKeys...)
	}
	var shown []string // allowed keys worth listing in an error
	for _, k := range allowed {
		if k != "op" && k != "block" {
			shown = append(shown, k)
		}
	}
	for _, k := range e.keys {
		if !contains(allowed, k) && (e.op != nil || e.block != "") {
			what := "a block invocation"
			if e.op != nil {
				what = e.op.name
			}
			p.errs.errorf(keyPos[k], "%s: unknown field %q for %s%s; expected one of %s",
				e.staticDesc(), k, what, suggest(k, allowed), strings.Join(shown, ", "))
		}
	}
	known := e.keys[:0]
	for _, k := range e.keys {
		if contains(allowed, k) {
			known = append(known, k)
		}
	}
	e.keys = known
	if e.op != nil {
		for _, k := range e.op.required {
			if e.fields[k] == nil {
				p.errorf(n, "%s: missing %s", e.staticDesc(), k)
				e.bad = true
			}
		}
		// A name that was given but refused has had its own error.
		if e.op.params && !e.named && e.fields["name"] == nil {
			p.errorf(n, "%s layers need a name: (it is their state_dict key prefix)", e.op.name)
			e.bad = true
		}
	}
	if e.block != "" && !e.named && e.fields["name"] == nil {
		p.errorf(n, "block invocations need a name: (it prefixes the names of the block's layers)")
		e.bad = true
	}
	if v := e.fields["from"]; v != nil {
		e.from = p.fromList(e, v)
		if e.from == nil {
			e.bad = true
		}
	}
	if v := e.fields["if"]; v != nil {
		if p.scalar(v, "if") != "" {
			e.ifNode = v
			p.preparse(v, e.staticDesc()+": if")
		}
	}
	if v := e.fields["key"]; v != nil {
		if e.key = p.name(v, "key"); e.key == "" {
			e.bad = true
		}
	}
	if e.op != nil {
		for _, k := range e.op.fields {
			if v := e.fields[k]; v != nil {
				p.noAlias(v)
				p.preparse(v, e.staticDesc()+": "+k)
			}
		}
	}
	if e.block != "" {
		if v := e.fields["repeat"]; v != nil {
			if p.scalar(v, "repeat") != "" {
				e.repeat = v
				p.preparse(v, e.staticDesc()+": repeat")
			}
		}
		if v := e.fields["args"]; v != nil {
			e.args = p.argValues(v, e.staticDesc()+": args")
		}
		if v := e.fields["first"]; v != nil {
			e.first = p.argValues(v, e.staticDesc()+": first")
			if e.repeat == nil {
				p.errorf(v, "first: overrides args of instance 0 of a repeat; without repeat: put them in args:")
			}
		}
	}
	return e
}

func (p *parser) argValues(n *yaml.Node, what string) []kv {
	kvs := p.mapping(n, what)
	var out []kv
	for _, m := range kvs {
		if m.val.Kind != yaml.ScalarNode || m.val.ShortTag() == "!!null" {
			p.errorf(m.val, "%s: %s must be a single value, got %s", what, m.key, nodeText(m.val))
			continue
		}
		p.preparse(m.val, what+" "+m.key)
		out = append(out, m)
	}
	return out
}

// fromList reads `from:`, a name or a list of names, checking the count for
// ops. Block invocations are checked against the block in checkEntries.
func (p *parser) fromList(e *entry, n *yaml.Node) []*yaml.Node {
	var names []*yaml.Node
	switch {
	case !p.noAlias(n):
		return nil
	case n.Kind == yaml.ScalarNode:
		names = []*yaml.Node{n}
	case n.Kind == yaml.SequenceNode && len(n.Content) > 0:
		names = n.Content
	default:
		p.errorf(n, "from must be a tensor name or a non-empty list of names, got %s", nodeText(n))
		return nil
	}
	ok := true
	for _, c := range names {
		if p.name(c, "from") == "" {
			ok = false
		}
	}
	if !ok {
		return nil
	}
	if e.op != nil {
		if e.op.multi && len(names) < 2 {
			p.errorf(n, "%s: from must list at least 2 tensors, got %d", e.staticDesc(), len(names))
			return nil
		}
		if !e.op.multi && len(names) != 1 {
			p.errorf(n, "%s: from must name exactly 1 tensor, got %d", e.staticDesc(), len(names))
			return nil
		}
	}
	return names
}

// checkEntries does the checks that need all blocks known: block references,
// args, input counts and reserved names.
func (p *parser) checkEntries(f *file, l *layerList, b *block) {
	reserved := []string{InputName}
	if b != nil {
		reserved = b.inputs
	}
	for _, e := range l.entries {
		if e.named && contains(reserved, e.name) {
			p.errorf(e.fields["name"], "name %q is taken by the scope's input", e.name)
			e.bad = true
		}
		if e.op != nil && e.op.multi && e.from == nil && !e.bad {
			p.errorf(nodeOr(e.fields["op"]), "%s: needs from: listing at least 2 tensors", e.staticDesc())
			e.bad = true
		}
		if e.block == "" {
			continue
		}
		callee := f.blocks[e.block]
		if callee == nil {
			var names []string
			for n := range f.blocks {
				names = append(names, n)
			}
			sort.Strings(names)
			list := "no blocks are defined"
			if len(names) > 0 {
				list = "blocks: " + joinNames(names)
			}
			p.errorf(e.fields["block"], "unknown block %q%s (%s)", e.block, suggest(e.block, names), list)
			e.bad = true
			continue
		}
		for _, set := range [][]kv{e.args, e.first} {
			for _, a := range set {
				if callee.argIndex(a.key) < 0 {
					list := "it has no args"
					if len(callee.args) > 0 {
						list = "args: " + joinNames(callee.argNames())
					}
					p.errs.errorf(a.keyPos, "block %q has no arg %q%s (%s)", callee.name, a.key, suggest(a.key, callee.argNames()), list)
					e.bad = true
				}
			}
		}
		if e.from != nil && len(e.from) != len(callee.inputs) {
			p.errorf(e.fields["from"], "block %q takes %d inputs (%s), from: gives %d",
				callee.name, len(callee.inputs), joinNames(callee.inputs), len(e.from))
			e.bad = true
		}
	}
}

func nodeOr(n *yaml.Node) *yaml.Node {
	if n == nil {
		return &yaml.Node{}
	}
	return n
}

// checkRecursion reports blocks that invoke themselves, directly or through
// other blocks, and marks those invocations bad so expansion terminates.
func (p *parser) checkRecursion(f *file) {
	const (
		unvisited = iota
		active
		done
	)
	state := make(map[string]int)
	var stack []string
	var visit func(b *block)
	visit = func(b *block) {
		state[b.name] = active
		stack = append(stack, b.name)
		for _, e := range b.layers.entries {
			callee := f.blocks[e.block]
			if e.bad || callee == nil {
				continue
			}
			switch state[callee.name] {
			case active:
				i := len(stack) - 1
				for stack[i] != callee.name {
					i--
				}
				cycle := append(append([]string(nil), stack[i:]...), callee.name)
				p.errorf(e.fields["block"], "block %q invokes itself (%s); blocks cannot be recursive",
					callee.name, strings.Join(cycle, " → "))
				e.bad = true
			case unvisited:
				visit(callee)
			}
		}
		stack = stack[:len(stack)-1]
		state[b.name] = done
	}
	var names []string
	for n := range f.blocks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if state[n] == unvisited {
			visit(f.blocks[n])
		}
	}
}
