//go:build arm64 && !purego

package runtime

import (
	"flag"
	"os"
	"testing"
)

var gemmISAFlag = flag.String("gemm.isa", "", "benchmark this kernel path (neon, go) instead of the best one")

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
	for v := gemmISABest; v >= gemmISAGo; v-- {
		out = append(out, convTestISA{gemmISANames[v], func() func() {
			old := gemmISA
			gemmISA = v
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
		{gemmISANEON, "", gemmISANEON},
		{gemmISANEON, "go", gemmISAGo},
		{gemmISANEON, "avx2", gemmISANEON},
		{gemmISAGo, "neon", gemmISAGo},
	} {
		if got := gemmCapISA(tt.best, tt.env); got != tt.want {
			t.Errorf("gemmCapISA(%d, %q) = %d, want %d", tt.best, tt.env, got, tt.want)
		}
	}
}

// TestSelectedKernels checks the path chosen at start-up: NEON on every
// arm64 core (and under qemu-aarch64), unless RESGEN_KERNELS=go asks for the
// portable one.
func TestSelectedKernels(t *testing.T) {
	want := "neon"
	if os.Getenv("RESGEN_KERNELS") == "go" {
		want = "go"
	}
	if got := gemmISANames[gemmISABest]; got != want {
		t.Fatalf("selected kernels %q, want %q (ASIMD detected: %v)", got, want, gemmDetectISA() == gemmISANEON)
	}
	t.Logf("kernels: %s", gemmISANames[gemmISA])
}
