//go:build arm64 && !purego

package runtime

import "unsafe"

//go:generate go run ../internal/asmgen -dir .

// gemmArgs is what the NEON kernels read; asmgen hard-codes the field
// offsets (gemmOff* constants, checked by a test).
type gemmArgs struct {
	a    unsafe.Pointer
	lda  uintptr // bytes
	koff unsafe.Pointer
	npos uintptr
	kc   uintptr
	b    unsafe.Pointer
	ldb  uintptr // bytes per k of the panel
	c    unsafe.Pointer
	ldc  uintptr // bytes
	bias unsafe.Pointer
	res  unsafe.Pointer
	relu uintptr
}

// gemmNEONCols is the widest block of the kernels: 4 vectors of 4 floats.
const gemmNEONCols = 16

// gemmTile computes one tile with the kernels for gemmISA.
func gemmTile(k *gemmCall) {
	if k.np > 1 {
		one := *k
		for p := range k.np {
			gemmPanelOf(&one, k, p)
			gemmTile1(&one)
		}
		return
	}
	gemmTile1(k)
}

// gemmTile1 runs the panel's columns 16 at a time, each block's rows split
// evenly over the fewest kernel calls. Row pointers are formed only for
// rows that exist: a Go pointer past the end of its allocation is invalid
// even if never dereferenced.
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
	args.ldb = uintptr(k.nr) * 4
	args.ldc = uintptr(k.ldc) * 4
	for col := 0; col < k.nc; col += gemmNEONCols {
		cols := min(gemmNEONCols, k.nc-col)
		nv := (cols + 3) / 4
		h := args
		if h.b != nil {
			h.b = unsafe.Add(h.b, col*4)
		}
		h.bias = unsafe.Pointer(&k.bias[col])
		n := (k.mr + gemmNEONMaxRows[nv] - 1) / gemmNEONMaxRows[nv]
		for i, r := 0, 0; i < n; i++ {
			mr := k.mr / n
			if i < k.mr%n {
				mr++
			}
			if args.a != nil {
				h.a = unsafe.Add(args.a, uintptr(r)*args.lda)
			}
			o := k.cOff + r*k.ldc + col
			if cols%4 != 0 {
				gemmNEONPartial(k, &h, nv, mr, o, cols)
			} else {
				h.c = unsafe.Pointer(&k.c[o])
				h.res = nil
				if k.res != nil {
					h.res = unsafe.Pointer(&k.res[o])
				}
				h.relu = 0
				if k.relu {
					h.relu = 1
				}
				gemmNEONRows(nv, mr, &h)
			}
			r += mr
		}
	}
}

// gemmNEONPartial runs a block of cols (not a multiple of 4) columns into
// a scratch block, which holds the sums plus bias, then adds the residual,
// applies ReLU and stores the cols columns from o on, in the order of
// gemmStoreGo.
// The scratch block stays on the stack: its address goes into a local copy
// of the arguments, never into *h.
func gemmNEONPartial(k *gemmCall, h *gemmArgs, nv, mr, o, cols int) {
	var scratch [gemmNEONBlockFloats]float32
	args := *h
	args.c = unsafe.Pointer(&scratch[0])
	args.ldc = uintptr(nv) * 16
	args.res = nil
	args.relu = 0
	gemmNEONRows(nv, mr, &args)
	for r := range mr {
		row := scratch[r*4*nv : r*4*nv+cols]
		dst := k.c[o+r*k.ldc : o+r*k.ldc+cols]
		if k.res != nil {
			res := k.res[o+r*k.ldc : o+r*k.ldc+cols]
			for j := range row {
				row[j] += res[j]
			}
		}
		if k.relu {
			for j, v := range row {
				dst[j] = max(v, 0)
			}
		} else {
			copy(dst, row)
		}
	}
}
