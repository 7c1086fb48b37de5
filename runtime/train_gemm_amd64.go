//go:build amd64 && !purego

package runtime

import "unsafe"

// gemmTileStrided computes one tile of a strided call (see
// gemmTileStridedGo) with the kernels for gemmISA.
func gemmTileStrided(k *gemmCall) {
	if gemmISA == gemmISAGo {
		gemmTileStridedGo(k)
		return
	}
	var args gemmArgs
	if len(k.koff) > 0 {
		args.a = unsafe.Pointer(&k.a[k.aOff])
		args.koff = unsafe.Pointer(&k.koff[0])
		args.b = unsafe.Pointer(&k.b[0])
	}
	args.lda = uintptr(k.lda) * 4
	args.npos = uintptr(len(k.koff))
	args.kc = uintptr(k.kc)
	args.c = unsafe.Pointer(&k.c[k.cOff])
	args.ldc = uintptr(k.ldc) * 4
	args.bias = unsafe.Pointer(&k.bias[0])
	if k.res != nil {
		args.res = unsafe.Pointer(&k.res[k.cOff])
	}
	if k.relu {
		args.relu = 1
	}
	if gemmISA == gemmISAAVX512 {
		args.mask = 1<<k.nc - 1
		args.npanel = 1
		if k.nr == gemmNR16 {
			gemmAVX512N16SRows(k.mr, &args)
		} else {
			gemmAVX512SRows(k.mr, &args)
		}
		return
	}
	// AVX2: 16 columns at a time, at most gemmAVX2MaxRows rows, split
	// evenly; the rows of A are consecutive floats.
	n := (k.mr + gemmAVX2MaxRows - 1) / gemmAVX2MaxRows
	for half := 0; half*16 < k.nc; half++ {
		h := args
		h.mask = uintptr(unsafe.Pointer(&gemmMaskTable[16-min(16, k.nc-16*half)]))
		if h.b != nil {
			h.b = unsafe.Add(h.b, half*64)
		}
		h.bias = unsafe.Add(h.bias, half*64)
		for i, r := 0, 0; i < n; i++ {
			mr := k.mr / n
			if i < k.mr%n {
				mr++
			}
			if args.a != nil {
				h.a = unsafe.Add(args.a, r*4)
			}
			h.c = unsafe.Add(args.c, uintptr(r)*args.ldc+uintptr(half*64))
			if args.res != nil {
				h.res = unsafe.Add(args.res, uintptr(r)*args.ldc+uintptr(half*64))
			}
			if k.nr == gemmNR16 {
				gemmAVX2N16SRows(mr, &h)
			} else {
				gemmAVX2SRows(mr, &h)
			}
			r += mr
		}
	}
}
