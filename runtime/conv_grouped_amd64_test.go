//go:build amd64 && !purego

package runtime

import (
	"testing"
	"unsafe"
)

// TestGroupedArgsLayout checks the field offsets groupedasm compiled into
// the kernels, and that the tiles are the kernels' sizes.
func TestGroupedArgsLayout(t *testing.T) {
	var a groupedArgs
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"a", unsafe.Offsetof(a.a), groupedOffA}, {"lda", unsafe.Offsetof(a.lda), groupedOffLDA},
		{"taps", unsafe.Offsetof(a.taps), groupedOffTaps}, {"ntap", unsafe.Offsetof(a.ntap), groupedOffNtap},
		{"w", unsafe.Offsetof(a.w), groupedOffW}, {"c", unsafe.Offsetof(a.c), groupedOffC},
		{"ldc", unsafe.Offsetof(a.ldc), groupedOffLDC}, {"bias", unsafe.Offsetof(a.bias), groupedOffBias},
		{"res", unsafe.Offsetof(a.res), groupedOffRes}, {"relu", unsafe.Offsetof(a.relu), groupedOffReLU},
		{"idx", unsafe.Offsetof(a.idx), groupedOffIdx}, {"nc", unsafe.Offsetof(a.nc), groupedOffNc},
		{"wstep", unsafe.Offsetof(a.wstep), groupedOffWStep},
	} {
		if f.got != f.want {
			t.Errorf("groupedArgs.%s at %d, kernels read %d", f.name, f.got, f.want)
		}
	}
	if groupedRowTileRows != groupedRowMaxRows {
		t.Errorf("row tiles of %d pixels, kernels up to %d", groupedRowTileRows, groupedRowMaxRows)
	}
	for _, c := range []int{1, 2, 4, 8} {
		if groupedTileRows(c) != groupedMaxRows(c) {
			t.Errorf("c=%d: tiles of %d pixels, kernels up to %d", c, groupedTileRows(c), groupedMaxRows(c))
		}
	}
}
