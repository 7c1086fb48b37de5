// Package testmodel gives tests and benchmarks of generated packages the
// seeded weights their spec reads, so they run without checkpoint files.
package testmodel

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/resgen/resgen"
	"github.com/resgen/resgen/internal/seeded"
)

// SeededWeights returns a safetensors file with every tensor the spec at
// specPath reads, generated from seed (see internal/seeded).
func SeededWeights(tb testing.TB, specPath string, seed uint64) []byte {
	tb.Helper()
	src, err := os.ReadFile(specPath)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := resgen.Parse(specPath, src)
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := seeded.Write(&buf, seed, resgen.WeightEntries(g)); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Input returns n seeded input items of length inputLen.
func Input(n, inputLen int) []float32 {
	return seeded.Tensor(1, "input", []int{n, inputLen}, seeded.Input)
}

// Model is what every generated package's Model provides.
type Model interface {
	Forward(dst, src []float32) error
	Close()
}

// Package describes a generated package to the shared tests below.
type Package struct {
	Spec                string // path of the package's spec.yaml
	New                 func(weights []byte, threads int) (Model, error)
	InputLen, OutputLen int
}

// TestForward loads seeded weights, runs a batch of 2 with 1 and 2 threads,
// and checks that the results are finite, identical for both thread counts,
// that each item's result does not depend on its batch neighbour, that
// Forward rejects wrong buffer lengths, and that Forward does not allocate.
func TestForward(t *testing.T, p Package) {
	w := SeededWeights(t, p.Spec, 1)
	in := Input(2, p.InputLen)
	var first []float32
	for _, threads := range []int{1, 2} {
		m, err := p.New(w, threads)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		out := make([]float32, 2*p.OutputLen)
		if err := m.Forward(out, in); err != nil {
			t.Fatal(err)
		}
		for i, v := range out {
			if v != v || v > 3e38 || v < -3e38 {
				t.Fatalf("threads=%d: output[%d] = %v", threads, i, v)
			}
		}
		if first == nil {
			first = out
		} else {
			for i := range out {
				if out[i] != first[i] {
					t.Fatalf("threads=%d: output[%d] = %v, threads=1 gave %v", threads, i, out[i], first[i])
				}
			}
		}
		one := make([]float32, p.OutputLen)
		if err := m.Forward(one, in[p.InputLen:]); err != nil {
			t.Fatal(err)
		}
		for i := range one {
			if one[i] != out[p.OutputLen+i] {
				t.Fatalf("item 1 alone differs from item 1 in a batch at %d", i)
			}
		}
		if err := m.Forward(one, in[:p.InputLen-1]); err == nil {
			t.Error("Forward accepted a short src")
		}
		if err := m.Forward(one[:p.OutputLen-1], in[:p.InputLen]); err == nil {
			t.Error("Forward accepted a short dst")
		}
		if allocs := testing.AllocsPerRun(3, func() { m.Forward(one, in[:p.InputLen]) }); allocs != 0 {
			t.Errorf("threads=%d: Forward allocates %v times per call", threads, allocs)
		}
		// A batch grows its arena on the first call only.
		if allocs := testing.AllocsPerRun(3, func() { m.Forward(out, in) }); allocs != 0 {
			t.Errorf("threads=%d: Forward of 2 items allocates %v times per call after the first", threads, allocs)
		}
	}
}

// BenchmarkForward times Forward at batch 1 with 1 and 2 threads.
func BenchmarkForward(b *testing.B, p Package, macs int64) {
	w := SeededWeights(b, p.Spec, 1)
	in := Input(1, p.InputLen)
	out := make([]float32, p.OutputLen)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			m, err := p.New(w, threads)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			m.Forward(out, in)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := m.Forward(out, in); err != nil {
					b.Fatal(err)
				}
			}
			if macs > 0 {
				b.ReportMetric(2*float64(macs)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
			}
		})
	}
}
