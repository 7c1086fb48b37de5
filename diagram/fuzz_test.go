package diagram

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/resgen/resgen"
	"github.com/resgen/resgen/ir"
	"github.com/resgen/resgen/spec"
)

// FuzzSVG: any spec that compiles draws, after every pass, as well-formed
// XML with nothing overlapping.
func FuzzSVG(f *testing.F) {
	for _, pattern := range []string{"testdata/*/spec.yaml", "../testdata/golden/*/spec.yaml"} {
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
		if s, err := spec.Parse("fuzz.yaml", src); err != nil || len(s.Layers) > 300 {
			return
		}
		g, err := resgen.Parse("fuzz.yaml", src)
		if err != nil {
			return
		}
		err = ir.Run(g, true, func(pass string, g *ir.Graph) {
			d, err := build(g, Options{Pass: pass})
			if err != nil {
				t.Fatalf("after %s: %v", pass, err)
			}
			for _, p := range checkLayout(d) {
				t.Errorf("after %s: %s", pass, p)
			}
			checkXML(t, render(d))
		})
		if err != nil {
			return
		}
	})
}
