package runtime

// The convolution engine is an implicit GEMM: rows are output pixels, columns
// are output channels, and the K dimension walks the kernel taps and the input
// channels. Weights are packed once into panels of gemmNR columns, K-major
// ([k][gemmNR], zero-padded past the last channel), so that a micro-kernel
// reads one contiguous run of gemmNR floats per k.
//
// A tile is at most gemmMR output pixels whose input rows, and whose output
// rows, are equally spaced in memory: row r of the A operand starts at
// a[aOff + r*lda + koff[p]] for tap p, and covers kc consecutive floats.

const (
	gemmNR = 32 // columns per packed panel (two AVX-512 vectors)
	gemmMR = 14 // output pixels per tile (rows of the AVX-512 register block)

	// Narrow panels, for convolutions with at most 16 output channels per
	// group: one AVX-512 vector per row, so the register block has more
	// rows and no FMA lane computes a padding column.
	gemmNR16 = 16
	gemmMR16 = 25
)

// gemmPrefetchPerK is how many floats of gemmCall.pf the AVX-512 kernels
// prefetch per k of each panel they run: 4 cache lines per 4 k
// (internal/asmgen's pfLines).
const gemmPrefetchPerK = 16

// gemmPanel returns the panel width and the most pixels per tile for a
// group of coutG output channels. It does not depend on the kernel path, so
// the tiles, and the order of every sum, are the same on all of them.
func gemmPanel(coutG int) (nr, mr int) {
	if coutG <= gemmNR16 {
		return gemmNR16, gemmMR16
	}
	return gemmNR, gemmMR
}

// gemmCall describes one tile: mr pixels × nc (≤ nr) channels.
type gemmCall struct {
	a    []float32 // input (the zero-padded copy when the conv pads)
	aOff int       // first row's origin in a
	lda  int       // floats between consecutive rows' origins
	koff []int     // per tap: float offset from a row's origin
	kc   int       // consecutive floats read per tap
	b    []float32 // packed panel: [len(koff)*kc][nr]
	nr   int       // panel width: gemmNR or gemmNR16
	c    []float32 // output
	cOff int       // first row's first channel in c
	ldc  int       // floats between consecutive output rows
	res  []float32 // nil, or a residual laid out like c
	bias []float32 // nr values (zero-padded)
	mr   int
	nc   int // columns of the last panel
	relu bool

	// np panels side by side (0 means 1): panel p reads b from
	// p*(len(koff)*kc*nr + bskip), bias from p*nr, and writes the nr
	// columns from cOff + p*nr; all but the last panel are full.
	np, bskip int

	// pf, if not nil, is memory the AVX-512 kernels prefetch into L2 while
	// they run, gemmPrefetchPerK floats per k and panel: what the next tile
	// will read, its weights or a 1×1 tile's input (prefetches never
	// fault, but pf must be a valid slice start).
	pf []float32
}

// gemmPanelOf sets one to panel p of the multi-panel call k.
func gemmPanelOf(one, k *gemmCall, p int) {
	per := len(k.koff)*k.kc*k.nr + k.bskip
	one.np, one.bskip = 1, 0
	one.b = k.b[p*per:]
	one.bias = k.bias[p*k.nr:]
	one.cOff = k.cOff + p*k.nr
	one.nc = k.nr
	if p == k.np-1 {
		one.nc = k.nc
	}
}

// gemmTileGo is the portable micro-kernel. It accumulates in float32 in the
// same K order as the assembly kernels (which use FMA, so results may differ
// in the last bits).
func gemmTileGo(k *gemmCall) {
	var acc [gemmMR * gemmNR]float32 // also holds gemmMR16 × gemmNR16
	kc, nr := k.kc, k.nr
	for r := 0; r < k.mr; r++ {
		row := acc[r*nr : r*nr+nr]
		origin := k.aOff + r*k.lda
		for p, off := range k.koff {
			a := k.a[origin+off : origin+off+kc]
			b := k.b[p*kc*nr : (p+1)*kc*nr]
			for i, av := range a {
				bb := b[i*nr : i*nr+nr]
				for j := range row {
					row[j] += av * bb[j]
				}
			}
		}
	}
	gemmStoreGo(k, &acc)
}

// gemmStoreGo is the portable epilogue: it stores the accumulated tile acc
// (rows of k.nr) through bias, residual and ReLU.
func gemmStoreGo(k *gemmCall, acc *[gemmMR * gemmNR]float32) {
	nr := k.nr
	for r := 0; r < k.mr; r++ {
		row := acc[r*nr : r*nr+k.nc]
		o := k.cOff + r*k.ldc
		dst := k.c[o : o+k.nc]
		bias := k.bias[:k.nc]
		if k.res != nil {
			res := k.res[o : o+k.nc]
			for j := range row {
				row[j] = row[j] + bias[j] + res[j]
			}
		} else {
			for j := range row {
				row[j] += bias[j]
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
