//go:build amd64 && !purego

package runtime

import "unsafe"

//go:generate go run ../internal/groupedasm -dir .

// groupedArgs is what the grouped-convolution kernels read; groupedasm
// hard-codes the field offsets (groupedOff* constants, checked by a test).
type groupedArgs struct {
	a    unsafe.Pointer
	lda  uintptr // bytes
	taps unsafe.Pointer
	ntap uintptr
	w    unsafe.Pointer
	c    unsafe.Pointer
	ldc  uintptr // bytes
	bias unsafe.Pointer
	res  unsafe.Pointer
	relu uintptr
	idx  unsafe.Pointer

	nc    uintptr // row kernels: channels per group
	wstep uintptr // row kernels: bytes between kernel columns' weights
}

// groupedFast reports whether the grouped kernels run here.
func groupedFast() bool { return gemmISA == gemmISAAVX512 }

// groupedTileRun computes one tile with the AVX-512 kernel, or the portable
// one when the kernel path has been lowered below AVX-512.
func groupedTileRun(g *groupedConv, tl *groupedTile) {
	if gemmISA != gemmISAAVX512 {
		groupedTileGo(g, tl)
		return
	}
	var args groupedArgs
	taps := g.taps[tl.taps]
	args.a = unsafe.Pointer(&g.src[tl.aOff])
	args.lda = uintptr(tl.lda) * 4
	if len(taps) > 0 {
		args.taps = unsafe.Pointer(&taps[0])
	}
	args.ntap = uintptr(len(taps) / 2)
	args.w = unsafe.Pointer(&g.packed[tl.w])
	args.c = unsafe.Pointer(&g.dst[tl.cOff])
	args.ldc = uintptr(tl.ldc) * 4
	args.bias = unsafe.Pointer(&g.bias[tl.cOff%g.cfg.OutC])
	if g.res != nil {
		args.res = unsafe.Pointer(&g.res[tl.cOff])
	}
	if g.cfg.Act == ActReLU {
		args.relu = 1
	}
	if g.idx != nil {
		args.idx = unsafe.Pointer(&g.idx[0])
	}
	if tl.row {
		args.nc = uintptr(g.c)
		args.wstep = uintptr(g.c) * 64
		groupedRowAVX512(g.cfg.StrideW, int(tl.n), &args)
		return
	}
	groupedAVX512(g.c, int(tl.n), &args)
}
