//go:build amd64 && !purego

package runtime

import (
	"flag"
	"testing"
)

var gemmISAFlag = flag.String("gemm.isa", "", "benchmark this kernel path (avx512, avx2, go) instead of the best one")

// convBenchISA applies -gemm.isa for the duration of a benchmark.
func convBenchISA(b *testing.B) {
	if *gemmISAFlag == "" {
		return
	}
	for _, isa := range convTestISAs() {
		if isa.name == *gemmISAFlag {
			b.Cleanup(isa.use())
			return
		}
	}
	b.Fatalf("-gemm.isa=%s: not available on this machine", *gemmISAFlag)
}

// convTestISA is one kernel path the tests run; use selects it and returns a
// func that restores the start-up choice.
type convTestISA struct {
	name string
	use  func() func()
}

// convTestISAs lists every path this machine can run, best first, down to the
// portable Go kernel.
func convTestISAs() []convTestISA {
	var out []convTestISA
	for _, isa := range []struct {
		name string
		v    int
	}{{"avx512", gemmISAAVX512}, {"avx2", gemmISAAVX2}, {"go", gemmISAGo}} {
		if isa.v > gemmISABest {
			continue
		}
		out = append(out, convTestISA{isa.name, func() func() {
			old := gemmISA
			gemmISA = isa.v
			return func() { gemmISA = old }
		}})
	}
	return out
}

func TestGemmCapISA(t *testing.T) {
	for _, tt := range []struct {
		best int
		env  string
		want int
	}{
		{gemmISAAVX512, "", gemmISAAVX512},
		{gemmISAAVX512, "avx2", gemmISAAVX2},
		{gemmISAAVX512, "go", gemmISAGo},
		{gemmISAAVX2, "avx512", gemmISAAVX2},
		{gemmISAGo, "avx2", gemmISAGo},
		{gemmISAAVX512, "bogus", gemmISAAVX512},
	} {
		if got := gemmCapISA(tt.best, tt.env); got != tt.want {
			t.Errorf("gemmCapISA(%d, %q) = %d, want %d", tt.best, tt.env, got, tt.want)
		}
	}
}
