package resgen

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"testing"

	"github.com/resgen/resgen/spec"
)

// FuzzCompile feeds arbitrary bytes through the whole compiler: the spec
// parser, the checker (lowering and shape inference), every pass with the
// verifier, and codegen. It must never panic; when it succeeds, the
// generated Go must parse. The seeds are the golden specs and the error
// corpus; testdata/fuzz/FuzzCompile holds what fuzzing found worth keeping.
func FuzzCompile(f *testing.F) {
	for _, pattern := range []string{"testdata/golden/*/spec.yaml", "testdata/errors/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		// Networks of hundreds of layers are valid but slow to generate
		// and gofmt; they would starve the fuzzer. cmd/resgen's tests build
		// ResNet-1202.
		if s, err := spec.Parse("fuzz.yaml", src); err == nil && len(s.Layers) > 300 {
			t.Skip("large network")
		}
		res, err := Compile("fuzz.yaml", src, Options{Package: "fuzz"})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for name, b := range res.Files {
			if _, err := parser.ParseFile(token.NewFileSet(), name, b, 0); err != nil {
				t.Fatalf("generated %s does not parse: %v", name, err)
			}
		}
	})
}
