package main

import "testing"

// TestFMALoopCount checks every loop's instruction count: started from zero,
// each lane of each accumulator gains exactly 1 per iteration (1·1 added), so
// after n iterations all Lanes·Accs values must be n, which is exactly what
// flops counts (2 per lane per FMA).
func TestFMALoopCount(t *testing.T) {
	for _, k := range fmaKernels() {
		for _, n := range []uint64{0, 1, 3, 1000, 65537} {
			out := k.run(n)
			if len(out) != k.Lanes*k.Accs {
				t.Fatalf("%s: %d values, want lanes×accumulators = %d", k.ISA, len(out), k.Lanes*k.Accs)
			}
			for i, v := range out {
				if v != float32(n) {
					t.Fatalf("%s: n=%d: value %d (accumulator %d, lane %d) = %v, want %d", k.ISA, n, i, i/k.Lanes, i%k.Lanes, v, n)
				}
			}
		}
		if got, want := k.flops(10), float64(2*k.Lanes*k.Accs*10); got != want {
			t.Errorf("%s: flops(10) = %v, want %v", k.ISA, got, want)
		}
	}
}

// TestPeakSane times each loop briefly: a vector FMA loop on one core lies
// between 10 and 2000 GFLOP/s on any machine this runs on; the scalar Go
// loop between 0.1 and 200.
func TestPeakSane(t *testing.T) {
	for _, k := range fmaKernels() {
		r := measurePeak(k, 0.05, 2, nil)
		lo, hi := 10.0, 2000.0
		if k.Lanes == 1 {
			lo, hi = 0.1, 200
		}
		t.Logf("%s (%s, %d accumulators): %.1f GFLOP/s", k.ISA, k.Instr, k.Accs, r.GFLOPS)
		if !(r.GFLOPS > lo && r.GFLOPS < hi) {
			t.Errorf("%s: %.1f GFLOP/s, want between %g and %g", k.ISA, r.GFLOPS, lo, hi)
		}
		if len(r.Repeats) != 2 || r.Iters == 0 {
			t.Errorf("%s: %d repeats of %d iterations, want 2 of at least 1", k.ISA, len(r.Repeats), r.Iters)
		}
	}
}
