//go:build amd64 && !purego

package runtime

import "unsafe"

// winoArgs is what the transform kernels read; asmgen hard-codes the field
// offsets (winoOff* constants, checked by a test).
type winoArgs struct {
	in        unsafe.Pointer
	inStride  uintptr // bytes
	out       unsafe.Pointer
	outStride uintptr // bytes
	rows      uintptr
	n         uintptr // 16-float vectors
	bias      unsafe.Pointer
	res       unsafe.Pointer
	relu      uintptr
	groups    uintptr
	inGroup   uintptr // bytes
	outGroup  uintptr // bytes
}

// winoApply runs a transform; vecs reports n and the strides are multiples
// of 16 (the assembly kernels' vectors).
func winoApply(c *winoCall, vecs bool) {
	if !vecs || gemmISA != gemmISAAVX512 || c.rows == 0 || c.n == 0 || c.groups == 0 {
		winoApplyGo(c)
		return
	}
	// Bounds, as the portable kernel's slicing would check them.
	_ = c.in[c.inOff+(c.groups-1)*c.inGroup+(c.t.k-1)*c.inStride+c.n-1]
	last := c.outOff + (c.groups-1)*c.outGroup + (c.rows-1)*c.outStride + c.n - 1
	_ = c.out[last]
	var a winoArgs
	a.in = unsafe.Pointer(&c.in[c.inOff])
	a.inStride = uintptr(c.inStride) * 4
	a.out = unsafe.Pointer(&c.out[c.outOff])
	a.outStride = uintptr(c.outStride) * 4
	a.rows = uintptr(c.rows)
	a.n = uintptr(c.n / 16)
	if c.bias != nil {
		_ = c.bias[c.n-1]
		a.bias = unsafe.Pointer(&c.bias[0])
	}
	if c.res != nil {
		_ = c.res[last]
		a.res = unsafe.Pointer(&c.res[c.outOff])
	}
	if c.relu {
		a.relu = 1
	}
	a.groups = uintptr(c.groups)
	a.inGroup = uintptr(c.inGroup) * 4
	a.outGroup = uintptr(c.outGroup) * 4
	winoAVX512(c.t.kernel, &a)
}
