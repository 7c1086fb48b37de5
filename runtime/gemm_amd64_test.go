//go:build amd64 && !purego

package runtime

import (
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
		{"c", unsafe.Offsetof(a.c), gemmOffC},
		{"ldc", unsafe.Offsetof(a.ldc), gemmOffLDC},
		{"bias", unsafe.Offsetof(a.bias), gemmOffBias},
		{"res", unsafe.Offsetof(a.res), gemmOffRes},
		{"mask", unsafe.Offsetof(a.mask), gemmOffMask},
		{"relu", unsafe.Offsetof(a.relu), gemmOffReLU},
		{"npanel", unsafe.Offsetof(a.npanel), gemmOffNpanel},
		{"bskip", unsafe.Offsetof(a.bskip), gemmOffBskip},
		{"pf", unsafe.Offsetof(a.pf), gemmOffPf},
	} {
		if f.got != f.want {
			t.Errorf("gemmArgs.%s at offset %d, kernels assume %d", f.name, f.got, f.want)
		}
	}
	if gemmPrefetchPerK*4 != gemmPrefetchLines*16 {
		t.Errorf("gemmPrefetchPerK = %d floats per k, but the kernels prefetch %d lines per 4 k", gemmPrefetchPerK, gemmPrefetchLines)
	}
	if len(convTestISAs()) < 2 {
		t.Log("no assembly kernels on this CPU; only the Go kernel is tested")
	}
}

// BenchmarkGemmKernel times the AVX-512 micro-kernel alone on L1-resident
// operands: its ceiling, without packing, padding or cache misses.
func BenchmarkGemmKernel(b *testing.B) {
	if gemmISABest < gemmISAAVX512 {
		b.Skip("no AVX-512")
	}
	const kc, npos, mr = 64, 3, gemmMR
	a := make([]float32, 4096)
	for i := range a {
		a[i] = float32(i%7) * 0.01
	}
	koff := []int{0, 1024, 2048}
	pb := make([]float32, npos*kc*gemmNR)
	c := make([]float32, mr*gemmNR)
	bias := make([]float32, gemmNR)
	call := gemmCall{a: a, lda: 64, koff: koff, kc: kc, b: pb, c: c, ldc: gemmNR, bias: bias, mr: mr, nc: gemmNR, nr: gemmNR}
	for b.Loop() {
		gemmTile(&call)
	}
	b.ReportMetric(2*float64(mr*gemmNR*npos*kc)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
}
