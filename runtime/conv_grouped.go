package runtime

import (
	"fmt"
	"sync/atomic"
)

// groupedConv is Conv2D's fast path for grouped convolutions with few
// channels per group: c input and c output channels per group, c = 1, 2, 4
// or 8 (ResNeXt's early 3×3 convs, depthwise convs), OutC a multiple of 16.
//
// The general engine packs each group's c output channels into a panel of
// 16 columns, so 16−c of every 16 FMA lanes compute zeros. Here a vector
// holds 16 consecutive output channels of one pixel, 16/c groups side by
// side, and lane l reads input channel (l/c)·c + i of the same 16 for each
// i < c: the pixel's 16 input channels, permuted, times a vector of
// weights (see internal/groupedasm). Every lane is useful work.
//
// A tile is up to groupedTileRows(c) pixels of one 16-channel block, along
// an output row (or down a column, at the left and right borders), all
// with the same kernel taps inside the input: taps in the padding are
// skipped, not computed on zeros, so nothing is copied. Each output is
// computed whole by one tile in a fixed order of taps, so results do not
// depend on the thread count.
type groupedConv struct {
	cfg    ConvConfig
	c      int       // channels per group
	packed []float32 // [block][KH*KW][c][16]
	bias   []float32 // [OutC]
	idx    []int32   // [c][16]: lane l of i reads channel (l/c)·c + i (nil for c = 1)
	taps   [][]int64 // per tap list: pairs (input byte offset, weight byte offset)
	tiles  []groupedTile

	// Per Forward call; the pool workers read these.
	src, dst, res []float32
	chunk         int
	threads       int
	next          atomic.Int64
}

// groupedTile is n output pixels of one block: input pixel r's first valid
// tap is src[aOff + r*lda], its output dst[cOff + r*ldc] (offsets in floats,
// including the block's channel offset).
//
// A row tile (row set) runs the row kernel: n pixels along an output row
// whose three kernel columns are inside the input; its taps are per kernel
// row, at kernel column 0, and lda is the input's pixel pitch.
type groupedTile struct {
	aOff, cOff, lda, ldc int
	w                    int // float offset of the block's packed weights
	taps, n              int32
	row                  bool
}

// groupedTileRows is the most pixels per tile, the rows of the kernels
// (internal/groupedasm's families).
func groupedTileRows(c int) int {
	if c == 8 {
		return 20
	}
	return 25
}

// groupedRowTileRows is the most pixels per row tile (the row kernels').
const groupedRowTileRows = 25

// groupedForce makes newGroupedConv accept every eligible shape whatever
// the kernel path, so tests run the portable kernel's tiles too.
var groupedForce bool

// newGroupedConv returns the fast path for cfg, or nil when cfg is not a
// shape it handles or this machine lacks its kernels (the general engine
// is then faster than the portable kernel).
func newGroupedConv(cfg ConvConfig, weight, bias []float32) *groupedConv {
	c := cfg.InC / cfg.Groups
	if cfg.Groups < 2 || cfg.OutC/cfg.Groups != c || 16%c != 0 || c > 8 || cfg.OutC%16 != 0 {
		return nil
	}
	if !groupedFast() && !groupedForce {
		return nil
	}
	g := &groupedConv{cfg: cfg, c: c}
	khw := cfg.KH * cfg.KW
	blocks := cfg.OutC / 16
	g.packed = convAligned(blocks * khw * c * 16)
	for oc := range cfg.OutC {
		b, l := oc/16, oc%16
		for t := range khw {
			for i := range c {
				g.packed[((b*khw+t)*c+i)*16+l] = weight[(oc*c+i)*khw+t]
			}
		}
	}
	g.bias = make([]float32, cfg.OutC)
	copy(g.bias, bias)
	if c > 1 {
		g.idx = make([]int32, c*16)
		for i := range c {
			for l := range 16 {
				g.idx[i*16+l] = int32(l/c*c + i)
			}
		}
	}
	g.plan()
	return g
}

// span is a run of output rows (or columns) whose kernel rows (columns)
// inside the input are the same, [k0, k1).
type groupedSpan struct{ at, n, k0, k1 int }

// groupedSpans splits out output positions into runs with the same valid
// kernel positions, for input size in, kernel k, stride s, padding p and
// dilation d.
func groupedSpans(out, in, k, s, p, d int) []groupedSpan {
	var spans []groupedSpan
	for o := range out {
		k0, k1 := -1, 0 // the input position grows with j: the valid j are a run
		for j := range k {
			if x := o*s - p + j*d; x >= 0 && x < in {
				if k0 < 0 {
					k0 = j
				}
				k1 = j + 1
			}
		}
		if k0 < 0 {
			k0 = 0
		}
		if n := len(spans); n > 0 && spans[n-1].k0 == k0 && spans[n-1].k1 == k1 {
			spans[n-1].n++
			continue
		}
		spans = append(spans, groupedSpan{at: o, n: 1, k0: k0, k1: k1})
	}
	return spans
}

// plan makes the tap lists and the tiles.
func (g *groupedConv) plan() {
	cfg := g.cfg
	rows := groupedSpans(cfg.OutH, cfg.InH, cfg.KH, cfg.StrideH, cfg.PadH, cfg.DilH)
	cols := groupedSpans(cfg.OutW, cfg.InW, cfg.KW, cfg.StrideW, cfg.PadW, cfg.DilW)
	pix := cfg.InC // floats per input pixel
	lists := map[[5]int]int32{}
	list := func(rs, cs groupedSpan, row bool) int32 {
		key := [5]int{rs.k0, rs.k1, cs.k0, cs.k1, 0}
		if row {
			key[4] = 1
		}
		if i, ok := lists[key]; ok {
			return i
		}
		var l []int64
		for kh := rs.k0; kh < rs.k1; kh++ {
			if row { // the kernel walks the columns itself
				l = append(l, int64(4*(kh-rs.k0)*cfg.DilH*cfg.InW*pix), int64(4*kh*cfg.KW*g.c*16))
				continue
			}
			for kw := cs.k0; kw < cs.k1; kw++ {
				a := ((kh-rs.k0)*cfg.DilH*cfg.InW + (kw-cs.k0)*cfg.DilW) * pix
				l = append(l, int64(4*a), int64(4*(kh*cfg.KW+kw)*g.c*16))
			}
		}
		lists[key] = int32(len(g.taps))
		g.taps = append(g.taps, l)
		return lists[key]
	}
	// Row tiles where the row kernel applies: the three kernel columns
	// inside the input, and an input pixel shared by several outputs.
	rowKernel := g.c > 1 && cfg.KW == 3 && cfg.DilW == 1 && (cfg.StrideW == 1 || cfg.StrideW == 2)
	split := func(n, maxRows int, f func(at, n int)) { // n in nearly equal runs of at most maxRows
		k := (n + maxRows - 1) / maxRows
		for i, at := 0, 0; i < k; i++ {
			m := n / k
			if i < n%k {
				m++
			}
			f(at, m)
			at += m
		}
	}
	khw := cfg.KH * cfg.KW
	for b := range cfg.OutC / 16 {
		for _, rs := range rows {
			for _, cs := range cols {
				row := rowKernel && cs.k0 == 0 && cs.k1 == 3 && (cs.n >= 8 || cs.n >= rs.n)
				taps := list(rs, cs, row)
				// The input offset of output pixel (t, u) at its first valid tap.
				origin := func(t, u int) int {
					if len(g.taps[taps]) == 0 {
						return b * 16
					}
					ih := t*cfg.StrideH - cfg.PadH + rs.k0*cfg.DilH
					iw := u*cfg.StrideW - cfg.PadW + cs.k0*cfg.DilW
					return (ih*cfg.InW+iw)*pix + b*16
				}
				tile := func(t, u, n, lda, ldc int) {
					g.tiles = append(g.tiles, groupedTile{
						aOff: origin(t, u), cOff: (t*cfg.OutW+u)*cfg.OutC + b*16, lda: lda, ldc: ldc,
						w: b * khw * g.c * 16, taps: taps, n: int32(n), row: row})
				}
				switch {
				case row:
					for t := rs.at; t < rs.at+rs.n; t++ {
						split(cs.n, groupedRowTileRows, func(at, n int) { tile(t, cs.at+at, n, pix, cfg.OutC) })
					}
				case cs.n >= 8 || cs.n >= rs.n:
					// Along the rows.
					for t := rs.at; t < rs.at+rs.n; t++ {
						split(cs.n, groupedTileRows(g.c), func(at, n int) { tile(t, cs.at+at, n, cfg.StrideW*pix, cfg.OutC) })
					}
				default:
					// A narrow border: down the columns.
					for u := cs.at; u < cs.at+cs.n; u++ {
						split(rs.n, groupedTileRows(g.c), func(at, n int) {
							tile(rs.at+at, u, n, cfg.StrideH*cfg.InW*pix, cfg.OutW*cfg.OutC)
						})
					}
				}
			}
		}
	}
}

func (g *groupedConv) forward(p *Pool, dst, src, res []float32) {
	cfg := g.cfg
	nIn, nOut := cfg.InH*cfg.InW*cfg.InC, cfg.OutH*cfg.OutW*cfg.OutC
	if len(src) < nIn {
		panic(fmt.Sprintf("runtime: conv2d: src has %d values, want %d", len(src), nIn))
	}
	if len(dst) < nOut {
		panic(fmt.Sprintf("runtime: conv2d: dst has %d values, want %d", len(dst), nOut))
	}
	src, dst = src[:nIn], dst[:nOut]
	if res != nil {
		if len(res) < nOut {
			panic(fmt.Sprintf("runtime: conv2d: residual has %d values, want %d", len(res), nOut))
		}
		res = res[:nOut]
	}
	if convOverlap(dst, src) {
		panic("runtime: conv2d: dst overlaps src")
	}
	g.src, g.dst, g.res = src, dst, res
	g.threads = p.Threads()
	g.chunk = max(1, len(g.tiles)/(8*g.threads))
	g.next.Store(0)
	p.poolRun(g)
	g.src, g.dst, g.res = nil, nil, nil
}

// poolWork claims chunks of tiles, guided as in convEngine.poolWork.
func (g *groupedConv) poolWork(int) {
	n := int64(len(g.tiles))
	for {
		start := g.next.Load()
		if start >= n {
			return
		}
		size := min(int64(g.chunk), max(1, (n-start)/int64(2*g.threads)))
		if !g.next.CompareAndSwap(start, start+size) {
			continue
		}
		for i := range g.tiles[start : start+size] {
			groupedTileRun(g, &g.tiles[start+int64(i)])
		}
	}
}

// groupedTileGo is the portable kernel: the same sums in the same order as
// the assembly (which fuses each multiply-add, so the last bits may differ).
func groupedTileGo(g *groupedConv, tl *groupedTile) {
	c := g.c
	taps := g.taps[tl.taps]
	for r := range int(tl.n) {
		var acc [16]float32
		if tl.row {
			// Per kernel row, per i, the three kernel columns: the row
			// kernel's order.
			a := tl.aOff + r*g.cfg.StrideW*tl.lda
			for k := 0; k < len(taps); k += 2 {
				for i := range c {
					for kw := range 3 {
						x := g.src[a+int(taps[k]/4)+kw*tl.lda:][:16]
						wi := g.packed[tl.w+int(taps[k+1]/4)+(kw*c+i)*16:][:16]
						for l := range acc {
							acc[l] += x[l/c*c+i] * wi[l]
						}
					}
				}
			}
		}
		a := tl.aOff + r*tl.lda
		for k := 0; k < len(taps) && !tl.row; k += 2 {
			x := g.src[a+int(taps[k]/4):][:16]
			w := g.packed[tl.w+int(taps[k+1]/4):][:c*16]
			for i := range c {
				wi := w[i*16 : i*16+16]
				for l := range acc {
					acc[l] += x[l/c*c+i] * wi[l]
				}
			}
		}
		o := tl.cOff + r*tl.ldc
		bias := g.bias[o%g.cfg.OutC:][:16]
		out := g.dst[o : o+16]
		for l := range acc {
			v := acc[l] + bias[l]
			if g.res != nil {
				v += g.res[o+l]
			}
			if g.cfg.Act == ActReLU {
				v = max(v, 0)
			}
			out[l] = v
		}
	}
}
