package codegen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/resgen/resgen/ir"
	"github.com/resgen/resgen/spec"
)

const tiny = `resgen: 1
name: tiny
input: {channels: 3, height: 8, width: 8}
layers:
  - {name: conv1, op: conv2d, out: 4, kernel: 3, padding: 1}
  - {name: bn1, op: batchnorm}
  - {name: pool, op: global_avgpool}
  - {name: fc, op: linear, out: 3}
`

func compile(t *testing.T) *ir.Graph {
	t.Helper()
	s, err := spec.Parse("tiny.yaml", []byte(tiny))
	if err != nil {
		t.Fatal(err)
	}
	g, err := ir.Lower(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Run(g, true, nil); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestHostileNames: the spec parser refuses such names, but codegen must not
// rely on it. Names and keys that are Go code in disguise reach the output
// only inside string literals and sanitised identifiers and comments.
func TestHostileNames(t *testing.T) {
	g := compile(t)
	evil := []string{
		"x\"); os.Exit(1); //",
		"a\n*/ func init() { panic(1) } /*",
		"b`+os.Getenv(\"HOME\")+`",
		"c\u2028d",
	}
	for i, n := range g.Nodes[1:] {
		n.Name = evil[i%len(evil)] + strings.Repeat("!", i)
		if c, ok := n.Op.(*ir.Conv); ok {
			c.Weight.Key = evil[(i+1)%len(evil)]
			if c.BN != nil {
				c.BN.Prefix = evil[(i+2)%len(evil)]
			}
		}
	}
	g.Name = evil[0]
	files, err := Generate(g, Options{Package: "tiny", Source: evil[1], Version: evil[2]})
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "model.go", files["model.go"], parser.ParseComments)
	if err != nil {
		t.Fatalf("generated code does not parse: %v\n%s", err, files["model.go"])
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "os" && sel.Sel.Name != "ReadFile" {
				t.Errorf("generated code calls os.%s", sel.Sel.Name)
			}
		}
		if fn, ok := n.(*ast.FuncDecl); ok && fn.Name.Name == "init" {
			t.Error("generated code has an init function")
		}
		if id, ok := n.(*ast.Ident); ok && id.Name == "panic" {
			t.Error("generated code calls panic")
		}
		return true
	})
}

func TestPackageName(t *testing.T) {
	for in, want := range map[string]string{
		"cifar-resnet20": "cifarresnet20",
		"ResNet18":       "resnet18",
		"3net":           "net",
		"":               "model",
		"---":            "model",
		"func":           "model",
		"unet_w8":        "unetw8",
	} {
		if got := PackageName(in); got != want {
			t.Errorf("PackageName(%q) = %q, want %q", in, got, want)
		}
		if err := ValidPackageName(PackageName(in)); err != nil {
			t.Errorf("PackageName(%q) is invalid: %v", in, err)
		}
	}
	for _, bad := range []string{"", "a b", "1x", "main", "_", "x-y", "é"} {
		if ValidPackageName(bad) == nil {
			t.Errorf("ValidPackageName(%q) accepted it", bad)
		}
	}
}
