package resgen

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/resgen/resgen/codegen"
	"github.com/resgen/resgen/ir"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden compiles every testdata/golden/CASE/spec.yaml and compares the
// generated files and the graph after every pass with CASE/want.txtar.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "golden", "*", "spec.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, specPath := range dirs {
		dir := filepath.Dir(specPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(specPath)
			if err != nil {
				t.Fatal(err)
			}
			got := &txtar.Archive{Comment: []byte("Generated files and pass dumps for spec.yaml; go test -update rewrites this.\n")}
			for _, pass := range ir.PassNames() {
				res, err := Compile("spec.yaml", src, Options{Dump: pass})
				if err != nil {
					t.Fatal(err)
				}
				got.Files = append(got.Files, txtar.File{Name: "dump/" + pass, Data: []byte(res.Dump)})
				if pass == "lower" {
					for _, name := range codegen.SortedNames(res.Files) {
						got.Files = append(got.Files, txtar.File{Name: name, Data: res.Files[name]})
					}
				}
			}
			want := filepath.Join(dir, "want.txtar")
			if *update {
				if err := os.WriteFile(want, txtar.Format(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(b), string(txtar.Format(got))); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", want, diff)
			}
		})
	}
}

// TestDeterministic: two compilations of the same spec are byte-identical.
func TestDeterministic(t *testing.T) {
	specs, _ := filepath.Glob(filepath.Join("testdata", "golden", "*", "spec.yaml"))
	for _, p := range specs {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Compile(p, src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			b, err := Compile(p, src, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for name := range a.Files {
				if !bytes.Equal(a.Files[name], b.Files[name]) {
					t.Fatalf("%s: %s differs between two builds", p, name)
				}
			}
		}
	}
}
