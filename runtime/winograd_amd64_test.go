//go:build amd64 && !purego

package runtime

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

func TestWinoArgsLayout(t *testing.T) {
	var a winoArgs
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"in", unsafe.Offsetof(a.in), winoOffIn},
		{"inStride", unsafe.Offsetof(a.inStride), winoOffInStride},
		{"out", unsafe.Offsetof(a.out), winoOffOut},
		{"outStride", unsafe.Offsetof(a.outStride), winoOffOutStride},
		{"rows", unsafe.Offsetof(a.rows), winoOffRows},
		{"n", unsafe.Offsetof(a.n), winoOffN},
		{"bias", unsafe.Offsetof(a.bias), winoOffBias},
		{"res", unsafe.Offsetof(a.res), winoOffRes},
		{"relu", unsafe.Offsetof(a.relu), winoOffReLU},
		{"groups", unsafe.Offsetof(a.groups), winoOffGroups},
		{"inGroup", unsafe.Offsetof(a.inGroup), winoOffInGroup},
		{"outGroup", unsafe.Offsetof(a.outGroup), winoOffOutGroup},
	} {
		if f.got != f.want {
			t.Errorf("winoArgs.%s at offset %d, the kernels read %d", f.name, f.got, f.want)
		}
	}
}

// TestWinoApplyAVX512 checks every transform kernel against the portable
// one, with and without bias, residual and ReLU, for every row count.
func TestWinoApplyAVX512(t *testing.T) {
	if gemmISABest < gemmISAAVX512 {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, m := range WinogradSizes {
		bt, at, _, err := winoTransforms(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range []*winoTransform{&bt, &at} {
			for rows := 1; rows <= tr.rows; rows++ {
				for variant := range 16 {
					const n, inStride, outStride = 48, 80, 64
					groups, inGroup, outGroup := 1, 0, 0
					if variant&8 != 0 {
						groups, inGroup, outGroup = 3, tr.k*inStride+32, rows*outStride+16
					}
					in := convRandom(r, groups*(tr.k*inStride+32)+n)
					res := convRandom(r, groups*(rows*outStride+16)+n)
					c := winoCall{t: tr, in: in, inOff: 16, inStride: inStride, outOff: 16, outStride: outStride, rows: rows, n: n,
						groups: groups, inGroup: inGroup, outGroup: outGroup}
					if variant&1 != 0 {
						c.bias = convRandom(r, n)
					}
					if variant&2 != 0 {
						c.res = res
					}
					c.relu = variant&4 != 0
					want := make([]float32, len(res))
					got := make([]float32, len(res))
					c.out = want
					winoApplyGo(&c)
					c.out = got
					winoApply(&c, true)
					for i := range want {
						if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
							t.Fatalf("F(%d,3) kernel %d rows %d variant %d: element %d = %v, want %v", m, tr.kernel, rows, variant, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}
