//go:build amd64 && !purego

package runtime

import "unsafe"

//go:generate go run ../internal/asmgen -dir .

// gemmArgs is what the assembly kernels read; asmgen hard-codes the field
// offsets (gemmOff* constants, checked by a test).
type gemmArgs struct {
	a    unsafe.Pointer
	lda  uintptr // bytes
	koff unsafe.Pointer
	npos uintptr
	kc   uintptr
	b    unsafe.Pointer
	c    unsafe.Pointer
	ldc  uintptr // bytes
	bias unsafe.Pointer
	res  unsafe.Pointer
	mask uintptr // AVX-512: column bits of the last panel; AVX2: *[16]int32
	relu uintptr

	npanel uintptr        // AVX-512 only: panels, ≥ 1
	bskip  uintptr        // AVX-512 only: weight bytes skipped between panels
	pf     unsafe.Pointer // AVX-512 only: prefetched into L2 as k runs (nil: none)
}

// The tile sizes are the kernels' row counts.
var (
	_ = [1]struct{}{}[gemmMR-gemmAVX512MaxRows]
	_ = [1]struct{}{}[gemmMR16-gemmAVX512N16MaxRows]
)

// gemmMaskTable[16-n:] starts with n all-ones lanes, for AVX2 masked stores.
var gemmMaskTable = [32]int32{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}

// gemmTile computes one tile with the kernels for gemmISA.
func gemmTile(k *gemmCall) {
	if k.np > 1 && gemmISA != gemmISAAVX512 {
		one := *k
		for p := range k.np {
			gemmPanelOf(&one, k, p)
			gemmTile1(&one)
		}
		return
	}
	gemmTile1(k)
}

func gemmTile1(k *gemmCall) {
	if gemmISA == gemmISAGo {
		gemmTileGo(k)
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
		args.npanel = uintptr(max(1, k.np))
		args.bskip = uintptr(k.bskip) * 4
		if k.pf != nil {
			args.pf = unsafe.Pointer(&k.pf[0])
		}
		if k.nr == gemmNR16 {
			gemmAVX512N16Rows(k.mr, &args)
		} else {
			gemmAVX512Rows(k.mr, &args)
		}
		return
	}
	// AVX2: 16 columns at a time, at most gemmAVX2MaxRows rows, split evenly.
	// Row pointers are formed only for rows that exist: a Go pointer past
	// the end of its allocation is invalid even if never dereferenced.
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
				h.a = unsafe.Add(args.a, uintptr(r)*args.lda)
			}
			h.c = unsafe.Add(args.c, uintptr(r)*args.ldc+uintptr(half*64))
			if args.res != nil {
				h.res = unsafe.Add(args.res, uintptr(r)*args.ldc+uintptr(half*64))
			}
			if k.nr == gemmNR16 {
				gemmAVX2N16Rows(mr, &h)
			} else {
				gemmAVX2Rows(mr, &h)
			}
			r += mr
		}
	}
}
