package spec

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// kind is the type of a spec value.
type kind uint8

const (
	kindInt kind = iota
	kindBool
	kindFloat
	kindString
)

func (k kind) String() string {
	switch k {
	case kindInt:
		return "integer"
	case kindBool:
		return "bool"
	case kindFloat:
		return "float"
	}
	return "string"
}

// value is a spec value: an arg, a var, or the result of an expression.
type value struct {
	kind kind
	i    int64
	b    bool
	f    float64
	s    string
}

func intValue(i int64) value   { return value{kind: kindInt, i: i} }
func boolValue(b bool) value   { return value{kind: kindBool, b: b} }
func floatVal(f float64) value { return value{kind: kindFloat, f: f} }
func strValue(s string) value  { return value{kind: kindString, s: s} }

func (v value) String() string {
	switch v.kind {
	case kindInt:
		return strconv.FormatInt(v.i, 10)
	case kindBool:
		return strconv.FormatBool(v.b)
	case kindFloat:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	}
	return strconv.Quote(v.s)
}

// env maps variable names (without `$`) to values. Block instances layer
// their args over the block's defaults over the globals, without copying.
type env struct {
	vars   map[string]value
	parent *env
}

func newEnv(parent *env) *env { return &env{vars: make(map[string]value), parent: parent} }

func (e *env) lookup(name string) (value, bool) {
	for ; e != nil; e = e.parent {
		if v, ok := e.vars[name]; ok {
			return v, true
		}
	}
	return value{}, false
}

// names lists the visible variables for an error message (if there are few).
func (e *env) names() string {
	seen := make(map[string]bool)
	var ns []string
	for ; e != nil; e = e.parent {
		if len(seen)+len(e.vars) > 30 {
			return "check the spelling"
		}
		for n := range e.vars {
			if !seen[n] {
				seen[n] = true
				ns = append(ns, "$"+n)
			}
		}
	}
	if len(ns) == 0 {
		return "none are defined here"
	}
	sort.Strings(ns)
	return "known: " + strings.Join(ns, ", ")
}

// An expr is a parsed expression. off is the byte offset of the node in the
// source text, for error columns.
type expr interface{ offset() int }

type (
	litExpr struct {
		off int
		v   value
	}
	varExpr struct {
		off  int
		name string
	}
	unaryExpr struct {
		off int
		op  string
		x   expr
	}
	binaryExpr struct {
		off  int
		op   string
		x, y expr
	}
)

func (e *litExpr) offset() int    { return e.off }
func (e *varExpr) offset() int    { return e.off }
func (e *unaryExpr) offset() int  { return e.off }
func (e *binaryExpr) offset() int { return e.off }

// exprError is an error at a byte offset within an expression.
type exprError struct {
	off int
	msg string
}

func (e *exprError) Error() string { return e.msg }

type token struct {
	off  int
	text string // operator, keyword, identifier (with `$`), or number
}

func lexExpr(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			toks = append(toks, token{i, src[i:j]})
			i = j
		case c == '$' || isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			if c == '$' && (j == i+1 || !isIdentStart(src[i+1])) {
				return nil, &exprError{i, "expected a variable name after $"}
			}
			toks = append(toks, token{i, src[i:j]})
			i = j
		default:
			if i+1 < len(src) {
				switch two := src[i : i+2]; two {
				case "==", "!=", "<=", ">=":
					toks = append(toks, token{i, two})
					i += 2
					continue
				}
			}
			if strings.IndexByte("+-*/%()<>", c) < 0 {
				return nil, &exprError{i, fmt.Sprintf("unexpected character %q in expression", rune(c))}
			}
			toks = append(toks, token{i, string(c)})
			i++
		}
	}
	return toks, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentByte(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }

// maxExprDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxExprDepth = 100

type exprParser struct {
	src   string
	toks  []token
	pos   int
	depth int
}

// parseExpr parses an expression:
//
//	or   = and {"or" and}
//	and  = not {"and" not}
//	not  = "not" not | cmp
//	cmp  = sum [("=="|"!="|"<"|"<="|">"|">=") sum]
//	sum  = prod {("+"|"-") prod}
//	prod = unary {("*"|"/"|"%") unary}
//	unary = "-" unary | INT | "true" | "false" | $NAME | "(" or ")"
func parseExpr(src string) (expr, error) {
	toks, err := lexExpr(src)
	if err != nil {
		return nil, err
	}
	p := &exprParser{src: src, toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		t := p.toks[p.pos]
		return nil, &exprError{t.off, fmt.Sprintf("unexpected %q after expression", t.text)}
	}
	return e, nil
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].text
	}
	return ""
}

func (p *exprParser) next() token {
	t := p.toks[p.pos]
	p.pos++
	return t
}

func (p *exprParser) endOff() int { return len(p.src) }

func (p *exprParser) binary(ops []string, sub func() (expr, error)) (expr, error) {
	x, err := sub()
	if err != nil {
		return nil, err
	}
	for contains(ops, p.peek()) {
		t := p.next()
		y, err := sub()
		if err != nil {
			return nil, err
		}
		x = &binaryExpr{t.off, t.text, x, y}
	}
	return x, nil
}

func (p *exprParser) or() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxExprDepth {
		return nil, &exprError{p.endOff(), "expression nested too deeply"}
	}
	return p.binary([]string{"or"}, p.and)
}

func (p *exprParser) and() (expr, error) { return p.binary([]string{"and"}, p.not) }

func (p *exprParser) not() (expr, error) {
	if p.peek() == "not" {
		t := p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxExprDepth {
			return nil, &exprError{t.off, "expression nested too deeply"}
		}
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{t.off, "not", x}, nil
	}
	return p.cmp()
}

func (p *exprParser) cmp() (expr, error) {
	x, err := p.sum()
	if err != nil {
		return nil, err
	}
	ops := []string{"==", "!=", "<", "<=", ">", ">="}
	if contains(ops, p.peek()) {
		t := p.next()
		y, err := p.sum()
		if err != nil {
			return nil, err
		}
		if contains(ops, p.peek()) {
			return nil, &exprError{p.toks[p.pos].off, "comparisons do not chain; use and"}
		}
		return &binaryExpr{t.off, t.text, x, y}, nil
	}
	return x, nil
}

func (p *exprParser) sum() (expr, error) { return p.binary([]string{"+", "-"}, p.prod) }

func (p *exprParser) prod() (expr, error) { return p.binary([]string{"*", "/", "%"}, p.unary) }

func (p *exprParser) unary() (expr, error) {
	if p.pos >= len(p.toks) {
		return nil, &exprError{p.endOff(), "expression ends early; expected a value"}
	}
	t := p.next()
	switch {
	case t.text == "-":
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxExprDepth {
			return nil, &exprError{t.off, "expression nested too deeply"}
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{t.off, "-", x}, nil
	case t.text == "(":
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			off := p.endOff()
			if p.pos < len(p.toks) {
				off = p.toks[p.pos].off
			}
			return nil, &exprError{off, "expected )"}
		}
		p.next()
		return x, nil
	case t.text == "true" || t.text == "false":
		return &litExpr{t.off, boolValue(t.text == "true")}, nil
	case t.text[0] == '$':
		return &varExpr{t.off, t.text[1:]}, nil
	case '0' <= t.text[0] && t.text[0] <= '9':
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil || n > MaxInt {
			return nil, &exprError{t.off, fmt.Sprintf("bad integer %q (integers are decimal, at most %d)", t.text, MaxInt)}
		}
		return &litExpr{t.off, intValue(n)}, nil
	}
	if isIdentStart(t.text[0]) && !contains([]string{"and", "or", "not"}, t.text) {
		return nil, &exprError{t.off, fmt.Sprintf("unexpected %q; variables are written $%s", t.text, t.text)}
	}
	return nil, &exprError{t.off, fmt.Sprintf("unexpected %q; expected a value", t.text)}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// eval evaluates e in env. Integer results outside [-MaxInt, MaxInt] are errors.
func eval(e expr, vars *env) (value, error) {
	switch e := e.(type) {
	case *litExpr:
		return e.v, nil
	case *varExpr:
		v, ok := vars.lookup(e.name)
		if !ok {
			return value{}, &exprError{e.off, fmt.Sprintf("unknown variable $%s (%s)", e.name, vars.names())}
		}
		return v, nil
	case *unaryExpr:
		x, err := eval(e.x, vars)
		if err != nil {
			return value{}, err
		}
		if e.op == "not" {
			if x.kind != kindBool {
				return value{}, &exprError{e.off, fmt.Sprintf("not needs a bool, got %s %s", x.kind, x)}
			}
			return boolValue(!x.b), nil
		}
		if x.kind != kindInt {
			return value{}, &exprError{e.off, fmt.Sprintf("- needs an integer, got %s %s", x.kind, x)}
		}
		return intValue(-x.i), nil
	case *binaryExpr:
		return evalBinary(e, vars)
	}
	panic(fmt.Sprintf("spec: unknown expression %T", e))
}

func evalBinary(e *binaryExpr, vars *env) (value, error) {
	x, err := eval(e.x, vars)
	if err != nil {
		return value{}, err
	}
	if e.op == "and" || e.op == "or" {
		if x.kind != kindBool {
			return value{}, &exprError{e.off, fmt.Sprintf("%s needs bools, got %s %s on the left", e.op, x.kind, x)}
		}
		if x.b == (e.op == "or") {
			return x, nil // short-circuit
		}
		y, err := eval(e.y, vars)
		if err != nil {
			return value{}, err
		}
		if y.kind != kindBool {
			return value{}, &exprError{e.off, fmt.Sprintf("%s needs bools, got %s %s on the right", e.op, y.kind, y)}
		}
		return y, nil
	}
	y, err := eval(e.y, vars)
	if err != nil {
		return value{}, err
	}
	switch e.op {
	case "==", "!=":
		if x.kind != y.kind {
			return value{}, &exprError{e.off, fmt.Sprintf("%s compares %s %s with %s %s", e.op, x.kind, x, y.kind, y)}
		}
		return boolValue((x == y) == (e.op == "==")), nil
	}
	if x.kind != kindInt || y.kind != kindInt {
		return value{}, &exprError{e.off, fmt.Sprintf("%s needs integers, got %s %s and %s %s", e.op, x.kind, x, y.kind, y)}
	}
	a, b := x.i, y.i
	var r int64
	switch e.op {
	case "<":
		return boolValue(a < b), nil
	case "<=":
		return boolValue(a <= b), nil
	case ">":
		return boolValue(a > b), nil
	case ">=":
		return boolValue(a >= b), nil
	case "+":
		r = a + b
	case "-":
		r = a - b
	case "*":
		r = a * b // |a|, |b| ≤ MaxInt = 2^20, so no int64 overflow
	case "/", "%":
		if b == 0 {
			return value{}, &exprError{e.off, fmt.Sprintf("%s by zero", map[string]string{"/": "division", "%": "modulo"}[e.op])}
		}
		if e.op == "/" {
			r = a / b
		} else {
			r = a % b
		}
	default:
		panic("spec: unknown operator " + e.op)
	}
	if r > MaxInt || r < -MaxInt {
		return value{}, &exprError{e.off, fmt.Sprintf("%d %s %d = %d is outside the limit ±%d", a, e.op, b, r, MaxInt)}
	}
	return intValue(r), nil
}
