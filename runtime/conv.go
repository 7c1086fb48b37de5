package runtime

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// ConvConfig describes a 2-D convolution over one NHWC image, with PyTorch's
// Conv2d semantics.
type ConvConfig struct {
	InC, InH, InW, OutC, OutH, OutW                  int
	KH, KW, StrideH, StrideW, PadH, PadW, DilH, DilW int
	Groups                                           int
	Act                                              Act

	// Winograd, when not 0, computes the convolution with Winograd's
	// F(m×m, 3×3) for m = Winograd (2, 4 or 6): fewer multiplications, a
	// little more rounding error. It needs a 3×3 kernel, stride 1, no
	// dilation and no groups. The compiler chooses it per layer.
	Winograd int

	// OutPitch, when not 0, is the floats between consecutive output
	// pixels (≥ OutC), as in ConvTransposeConfig: the output is OutC
	// channels of a wider NHWC map, such as a concat's, and Forward writes
	// nothing else of it. ForwardBatch's items are then OutH·OutW·OutPitch
	// floats apart.
	OutPitch int
}

// Conv2D is a convolution with packed weights, ready to run.
//
// Forward uses scratch memory owned by the Conv2D, so one Conv2D must not run
// two Forward calls at the same time.
type Conv2D struct {
	cfg     ConvConfig
	e       convEngine
	grouped *groupedConv // Forward's fast path for few channels per group, or nil
	wino    *winograd    // Forward's F(m,3) form when cfg.Winograd is set, or nil
}

// NewConv2D validates cfg and packs weight (PyTorch OIHW,
// [OutC][InC/Groups][KH][KW]) and bias (len OutC, or nil for zeros).
func NewConv2D(cfg ConvConfig, weight, bias []float32) (*Conv2D, error) {
	if err := convCheck(cfg.InC, cfg.InH, cfg.InW, cfg.OutC, cfg.OutH, cfg.OutW,
		cfg.KH, cfg.KW, cfg.StrideH, cfg.StrideW, cfg.PadH, cfg.PadW, cfg.DilH, cfg.DilW, cfg.Groups, cfg.Act); err != nil {
		return nil, fmt.Errorf("conv2d: %w", err)
	}
	wantH := (cfg.InH+2*cfg.PadH-cfg.DilH*(cfg.KH-1)-1)/cfg.StrideH + 1
	wantW := (cfg.InW+2*cfg.PadW-cfg.DilW*(cfg.KW-1)-1)/cfg.StrideW + 1
	if cfg.InH+2*cfg.PadH-cfg.DilH*(cfg.KH-1)-1 < 0 || cfg.InW+2*cfg.PadW-cfg.DilW*(cfg.KW-1)-1 < 0 {
		return nil, fmt.Errorf("conv2d: dilated kernel %dx%d is larger than the padded input %dx%d",
			cfg.DilH*(cfg.KH-1)+1, cfg.DilW*(cfg.KW-1)+1, cfg.InH+2*cfg.PadH, cfg.InW+2*cfg.PadW)
	}
	if cfg.OutH != wantH || cfg.OutW != wantW {
		return nil, fmt.Errorf("conv2d: output %dx%d, want %dx%d for input %dx%d, kernel %dx%d, stride %dx%d, padding %dx%d, dilation %dx%d",
			cfg.OutH, cfg.OutW, wantH, wantW, cfg.InH, cfg.InW, cfg.KH, cfg.KW, cfg.StrideH, cfg.StrideW, cfg.PadH, cfg.PadW, cfg.DilH, cfg.DilW)
	}
	opitch, err := convOutPitch(cfg.OutC, cfg.OutPitch)
	if err != nil {
		return nil, fmt.Errorf("conv2d: %w", err)
	}
	cinG := cfg.InC / cfg.Groups
	if want := cfg.OutC * cinG * cfg.KH * cfg.KW; len(weight) != want {
		return nil, fmt.Errorf("conv2d: weight has %d values, want %d = %dx%dx%dx%d", len(weight), want, cfg.OutC, cinG, cfg.KH, cfg.KW)
	}
	if len(bias) != 0 && len(bias) != cfg.OutC {
		return nil, fmt.Errorf("conv2d: bias has %d values, want %d or none", len(bias), cfg.OutC)
	}

	c := &Conv2D{cfg: cfg}
	if cfg.Winograd != 0 {
		w, err := newWinograd(cfg, weight, bias)
		if err != nil {
			return nil, fmt.Errorf("conv2d: %w", err)
		}
		c.wino = w
	}
	e := &c.e
	e.init("conv2d", cfg.InC, cfg.InH, cfg.InW, cfg.OutC, cfg.OutH, cfg.OutW, cfg.Groups, cfg.Act, bias)
	e.outPitch = opitch

	// The input is read through a zero-padded copy when the conv pads, so
	// the micro-kernel never tests borders. Origin (0,0) of the padded input
	// is input pixel (-PadH, -PadW).
	sh, sw, dh, dw := cfg.StrideH, cfg.StrideW, cfg.DilH, cfg.DilW
	padBottom := max(0, (cfg.OutH-1)*sh-cfg.PadH+(cfg.KH-1)*dh-(cfg.InH-1))
	padRight := max(0, (cfg.OutW-1)*sw-cfg.PadW+(cfg.KW-1)*dw-(cfg.InW-1))
	// With one tap per kernel row (KW == 1), pixels can also be spaced
	// wider than InC: when InC is a multiple of 512 the rows of a
	// tile would be 2 KiB apart or more, mapping them to one or two L1 sets
	// and evicting each other. A 64-byte skew spreads them out.
	pitch := cfg.InC
	if cfg.KW == 1 && cfg.InC%512 == 0 {
		pitch += 16
	}
	e.setPadding(cfg.PadH, padBottom, cfg.PadW, padRight, pitch)

	ph := convPhase{
		rows: cfg.OutH, cols: cfg.OutW,
		aRow: sh * e.wp * pitch, aCol: sw * pitch,
		cRow: cfg.OutW * opitch, cCol: opitch,
	}
	// K runs over (kh, kw, ic), the order of an NHWC input row. Without
	// groups and with unit horizontal dilation the KW*InC values of one
	// kernel row are contiguous in the input, so a tap is a whole kernel row.
	if cfg.Groups == 1 && (dw == 1 || cfg.KW == 1) {
		ph.kc = cfg.KW * cfg.InC
		for kh := range cfg.KH {
			ph.koff = append(ph.koff, kh*dh*e.wp*pitch)
			ph.koffSrc = append(ph.koffSrc, kh*dh*cfg.InW*cfg.InC)
		}
	} else {
		ph.kc = cinG
		for kh := range cfg.KH {
			for kw := range cfg.KW {
				ph.koff = append(ph.koff, (kh*dh*e.wp+kw*dw)*pitch)
				ph.koffSrc = append(ph.koffSrc, (kh*dh*cfg.InW+kw*dw)*cfg.InC)
			}
		}
	}
	for t := range cfg.KH * cfg.KW {
		ph.wtaps = append(ph.wtaps, t)
	}
	ph.packed = convAligned(cfg.Groups * e.panels * len(ph.wtaps) * cinG * e.nr)
	e.packPhase(&ph, weight, cinG*cfg.KH*cfg.KW, cfg.KH*cfg.KW, cfg.KH*cfg.KW)
	if e.padded != nil && pitch == cfg.InC {
		e.addPhaseDirect(ph, cfg)
	} else {
		e.addPhase(ph)
	}
	// Training runs e itself (train_conv.go), so e is always built. The
	// grouped kernels write dense outputs only.
	if cfg.OutPitch == 0 {
		c.grouped = newGroupedConv(cfg, weight, bias)
	}
	return c, nil
}

// Forward computes dst = act(conv(src) + bias + residual) over NHWC images.
// residual is nil or shaped like dst; dst may be the same slice as residual
// but must not overlap src.
func (c *Conv2D) Forward(p *Pool, dst, src, residual []float32) {
	if c.wino != nil {
		dst, src, residual = c.e.checkArgs(dst, src, residual)
		c.wino.forward(p, 1, dst, src, residual)
		return
	}
	if c.grouped != nil {
		c.grouped.forward(p, dst, src, residual)
		return
	}
	c.e.forward(p, dst, src, residual)
}

// ForwardBatch is Forward over n items: src, dst and residual (nil or
// like dst) hold n images each, one after another. A Winograd convolution
// runs the items' tiles together, reading its transformed weights once per
// block instead of once per item, and a direct one whose weights exceed
// L2 runs its tiles panel by panel across the items; the results are
// bit-identical to n Forward calls.
func (c *Conv2D) ForwardBatch(p *Pool, n int, dst, src, residual []float32) {
	// Items are outLen apart; the last one ends last floats in.
	inLen, outLen := c.cfg.InH*c.cfg.InW*c.cfg.InC, c.e.outItemLen()
	last := (n-1)*outLen + c.e.outExtent()
	if n < 1 || len(src) < n*inLen || len(dst) < last || residual != nil && len(residual) < last {
		panic(fmt.Sprintf("runtime: conv2d: ForwardBatch of %d items: src %d, dst %d, residual %d values, want %d, %d and %d or none",
			n, len(src), len(dst), len(residual), n*inLen, last, last))
	}
	if n > 1 && (c.wino != nil || c.grouped == nil && c.e.panelsOuter) {
		dst, src = dst[:last], src[:n*inLen]
		if residual != nil {
			residual = residual[:last]
		}
		if convOverlap(dst, src) {
			panic("runtime: conv2d: dst overlaps src")
		}
		if c.wino != nil {
			c.wino.forward(p, n, dst, src, residual)
		} else {
			c.e.runBatch(p, n, dst, src, residual)
		}
		return
	}
	for i := range n {
		var res []float32
		if residual != nil {
			res = residual[i*outLen:]
		}
		c.Forward(p, dst[i*outLen:], src[i*inLen:(i+1)*inLen], res)
	}
}

// convCheck validates the sizes shared by Conv2D and ConvTranspose2D.
func convCheck(inC, inH, inW, outC, outH, outW, kh, kw, sh, sw, ph, pw, dh, dw, groups int, act Act) error {
	for _, v := range []struct {
		name string
		v    int
	}{
		{"InC", inC}, {"InH", inH}, {"InW", inW}, {"OutC", outC}, {"OutH", outH}, {"OutW", outW},
		{"KH", kh}, {"KW", kw}, {"StrideH", sh}, {"StrideW", sw}, {"DilH", dh}, {"DilW", dw}, {"Groups", groups},
	} {
		if v.v <= 0 {
			return fmt.Errorf("%s is %d, want > 0", v.name, v.v)
		}
		if v.v > 1<<24 {
			return fmt.Errorf("%s is %d, too large", v.name, v.v)
		}
	}
	if ph < 0 || pw < 0 || ph > 1<<24 || pw > 1<<24 {
		return fmt.Errorf("padding %dx%d out of range", ph, pw)
	}
	if inC%groups != 0 || outC%groups != 0 {
		return fmt.Errorf("InC %d and OutC %d must both be multiples of Groups %d", inC, outC, groups)
	}
	if act != ActNone && act != ActReLU {
		return fmt.Errorf("unknown activation %d", act)
	}
	const maxElems = 1 << 34
	if inC*inH > maxElems/inW || outC*outH > maxElems/outW || kh*kw > maxElems/inC {
		return errors.New("tensor too large")
	}
	return nil
}

// convEngine runs the implicit GEMM for Conv2D and ConvTranspose2D. A
// transposed convolution is split into stride phases, each an ordinary
// stride-1 convolution writing a strided subset of the output pixels.
type convEngine struct {
	op                      string
	inC, inH, inW           int
	outC, outH, outW        int
	outPitch                int // floats between output pixels (see outPixel)
	groups, cinG, coutG     int
	panels                  int // packed panels per group
	relu                    bool
	nr, mr                  int       // panel width and most pixels per tile (gemmPanel)
	bias                    []float32 // [groups][panels][nr]
	padTop, padLeft, hp, wp int
	pitch                   int       // floats per pixel of padded (≥ inC)
	padded                  []float32 // zero-padded input; nil when unpadded
	// With direct tiles, only input columns [0, copyL) and [copyR, inW) are
	// copied into padded, for the column tiles; nothing else reads it.
	direct       bool
	copyL, copyR int
	phases       []convPhase
	tiles        []convTile // the work, in cache-friendly order
	panelsOuter  bool       // some phase's tiles sweep panels in the outer loop

	// A batch (runBatch): items, each item's values, the padded copies
	// of all items, and tiles per panel when the tiles are panel-major.
	items                 int
	inLen, outLen, padLen int
	paddedBatch           []float32
	tilesPerPanel         int

	// Per Forward call; the pool workers read these.
	in, dst, res []float32
	src          []float32 // while copying into padded; the source for direct tiles
	copying      bool      // poolWork copies input rows instead of computing
	chunk        int       // most tiles claimed at a time
	threads      int
	next         atomic.Int64
}

// convPhase is one implicit GEMM: output pixel (t, u) of the phase is dst
// pixel cBase + t*cRow + u*cCol, and its input row origin is
// t*aRow + u*aCol in the (padded) input.
type convPhase struct {
	rows, cols int
	aRow, aCol int
	cBase      int
	cRow, cCol int
	koff       []int
	kc         int
	packed     []float32 // [groups][panels][len(wtaps)*cinG][nr]
	wtaps      []int     // per packed tap, its kh*KW + kw in the weight tensor

	// Direct tiles (Conv2D with padding, see addPhaseDirect) read the
	// source itself: input origin dBase + t*dRow + u*dCol, taps koffSrc.
	dBase, dRow, dCol int
	dTap              int // offset of one kernel row's taps (koff entries per row: rowTaps)
	rowTaps           int
	koffSrc           []int
}

// convTile is one task: mr pixels starting at (t, u) × np panels from
// panel (one micro-kernel call when the kernel loops over panels). A direct
// tile reads the source, with taps [tap0, tap1) only; a column tile's
// pixels are mr output rows t… of column u, read from the padded copy.
type convTile struct {
	phase, group, panel int32
	np                  int32
	t, u, mr            int32
	tap0, tap1          int16
	direct, column      bool
	pf                  int32 // > 0: prefetch the weights from here (floats past the panel's start) as it runs
}

func (e *convEngine) init(op string, inC, inH, inW, outC, outH, outW, groups int, act Act, bias []float32) {
	e.op = op
	e.inC, e.inH, e.inW = inC, inH, inW
	e.outC, e.outH, e.outW = outC, outH, outW
	e.outPitch = outC
	e.groups, e.cinG, e.coutG = groups, inC/groups, outC/groups
	e.nr, e.mr = gemmPanel(e.coutG)
	e.panels = (e.coutG + e.nr - 1) / e.nr
	e.relu = act == ActReLU
	e.bias = convAligned(groups * e.panels * e.nr)
	e.setBias(bias)
}

// setBias packs bias (len outC, or nil for zeros) into e.bias.
func (e *convEngine) setBias(bias []float32) {
	for g := range e.groups {
		for j := range e.coutG {
			v := float32(0)
			if len(bias) != 0 {
				v = bias[g*e.coutG+j]
			}
			e.bias[g*e.panels*e.nr+j] = v
		}
	}
}

// packPhase packs weight into ph.packed, whose taps are ph.wtaps: output
// channel oc and input channel ic of group g at weight tap t (kh*KW + kw)
// are weight[g*cinG*coutG*khw + oc*ocStride + ic*icStride + t], khw being
// KH*KW. Conv2D's OIHW and ConvTranspose2D's [In][Out/G] layouts differ only
// in the two strides. Columns past coutG stay zero.
func (e *convEngine) packPhase(ph *convPhase, weight []float32, ocStride, icStride, khw int) {
	k := len(ph.wtaps) * e.cinG
	gStride := e.cinG * e.coutG * khw
	for g := range e.groups {
		for p := range e.panels {
			panel := ph.packed[(g*e.panels+p)*k*e.nr:][:k*e.nr]
			nc := min(e.nr, e.coutG-p*e.nr)
			w := weight[g*gStride+p*e.nr*ocStride:]
			// Walk the weight along its shorter stride: training repacks
			// every step, and a linear layer's transposed weight is 2 MB.
			if ocStride < icStride {
				for t, wt := range ph.wtaps {
					for ic := range e.cinG {
						row := panel[(t*e.cinG+ic)*e.nr:][:nc]
						for j := range row {
							row[j] = w[j*ocStride+ic*icStride+wt]
						}
					}
				}
				continue
			}
			for j := range nc {
				for t, wt := range ph.wtaps {
					for ic := range e.cinG {
						panel[(t*e.cinG+ic)*e.nr+j] = w[j*ocStride+ic*icStride+wt]
					}
				}
			}
		}
	}
}

func (e *convEngine) setPadding(top, bottom, left, right, pitch int) {
	e.padTop, e.padLeft, e.pitch = top, left, pitch
	e.hp, e.wp = e.inH+top+bottom, e.inW+left+right
	if top+bottom+left+right > 0 || pitch != e.inC {
		e.padded = convAligned(e.hp * e.wp * pitch)
	}
}

// addPhase appends ph and its tiles. Rows of a tile share an output row t, so
// input and output rows are equally spaced; when whole rows are contiguous
// the phase is flattened into one long row first.
func (e *convEngine) addPhase(ph convPhase) {
	if ph.rows > 1 && ph.aRow == ph.cols*ph.aCol && ph.cRow == ph.cols*ph.cCol {
		ph.cols *= ph.rows
		ph.rows = 1
	}
	e.phases = append(e.phases, ph)
	pi := int32(len(e.phases) - 1)

	// Split each row into nearly equal tiles of at most e.mr pixels.
	n := (ph.cols + e.mr - 1) / e.mr
	type span struct{ u, mr int32 }
	spans := make([]span, 0, n)
	for i, u := 0, 0; i < n; i++ {
		mr := ph.cols / n
		if i < ph.cols%n {
			mr++
		}
		spans = append(spans, span{int32(u), int32(mr)})
		u += mr
	}
	// When a group's packed weights fit comfortably in L2, sweep pixels
	// in the outer loop so an input tile stays in L1 across panels;
	// otherwise sweep panels outside so one panel stays in L2.
	k := len(ph.koff) * ph.kc
	pixelsOuter := k*e.nr*4*e.panels <= 512<<10
	e.panelsOuter = e.panelsOuter || !pixelsOuter
	first := len(e.tiles)
	defer func() {
		if !pixelsOuter {
			e.setPrefetch(first, k)
		}
	}()
	for g := range int32(e.groups) {
		if pixelsOuter {
			for t := range int32(ph.rows) {
				for _, s := range spans {
					e.tiles = append(e.tiles, convTile{phase: pi, group: g, t: t, u: s.u, mr: s.mr, np: int32(e.panels)})
				}
			}
		} else {
			for p := range int32(e.panels) {
				for t := range int32(ph.rows) {
					for _, s := range spans {
						e.tiles = append(e.tiles, convTile{phase: pi, group: g, panel: p, t: t, u: s.u, mr: s.mr, np: 1})
					}
				}
			}
		}
	}
}

// addPhaseDirect appends the only phase of a padded Conv2D and its tiles,
// most of which read the source directly instead of a padded copy:
//
//   - in output columns whose windows lie inside the input horizontally,
//     tiles are row pieces as in addPhase, reading the source; in the top
//     and bottom rows they skip the kernel rows that fall in the padding;
//   - the few other columns (one at each side for a 3×3 kernel) are column
//     tiles of up to e.mr output rows, reading the padded buffer, into
//     which Forward copies only the input columns they need.
//
// So Forward copies a few columns instead of the whole input.
func (e *convEngine) addPhaseDirect(ph convPhase, cfg ConvConfig) {
	sh, sw, dh, dw := cfg.StrideH, cfg.StrideW, cfg.DilH, cfg.DilW
	ph.dRow, ph.dCol = sh*cfg.InW*cfg.InC, sw*cfg.InC
	ph.dBase = -(cfg.PadH*cfg.InW + cfg.PadW) * cfg.InC
	ph.dTap = dh * cfg.InW * cfg.InC
	ph.rowTaps = len(ph.koff) / cfg.KH
	e.phases = append(e.phases, ph)
	pi := int32(len(e.phases) - 1)
	e.direct = true

	// Output columns [uL, uR) read input columns inside [0, InW).
	uL := min(cfg.OutW, (cfg.PadW+sw-1)/sw)
	uR := uL
	if last := cfg.InW - 1 + cfg.PadW - (cfg.KW-1)*dw; last >= 0 {
		uR = max(uL, min(cfg.OutW, last/sw+1))
	}
	if uL > 0 {
		e.copyL = min(cfg.InW, (uL-1)*sw-cfg.PadW+(cfg.KW-1)*dw+1)
	}
	e.copyR = cfg.InW
	if uR < cfg.OutW {
		e.copyR = max(0, uR*sw-cfg.PadW)
	}

	split := func(n int) [][2]int32 { // n items in nearly equal runs of at most e.mr
		k := (n + e.mr - 1) / e.mr
		var runs [][2]int32
		for i, at := 0, 0; i < k; i++ {
			m := n / k
			if i < n%k {
				m++
			}
			runs = append(runs, [2]int32{int32(at), int32(m)})
			at += m
		}
		return runs
	}
	spans := split(uR - uL)
	for i := range spans {
		spans[i][0] += int32(uL)
	}
	// Kernel rows [kh0, kh1) of output row t lie inside the input.
	rowTaps := func(t int) (int16, int16) {
		top := t*sh - cfg.PadH
		kh0 := 0
		if top < 0 {
			kh0 = min(cfg.KH, (-top+dh-1)/dh)
		}
		kh1 := 0
		if room := cfg.InH - 1 - top; room >= 0 {
			kh1 = min(cfg.KH, room/dh+1)
		}
		kh1 = max(kh0, kh1)
		return int16(kh0 * ph.rowTaps), int16(kh1 * ph.rowTaps)
	}
	direct := func(g, p, np, t int32, sp [2]int32) convTile {
		t0, t1 := rowTaps(int(t))
		return convTile{phase: pi, group: g, panel: p, np: np, t: t, u: sp[0], mr: sp[1], tap0: t0, tap1: t1, direct: true}
	}
	// columns appends the column tiles of panels [p, p+np).
	columns := func(g, p, np int32) {
		for u := int32(0); u < int32(cfg.OutW); u++ {
			if u == int32(uL) && uR > uL {
				u = int32(uR) - 1
				continue
			}
			for _, run := range split(ph.rows) {
				e.tiles = append(e.tiles, convTile{phase: pi, group: g, panel: p, np: np, t: run[0], u: u, mr: run[1],
					tap1: int16(len(ph.koff)), column: true})
			}
		}
	}
	k := len(ph.koff) * ph.kc
	pixelsOuter := k*e.nr*4*e.panels <= 512<<10
	e.panelsOuter = e.panelsOuter || !pixelsOuter
	first := len(e.tiles)
	defer func() {
		if !pixelsOuter {
			e.setPrefetch(first, k)
		}
	}()
	for g := range int32(e.groups) {
		if pixelsOuter {
			for t := range int32(ph.rows) {
				for _, sp := range spans {
					e.tiles = append(e.tiles, direct(g, 0, int32(e.panels), t, sp))
				}
			}
			columns(g, 0, int32(e.panels))
			continue
		}
		// Column tiles per panel too: over all panels, one would be as
		// much work as a whole panel of a late layer's small map, and
		// the thread that claims it last would finish alone.
		for p := range int32(e.panels) {
			for t := range int32(ph.rows) {
				for _, sp := range spans {
					e.tiles = append(e.tiles, direct(g, p, 1, t, sp))
				}
			}
			columns(g, p, 1)
		}
	}
}

// setPrefetch gives the panel-major tiles from first on their share of the
// next panel's weights to prefetch: the AVX-512 kernels fetch
// gemmPrefetchPerK·k floats for a tile of k, so the first tiles of a panel
// pull in the next panel while the panel's own weights are in cache, and late
// layers (7×7 maps, weights streamed from memory) overlap that traffic with
// their multiply-adds. The last panel of a group prefetches nothing.
func (e *convEngine) setPrefetch(first, k int) {
	panel := k * e.nr
	j, last := 0, int32(-1)
	for i := first; i < len(e.tiles); i++ {
		tl := &e.tiles[i]
		if tl.panel != last {
			j, last = 0, tl.panel
		}
		if off := panel + j*gemmPrefetchPerK*k; int(tl.panel) < e.panels-1 && off < 2*panel {
			tl.pf = int32(off)
		}
		j++
	}
}

func (e *convEngine) forward(p *Pool, dst, src, res []float32) {
	dst, src, res = e.checkArgs(dst, src, res)
	e.run(p, dst, src, res)
}

// checkArgs panics unless the slices are long enough and dst does not
// overlap src, and returns them cut to length.
func (e *convEngine) checkArgs(dst, src, res []float32) (_, _, _ []float32) {
	nIn, nOut := e.inH*e.inW*e.inC, e.outExtent()
	if len(src) < nIn {
		panic(fmt.Sprintf("runtime: %s: src has %d values, want %d", e.op, len(src), nIn))
	}
	if len(dst) < nOut {
		panic(fmt.Sprintf("runtime: %s: dst has %d values, want %d", e.op, len(dst), nOut))
	}
	src, dst = src[:nIn], dst[:nOut]
	if res != nil {
		if len(res) < nOut {
			panic(fmt.Sprintf("runtime: %s: residual has %d values, want %d", e.op, len(res), nOut))
		}
		res = res[:nOut]
	}
	if convOverlap(dst, src) {
		panic(fmt.Sprintf("runtime: %s: dst overlaps src", e.op))
	}
	return dst, src, res
}

// run computes the convolution of arguments checkArgs accepted.
func (e *convEngine) run(p *Pool, dst, src, res []float32) {
	in := src
	if e.direct {
		e.copyEdges(src)
		in = e.padded
	} else if e.padded != nil {
		if p.Threads() == 1 {
			e.copyRows(src, 0, e.inH)
		} else {
			e.src, e.copying = src, true
			e.next.Store(0)
			p.poolRun(e)
			e.src, e.copying = nil, false
		}
		in = e.padded
	}
	e.in, e.dst, e.res, e.src = in, dst, res, src
	// Claim several tiles per atomic operation, but keep enough chunks
	// to balance the threads.
	e.chunk = max(1, len(e.tiles)/(8*p.Threads()))
	e.threads = p.Threads()
	e.next.Store(0)
	p.poolRun(e)
	e.in, e.dst, e.res, e.src = nil, nil, nil, nil
}

// runBatch computes n items (Conv2D.ForwardBatch) in one pool run, each
// tile exactly as run computes it, so the results are those of n calls.
// When the tiles sweep panels in the outer loop (weights too large for
// L2), the claim order is panel-major across items: every item's tiles of
// a panel, then the next panel, so each panel is read from memory once per
// batch instead of once per item.
func (e *convEngine) runBatch(p *Pool, n int, dst, src, res []float32) {
	e.inLen, e.outLen = e.inH*e.inW*e.inC, e.outItemLen()
	in := src
	if e.padded != nil {
		e.padLen = len(e.padded)
		if len(e.paddedBatch) < n*e.padLen {
			e.paddedBatch = convAligned(n * e.padLen)
		}
		for i := range n {
			pb := e.paddedBatch[i*e.padLen : (i+1)*e.padLen]
			if e.direct {
				e.copyEdgesInto(pb, src[i*e.inLen:(i+1)*e.inLen])
			} else {
				e.copyRowsInto(pb, src[i*e.inLen:(i+1)*e.inLen], 0, e.inH)
			}
		}
		in = e.paddedBatch
	}
	e.tilesPerPanel = 0
	if e.panelsOuter && len(e.phases) == 1 && e.groups == 1 && len(e.tiles)%e.panels == 0 {
		e.tilesPerPanel = len(e.tiles) / e.panels
		for k := range e.panels {
			if e.tiles[k*e.tilesPerPanel].panel != int32(k) {
				e.tilesPerPanel = 0
				break
			}
		}
	}
	e.items = n
	e.in, e.dst, e.res, e.src = in, dst, res, src
	e.chunk = max(1, n*len(e.tiles)/(8*p.Threads()))
	e.threads = p.Threads()
	e.next.Store(0)
	p.poolRun(e)
	e.in, e.dst, e.res, e.src = nil, nil, nil, nil
	e.items = 0
}

// convOutPitch validates a config's OutPitch and returns the floats
// between output pixels: outC, or the wider pitch.
func convOutPitch(outC, outPitch int) (int, error) {
	if outPitch == 0 {
		return outC, nil
	}
	if outPitch < outC || outPitch > 1<<24 {
		return 0, fmt.Errorf("OutPitch %d, want 0 or at least OutC %d", outPitch, outC)
	}
	return outPitch, nil
}

// outPixel is the floats between output pixels. Engines derived for
// training (convItemTiles) leave outPitch 0: their outputs are dense.
func (e *convEngine) outPixel() int { return max(e.outC, e.outPitch) }

// outItemLen is the floats from one item's output to the next's in a batch.
func (e *convEngine) outItemLen() int { return e.outH * e.outW * e.outPixel() }

// outExtent is the floats one output spans: its pixels outPixel apart,
// outC channels each.
func (e *convEngine) outExtent() int { return (e.outH*e.outW-1)*e.outPixel() + e.outC }

// copyEdges copies the input columns the column tiles read into the
// padded buffer: a few pixels at each end of every row.
func (e *convEngine) copyEdges(src []float32) { e.copyEdgesInto(e.padded, src) }

func (e *convEngine) copyEdgesInto(padded, src []float32) {
	rowIn, rowP := e.inW*e.inC, e.wp*e.pitch
	l, r := e.copyL*e.inC, e.copyR*e.inC
	for y := range e.inH {
		o := (y+e.padTop)*rowP + e.padLeft*e.pitch
		s := src[y*rowIn : (y+1)*rowIn]
		d := padded[o : o+rowIn]
		if l >= r {
			copy(d, s)
			continue
		}
		copy(d[:l], s[:l])
		copy(d[r:], s[r:])
	}
}

// copyRows copies input rows [y0, y1) of src into the interior of the
// padded buffer (whose border stays zero from construction).
func (e *convEngine) copyRows(src []float32, y0, y1 int) { e.copyRowsInto(e.padded, src, y0, y1) }

func (e *convEngine) copyRowsInto(padded, src []float32, y0, y1 int) {
	rowIn, rowP := e.inW*e.inC, e.wp*e.pitch
	for y := y0; y < y1; y++ {
		o := (y+e.padTop)*rowP + e.padLeft*e.pitch
		if e.pitch == e.inC {
			copy(padded[o:o+rowIn], src[y*rowIn:])
			continue
		}
		for x := range e.inW {
			copy(padded[o+x*e.pitch:o+x*e.pitch+e.inC], src[(y*e.inW+x)*e.inC:])
		}
	}
}

func convOverlap(a, b []float32) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	a0, b0 := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return a0 < b0+uintptr(len(b))*4 && b0 < a0+uintptr(len(a))*4
}

// poolWork claims chunks of tiles. Every tile is computed whole by one
// thread in a fixed order, so results do not depend on the thread count.
func (e *convEngine) poolWork(worker int) {
	if e.copying {
		const rows = 4
		for {
			y := int(e.next.Add(rows)) - rows
			if y >= e.inH {
				return
			}
			e.copyRows(e.src, y, min(y+rows, e.inH))
		}
	}
	// Guided: a claim takes at most chunk tiles and at most a 1/(2·threads)
	// share of what is left, so the threads run out of work nearly
	// together (a chunk of a 7×7 layer is ~100 µs of work).
	n := int64(len(e.tiles) * max(1, e.items))
	if e.threads == 2 && e.panelsOuter {
		e.poolWork2(worker, n)
		return
	}
	for {
		start := e.next.Load()
		if start >= n {
			return
		}
		size := min(int64(e.chunk), max(1, (n-start)/int64(2*e.threads)))
		if !e.next.CompareAndSwap(start, start+size) {
			continue
		}
		e.runClaim(start, start+size)
	}
}

// runClaim runs claimed tiles [i0, i1): tiles of the list, or in a batch
// tiles of the items (see runBatch for the order).
func (e *convEngine) runClaim(i0, i1 int64) {
	if e.items == 0 {
		e.runTiles(e.tiles[i0:i1])
		return
	}
	in, dst, res, src := e.in, e.dst, e.res, e.src
	nt := int64(len(e.tiles))
	for i := i0; i < i1; {
		var item, tile, run int64
		if e.tilesPerPanel > 0 {
			// Panel-major: every item's tiles of one panel, then the next
			// panel, so a panel's weights stay in cache across the batch.
			tpp := int64(e.tilesPerPanel)
			per := tpp * int64(e.items)
			panel, r := i/per, i%per
			item, tile = r/tpp, panel*tpp+r%tpp
			run = min(i1-i, tpp-r%tpp)
		} else {
			item, tile = i/nt, i%nt
			run = min(i1-i, nt-tile)
		}
		k := int(item)
		io := convIO{in: in[k*e.padOrIn():], src: src[k*e.inLen:], dst: dst[k*e.outLen:]}
		if res != nil {
			io.res = res[k*e.outLen:]
		}
		e.runTilesIO(e.tiles[tile:tile+run], io)
		i += run
	}
}

// convIO is the slices one item's tiles read and write.
type convIO struct{ in, src, dst, res []float32 }

// padOrIn is the length of one item of e.in in a batch: the padded copy,
// or the source itself.
func (e *convEngine) padOrIn() int {
	if e.padded != nil {
		return e.padLen
	}
	return e.inLen
}

// poolWork2 is poolWork for two threads: worker 0 claims tiles from the
// front of the list and worker 1 from the back, so each thread streams
// its own end of the weights (one panel after another in a late layer)
// instead of both reading every panel. next holds the claimed counts,
// front in the low 32 bits, back in the high 32.
func (e *convEngine) poolWork2(worker int, n int64) {
	for {
		v := e.next.Load()
		front, back := v&(1<<32-1), v>>32
		left := n - front - back
		if left <= 0 {
			return
		}
		size := min(int64(e.chunk), max(1, left/4))
		var start int64
		if worker == 0 {
			start = front
			if !e.next.CompareAndSwap(v, v+size) {
				continue
			}
		} else {
			start = n - back - size
			if !e.next.CompareAndSwap(v, v+size<<32) {
				continue
			}
		}
		e.runClaim(start, start+size)
	}
}

func (e *convEngine) runTiles(tiles []convTile) {
	e.runTilesIO(tiles, convIO{in: e.in, src: e.src, dst: e.dst, res: e.res})
}

func (e *convEngine) runTilesIO(tiles []convTile, io convIO) {
	var call gemmCall
	call.c, call.res = io.dst, io.res
	call.relu = e.relu
	for i := range tiles {
		tl := &tiles[i]
		ph := &e.phases[tl.phase]
		g, p := int(tl.group), int(tl.panel)
		t, u := int(tl.t), int(tl.u)
		k := len(ph.koff) * ph.kc
		gp := g*e.panels + p
		call.a = io.in
		call.aOff = t*ph.aRow + u*ph.aCol + g*e.cinG
		call.lda = ph.aCol
		call.koff = ph.koff
		call.kc = ph.kc
		np := int(tl.np)
		call.b = ph.packed[gp*k*e.nr : (gp+np)*k*e.nr]
		call.cOff = ph.cBase + t*ph.cRow + u*ph.cCol + g*e.coutG + p*e.nr
		call.ldc = ph.cCol
		call.np, call.bskip = np, 0
		switch {
		case tl.direct:
			// Taps wholly in the top or bottom padding add zeros: skip them.
			t0, t1 := int(tl.tap0), int(tl.tap1)
			call.a = io.src
			call.aOff = ph.dBase + t*ph.dRow + u*ph.dCol + t0/ph.rowTaps*ph.dTap + g*e.cinG
			call.lda = ph.dCol
			call.koff = ph.koffSrc[:t1-t0]
			call.b = call.b[t0*ph.kc*e.nr:]
			call.bskip = (k - (t1-t0)*ph.kc) * e.nr
		case tl.column:
			call.lda = ph.aRow
			call.ldc = ph.cRow
		}
		call.pf = nil
		if tl.pf > 0 {
			call.pf = ph.packed[gp*k*e.nr+int(tl.pf):]
		} else if len(ph.koff) == 1 && !tl.direct && !tl.column {
			// A 1×1 tile's input rows are one contiguous block, and the
			// next tile's follows it: prefetch that into L2 through the
			// unused weight stream (gemmPrefetchPerK·k floats per panel,
			// more than the next tile's mr·k). Where
			// the previous layer's output has left L2 (a 56×56 map of 256
			// channels is 3 MB), the kernels' 14 interleaved row streams
			// otherwise wait on memory: BenchmarkConvCold 1x1_256-64_56.
			if next := call.aOff + int(tl.mr)*call.lda; next < len(call.a) {
				call.pf = call.a[next:]
			}
		}
		call.bias = e.bias[gp*e.nr : (gp+np)*e.nr]
		call.mr = int(tl.mr)
		call.nc = min(e.nr, e.coutG-(p+np-1)*e.nr)
		call.nr = e.nr
		gemmTile(&call)
	}
}

// convAligned returns n zeroed floats starting on a 64-byte boundary, so a
// packed panel's 64-byte vectors never straddle two cache lines.
func convAligned(n int) []float32 {
	s := make([]float32, n+15)
	skip := int(-uintptr(unsafe.Pointer(&s[0])) / 4 % 16)
	return s[skip : skip+n : skip+n]
}
