package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The pool variants must compute exactly what the serial ops compute (the
// serial ops are tested against the references and by finite differences),
// at every thread count and for sizes around the chunk and the threshold.
func TestElemPar(t *testing.T) {
	pools := []*Pool{nil, NewPool(1), NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	r := rand.New(rand.NewPCG(7, 7))
	sizes := []int{1, 100, elemParMin - 1, elemParMin, elemParMin + 1, 3*elemChunk + 17, 10 * elemChunk}
	for _, p := range pools {
		for _, n := range sizes {
			name := fmt.Sprintf("threads=%d/n=%d", p.Threads(), n)
			t.Run(name, func(t *testing.T) {
				a, b, c := trainRand(r, n), trainRand(r, n), trainRand(r, n)
				for _, mom := range []float32{0, 0.9} {
					for _, first := range []bool{false, true} {
						w1, w2 := slices.Clone(a), slices.Clone(a)
						buf1, buf2 := slices.Clone(c), slices.Clone(c)
						SGD(w1, b, buf1, 0.1, mom, 1e-4, first)
						SGDP(p, w2, b, buf2, 0.1, mom, 1e-4, first)
						trainSame(t, fmt.Sprintf("SGD w mom=%v first=%v", mom, first), w2, w1)
						trainSame(t, fmt.Sprintf("SGD buf mom=%v first=%v", mom, first), buf2, buf1)
					}
				}
				for _, acc := range []bool{false, true} {
					d1, d2 := slices.Clone(c), slices.Clone(c)
					ReLUBackward(d1, a, b, acc)
					ReLUBackwardP(p, d2, a, b, acc)
					trainSame(t, fmt.Sprintf("ReLUBackward acc=%v", acc), d2, d1)
				}
				for _, act := range []Act{ActNone, ActReLU} {
					d1, d2 := make([]float32, n), make([]float32, n)
					Add(d1, a, b, act)
					AddP(p, d2, a, b, act)
					trainSame(t, fmt.Sprintf("Add act=%v", act), d2, d1)
				}
				d1, d2 := slices.Clone(c), slices.Clone(c)
				AddInto(d1, a)
				AddIntoP(p, d2, a)
				trainSame(t, "AddInto", d2, d1)
				d2 = make([]float32, n)
				CopyP(p, d2, a)
				trainSame(t, "Copy", d2, a)

				if got := FirstNonFiniteP(p, a); got != -1 {
					t.Errorf("FirstNonFiniteP of finite values = %d, want -1", got)
				}
				x := slices.Clone(a)
				bad := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
				// Bad values at the ends, at chunk edges and in the middle;
				// later ones must never win over the first.
				at := []int{n - 1, n / 2, min(elemChunk, n-1), min(elemChunk-1, n-1), 0}
				slices.Sort(at)
				slices.Reverse(at)
				for _, i := range slices.Compact(at) {
					x[i] = bad[i%3]
					if got, want := FirstNonFiniteP(p, x), FirstNonFinite(x); got != want || want != i {
						t.Errorf("FirstNonFiniteP = %d, FirstNonFinite = %d, want %d", got, want, i)
					}
				}
			})
		}
	}
}

func TestMaxPool2DBackwardP(t *testing.T) {
	pools := []*Pool{nil, NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	r := rand.New(rand.NewPCG(8, 8))
	cfgs := []PoolConfig{
		{C: 64, InH: 32, InW: 32, OutH: 16, OutW: 16, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
		{C: 3, InH: 9, InW: 7, OutH: 4, OutW: 3, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	}
	for ci, cfg := range cfgs {
		in, out := cfg.InH*cfg.InW*cfg.C, cfg.OutH*cfg.OutW*cfg.C
		for _, n := range []int{1, 2, 5, 130} {
			src := make([]float32, n*in)
			for i := range src {
				src[i] = float32(r.IntN(4)) // ties go to the first maximum
			}
			dy := trainRand(r, n*out)
			for _, p := range pools {
				for _, acc := range []bool{false, true} {
					init := trainRand(r, n*in)
					want, got := slices.Clone(init), slices.Clone(init)
					MaxPool2DBackward(want, dy, src, cfg, n, acc)
					MaxPool2DBackwardP(p, got, dy, src, cfg, n, acc)
					trainSame(t, fmt.Sprintf("cfg %d n=%d threads=%d acc=%v", ci, n, p.Threads(), acc), got, want)
				}
			}
		}
	}
}

func TestElemParAllocs(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	n := 4 * elemParMin
	w, g, buf := make([]float32, n), make([]float32, n), make([]float32, n)
	allocs := testing.AllocsPerRun(20, func() {
		SGDP(p, w, g, buf, 0.1, 0.9, 1e-4, false)
		FirstNonFiniteP(p, g)
		ReLUBackwardP(p, buf, g, w, false)
		CopyP(p, buf, g)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}
