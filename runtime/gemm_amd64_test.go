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
	} {
		if f.got != f.want {
			t.Errorf("gemmArgs.%s at offset %d, kernels assume %d", f.name, f.got, f.want)
		}
	}
	if len(convTestISAs()) < 2 {
		t.Log("no assembly kernels on this CPU; only the Go kernel is tested")
	}
}
