package onnxparity

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/resgen/resgen/codegen"
	"github.com/resgen/resgen/importer"
	"github.com/resgen/resgen/onnx"
	"github.com/resgen/resgen/runtime"
)

// tolerance is the largest error allowed, relative to max|reference|.
const tolerance = 1e-5

type model interface {
	Forward(dst, src []float32) error
	Close()
}

type compiled struct {
	new                 func(weights []byte, threads int) (model, error)
	inputLen, outputLen int
}

// TestImportRoundTrip imports each fixture again (the spec must equal the
// committed one, which the package was compiled from), loads the imported
// weights into the compiled package and compares its output on the
// fixture's batch with PyTorch's.
func TestImportRoundTrip(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "onnx")
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "case.json")); !e.IsDir() || err != nil {
			continue // errors/ is the error corpus (cmd/resgen)
		}
		n++
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			c, ok := generated[name]
			if !ok {
				t.Fatalf("no generated package for %s: run go generate ./internal/onnxparity", name)
			}
			b, err := os.ReadFile(filepath.Join(dir, name, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := onnx.ReadModel(b)
			if err != nil {
				t.Fatal(err)
			}
			res, err := importer.Import(m, importer.Options{File: "model.onnx", Name: codegen.PackageName(name)})
			if err != nil {
				t.Fatal(err)
			}
			committed, err := os.ReadFile(filepath.Join("gen", name, "spec.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(committed), string(res.Spec)); diff != "" {
				t.Fatalf("imported spec differs from gen/%s/spec.yaml (run go generate ./internal/onnxparity) (-want +got):\n%s", name, diff)
			}
			io, err := os.ReadFile(filepath.Join(dir, name, "io.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			st, err := runtime.ReadSafetensors(io)
			if err != nil {
				t.Fatal(err)
			}
			input, want := flat(t, st, "input"), flat(t, st, "output")
			var cj struct {
				Batch int `json:"batch"`
			}
			if b, err := os.ReadFile(filepath.Join(dir, name, "case.json")); err != nil {
				t.Fatal(err)
			} else if err := json.Unmarshal(b, &cj); err != nil {
				t.Fatal(err)
			}
			if cj.Batch < 2 || len(input) != cj.Batch*c.inputLen || len(want) != cj.Batch*c.outputLen {
				t.Fatalf("fixture holds %d inputs and %d outputs for batch %d; the package wants %d and %d per item", len(input), len(want), cj.Batch, c.inputLen, c.outputLen)
			}
			for _, threads := range []int{1, 2} {
				rel, maxAbs, refMax := run(t, c, res.Weights, threads, input, want)
				t.Logf("threads=%d: max abs error %.3g, relative %.3g (max|ref| %.4g)", threads, maxAbs, rel, refMax)
				if !(rel <= tolerance) {
					t.Errorf("threads=%d: max error %.3g relative to max|ref| > %g", threads, rel, tolerance)
				}
			}
		})
	}
	if n < 8 {
		t.Fatalf("only %d fixtures found", n)
	}
}

// run loads weights into c and compares its output on input with want; it
// returns the max error relative to max|want|.
func run(t *testing.T, c compiled, weights []byte, threads int, input, want []float32) (rel, maxAbs, refMax float64) {
	t.Helper()
	m, err := c.new(weights, threads)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got := make([]float32, len(want))
	if err := m.Forward(got, input); err != nil {
		t.Fatal(err)
	}
	return compare(got, want)
}

func compare(got, want []float32) (rel, maxAbs, refMax float64) {
	for i := range want {
		refMax = math.Max(refMax, math.Abs(float64(want[i])))
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		maxAbs = math.Max(maxAbs, d)
	}
	if refMax == 0 {
		return maxAbs, maxAbs, refMax
	}
	return maxAbs / refMax, maxAbs, refMax
}

func flat(t *testing.T, st *runtime.Safetensors, name string) []float32 {
	t.Helper()
	shape, ok := st.Shape(name)
	if !ok {
		t.Fatalf("fixture has no tensor %q", name)
	}
	w := runtime.NewWeights(st)
	v := w.Tensor(name, shape...)
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}
