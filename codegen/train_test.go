package codegen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/resgen/resgen/ir"
	"github.com/resgen/resgen/spec"
)

// TestBackwardRulesCoverIR: every op type of the IR (each type in
// ir/op.go with a Kind method) has a backward rule, so the trainer
// generator can never meet an op it does not know.
func TestBackwardRulesCoverIR(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../ir/op.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for typ := range backwardRules {
		have[typ.Elem().Name()] = true
	}
	n := 0
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || fn.Name.Name != "Kind" {
			continue
		}
		star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
		if !ok {
			t.Fatalf("Kind on a non-pointer receiver at %v", fn.Pos())
		}
		name := star.X.(*ast.Ident).Name
		n++
		if !have[name] {
			t.Errorf("ir.%s has no backward rule in codegen/backward.go", name)
		}
	}
	if n < 15 || n != len(backwardRules) {
		t.Errorf("ir/op.go has %d op types, the table %d rules", n, len(backwardRules))
	}
}

func trainGraph(t *testing.T, path string) *ir.Graph {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse("spec.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	g, err := ir.Lower(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.RunTrain(g, true, nil); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGenerateTrainAllOps compiles the network with every op and checks
// the trainer's shape: it parses, calls no panic, runs no init, and each
// node with a backward appears in it.
func TestGenerateTrainAllOps(t *testing.T) {
	g := trainGraph(t, "../testdata/golden/allops/spec.yaml")
	src, err := GenerateTrain(g, Options{Package: "allops", Source: "spec.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "train.go", src, 0)
	if err != nil {
		t.Fatalf("train.go does not parse: %v", err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Name == "panic" {
			t.Error("train.go calls panic")
		}
		if fn, ok := n.(*ast.FuncDecl); ok && fn.Name.Name == "init" {
			t.Error("train.go has an init function")
		}
		return true
	})
	text := string(src)
	for _, call := range []string{"BatchNormTrainBackward", "MaxPool2DBackwardP", "AvgPool2DBackward", "ConcatBackward",
		"UpsampleNearestBackward", "UpsampleBilinearBackward", "ShortcutABackward", "SoftmaxBackward", "SigmoidBackward",
		"FlattenBackward", "ReLUBackwardP", "BackwardData", "BackwardWeight", "SoftmaxCrossEntropy", "SGDP"} {
		if !strings.Contains(text, "rt."+call+"(") && !strings.Contains(text, "."+call+"(") {
			t.Errorf("train.go never calls %s", call)
		}
	}
}

// TestGenerateTrainNoRule: an op without a backward rule is an error that
// names the layer and its place in the spec.
func TestGenerateTrainNoRule(t *testing.T) {
	g := trainGraph(t, "../testdata/golden/allops/spec.yaml")
	key := reflect.TypeFor[*ir.Sigmoid]()
	rule := backwardRules[key]
	delete(backwardRules, key)
	defer func() { backwardRules[key] = rule }()
	_, err := GenerateTrain(g, Options{Package: "allops", Source: "spec.yaml"})
	if err == nil || !strings.Contains(err.Error(), `layer "sig"`) || !strings.Contains(err.Error(), "spec.yaml:") {
		t.Errorf("error %v, want one naming layer \"sig\" and its position", err)
	}
}

// TestGenerateTrainDeep: a 1202-layer network still generates quickly and
// in stages of at most stageSize nodes.
func TestGenerateTrainDeep(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	text, err := spec.Preset("cifar-resnet1202", spec.PresetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse("spec.yaml", text)
	if err != nil {
		t.Fatal(err)
	}
	g, err := ir.Lower(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.RunTrain(g, false, nil); err != nil {
		t.Fatal(err)
	}
	src, err := GenerateTrain(g, Options{Package: "deep", Source: "spec.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(src), "\nfunc (t *Trainer) bwd"); n < len(g.Nodes)/stageSize {
		t.Errorf("%d backward stages for %d nodes", n, len(g.Nodes))
	}
}
