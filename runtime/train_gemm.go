package runtime

import (
	"fmt"
	"sync/atomic"
)

// gemmTileStridedGo is the portable strided micro-kernel: like gemmTileGo,
// but row r of A starts at a[aOff + r] (rows are consecutive floats) and
// value i of tap p is a[aOff + r + koff[p] + i*lda]; B runs on over the taps.
func gemmTileStridedGo(k *gemmCall) {
	var acc [gemmMR * gemmNR]float32 // also holds gemmMR16 × gemmNR16
	kc, nr, lda := k.kc, k.nr, k.lda
	for r := 0; r < k.mr; r++ {
		row := acc[r*nr : r*nr+nr]
		bi := 0
		for _, off := range k.koff {
			o := k.aOff + r + off
			for i := range kc {
				av := k.a[o+i*lda]
				bb := k.b[bi : bi+nr]
				bi += nr
				for j := range row {
					row[j] += av * bb[j]
				}
			}
		}
	}
	gemmStoreGo(k, &acc)
}

// convWeightGrad computes the weight gradient of a convolution,
//
//	dW[oc][ic][kh][kw] = Σ over items, oh, ow of
//	    dy[oh][ow][oc] · x[oh·sh − padH + kh·dh][ow·sw − padW + kw·dw][ic],
//
// as one GEMM per kernel tap (kh, kw) on the strided micro-kernels: rows are
// input channels, columns output channels, and the reduction runs over the
// batch's pixels. Along one output row the input pixels a tap reads are
// equally spaced (sw·InC floats), so the kernels read the NHWC input in
// place, through a zero-padded copy when the convolution pads; dy is the B
// operand, packed into nr-column panels unless it is one panel already.
//
// The batch is reduced in chunks of whole items (or, when one item is too
// large for L2, bands of output rows of one item), one chunk after another:
// every tile (group, tap, run of input channels, panel) adds the chunk's
// contribution to its block of dW through the kernels' residual epilogue,
// while the next chunk is packed into the other of two buffers (one pool
// run per chunk). A chunk's operands are sized to stay in L2 while all
// tiles read them. Each tile runs whole on one thread and the chunks run in
// order, so every sum has the same order for any thread count.
type convWeightGrad struct {
	cfg                ConvConfig
	cinG, coutG        int
	nr, mr, panels     int
	padded             bool  // the input is read through a zero-padded copy
	hp, wp             int   // rows and columns of one (padded) input item
	pitch              int   // floats per pixel of the padded input (≥ InC)
	itemIn, itemPix    int   // floats of a padded input item; output pixels of an item
	items              int   // items per chunk
	band               bool  // chunks are bands of bandRows output rows of one item
	bandRows, bandIn   int   // rows of a band; floats of its padded input
	rowsMerge          bool  // a band's rows are one tap
	chunkPix           int   // output pixels a chunk holds
	packDy             bool  // dy is copied into panels
	ldk                int   // floats between consecutive pixels of a tap
	tapsPerItem, kcTap int   // per-row or per-item taps: taps per item, floats per tap
	mergeItems         bool  // a chunk is one tap over all its pixels
	itemTaps           bool  // a tap is one output pixel over the chunk's items
	koff               []int // taps of a full chunk, item after item
	tiles              []convWGTile
	zero               []float32    // the kernels' bias
	acc                []float32    // dW as [groups][KH][KW][cinG][coutG]
	xp                 [2][]float32 // a chunk's padded input: [items][hp][wp][pitch], or a band's rows
	dyp                [2][]float32 // a chunk's dy: [groups][panels][chunkPix][nr], pixels item-major (pixel-major with itemTaps)
	srcItem, dyItem    int          // floats of one input and one output item
	src, dy            []float32    // per call
	cur                convWGChunk  // the chunk computed
	pk                 convWGChunk  // the chunk packed meanwhile (m 0: none)
	curBuf, packBuf    int
	first, computing   bool
	transposing        bool      // poolWork writes dw from acc
	dw                 []float32 // per call, while transposing
	next               atomic.Int64
}

// convWGChunk is a piece of the batch: m items from item0, or output rows
// [oh0, oh0+rows) of item item0 (m 1).
type convWGChunk struct{ item0, m, oh0, rows int }

// convWGTile is one task: rows input channels from ic0 of group g at tap
// (kh, kw), times one panel of output channels. When a tile's rows run over
// a whole kernel row, kw is 0 and ic0 counts from the row's first value
// (kw·InC + ic).
type convWGTile struct {
	g, kh, kw, ic0, rows, panel int32
}

// convWGChunkBytes bounds a chunk's operands (its input and dy panels):
// with the next chunk's and the dW blocks they should stay in a core's L2.
// (A variable so that tests can force small chunks and bands.)
var convWGChunkBytes = 512 << 10

// init prepares w for cfg. cfg's output size is taken as given (the
// transposed convolution's adjoint may have more output padding than a
// convolution could); inputs read past the input's edges are zeros.
func (w *convWeightGrad) init(cfg ConvConfig) {
	w.cfg = cfg
	w.cinG, w.coutG = cfg.InC/cfg.Groups, cfg.OutC/cfg.Groups
	w.nr, w.mr = gemmPanel(w.coutG)
	w.panels = (w.coutG + w.nr - 1) / w.nr
	w.srcItem, w.dyItem = cfg.InH*cfg.InW*cfg.InC, cfg.OutH*cfg.OutW*cfg.OutC
	w.itemPix = cfg.OutH * cfg.OutW

	// Rows and columns read, from input pixel (-PadH, -PadW).
	hRead := (cfg.OutH-1)*cfg.StrideH + (cfg.KH-1)*cfg.DilH + 1
	wRead := (cfg.OutW-1)*cfg.StrideW + (cfg.KW-1)*cfg.DilW + 1
	w.padded = cfg.PadH > 0 || cfg.PadW > 0 || hRead > cfg.InH || wRead > cfg.InW
	w.hp, w.wp = cfg.InH, cfg.InW
	if w.padded {
		w.hp, w.wp = hRead, wRead
	}
	// Pixels a multiple of 1 KiB apart would put all the k values of a
	// tile's rows in a few L1 sets, evicting each other before the next
	// panel reads them again: a 64-byte skew spreads them out.
	w.pitch = cfg.InC
	if cfg.InC%256 == 0 {
		w.pitch += 16
		w.padded = true
	}
	w.itemIn = w.hp * w.wp * w.pitch
	w.packDy = cfg.Groups > 1 || w.coutG != w.nr

	// The chunk's input (copied or not) and dy panels should fit the budget.
	perItem := w.itemIn
	if w.packDy {
		perItem += cfg.Groups * w.panels * w.nr * w.itemPix
	}
	w.items = max(1, convWGChunkBytes/4/perItem)

	// Taps: one per output row, merged when rows (and items) follow each
	// other at the pixel stride. On small maps, whose rows are a few
	// pixels, a tap is one output pixel over the chunk's items instead:
	// they are equally spaced too, and dy is packed pixel-major to match.
	sh, sw := cfg.StrideH, cfg.StrideW
	w.ldk = sw * w.pitch
	rowsMerge := cfg.OutH == 1 || sh*w.wp == cfg.OutW*sw
	w.mergeItems = rowsMerge && w.hp*w.wp == w.itemPix*sw
	w.rowsMerge = rowsMerge
	w.band = cfg.OutH > 1 && 4*perItem > convWGChunkBytes
	itemTapItems := w.items // items per chunk with item taps, which pack dy
	if !w.packDy {
		itemTapItems = max(1, convWGChunkBytes/4/(perItem+cfg.Groups*w.panels*w.nr*w.itemPix))
	}
	switch {
	case w.band:
		perRow := sh * w.wp * w.pitch
		if w.packDy {
			perRow += cfg.Groups * w.panels * w.nr * cfg.OutW
		}
		w.bandRows = min(cfg.OutH, max(1, convWGChunkBytes/4/perRow))
		w.bandIn = ((w.bandRows-1)*sh + (cfg.KH-1)*cfg.DilH + 1) * w.wp * w.pitch
		w.koff = []int{0}
		if !rowsMerge {
			w.koff = w.koff[:0]
			for r := range w.bandRows {
				w.koff = append(w.koff, r*sh*w.wp*w.pitch)
			}
		}
	case w.mergeItems:
		w.koff = []int{0}
	case rowsMerge:
		w.tapsPerItem, w.kcTap = 1, w.itemPix
		for i := range w.items {
			w.koff = append(w.koff, i*w.itemIn)
		}
	case cfg.OutW < itemTapItems:
		w.itemTaps, w.ldk, w.packDy, w.items = true, w.itemIn, true, itemTapItems
		for oh := range cfg.OutH {
			for ow := range cfg.OutW {
				w.koff = append(w.koff, (oh*sh*w.wp+ow*sw)*w.pitch)
			}
		}
	default:
		w.tapsPerItem, w.kcTap = cfg.OutH, cfg.OutW
		for i := range w.items {
			for oh := range cfg.OutH {
				w.koff = append(w.koff, i*w.itemIn+oh*sh*w.wp*w.pitch)
			}
		}
	}
	w.chunkPix = w.items * w.itemPix
	if w.band {
		w.mergeItems, w.items, w.chunkPix = false, 1, w.bandRows*cfg.OutW
	}

	// Without groups and with unit horizontal dilation, the KW·InC inputs
	// of a kernel row are consecutive floats, and so are their rows of dW:
	// a tile's rows run over (kw, ic), which fills the register block even
	// for a 3-channel stem. Otherwise they run over ic at one (kh, kw).
	rowLen, kws := w.cinG, cfg.KW
	if cfg.Groups == 1 && (cfg.DilW == 1 && w.pitch == cfg.InC || cfg.KW == 1) {
		rowLen, kws = cfg.KW*w.cinG, 1
	}
	runs := (rowLen + w.mr - 1) / w.mr
	for g := range cfg.Groups {
		for kh := range cfg.KH {
			for kw := range kws {
				for i, r0 := 0, 0; i < runs; i++ {
					rows := rowLen / runs
					if i < rowLen%runs {
						rows++
					}
					for p := range w.panels {
						w.tiles = append(w.tiles, convWGTile{int32(g), int32(kh), int32(kw), int32(r0), int32(rows), int32(p)})
					}
					r0 += rows
				}
			}
		}
	}
	w.zero = make([]float32, w.nr)
	w.acc = make([]float32, cfg.Groups*cfg.KH*cfg.KW*w.cinG*w.coutG)
}

// run writes dw (OIHW) for n items of src and dy.
func (w *convWeightGrad) run(p *Pool, dw, src, dy []float32, n int) {
	cfg := w.cfg
	if n == 0 {
		clear(dw)
		return
	}
	// Two chunks' scratch, on the first call. The padding columns stay
	// zero: pack writes only the input's pixels into a row, and clears the
	// rows that lie in the padding (a band's buffer holds other rows each
	// time).
	for b := range 2 {
		if w.padded && w.xp[b] == nil {
			if w.band {
				w.xp[b] = convAligned(w.bandIn)
			} else {
				w.xp[b] = convAligned(w.items * w.itemIn)
			}
		}
		if w.packDy && w.dyp[b] == nil {
			w.dyp[b] = convAligned(cfg.Groups * w.panels * w.chunkPix * w.nr)
		}
	}
	w.src, w.dy = src, dy
	chunks, bands := (n+w.items-1)/w.items, 0
	if w.band {
		bands = (cfg.OutH + w.bandRows - 1) / w.bandRows
		chunks = n * bands
	}
	chunk := func(j int) convWGChunk {
		if j >= chunks {
			return convWGChunk{}
		}
		if w.band {
			oh0 := j % bands * w.bandRows
			return convWGChunk{item0: j / bands, m: 1, oh0: oh0, rows: min(w.bandRows, cfg.OutH-oh0)}
		}
		return convWGChunk{item0: j * w.items, m: min(w.items, n-j*w.items), rows: cfg.OutH}
	}
	pack := w.padded || w.packDy
	if pack {
		w.pk, w.packBuf = chunk(0), 0
		w.computing = false
		w.next.Store(0)
		p.poolRun(w)
	}
	for j := range chunks {
		w.cur, w.curBuf = chunk(j), j%2
		w.first = j == 0
		w.pk, w.packBuf = convWGChunk{}, (j+1)%2
		if pack {
			w.pk = chunk(j + 1)
		}
		w.computing = true
		w.next.Store(0)
		p.poolRun(w)
	}
	w.src, w.dy = nil, nil

	// dW from [g][kh][kw][ic][oc] to OIHW, split over the pool by blocks
	// of output channels (serial, it was 2% of resnet18's 2-thread step).
	w.dw, w.transposing = dw, true
	w.next.Store(0)
	p.poolRun(w)
	w.dw, w.transposing = nil, false
}

// wgTransposeBlock is the number of output channels transposed at a time.
const wgTransposeBlock = 16

// transpose writes output channels [oc0, oc0+wgTransposeBlock) of group g
// of dw (OIHW) from the accumulator: reading 16 consecutive values of each
// (tap, ic) and writing 16 rows of dw front to back, every access stream is
// sequential. (Sweeping dw once per tap wrote each line of a 9 MB gradient
// 9 times.)
func (w *convWeightGrad) transpose(g, oc0 int) {
	cfg := w.cfg
	khw := cfg.KH * cfg.KW
	step := w.cinG * khw // between output channels in dw
	d := w.dw[g*w.coutG*step:][:w.coutG*step]
	a := w.acc[g*khw*w.cinG*w.coutG:][:khw*w.cinG*w.coutG]
	oc1 := min(oc0+wgTransposeBlock, w.coutG)
	for ic := range w.cinG {
		for t := range khw {
			o := oc0*step + ic*khw + t
			at := (t*w.cinG+ic)*w.coutG + oc0
			for _, v := range a[at : at+oc1-oc0] {
				d[o] = v
				o += step
			}
		}
	}
}

// poolWork claims the items to pack first, then the tiles to compute.
func (w *convWeightGrad) poolWork(worker int) {
	if w.transposing {
		blocks := (w.coutG + wgTransposeBlock - 1) / wgTransposeBlock
		for {
			i := int(w.next.Add(1)) - 1
			if i >= w.cfg.Groups*blocks {
				return
			}
			w.transpose(i/blocks, i%blocks*wgTransposeBlock)
		}
	}
	n := w.pk.m
	if w.computing {
		n += len(w.tiles)
	}
	for {
		i := int(w.next.Add(1)) - 1
		if i >= n {
			return
		}
		if i < w.pk.m {
			w.pack(i)
		} else {
			w.runTile(&w.tiles[i-w.pk.m])
		}
	}
}

// pack copies item i of the chunk being packed (its band, in band mode)
// into buffer packBuf's padded input and dy panels.
func (w *convWeightGrad) pack(i int) {
	cfg := w.cfg
	ck := w.pk
	it := ck.item0 + i
	xp, dyp := w.xp[w.packBuf], w.dyp[w.packBuf]
	if w.padded {
		// Padded rows [y0, y0+rowsIn) of the item: all of them, or a band's.
		base, y0, rowsIn := i*w.itemIn, 0, w.hp
		if w.band {
			base, y0 = 0, ck.oh0*cfg.StrideH
			rowsIn = (ck.rows-1)*cfg.StrideH + (cfg.KH-1)*cfg.DilH + 1
		}
		rowIn, rowP := cfg.InW*cfg.InC, w.wp*w.pitch
		cols := max(0, min(cfg.InW, w.wp-cfg.PadW))
		for j := range rowsIn {
			o := base + j*rowP
			y := y0 + j - cfg.PadH
			if y < 0 || y >= cfg.InH {
				clear(xp[o : o+rowP]) // a band's rows in the padding
				continue
			}
			o += cfg.PadW * w.pitch
			row := w.src[it*w.srcItem+y*rowIn:]
			if w.pitch == cfg.InC {
				copy(xp[o:o+cols*cfg.InC], row)
				continue
			}
			for x := range cols {
				copy(xp[o+x*w.pitch:o+x*w.pitch+cfg.InC], row[x*cfg.InC:])
			}
		}
	}
	if w.packDy {
		for pix := ck.oh0 * cfg.OutW; pix < (ck.oh0+ck.rows)*cfg.OutW; pix++ {
			row := w.dy[(it*w.itemPix+pix)*cfg.OutC:][:cfg.OutC]
			at := i*w.itemPix + pix - ck.oh0*cfg.OutW
			if w.itemTaps {
				at = pix*ck.m + i
			}
			for g := range cfg.Groups {
				for p := range w.panels {
					nc := min(w.nr, w.coutG-p*w.nr)
					o := ((g*w.panels+p)*w.chunkPix + at) * w.nr
					copy(dyp[o:o+nc], row[g*w.coutG+p*w.nr:])
				}
			}
		}
	}
}

func (w *convWeightGrad) runTile(t *convWGTile) {
	cfg := w.cfg
	var call gemmCall
	ck := &w.cur
	if w.padded {
		call.a = w.xp[w.curBuf]
	} else {
		call.a, call.aOff = w.src, ck.item0*w.srcItem+ck.oh0*cfg.StrideH*cfg.InW*cfg.InC
	}
	call.aOff += (int(t.kh)*cfg.DilH*w.wp+int(t.kw)*cfg.DilW)*w.pitch + int(t.g)*w.cinG + int(t.ic0)
	call.lda = w.ldk
	switch {
	case w.band && w.rowsMerge:
		call.koff, call.kc = w.koff, ck.rows*cfg.OutW
	case w.band:
		call.koff, call.kc = w.koff[:ck.rows], cfg.OutW
	case w.mergeItems:
		call.koff, call.kc = w.koff, ck.m*w.itemPix
	case w.itemTaps:
		call.koff, call.kc = w.koff, ck.m
	default:
		call.koff, call.kc = w.koff[:ck.m*w.tapsPerItem], w.kcTap
	}
	gp := int(t.g)*w.panels + int(t.panel)
	if w.packDy {
		call.b = w.dyp[w.curBuf][gp*w.chunkPix*w.nr:]
	} else {
		call.b = w.dy[ck.item0*w.dyItem+ck.oh0*cfg.OutW*cfg.OutC:]
	}
	call.nr = w.nr
	call.c = w.acc
	call.cOff = (((int(t.g)*cfg.KH+int(t.kh))*cfg.KW+int(t.kw))*w.cinG+int(t.ic0))*w.coutG + int(t.panel)*w.nr
	call.ldc = w.coutG
	if !w.first {
		call.res = w.acc
	}
	call.bias = w.zero
	call.mr = int(t.rows)
	call.nc = min(w.nr, w.coutG-int(t.panel)*w.nr)
	gemmTileStrided(&call)
}

// convBiasGrad computes a bias gradient, the sum of each channel of dy over
// all pixels of a batch. Each item's sums are accumulated in float64 by one
// thread, then the items' sums are added in item order and rounded once.
type convBiasGrad struct {
	part   []float64 // [n][c], grown at a larger n
	dy     []float32
	pixels int // per item
	c, n   int
	next   atomic.Int64
}

// run writes dbias[:c] for n items of dy, each of pixels pixels.
func (b *convBiasGrad) run(p *Pool, dbias, dy []float32, n, pixels, c int) {
	if len(b.part) < n*c {
		b.part = make([]float64, n*c)
	}
	b.dy, b.n, b.pixels, b.c = dy, n, pixels, c
	b.next.Store(0)
	p.poolRun(b)
	b.dy = nil
	for j := range c {
		var s float64
		for i := range n {
			s += b.part[i*c+j]
		}
		dbias[j] = float32(s)
	}
}

func (b *convBiasGrad) poolWork(worker int) {
	c := b.c
	for {
		i := int(b.next.Add(1)) - 1
		if i >= b.n {
			return
		}
		sum := b.part[i*c : (i+1)*c]
		clear(sum)
		dy := b.dy[i*b.pixels*c : (i+1)*b.pixels*c]
		for px := range b.pixels {
			row := dy[px*c : px*c+c]
			for j, v := range row {
				sum[j] += float64(v)
			}
		}
	}
}

// convTrainCheck panics unless s holds at least want values: a mismatch is
// a bug in the generated trainer.
func convTrainCheck(op, name string, s []float32, want int) {
	if len(s) < want {
		panic(fmt.Sprintf("runtime: %s: %s has %d values, want %d", op, name, len(s), want))
	}
}
