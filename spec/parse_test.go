package spec

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dump is a compact, comparable form of an expanded spec.
func dump(s *Spec) []string {
	var out []string
	for _, l := range s.Layers {
		line := fmt.Sprintf("%s %s <- %s", l.Name, l.Op.Kind(), strings.Join(l.Inputs, ","))
		if l.Key != l.Name {
			line += " key=" + l.Key
		}
		out = append(out, line)
	}
	return append(out, "output "+s.Output)
}

const exampleSpec = `resgen: 1
name: example
input: {channels: 3, height: 32, width: 32}
vars: {wide: 2}
blocks:
  pair:
    args: {c: 8, stride: 1, proj: false}
    layers:
      - {name: conv, op: conv2d, out: $c * $wide, kernel: 3, stride: $stride, padding: 1}
      - {op: relu}
      - {name: proj, op: conv2d, from: in, out: $c * $wide, kernel: 1, stride: $stride, if: $proj, key: shortcut}
      - {name: add, op: add, from: [_1, proj], if: $proj}
      - {name: add, op: add, from: [_1, in], if: not $proj}
  merge:
    inputs: [x, skip]
    layers:
      - {name: up, op: upsample, from: x, scale: [2, 1], mode: bilinear, align_corners: true}
      - {name: cat, op: concat, from: [skip, up]}
      - {name: inner, block: pair}
    output: cat
layers:
  - {name: stem, op: conv2d, out: 8, kernel: [3, 5], padding: [1, 2], bias: false}
  - {name: stage, block: pair, repeat: 3, first: {stride: 2, proj: true}}
  - {name: single, block: pair, args: {c: 4}, key: renamed}
  - {name: m, block: merge, from: [single, stage.0]}
  - {op: global_avgpool}
  - {name: fc, op: linear, out: 10, from: _4}
  - {op: softmax}
output: fc
`

func TestParseExample(t *testing.T) {
	s, err := Parse("example.yaml", []byte(exampleSpec))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"stem conv2d <- input",
		"stage.0.conv conv2d <- stem",
		"stage.0._1 relu <- stage.0.conv",
		"stage.0.proj conv2d <- stem key=stage.0.shortcut",
		"stage.0.add add <- stage.0._1,stage.0.proj",
		"stage.1.conv conv2d <- stage.0.add",
		"stage.1._1 relu <- stage.1.conv",
		"stage.1.add add <- stage.1._1,stage.0.add",
		"stage.2.conv conv2d <- stage.1.add",
		"stage.2._1 relu <- stage.2.conv",
		"stage.2.add add <- stage.2._1,stage.1.add",
		"single.conv conv2d <- stage.2.add key=renamed.conv",
		"single._1 relu <- single.conv key=renamed._1",
		"single.add add <- single._1,stage.2.add key=renamed.add",
		"m.up upsample <- single.add",
		"m.cat concat <- stage.0.add,m.up",
		"m.inner.conv conv2d <- m.cat",
		"m.inner._1 relu <- m.inner.conv",
		"m.inner.add add <- m.inner._1,m.cat",
		"_4 global_avgpool <- m.cat",
		"fc linear <- _4",
		"_6 softmax <- fc",
		"output fc",
	}
	if diff := cmp.Diff(want, dump(s)); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
	byName := map[string]*Layer{}
	for _, l := range s.Layers {
		byName[l.Name] = l
	}
	if diff := cmp.Diff(Conv2D{Out: 8, KernelH: 3, KernelW: 5, StrideH: 1, StrideW: 1, PadH: 1, PadW: 2, DilH: 1, DilW: 1, Groups: 1}, byName["stem"].Op); diff != "" {
		t.Errorf("stem (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Conv2D{Out: 16, KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1, Bias: true}, byName["stage.0.conv"].Op); diff != "" {
		t.Errorf("stage.0.conv (-want +got):\n%s", diff)
	}
	if got := byName["stage.1.conv"].Op.(Conv2D); got.StrideH != 1 || got.Out != 16 {
		t.Errorf("stage.1.conv = %+v; first: must only apply to instance 0", got)
	}
	if got := byName["single.conv"].Op.(Conv2D).Out; got != 8 {
		t.Errorf("single.conv out = %d, want 4 × $wide = 8", got)
	}
	if diff := cmp.Diff(Upsample{ScaleH: 2, ScaleW: 1, Mode: "bilinear", AlignCorners: true}, byName["m.up"].Op); diff != "" {
		t.Errorf("m.up (-want +got):\n%s", diff)
	}
	// Positions: layers in a block body point into the block.
	conv := byName["stage.2.conv"]
	if want := (Pos{"example.yaml", 9, 9}); conv.Pos != want {
		t.Errorf("stage.2.conv Pos = %v, want %v", conv.Pos, want)
	}
	wantFields := map[string]Pos{}
	for k, col := range map[string]int{"name": 16, "op": 26, "out": 39, "kernel": 59, "stride": 70, "padding": 88} {
		wantFields[k] = Pos{"example.yaml", 9, col}
	}
	if diff := cmp.Diff(wantFields, conv.Fields); diff != "" {
		t.Errorf("stage.2.conv Fields (-want +got):\n%s", diff)
	}
	if want := (Input{3, 32, 32, Pos{"example.yaml", 3, 8}}); s.Input != want {
		t.Errorf("Input = %+v, want %+v", s.Input, want)
	}
	if want := (Pos{"example.yaml", 29, 9}); s.OutputPos != want {
		t.Errorf("OutputPos = %v, want %v", s.OutputPos, want)
	}
}

func TestExpressions(t *testing.T) {
	vars := &env{vars: map[string]value{"a": intValue(7), "b": intValue(-2), "t": boolValue(true), "f": boolValue(false)},
		parent: &env{vars: map[string]value{"s": strValue("x"), "a": intValue(99)}}} // inner a shadows
	for _, tc := range []struct{ src, want string }{
		{"$a + $b * 3", "1"},
		{"($a + $b) * 3", "15"},
		{"$a / 2 + $a % 2", "4"},
		{"-$a / 2", "-3"},
		{"- - $a", "7"},
		{"$a > 3 and not $f", "true"},
		{"$f or $a == 7", "true"},
		{"$a != 7 or $b <= -2", "true"},
		{"$s == $s", "true"},
		{"$f and $missing", "false"}, // short-circuit
		{"$t or 1 / 0", "true"},
		{"1048576 * 2", "error: 1048576 * 2 = 2097152 is outside the limit ±1048576"},
		{"$a / ($b + 2)", "error: division by zero"},
		{"$a + $t", "error: + needs integers, got integer 7 and bool true"},
		{"$a == $t", "error: == compares integer 7 with bool true"},
		{"not $a", "error: not needs a bool, got integer 7"},
		{"$nope", "error: unknown variable $nope (known: $a, $b, $f, $s, $t)"},
		{"$a <", "error: expression ends early; expected a value"},
		{"1 < 2 < 3", "error: comparisons do not chain; use and"},
		{"$a $b", `error: unexpected "$b" after expression`},
		{"a + 1", `error: unexpected "a"; variables are written $a`},
		{"$a & 1", `error: unexpected character '&' in expression`},
		{"$", "error: expected a variable name after $"},
		{"(($a)", "error: expected )"},
		{"99999999999999999999", `error: bad integer "99999999999999999999" (integers are decimal, at most 1048576)`},
		{strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200), "error: expression nested too deeply"},
		{strings.Repeat("not ", 200) + "$t", "error: expression nested too deeply"},
	} {
		got := ""
		e, err := parseExpr(tc.src)
		if err == nil {
			var v value
			v, err = eval(e, vars)
			got = v.String()
		}
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != tc.want {
			t.Errorf("%s = %s, want %s", tc.src, got, tc.want)
		}
	}
}

const hdr = "resgen: 1\nname: t\ninput: {channels: 3, height: 8, width: 8}\n" // 3 lines

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // each a substring of one line of the error, in order
	}{
		{"stride zero", hdr + "layers:\n  - {name: c, op: conv2d, out: 4, kernel: 3, stride: 0}\n",
			[]string{`t.yaml:5:54: conv2d "c": stride must be ≥ 1, got 0`}},
		{"pair and unknown field", hdr + "layers:\n  - {name: c, op: conv2d, out: 4, kernel: [3, -1], strid: 2}\n",
			[]string{`t.yaml:5:47: conv2d "c": kernel must be ≥ 1, got -1`,
				`t.yaml:5:52: conv2d "c": unknown field "strid" for conv2d (did you mean "stride"?); expected one of name, from, if, key, out, kernel, stride, padding, dilation, groups, bias`}},
		{"missing fields", hdr + "layers:\n  - {name: c, op: conv2d}\n",
			[]string{`t.yaml:5:5: conv2d "c": missing out`, `t.yaml:5:5: conv2d "c": missing kernel`}},
		{"unnamed params", hdr + "layers:\n  - {op: conv2d, out: 4, kernel: 3}\n",
			[]string{`t.yaml:5:5: conv2d layers need a name: (it is their state_dict key prefix)`}},
		{"unknown op", hdr + "layers:\n  - {name: c, op: conv3d, out: 4}\n",
			[]string{`t.yaml:5:19: unknown op "conv3d" (did you mean "conv2d"?); valid ops: add, avgpool,`}},
		{"forward reference", hdr + "layers:\n  - {name: a, op: relu, from: b}\n  - {name: b, op: relu}\n",
			[]string{`t.yaml:5:31: relu "a": from: unknown tensor "b" (defined later?)`}},
		{"unknown tensor", hdr + "layers:\n  - {name: a, op: relu, from: inpt}\n",
			[]string{`t.yaml:5:31: relu "a": from: unknown tensor "inpt" (did you mean "input"?); known here: input`}},
		{"duplicate active", hdr + "layers:\n  - {name: a, op: relu}\n  - {name: a, op: relu}\n",
			[]string{`t.yaml:6:5: relu "a": duplicate name "a" (also at 5:5)`}},
		{"inactive duplicate is fine, reference is not", hdr + "layers:\n  - {name: a, op: relu, if: false}\n  - {name: a, op: sigmoid, if: false}\n  - {name: b, op: relu, from: a}\n",
			[]string{`t.yaml:7:31: relu "b": from: tensor "a" is switched off here by its if:`}},
		{"recursion", hdr + "blocks:\n  a:\n    layers:\n      - {name: x, block: b}\n  b:\n    layers:\n      - {name: y, block: a}\nlayers:\n  - {name: l, block: a}\n",
			[]string{`t.yaml:10:26: block "a" invokes itself (a → b → a); blocks cannot be recursive`}},
		{"self recursion", hdr + "blocks:\n  a:\n    layers:\n      - {name: x, block: a}\nlayers:\n  - {name: l, block: a}\n",
			[]string{`t.yaml:7:26: block "a" invokes itself (a → a)`}},
		{"unknown arg", hdr + "blocks:\n  a:\n    args: {k: 1}\n    layers:\n      - {name: c, op: conv2d, out: 4, kernel: $k}\nlayers:\n  - {name: l, block: a, args: {j: 1}}\n",
			[]string{`t.yaml:10:32: block "a" has no arg "j" (did you mean "k"?) (args: k)`}},
		{"arg type", hdr + "blocks:\n  a:\n    args: {k: 1}\n    layers:\n      - {name: c, op: conv2d, out: 4, kernel: $k}\nlayers:\n  - {name: l, block: a, args: {k: true}}\n",
			[]string{`t.yaml:10:35: "l" (block a): arg k of block "a" must be an integer (like its default 1), got bool true`}},
		{"error in block names instance", hdr + "blocks:\n  a:\n    args: {k: 1}\n    layers:\n      - {name: c, op: conv2d, out: 4, kernel: $k}\nlayers:\n  - {name: l, block: a, repeat: 3, first: {k: 0}}\n",
			[]string{`t.yaml:8:47: conv2d "l.0.c": kernel must be ≥ 1, got 0`}},
		{"reported once for all instances", hdr + "blocks:\n  a:\n    layers:\n      - {name: c, op: conv2d, out: 4, kernel: 0}\nlayers:\n  - {name: l, block: a, repeat: 30}\n",
			[]string{`t.yaml:7:47: conv2d "l.0.c": kernel must be ≥ 1, got 0`}},
		{"unknown var", hdr + "layers:\n  - {name: c, op: conv2d, out: $w * 2, kernel: 3}\n",
			[]string{`t.yaml:5:32: conv2d "c": out: unknown variable $w (none are defined here)`}},
		{"syntax error column", hdr + "vars: {w: 4}\nlayers:\n  - {name: c, op: conv2d, out: $w * , kernel: 3}\n",
			[]string{`t.yaml:6:36: conv2d "c": out: expression ends early; expected a value`}},
		{"division by zero", hdr + "vars: {w: 4}\nlayers:\n  - {name: c, op: conv2d, out: $w / 0, kernel: 3}\n",
			[]string{`t.yaml:6:35: conv2d "c": out: division by zero`}},
		{"limit", hdr + "layers:\n  - {name: c, op: conv2d, out: 2000000, kernel: 3}\n",
			[]string{`t.yaml:5:32: conv2d "c": out: integer 2000000 is outside the limit ±1048576`}},
		{"string is not an expression", hdr + "layers:\n  - {name: c, op: conv2d, out: 2 * 4, kernel: 3}\n",
			[]string{`t.yaml:5:32: conv2d "c": out must be an integer, got string "2 * 4" (only text with a $variable is an expression)`}},
		{"header", "resgen: 2\nname: 1t\nlayers: []\n",
			[]string{`t.yaml:1:1: missing input: {channels: C, height: H, width: W}`,
				`t.yaml:1:9: resgen: must be 1 (the spec format version), got "2"`,
				`t.yaml:2:7: name must be a Go package name (letters, digits, _), got "1t"`}},
		{"no layers", hdr + "layers: []\n", []string{`t.yaml:4:9: the network has no active layers`}},
		{"empty", "", []string{`t.yaml:1:1: empty spec`}},
		{"empty from", hdr + "layers:\n  - {name: a, op: relu, from: []}\n", []string{`t.yaml:5:31: from must be a tensor name or a non-empty list of names, got a list`}},
		{"not a mapping", "- 1\n", []string{`t.yaml:1:1: a spec must be a mapping (key: value), got a list`}},
		{"yaml syntax", "resgen: 1\nname: t\n  bad: [\n", []string{`t.yaml:3:1: YAML: mapping values are not allowed in this context`}},
		{"two documents", hdr + "layers: [{op: relu}]\n---\nresgen: 1\n", []string{`t.yaml:5:1: a spec is a single YAML document`}},
		{"duplicate key", hdr + "layers: [{op: relu, op: sigmoid}]\n", []string{`t.yaml:4:21: duplicate key "op" in a layer (first at 4:11)`}},
		{"input", "resgen: 1\nname: t\ninput: {channels: 0, height: 8, widht: 8}\nlayers: [{op: relu}]\n",
			[]string{`t.yaml:3:8: input: missing width`, `t.yaml:3:19: input channels must be an integer ≥ 1, got 0`, `t.yaml:3:33: input: unknown key "widht" (did you mean "width"?)`}},
		{"op constraints", hdr + "layers:\n  - {name: a, op: add, from: [input]}\n  - {name: m, op: maxpool, kernel: 2, padding: 2}\n  - {name: u, op: upsample, scale: 2, align_corners: true}\n  - {name: g, op: conv2d, out: 6, kernel: 1, groups: 4}\n  - {name: u2, op: upsample, scale: 2, mode: bicubic}\n",
			[]string{`t.yaml:5:30: add "a": from must list at least 2 tensors, got 1`,
				`t.yaml:6:48: maxpool "m": padding must be at most half the kernel, got padding [2, 2] for kernel [2, 2]`,
				`t.yaml:7:54: upsample "u": align_corners needs mode: bilinear, got mode nearest`,
				`t.yaml:8:54: conv2d "g": out (6) must be divisible by groups (4)`,
				`t.yaml:9:46: upsample "u2": mode must be one of nearest, bilinear, got "bicubic"`}},
		{"add without from", hdr + "layers:\n  - {name: a, op: add}\n", []string{`t.yaml:5:19: add "a": needs from: listing at least 2 tensors`}},
		{"aliases", hdr + "layers:\n  - &x {name: a, op: relu}\n  - *x\n", []string{`t.yaml:6:5: YAML aliases (*x) are not supported`}},
		{"output and extra key", hdr + "layers:\n  - {name: a, op: relu}\noutput: b\nextra: 1\n",
			[]string{`t.yaml:6:9: output: unknown tensor "b" (did you mean "a"?); known here: a, input`,
				`t.yaml:7:1: unknown top-level key "extra"`}},
		{"output is input", hdr + "layers:\n  - {name: a, op: relu}\noutput: input\n", []string{`t.yaml:6:9: output is the network input itself`}},
		{"block inputs", hdr + "blocks:\n  up:\n    inputs: [x, skip]\n    layers:\n      - {op: concat, from: [skip, x]}\nlayers:\n  - {name: a, op: relu}\n  - {name: u, block: up}\n  - {name: v, block: up, from: [a, input], repeat: 2}\n  - {name: w, block: up, from: [a]}\n",
			[]string{`t.yaml:11:5: "u" (block up): block "up" takes 2 inputs (x, skip); list them in from:`,
				`t.yaml:12:52: "v" (block up): repeat needs a block with one input; block "up" has 2`,
				`t.yaml:13:32: block "up" takes 2 inputs (x, skip), from: gives 1`}},
		{"first layer of multi-input block", hdr + "blocks:\n  up:\n    inputs: [x, skip]\n    layers:\n      - {op: relu}\nlayers:\n  - {name: u, block: up, from: [input, input]}\n",
			[]string{`t.yaml:8:9: relu "u._0": needs from: (the first layer of a block with 2 inputs: x, skip)`}},
		{"unused block is checked", hdr + "blocks:\n  unused:\n    args: {k: 0}\n    layers:\n      - {name: c, op: conv2d, out: 4, kernel: $k, strde: 1}\nlayers:\n  - {op: relu}\n",
			[]string{`t.yaml:8:47: conv2d "c" in block "unused": kernel must be ≥ 1, got 0`,
				`t.yaml:8:51: conv2d "c" in block "unused": unknown field "strde"`}},
		{"if errors", hdr + "layers:\n  - {name: a, op: relu, if: 1 + 2}\n  - {name: b, op: relu, if: $nope}\n",
			[]string{`t.yaml:5:29: relu "a": if: must be true or false, got string "1 + 2" (only text with a $variable is an expression)`,
				`t.yaml:6:29: relu "b": if: unknown variable $nope`}},
		{"conv transpose and eps", hdr + "layers:\n  - {name: b, op: conv_transpose2d, out: 4, kernel: 2, stride: 2, output_padding: 2}\n  - {name: bn, op: batchnorm, eps: -1}\n",
			[]string{`t.yaml:5:83: conv_transpose2d "b": output_padding must be smaller than stride or dilation, got output_padding [2, 2], stride [2, 2], dilation [1, 1]`,
				`t.yaml:6:36: batchnorm "bn": eps must be a positive finite number, got -1`}},
		{"repeat range", hdr + "blocks:\n  b:\n    layers: [{op: relu}]\nlayers:\n  - {name: l, block: b, repeat: 10001}\n",
			[]string{`t.yaml:8:33: "l" (block b): repeat must be an integer from 1 to 10000, got 10001`}},
		{"first without repeat", hdr + "blocks:\n  b:\n    args: {k: 1}\n    layers: [{op: relu}]\nlayers:\n  - {name: l, block: b, first: {k: 2}}\n",
			[]string{`t.yaml:9:32: first: overrides args of instance 0 of a repeat`}},
		{"too many layers", hdr + "blocks:\n  b:\n    layers:\n      - {name: c, block: c, repeat: 1000}\n  c:\n    layers: [{op: relu}, {op: relu}]\nlayers:\n  - {name: l, block: b, repeat: 1000}\n",
			[]string{`the network expands to more than 200000 layers and block instances`}},
		{"reserved and bad names", hdr + "blocks:\n  b:\n    layers: [{name: in, op: relu}]\nlayers:\n  - {name: input, op: relu}\n  - {name: a..b, op: relu}\n  - {name: l, block: b, key: x}\n",
			[]string{`t.yaml:6:21: name "in" is taken by the scope's input`,
				`t.yaml:8:12: name "input" is taken by the scope's input`,
				`t.yaml:9:12: name must be dot-separated parts of letters, digits and _, got "a..b"`}},
		{"full name and key clashes", hdr + "blocks:\n  b:\n    layers: [{name: c, op: linear, out: 2}]\nlayers:\n  - {name: l, block: b}\n  - {name: l.c, op: relu}\n  - {name: d, op: linear, out: 2, key: l.c}\n",
			[]string{`t.yaml:9:5: relu "l.c": full name "l.c" is already used by the layer at 6:14`,
				`t.yaml:10:5: linear "d": state_dict key prefix "l.c" is already used by layer "l.c"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			lines := strings.Split(err.Error(), "\n")
			i := 0
			for _, l := range lines {
				if i < len(tc.want) && strings.Contains(l, tc.want[i]) {
					i++
				}
			}
			if i < len(tc.want) {
				t.Errorf("error does not contain %q (in order); got:\n%v", tc.want[i], err)
			}
		})
	}
}

func TestErrorListSortedAndCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(hdr + "layers:\n")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, "  - {name: c%d, op: conv2d, out: 4, kernel: 0}\n", i)
	}
	b.WriteString("bogus: 1\n")
	_, err := Parse("t.yaml", []byte(b.String()))
	list, ok := err.(ErrorList)
	if !ok {
		t.Fatalf("error is %T, want ErrorList", err)
	}
	if len(list) != MaxErrors+1 || list[MaxErrors].Msg != "too many errors" {
		t.Fatalf("got %d errors, last %v; want %d then too many errors", len(list), list[len(list)-1], MaxErrors)
	}
	for i := 1; i < len(list); i++ {
		if list[i].Pos.before(list[i-1].Pos) {
			t.Errorf("errors not sorted: %v before %v", list[i-1], list[i])
		}
	}
	if got, want := list[0].Error(), `t.yaml:5:44: conv2d "c0": kernel must be ≥ 1, got 0`; got != want {
		t.Errorf("first error %q, want %q", got, want)
	}
}

func TestParseFile(t *testing.T) {
	path := t.TempDir() + "/net.yaml"
	if err := os.WriteFile(path, []byte(hdr+"layers:\n  - {op: relu}\n  - {op: sigmoid, if: bogus}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ParseFile(path)
	if want := path + `:6:23: sigmoid "_1": if: must be true or false, got string "bogus"`; err == nil || err.Error() != want {
		t.Errorf("ParseFile error = %v, want %s", err, want)
	}
	if _, err := ParseFile(path + ".missing"); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
