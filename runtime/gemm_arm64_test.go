//go:build arm64 && !purego

package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestGemmArgsLayout checks the field offsets asmgen compiled into the kernels.
func TestGemmArgsLayout(t *testing.T) {
	var a gemmArgs
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"a", unsafe.Offsetof(a.a), gemmOffA},
		{"lda", unsafe.Offsetof(a.lda), gemmOffLDA},
		{"koff", unsafe.Offsetof(a.koff), gemmOffKoff},
		{"npos", unsafe.Offsetof(a.npos), gemmOffNpos},
		{"kc", unsafe.Offsetof(a.kc), gemmOffKC},
		{"b", unsafe.Offsetof(a.b), gemmOffB},
		{"ldb", unsafe.Offsetof(a.ldb), gemmOffLDB},
		{"c", unsafe.Offsetof(a.c), gemmOffC},
		{"ldc", unsafe.Offsetof(a.ldc), gemmOffLDC},
		{"bias", unsafe.Offsetof(a.bias), gemmOffBias},
		{"res", unsafe.Offsetof(a.res), gemmOffRes},
		{"relu", unsafe.Offsetof(a.relu), gemmOffReLU},
	} {
		if f.got != f.want {
			t.Errorf("gemmArgs.%s at offset %d, kernels assume %d", f.name, f.got, f.want)
		}
	}
}

// TestGemmNEONTiles runs every tile shape the convolution engine can ask for
// (both panel widths, every row count, every column count, with and
// without residual and ReLU) through the NEON kernels and compares with a
// float64 sum of the same tile. NaN inputs check that ReLU keeps them, as
// the Go kernel does.
func TestGemmNEONTiles(t *testing.T) {
	if gemmISABest < gemmISANEON {
		t.Skip("no NEON")
	}
	defer func(old int) { gemmISA = old }(gemmISA)
	gemmISA = gemmISANEON
	r := rand.New(rand.NewPCG(12, 1))
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = r.Float32()*2 - 1
		}
		return s
	}
	for _, p := range []struct{ nr, mr int }{{gemmNR, gemmMR}, {gemmNR16, gemmMR16}} {
		for mr := 1; mr <= p.mr; mr++ {
			for nc := 1; nc <= p.nr; nc++ {
				kc := 1 + (mr+nc)%9 // ones and fours
				koff := []int{0, 3 + kc, 40}
				lda, ldc := 50, p.nr+3
				a := rnd((mr-1)*lda + 40 + kc)
				b := rnd(len(koff) * kc * p.nr)
				bias := rnd(p.nr)
				res := rnd((mr-1)*ldc + nc)
				if mr == 3 && nc == 5 {
					a[koff[1]+2*lda+1] = float32(math.NaN())
				}
				for _, v := range []struct {
					res, relu bool
				}{{false, false}, {true, false}, {false, true}, {true, true}} {
					c := make([]float32, mr*ldc)
					call := gemmCall{a: a, lda: lda, koff: koff, kc: kc, b: b, nr: p.nr, c: c, ldc: ldc, bias: bias, mr: mr, nc: nc, relu: v.relu}
					if v.res {
						call.res = res
					}
					gemmTile(&call)
					name := fmt.Sprintf("nr=%d/mr=%d/nc=%d/res=%v/relu=%v", p.nr, mr, nc, v.res, v.relu)
					for i := range mr {
						for j := range nc {
							s := float64(bias[j])
							for t, off := range koff {
								for q := range kc {
									s += float64(a[i*lda+off+q]) * float64(b[(t*kc+q)*p.nr+j])
								}
							}
							if v.res {
								s += float64(res[i*ldc+j])
							}
							if v.relu && !math.IsNaN(s) {
								s = max(s, 0)
							}
							got := float64(c[i*ldc+j])
							if math.IsNaN(s) != math.IsNaN(got) || math.Abs(got-s) > 1e-5*max(1, math.Abs(s)) {
								t.Fatalf("%s: c[%d][%d] = %v, want %v", name, i, j, got, s)
							}
						}
					}
					// Nothing past the block's columns in each row is written.
					for i := range mr {
						for j := nc; j < ldc; j++ {
							if c[i*ldc+j] != 0 {
								t.Fatalf("%s: c[%d][%d] = %v written, outside the block", name, i, j, c[i*ldc+j])
							}
						}
					}
				}
			}
		}
	}
}

// TestGemmNEONPartialAllocs: the scratch block of a column tail stays on
// the stack.
func TestGemmNEONPartialAllocs(t *testing.T) {
	if gemmISABest < gemmISANEON {
		t.Skip("no NEON")
	}
	defer func(old int) { gemmISA = old }(gemmISA)
	gemmISA = gemmISANEON
	a, b := make([]float32, 64), make([]float32, 4*gemmNR16)
	c, bias := make([]float32, 3*5), make([]float32, gemmNR16)
	call := gemmCall{a: a, lda: 4, koff: []int{0}, kc: 4, b: b, nr: gemmNR16, c: c, ldc: 5, bias: bias, mr: 3, nc: 5, relu: true}
	if n := testing.AllocsPerRun(100, func() { gemmTile(&call) }); n != 0 {
		t.Errorf("gemmTile with a 5-column tail: %v allocations, want 0", n)
	}
}
