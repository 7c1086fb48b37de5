package runtime

import (
	"fmt"
	"sync/atomic"

	"github.com/resgen/resgen/internal/winomat"
)

// Winograd's minimal filtering F(m×m, 3×3) computes an m×m tile of a 3×3
// stride-1 convolution from an α×α input tile (α = m+2) with α² products
// per channel pair instead of 9m²: 2.25× fewer for F(2,3), 4× for F(4,3),
// 5.06× for F(6,3). Per tile and channel the input is transformed,
// V = Bᵀ d B; per tile, each of the α² transformed positions (planes) is one
// GEMM of the tiles' V by the weights transformed once at construction,
// U = G g Gᵀ, summed over input channels; the output transform Aᵀ M A then
// gives the tile, through bias, residual and ReLU.
//
// The GEMMs run on the direct convolution's micro-kernels (rows are tiles,
// K the input channels, one packed panel set per plane), and the transforms
// on their own kernels (winoApply), so the whole layer stays on the SIMD
// path. Tiles are processed in blocks small enough that a block's V and M
// stay in the L2 cache; each tile is computed whole, in a fixed order, by
// one thread, so results do not depend on the thread count or the block
// size.

// WinogradSizes are the output tile sizes ConvConfig.Winograd accepts.
var WinogradSizes = []int{2, 4, 6}

// winoMaxAlpha is the largest input tile, F(6,3)'s.
const winoMaxAlpha = 8

// winoTransform is one of Bᵀ or Aᵀ of one F(m,3), as the kernels apply it:
// rows outputs, each a combination of k inputs.
type winoTransform struct {
	rows, k int
	mat     [winoMaxAlpha][winoMaxAlpha]float32
	kernel  int // index of its assembly kernel (winoKernels), per size and kind
}

// winoTransforms returns Bᵀ and Aᵀ of F(m,3) as float32 (every entry of
// both is a small dyadic rational, so exact).
func winoTransforms(m int) (bt, at winoTransform, g [][]float64, err error) {
	x, err := winomat.New(m)
	if err != nil {
		return bt, at, nil, err
	}
	fill := func(t *winoTransform, a [][]float64) {
		t.rows, t.k = len(a), len(a[0])
		for i, row := range a {
			for j, v := range row {
				t.mat[i][j] = float32(v)
				if float64(t.mat[i][j]) != v {
					panic(fmt.Sprintf("runtime: F(%d,3) transform entry %v is not exact in float32", m, v))
				}
			}
		}
	}
	fill(&bt, winomat.Float64(x.BT))
	fill(&at, winomat.Float64(x.AT))
	bt.kernel, at.kernel = winoKernelIndex(m)
	return bt, at, winomat.Float64(x.G), nil
}

func winoKernelIndex(m int) (bt, at int) {
	for i, s := range WinogradSizes {
		if s == m {
			return 2 * i, 2*i + 1
		}
	}
	return -1, -1
}

// winoCall applies a transform to n-float vectors: output i (of rows) is
// Σ_a mat[i][a]·in[a], where input a starts at inOff + a*inStride and
// output i at outOff + i*outStride, then bias (n floats, or nil) and
// res (laid out like out, or nil) are added and ReLU applied if relu.
// It does so for groups groups (0 means 1), group g's inputs and outputs
// g*inGroup and g*outGroup further on.
type winoCall struct {
	t                 *winoTransform
	in                []float32
	inOff, inStride   int
	out               []float32
	outOff, outStride int
	rows, n           int
	bias, res         []float32
	relu              bool
	groups            int
	inGroup, outGroup int
}

// winoApplyGo is the portable transform kernel. It sums in the order of the
// assembly kernels (ascending input, zero coefficients skipped), without
// their fused multiply-adds.
func winoApplyGo(c *winoCall) {
	for g := range max(1, c.groups) {
		winoApplyGo1(c, c.inOff+g*c.inGroup, c.outOff+g*c.outGroup)
	}
}

func winoApplyGo1(c *winoCall, inOff, outOff int) {
	t := c.t
	var acc [16]float32 // like a vector register: out may alias res
	for i := 0; i < c.rows; i++ {
		o := outOff + i*c.outStride
		for j0 := 0; j0 < c.n; j0 += len(acc) {
			n := min(len(acc), c.n-j0)
			a := acc[:n]
			first := true
			for k := 0; k < t.k; k++ {
				w := t.mat[i][k]
				if w == 0 {
					continue
				}
				x := c.in[inOff+k*c.inStride+j0:][:n]
				if first {
					for j := range a {
						a[j] = w * x[j]
					}
					first = false
					continue
				}
				for j := range a {
					a[j] += w * x[j]
				}
			}
			if first {
				clear(a)
			}
			if c.bias != nil {
				for j, b := range c.bias[j0 : j0+n] {
					a[j] += b
				}
			}
			if c.res != nil {
				for j, r := range c.res[o+j0 : o+j0+n] {
					a[j] += r
				}
			}
			if c.relu {
				for j, v := range a {
					a[j] = max(v, 0)
				}
			}
			copy(c.out[o+j0:o+j0+n], a)
		}
	}
}

// winograd is a 3×3 stride-1 Conv2D (no groups, no dilation) computed with
// F(m,3).
type winograd struct {
	m, alpha                     int
	inC, inH, inW, outC, outH    int
	outW, padH, padW             int
	outPitch                     int // floats between output pixels (OutC, or ConvConfig.OutPitch)
	tilesH, tilesW, tiles        int
	relu                         bool
	bt, at                       winoTransform
	g                            [][]float64 // G of F(m,3), for the weights
	nr, mr, panels               int
	u                            []float32 // [α²][panels][inC][nr]
	bias, zero                   []float32 // panels*nr
	koff                         []int     // {0}: the GEMM's A has one tap
	fallback                     []float32 // scratch on a nil Pool
	scratchV, scratchM, scratchT int       // floats of each scratch part, for block
	scratchP                     int
	block                        int // tiles per block
	vecs                         bool
	src, dst, res                []float32
	nblocks, total, planned      int // blocks and tiles of a call over planned items
	next                         atomic.Int64
}

// newWinograd builds the F(m,3) form of a convolution NewConv2D validated,
// or returns an error saying why cfg does not qualify.
func newWinograd(cfg ConvConfig, weight, bias []float32) (*winograd, error) {
	m := cfg.Winograd
	if cfg.KH != 3 || cfg.KW != 3 || cfg.StrideH != 1 || cfg.StrideW != 1 || cfg.DilH != 1 || cfg.DilW != 1 || cfg.Groups != 1 {
		return nil, fmt.Errorf("Winograd F(%d,3) needs a 3x3 kernel, stride 1, no dilation and no groups, have %dx%d, stride %dx%d, dilation %dx%d, %d groups",
			m, cfg.KH, cfg.KW, cfg.StrideH, cfg.StrideW, cfg.DilH, cfg.DilW, cfg.Groups)
	}
	if bt, _ := winoKernelIndex(m); bt < 0 {
		return nil, fmt.Errorf("Winograd F(%d,3) is not supported: the output tile must be one of %v", m, WinogradSizes)
	}
	bt, at, g, err := winoTransforms(m)
	if err != nil {
		return nil, err
	}
	w := &winograd{
		m: m, alpha: m + 2,
		inC: cfg.InC, inH: cfg.InH, inW: cfg.InW, outC: cfg.OutC, outH: cfg.OutH, outW: cfg.OutW,
		padH: cfg.PadH, padW: cfg.PadW, outPitch: max(cfg.OutC, cfg.OutPitch),
		relu: cfg.Act == ActReLU,
		bt:   bt, at: at, g: g,
		koff: []int{0},
	}
	w.tilesH = (w.outH + m - 1) / m
	w.tilesW = (w.outW + m - 1) / m
	w.tiles = w.tilesH * w.tilesW
	w.nr, w.mr = gemmPanel(w.outC)
	w.panels = (w.outC + w.nr - 1) / w.nr
	w.u = convAligned(w.alpha * w.alpha * w.panels * w.inC * w.nr)
	w.bias = convAligned(w.panels * w.nr)
	w.zero = convAligned(w.panels * w.nr)
	w.setWeights(weight, bias)
	w.vecs = w.inC%16 == 0 && w.outC%16 == 0
	return w, nil
}

// setWeights transforms weight (OIHW) into U = G g Gᵀ, in float64, and
// packs each plane like a 1×1 convolution's panels.
func (w *winograd) setWeights(weight, bias []float32) {
	a, g := w.alpha, w.g
	var t [winoMaxAlpha][3]float64
	for oc := range w.outC {
		p, j := oc/w.nr, oc%w.nr
		for ic := range w.inC {
			k := weight[(oc*w.inC+ic)*9:]
			for i := range a { // t = G g
				for c := range 3 {
					t[i][c] = g[i][0]*float64(k[c]) + g[i][1]*float64(k[3+c]) + g[i][2]*float64(k[6+c])
				}
			}
			for i := range a { // U = t Gᵀ
				for l := range a {
					v := t[i][0]*g[l][0] + t[i][1]*g[l][1] + t[i][2]*g[l][2]
					plane := i*a + l
					w.u[((plane*w.panels+p)*w.inC+ic)*w.nr+j] = float32(v)
				}
			}
		}
	}
	clear(w.bias)
	copy(w.bias, bias)
}

// scratch returns worker's scratch for one block: V [α²][block][inC],
// M [α²][block][outC], the transforms' temporary [α][α·max(inC, outC)]
// and a zero-padded input patch [α][α·inC].
func (w *winograd) scratch(p *Pool, worker int) (v, mo, t, patch []float32) {
	n := w.scratchV + w.scratchM + w.scratchT + w.scratchP
	var s []float32
	if p == nil {
		if len(w.fallback) < n {
			w.fallback = convAligned(n)
		}
		s = w.fallback
	} else {
		s = p.workerScratch(worker, n)
	}
	v, s = s[:w.scratchV], s[w.scratchV:]
	mo, s = s[:w.scratchM], s[w.scratchM:]
	t, s = s[:w.scratchT], s[w.scratchT:]
	return v, mo, t, s[:w.scratchP]
}

// winoMinRows is the fewest rows a Winograd GEMM call computes: the
// micro-kernels split the K sum over several accumulators for tiles of
// fewer rows (to hide FMA latency), so every call computes at least this
// many, padding into scratch. Then a tile's sums do not depend on which
// tiles share its block, and a batch gives the same bits as single items.
const winoMinRows = 8

// plan sets the tiles per block (winomat.Block) for a call over n items,
// and the scratch each worker needs.
func (w *winograd) plan(n int) {
	a2 := w.alpha * w.alpha
	total := n * w.tiles
	w.block = winomat.Block(total, w.alpha, w.inC, w.outC)
	w.nblocks = (total + w.block - 1) / w.block
	w.total = total
	// The last plane's padded rows run past the block.
	w.scratchV = a2*w.block*w.inC + winoMinRows*w.inC
	w.scratchM = a2*w.block*w.outC + winoMinRows*w.outC
	w.scratchT = w.alpha * w.alpha * max(w.inC, w.outC)
	w.scratchP = w.alpha * w.alpha * w.inC
	// Keep every part 64-byte aligned.
	for _, x := range []*int{&w.scratchV, &w.scratchM, &w.scratchT, &w.scratchP} {
		*x = (*x + 15) &^ 15
	}
}

// forward computes n items: src, dst and res hold n images each.
func (w *winograd) forward(p *Pool, n int, dst, src, res []float32) {
	if w.planned != n {
		w.plan(n)
		w.planned = n
	}
	w.src, w.dst, w.res = src, dst, res
	w.next.Store(0)
	w.poolRunWith(p)
	w.src, w.dst, w.res = nil, nil, nil
}

// winoTask binds a Pool to the layer for poolWork.
type winoTask struct {
	w *winograd
	p *Pool
}

func (w *winograd) poolRunWith(p *Pool) {
	if p == nil || p.threads <= 1 {
		w.runBlocks(p, 0)
		return
	}
	p.wino = winoTask{w, p}
	p.poolRun(&p.wino)
	p.wino = winoTask{}
}

func (t *winoTask) poolWork(worker int) { t.w.runBlocks(t.p, worker) }

func (w *winograd) runBlocks(p *Pool, worker int) {
	v, mo, t, patch := w.scratch(p, worker)
	for {
		b := int(w.next.Add(1)) - 1
		if b >= w.nblocks {
			return
		}
		t0 := b * w.block
		w.runBlock(t0, min(w.block, w.total-t0), v, mo, t, patch)
	}
}

// tile returns the item and tile position of tile t of a call.
func (w *winograd) tile(t int) (item, ty, tx int) {
	item, t = t/w.tiles, t%w.tiles
	return item, t / w.tilesW, t % w.tilesW
}

// runBlock computes tiles [t0, t0+nb) of the call (items one after
// another, each's tiles row by row).
func (w *winograd) runBlock(t0, nb int, v, mo, t, patch []float32) {
	a, m, inC, outC := w.alpha, w.m, w.inC, w.outC
	planeV, planeM := w.block*inC, w.block*outC
	inLen, outLen, pitch := w.inH*w.inW*inC, w.outH*w.outW*w.outPitch, w.outPitch

	// Input transform: V[i·α+j][q] = (Bᵀ d B)[i][j] for tile t0+q.
	for q := range nb {
		item, ty, tx := w.tile(t0 + q)
		src := w.src[item*inLen : (item+1)*inLen]
		y0, x0 := ty*m-w.padH, tx*m-w.padW
		in, off, stride := src, (y0*w.inW+x0)*inC, w.inW*inC
		if y0 < 0 || x0 < 0 || y0+a > w.inH || x0+a > w.inW {
			// A border tile reads a zero-padded copy of its patch.
			clear(patch)
			for r := max(0, -y0); r < a && y0+r < w.inH; r++ {
				c0, c1 := max(0, -x0), min(a, w.inW-x0)
				if c0 >= c1 {
					continue
				}
				copy(patch[(r*a+c0)*inC:(r*a+c1)*inC], src[((y0+r)*w.inW+x0+c0)*inC:])
			}
			in, off, stride = patch, 0, a*inC
		}
		// Columns: t[i] = Σ_r Bᵀ[i][r]·row r, over whole rows of α pixels.
		winoApply(&winoCall{t: &w.bt, in: in, inOff: off, inStride: stride,
			out: t, outStride: a * inC, rows: a, n: a * inC, groups: 1}, w.vecs)
		// Rows: V[i·α+j] = Σ_c Bᵀ[j][c]·t[i][c], a group per i.
		winoApply(&winoCall{t: &w.bt, in: t, inStride: inC, inGroup: a * inC,
			out: v, outOff: q * inC, outStride: planeV, outGroup: a * planeV,
			rows: a, n: inC, groups: a}, w.vecs)
	}

	// One GEMM per plane: M[plane][q] = V[plane][q] · U[plane].
	var call gemmCall
	per := w.panels * inC * w.nr
	share := w.panels * inC * gemmPrefetchPerK // floats one call prefetches
	chunks := (nb + w.mr - 1) / w.mr
	for plane := range a * a {
		call = gemmCall{
			a: v, lda: inC, koff: w.koff, kc: inC,
			b: w.u[plane*per : (plane+1)*per], nr: w.nr,
			c: mo, ldc: outC, bias: w.zero,
			nc: outC - (w.panels-1)*w.nr, np: w.panels,
		}
		for i, r := 0, 0; i < chunks; i++ {
			mr := nb / chunks
			if i < nb%chunks {
				mr++
			}
			call.aOff = (plane*w.block + r) * inC
			call.cOff = (plane*w.block + r) * outC
			call.mr = max(mr, winoMinRows)
			// The first calls prefetch the next plane's weights, a
			// share each, so blocks of few calls (256 channels at 14×14
			// has two) still cover it.
			call.pf = nil
			if plane+1 < a*a && i*share < per {
				call.pf = w.u[(plane+1)*per+i*share:]
			}
			gemmTile(&call)
			r += mr
		}
	}

	// Output transform: the tile is Aᵀ M A, then bias, residual, ReLU.
	for q := range nb {
		item, ty, tx := w.tile(t0 + q)
		// Columns: t[r][j] = Σ_i Aᵀ[r][i]·M[i·α+j][q], a group per j.
		winoApply(&winoCall{t: &w.at, in: mo, inOff: q * outC, inStride: a * planeM, inGroup: planeM,
			out: t, outStride: a * outC, outGroup: outC, rows: m, n: outC, groups: a}, w.vecs)
		// Rows, a group per output row inside the image.
		c := winoCall{t: &w.at, in: t, inStride: outC, inGroup: a * outC,
			out: w.dst, outOff: item*outLen + (ty*m*w.outW+tx*m)*pitch, outStride: pitch, outGroup: w.outW * pitch,
			rows: min(m, w.outW-tx*m), n: outC, groups: min(m, w.outH-ty*m),
			bias: w.bias[:outC], relu: w.relu}
		if w.res != nil {
			c.res = w.res
		}
		winoApply(&c, w.vecs)
	}
}
