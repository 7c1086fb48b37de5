package spec

import (
	"fmt"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"
)

// expander turns a file into the flat layer list: it evaluates vars, args and
// if:, instantiates blocks, resolves from: names and builds the typed ops.
type expander struct {
	p        *parser
	f        *file
	globals  *env
	defaults map[string]map[string]value // evaluated block arg defaults, by block
	layers   []*Layer
	count    int  // layers and block instances so far, for MaxLayers
	stopped  bool // MaxLayers exceeded
	used     map[string]bool
	check    string            // name of an unused block being expanded only for its errors
	names    map[string]Pos    // full tensor names defined so far
	keys     map[string]string // state_dict key prefix → layer name
	fromErr  map[*yaml.Node]bool
}

// scope is one layers list being expanded: the top level, or one instance of
// a block.
type scope struct {
	list      *layerList
	prefix    string // of full names: "" or e.g. "layer1.0."
	keyPrefix string // of state_dict keys
	vars      *env
	names     map[string]string // visible name → full tensor name
	defined   map[string]Pos    // names of active layers, for duplicates
	off       map[string]bool   // names of layers switched off by if:
	inputs    []string
	prev      string // output of the previous active layer
	prevPos   Pos
	stack     []string // blocks being expanded, outermost first
}

func newScope(list *layerList, vars *env, inputs []string, full []string) *scope {
	sc := &scope{
		list:    list,
		vars:    vars,
		names:   make(map[string]string),
		defined: make(map[string]Pos),
		off:     make(map[string]bool),
		inputs:  inputs,
	}
	for i, in := range inputs {
		sc.names[in] = full[i]
	}
	return sc
}

func expand(p *parser, f *file) *Spec {
	x := &expander{
		p:        p,
		f:        f,
		defaults: make(map[string]map[string]value),
		used:     make(map[string]bool),
		names:    map[string]Pos{InputName: {}},
		keys:     make(map[string]string),
		fromErr:  make(map[*yaml.Node]bool),
	}
	x.globals = &env{vars: x.evalArgs(f.vars, nil, "var")}
	for _, name := range sortedBlocks(f) {
		x.defaults[name] = x.evalArgs(f.blocks[name].args, x.globals, fmt.Sprintf("block %q arg", name))
	}
	s := &Spec{Name: f.name}
	if f.input != nil {
		s.Input = x.input(f.input)
	}
	top := newScope(f.layers, x.globals, []string{InputName}, []string{InputName})
	x.expandList(top)
	s.Layers = x.layers
	switch {
	case f.output != nil:
		s.OutputPos = p.pos(f.output)
		if full, ok := top.names[f.output.Value]; ok {
			s.Output = full
		} else {
			p.errs.errorf(s.OutputPos, "output: %s", x.unknownTensor(top, f.output.Value))
		}
	case top.prev != "":
		s.Output, s.OutputPos = top.prev, top.prevPos
	case len(p.errs.list) == 0 && f.layersPos.Line > 0:
		// (After other errors, probably a consequence of them.)
		p.errs.errorf(f.layersPos, "the network has no active layers")
	}
	if s.Output == InputName {
		p.errs.errorf(s.OutputPos, "output is the network input itself; the network computes nothing")
	}
	// Unused blocks are expanded with their default args, only to report
	// their errors.
	x.count = 0
	for _, name := range sortedBlocks(f) {
		if x.used[name] {
			continue
		}
		b := f.blocks[name]
		x.check = name
		sc := newScope(b.layers, x.blockEnv(name), b.inputs, b.inputs)
		sc.stack = []string{name}
		x.expandList(sc)
		x.blockOutput(b, sc, b.inputs[0], "")
	}
	return s
}

func sortedBlocks(f *file) []string {
	var names []string
	for n := range f.blocks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// blockEnv is the environment of a block body: vars, shadowed by the block's
// arg defaults.
func (x *expander) blockEnv(name string) *env {
	return &env{vars: x.defaults[name], parent: x.globals}
}

// evalArgs evaluates vars (each may use earlier ones) or block arg defaults.
func (x *expander) evalArgs(args []arg, base *env, what string) map[string]value {
	vars := newEnv(base)
	for _, a := range args {
		v, ok := x.eval(a.node, vars, func(pos Pos, msg string) {
			x.p.errs.errorf(pos, "%s %s: %s", what, a.name, msg)
		})
		if ok {
			vars.vars[a.name] = v
		}
	}
	return vars.vars
}

// eval evaluates a scalar: an expression if it contains `$`, else a literal.
// Errors go to report; ok is false after an error.
func (x *expander) eval(n *yaml.Node, vars *env, report func(Pos, string)) (value, bool) {
	if n.Kind != yaml.ScalarNode {
		report(x.p.pos(n), "expected a single value, got "+nodeText(n))
		return value{}, false
	}
	if r, ok := x.p.exprs[n]; ok {
		if r.err != nil {
			return value{}, false // reported when parsed
		}
		v, err := eval(r.e, vars)
		if err != nil {
			report(x.p.exprPos(n, err), err.Error())
			return value{}, false
		}
		return v, true
	}
	switch n.ShortTag() {
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil || i > MaxInt || i < -MaxInt {
			report(x.p.pos(n), fmt.Sprintf("integer %s is outside the limit ±%d", n.Value, MaxInt))
			return value{}, false
		}
		return intValue(i), true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			report(x.p.pos(n), fmt.Sprintf("bad bool %q", n.Value))
			return value{}, false
		}
		return boolValue(b), true
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			report(x.p.pos(n), fmt.Sprintf("bad number %q", n.Value))
			return value{}, false
		}
		return floatVal(f), true
	case "!!str":
		return strValue(n.Value), true
	case "!!null":
		report(x.p.pos(n), "missing value")
		return value{}, false
	}
	report(x.p.pos(n), fmt.Sprintf("unsupported value %q (%s); expected an integer, bool, float or string", n.Value, n.ShortTag()))
	return value{}, false
}

func (x *expander) input(n *yaml.Node) Input {
	in := Input{Pos: x.p.pos(n)}
	dims := map[string]*int{"channels": &in.C, "height": &in.H, "width": &in.W}
	seen := make(map[string]bool)
	for _, m := range x.p.mapping(n, "input") {
		d := dims[m.key]
		if d == nil {
			x.p.errs.errorf(m.keyPos, "input: unknown key %q%s; expected channels, height, width",
				m.key, suggest(m.key, []string{"channels", "height", "width"}))
			continue
		}
		seen[m.key] = true
		v, ok := x.eval(m.val, x.globals, func(pos Pos, msg string) { x.p.errs.errorf(pos, "input %s: %s", m.key, msg) })
		if !ok {
			continue
		}
		if v.kind != kindInt || v.i < 1 {
			x.p.errorf(m.val, "input %s must be an integer ≥ 1, got %s", m.key, v)
			continue
		}
		*d = int(v.i)
	}
	if n.Kind == yaml.MappingNode {
		for _, k := range []string{"channels", "height", "width"} {
			if !seen[k] {
				x.p.errorf(n, "input: missing %s", k)
			}
		}
	}
	return in
}

// desc names a layer instance in errors: `conv2d "layer1.0.conv1"`.
func (x *expander) desc(e *entry, full string) string {
	d := fmt.Sprintf("%q (block %s)", full, e.block)
	if e.op != nil {
		d = fmt.Sprintf("%s %q", e.op.name, full)
	}
	if x.check != "" {
		d += fmt.Sprintf(" in block %q", x.check)
	}
	return d
}

// layerError reports an error about one instance of entry e. The same error
// from other instances of the same entry is not repeated.
func (x *expander) layerError(e *entry, desc string, pos Pos, body string) {
	x.p.errs.add(pos, strconv.Itoa(e.id)+"\x00"+body, desc+": "+body)
}

func (x *expander) expandList(sc *scope) {
	for _, e := range sc.list.entries {
		if x.stopped {
			return
		}
		full := sc.prefix + e.name
		desc := x.desc(e, full)
		// Switched-off layers count too: they cost time to evaluate.
		if !x.countOne(e, desc) {
			return
		}
		if e.ifNode != nil {
			v, ok := x.eval(e.ifNode, sc.vars, func(pos Pos, msg string) { x.layerError(e, desc, pos, "if: "+msg) })
			if ok && v.kind != kindBool {
				x.layerError(e, desc, x.p.pos(e.ifNode), fmt.Sprintf("if: must be true or false, got %s %s%s", v.kind, v, exprHint(v)))
				ok = false
			}
			if !ok || !v.b {
				if _, def := sc.defined[e.name]; !def {
					sc.off[e.name] = true
				}
				continue
			}
		}
		if !x.define(sc, e, desc, e.name) {
			continue
		}
		if e.bad {
			sc.names[e.name], sc.prev, sc.prevPos = full, full, e.pos
			continue
		}
		inputs := x.inputs(sc, e, desc)
		if e.op != nil {
			x.layer(sc, e, full, desc, inputs)
		} else {
			x.invoke(sc, e, desc, inputs)
		}
	}
}

// define records that an active layer defines name in sc, reporting duplicates.
func (x *expander) define(sc *scope, e *entry, desc, name string) bool {
	if first, dup := sc.defined[name]; dup {
		x.layerError(e, desc, e.pos, fmt.Sprintf("duplicate name %q (also at %d:%d); two active layers in one scope need different names", name, first.Line, first.Col))
		return false
	}
	sc.defined[name] = e.pos
	delete(sc.off, name)
	return true
}

// inputs resolves from: (or the default input) to full tensor names; nil
// after an error.
func (x *expander) inputs(sc *scope, e *entry, desc string) []string {
	if e.from == nil {
		switch {
		case sc.prev != "":
			return []string{sc.prev}
		case len(sc.inputs) == 1:
			return []string{sc.names[sc.inputs[0]]}
		}
		x.layerError(e, desc, e.pos, fmt.Sprintf("needs from: (the first layer of a block with %d inputs: %s)", len(sc.inputs), joinNames(sc.inputs)))
		return nil
	}
	var ins []string
	for _, n := range e.from {
		full, ok := sc.names[n.Value]
		if !ok {
			// Once per node: the message lists the scope's names, which is
			// not cheap to repeat for every instance.
			if !x.fromErr[n] {
				x.fromErr[n] = true
				x.layerError(e, desc, x.p.pos(n), "from: "+x.unknownTensor(sc, n.Value))
			}
			return nil
		}
		ins = append(ins, full)
	}
	return ins
}

func (x *expander) unknownTensor(sc *scope, name string) string {
	switch {
	case sc.off[name]:
		return fmt.Sprintf("tensor %q is switched off here by its if:", name)
	case sc.list.names[name]:
		return fmt.Sprintf("unknown tensor %q (defined later?)", name)
	}
	var known []string
	for n := range sc.names {
		known = append(known, n)
	}
	sort.Strings(known)
	return fmt.Sprintf("unknown tensor %q%s; known here: %s", name, suggest(name, known), joinNames(known))
}

func (x *expander) countOne(e *entry, desc string) bool {
	x.count++
	if x.count > MaxLayers {
		x.layerError(e, desc, e.pos, fmt.Sprintf("the network expands to more than %d layers and block instances (switched-off layers included)", MaxLayers))
		x.stopped = true
		return false
	}
	return true
}

func (x *expander) layer(sc *scope, e *entry, full, desc string, inputs []string) {
	sc.names[e.name], sc.prev, sc.prevPos = full, full, e.pos
	op := e.op.build(&fieldReader{x: x, e: e, vars: sc.vars, desc: desc})
	if inputs == nil || x.check != "" {
		return
	}
	key := e.name
	if e.key != "" {
		key = e.key
	}
	l := &Layer{
		Name:   full,
		Key:    sc.keyPrefix + key,
		Op:     op,
		Inputs: inputs,
		Pos:    e.pos,
		Fields: make(map[string]Pos, len(e.keys)),
	}
	for _, k := range e.keys {
		l.Fields[k] = x.p.pos(e.fields[k])
	}
	if first, dup := x.names[full]; dup {
		x.layerError(e, desc, e.pos, fmt.Sprintf("full name %q is already used by the layer at %d:%d", full, first.Line, first.Col))
		return
	}
	x.names[full] = e.pos
	if e.op.params {
		if other, dup := x.keys[l.Key]; dup {
			x.layerError(e, desc, e.pos, fmt.Sprintf("state_dict key prefix %q is already used by layer %q", l.Key, other))
			return
		}
		x.keys[l.Key] = full
	}
	x.layers = append(x.layers, l)
}

// invoke expands a block invocation: each instance of a repeat in turn, the
// first fed by inputs, the others by the previous instance's output.
func (x *expander) invoke(sc *scope, e *entry, desc string, inputs []string) {
	callee := x.f.blocks[e.block]
	x.used[callee.name] = true
	fail := func() { sc.names[e.name], sc.prev, sc.prevPos = sc.prefix+e.name, sc.prefix+e.name, e.pos }
	if contains(sc.stack, callee.name) {
		fail() // recursion, reported by checkRecursion
		return
	}
	n, indexed := 1, e.repeat != nil
	if indexed {
		v, ok := x.eval(e.repeat, sc.vars, func(pos Pos, msg string) { x.layerError(e, desc, pos, "repeat: "+msg) })
		if ok && (v.kind != kindInt || v.i < 1 || v.i > MaxRepeat) {
			x.layerError(e, desc, x.p.pos(e.repeat), fmt.Sprintf("repeat must be an integer from 1 to %d, got %s", MaxRepeat, v))
			ok = false
		}
		if !ok {
			fail()
			return
		}
		n = int(v.i)
	}
	if inputs != nil && len(inputs) != len(callee.inputs) {
		x.layerError(e, desc, e.pos, fmt.Sprintf("block %q takes %d inputs (%s); list them in from:", callee.name, len(callee.inputs), joinNames(callee.inputs)))
		inputs = nil
	}
	if n > 1 && len(callee.inputs) != 1 {
		x.layerError(e, desc, x.p.pos(e.repeat), fmt.Sprintf("repeat needs a block with one input; block %q has %d", callee.name, len(callee.inputs)))
		inputs = nil
	}
	vars := newEnv(x.blockEnv(callee.name))
	x.setArgs(e, desc, callee, vars, sc.vars, e.args)
	firstVars := vars
	if len(e.first) > 0 {
		firstVars = newEnv(vars)
		x.setArgs(e, desc, callee, firstVars, sc.vars, e.first)
	}
	if inputs == nil {
		fail()
		return
	}
	keyBase := e.name
	if e.key != "" {
		keyBase = e.key
	}
	cur := inputs
	for k := 0; k < n; k++ {
		inst, keyInst := e.name, keyBase
		if indexed {
			inst += "." + strconv.Itoa(k)
			keyInst += "." + strconv.Itoa(k)
		}
		if !x.countOne(e, desc) {
			return
		}
		iv := vars
		if k == 0 {
			iv = firstVars
		}
		child := newScope(callee.layers, iv, callee.inputs, cur)
		child.prefix = sc.prefix + inst + "."
		child.keyPrefix = sc.keyPrefix + keyInst + "."
		child.stack = append(sc.stack[:len(sc.stack):len(sc.stack)], callee.name)
		x.expandList(child)
		if x.stopped {
			return
		}
		out := x.blockOutput(callee, child, cur[0], sc.prefix+inst)
		if indexed && !x.define(sc, e, desc, inst) {
			return
		}
		sc.names[inst] = out
		cur = []string{out}
	}
	sc.names[e.name], sc.prev, sc.prevPos = cur[0], cur[0], e.pos
}

// setArgs evaluates invocation args (in the caller's vars) into the block's
// environment, checking each against the type of its default.
func (x *expander) setArgs(e *entry, desc string, callee *block, vars, caller *env, args []kv) {
	for _, a := range args {
		v, ok := x.eval(a.val, caller, func(pos Pos, msg string) { x.layerError(e, desc, pos, "arg "+a.key+": "+msg) })
		if !ok {
			continue
		}
		def, hasDef := x.defaults[callee.name][a.key]
		switch {
		case !hasDef || def.kind == v.kind:
		case def.kind == kindFloat && v.kind == kindInt:
			v = floatVal(float64(v.i))
		default:
			x.layerError(e, desc, x.p.pos(a.val), fmt.Sprintf("arg %s of block %q must be %s %s (like its default %s), got %s %s",
				a.key, callee.name, article(def.kind), def.kind, def, v.kind, v))
			continue
		}
		vars.vars[a.key] = v
	}
}

func article(k kind) string {
	if k == kindInt {
		return "an"
	}
	return "a"
}

// blockOutput is the output tensor of one expanded block instance: its
// output:, else its last active layer, else its (single) input.
func (x *expander) blockOutput(b *block, sc *scope, in, inst string) string {
	if b.output != nil {
		if full, ok := sc.names[b.output.Value]; ok {
			return full
		}
		msg := "output: " + x.unknownTensor(sc, b.output.Value)
		if inst != "" {
			msg = fmt.Sprintf("block instance %q: %s", inst, msg)
		} else {
			msg = fmt.Sprintf("block %q: %s", b.name, msg)
		}
		x.p.errs.add(x.p.pos(b.output), "output\x00"+b.output.Value, msg)
		return in
	}
	if sc.prev != "" {
		return sc.prev
	}
	return in
}
