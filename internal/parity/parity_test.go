package parity

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/resgen/resgen/internal/testmodel"
	"github.com/resgen/resgen/runtime"
)

var writeTable = flag.Bool("update", false, "rewrite docs/parity.md from this run")

// tolerance is the largest error allowed, relative to max|reference|.
const tolerance = 1e-4

type model interface {
	Forward(dst, src []float32) error
	Close()
}

type compiled struct {
	new                 func(weights []byte, threads int) (model, error)
	inputLen, outputLen int
	macs                int64 // per item
	winograd            int   // convolutions compiled as Winograd
}

// directSuffix names the package of a case compiled with winograd: off
// (gencases writes one when the default build has Winograd layers).
const directSuffix = "-direct"

// shortMACs is the most multiply-adds per item a case may have under
// -short (CI's run on the portable Go kernels, where the full-size
// resnext50_32x4d and the 101-layer grouped and wide nets at 64×64 take
// 10–30 s each; the AVX2 and AVX-512 runs still cover them). Every other
// case, resnet152 at 64×64 (0.94 G) included, stays under it.
const shortMACs = 1e9

type caseFile struct {
	Preset  string  `json:"preset"`
	Seed    *uint64 `json:"seed"`
	Weights string  `json:"weights"`
}

type result struct {
	name           string
	maxAbs, maxRel float64
	refMax         float64
	winograd       int
}

var (
	resultsMu sync.Mutex
	results   []result
)

func TestParity(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join("..", "..", "testdata", "parity"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		name := d.Name()
		t.Run(name, func(t *testing.T) { runCase(t, name, name) })
		if _, ok := generated[name+directSuffix]; ok {
			t.Run(name+directSuffix, func(t *testing.T) { runCase(t, name, name+directSuffix) })
		}
	}
	if n < 20 {
		t.Fatalf("only %d fixture cases found", n)
	}
	if *writeTable && !t.Failed() {
		writeParityTable(t)
	}
}

// runCase runs fixture name through package pkg (name, or its direct
// variant).
func runCase(t *testing.T, name, pkg string) {
	c, ok := generated[pkg]
	if !ok {
		t.Fatalf("no generated package for fixture %s: run go generate ./internal/parity", name)
	}
	if testing.Short() && c.macs > shortMACs {
		t.Skipf("-short: %.2g multiply-adds per item, over %.2g", float64(c.macs), float64(shortMACs))
	}
	dir := filepath.Join("..", "..", "testdata", "parity", name)
	var cf caseFile
	b, err := os.ReadFile(filepath.Join(dir, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		t.Fatal(err)
	}
	io, err := os.ReadFile(filepath.Join(dir, "io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := runtime.ReadSafetensors(io)
	if err != nil {
		t.Fatal(err)
	}
	input, want := flat(t, st, "input"), flat(t, st, "output")
	if len(input) != 2*c.inputLen || len(want) != 2*c.outputLen {
		t.Fatalf("fixture holds %d inputs and %d outputs; the package wants 2×%d and 2×%d", len(input), len(want), c.inputLen, c.outputLen)
	}
	var weights []byte
	switch {
	case cf.Weights != "":
		weights, err = os.ReadFile(filepath.Join(dir, cf.Weights))
		if err != nil {
			t.Fatal(err)
		}
	case cf.Seed != nil:
		weights = seededWeights(t, pkg, *cf.Seed)
	default:
		t.Fatal("case.json has neither seed nor weights")
	}
	for _, threads := range []int{1, 2} {
		m, err := c.new(weights, threads)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, len(want))
		if err := m.Forward(got, input); err != nil {
			t.Fatal(err)
		}
		m.Close()
		maxAbs, refMax := 0.0, 0.0
		for i := range want {
			refMax = math.Max(refMax, math.Abs(float64(want[i])))
			d := math.Abs(float64(got[i]) - float64(want[i]))
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			maxAbs = math.Max(maxAbs, d)
		}
		rel := maxAbs / refMax
		t.Logf("threads=%d max abs error %.3g, max rel error %.3g (max|ref| %.4g)", threads, maxAbs, rel, refMax)
		if !(rel <= tolerance) {
			t.Errorf("threads=%d: max rel error %.3g > %g", threads, rel, tolerance)
		}
		if threads == 1 {
			resultsMu.Lock()
			results = append(results, result{pkg, maxAbs, rel, refMax, c.winograd})
			resultsMu.Unlock()
		}
	}
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

// seededWeights generates the weights the reference loaded: every tensor
// the spec reads, from the case's seed.
func seededWeights(t *testing.T, name string, seed uint64) []byte {
	return testmodel.SeededWeights(t, filepath.Join("gen", name, "spec.yaml"), seed)
}

func writeParityTable(t *testing.T) {
	sort.Slice(results, func(i, j int) bool { return results[i].name < results[j].name })
	var b strings.Builder
	b.WriteString("# Parity with PyTorch\n\n")
	b.WriteString("Written by `go test ./internal/parity -run TestParity -update` from the run's own\n")
	b.WriteString("measurements (1 thread, this machine's kernel path). Each case runs a batch of 2\n")
	b.WriteString("inputs through the generated package and compares with PyTorch 1.13's output\n")
	b.WriteString("saved by reference/reference.py. The test fails above 1e-4 relative to max|reference|.\n\n")
	b.WriteString("Cases the compiler builds with Winograd convolutions (`winograd: auto`, the default;\n")
	b.WriteString("the column counts them) run a second time with every convolution direct\n")
	b.WriteString("(`winograd: off`, gen/CASE-direct), so the last column is the error without Winograd.\n\n")
	b.WriteString("| case | Winograd layers | max abs error | max rel error | max rel error, direct | max abs reference |\n|---|---:|---:|---:|---:|---:|\n")
	byName := map[string]result{}
	for _, r := range results {
		byName[r.name] = r
	}
	for _, r := range results {
		if strings.HasSuffix(r.name, directSuffix) {
			continue
		}
		direct := "same"
		if d, ok := byName[r.name+directSuffix]; ok {
			direct = fmt.Sprintf("%.2e", d.maxRel)
		}
		fmt.Fprintf(&b, "| %s | %d | %.2e | %.2e | %s | %.4g |\n", r.name, r.winograd, r.maxAbs, r.maxRel, direct, r.refMax)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "parity.md"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
