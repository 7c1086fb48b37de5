package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resgen/resgen/internal/trainref"
)

// The training convolutions are checked in three steps: the float64
// references' backward products against finite differences of their
// forward (gradcheck), the references' forward against the inference
// tests' independent convRef and convTransposeRef, and the fast float32
// kernels against the float64 references on every kernel path and thread
// count.

func convTrainF64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

func convTrainAbs(s []float64) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = math.Abs(v)
	}
	return d
}

// convTrainGradShapes are small enough for finite differences and cover
// stride, padding, dilation, groups, rectangular kernels and linear layers.
func convTrainGradShapes() []ConvConfig {
	c := func(inC, h, w, outC, kh, kw, sh, sw, ph, pw, dh, dw, g int) ConvConfig {
		return ConvConfig{InC: inC, InH: h, InW: w, OutC: outC,
			OutH: convOutLen(h, kh, sh, ph, dh), OutW: convOutLen(w, kw, sw, pw, dw),
			KH: kh, KW: kw, StrideH: sh, StrideW: sw, PadH: ph, PadW: pw, DilH: dh, DilW: dw, Groups: g}
	}
	return []ConvConfig{
		c(3, 5, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1),
		c(4, 7, 6, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1),
		c(4, 7, 8, 6, 3, 2, 1, 2, 2, 1, 2, 1, 2),
		c(6, 5, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6),
		c(5, 6, 6, 3, 1, 1, 2, 2, 0, 0, 1, 1, 1),
		c(7, 1, 1, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1),
		c(2, 8, 7, 3, 4, 4, 3, 2, 2, 0, 1, 1, 1),
	}
}

func convTrainTransposeCfg(inC, h, w, outC, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, g int) ConvTransposeConfig {
	return ConvTransposeConfig{InC: inC, InH: h, InW: w, OutC: outC,
		OutH: (h-1)*sh - 2*ph + dh*(kh-1) + oph + 1, OutW: (w-1)*sw - 2*pw + dw*(kw-1) + opw + 1,
		KH: kh, KW: kw, StrideH: sh, StrideW: sw, PadH: ph, PadW: pw, DilH: dh, DilW: dw, Groups: g}
}

func convTrainTransposeGradShapes() []ConvTransposeConfig {
	c := convTrainTransposeCfg
	return []ConvTransposeConfig{
		c(4, 3, 4, 3, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1),
		c(3, 4, 3, 5, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 1),
		c(4, 4, 4, 6, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 2),
		c(3, 3, 3, 2, 3, 3, 2, 2, 0, 0, 2, 1, 3, 2, 1), // output padding ≥ stride
	}
}

func TestConvTrainRefGradcheck(t *testing.T) {
	for si, cfg := range convTrainGradShapes() {
		t.Run(convName(cfg), func(t *testing.T) {
			const n = 2
			cinG := cfg.InC / cfg.Groups
			in := []gradInput{
				{"src", gradRandom(uint64(si), n*cfg.InH*cfg.InW*cfg.InC, -1, 1)},
				{"w", gradRandom(uint64(si)+100, cfg.OutC*cinG*cfg.KH*cfg.KW, -1, 1)},
				{"bias", gradRandom(uint64(si)+200, cfg.OutC, -1, 1)},
			}
			ny := n * cfg.OutH * cfg.OutW * cfg.OutC
			for _, acc := range []bool{false, true} {
				gradcheck(t, uint64(si), in, ny,
					func(y []float64, x [][]float64) { trainref.ConvForward(refConv(cfg), y, x[0], x[1], x[2], n) },
					func(dx [][]float64, dy []float64, x [][]float64) {
						trainref.ConvBackwardData(refConv(cfg), dx[0], dy, x[1], n, acc)
						trainref.ConvBackwardWeight(refConv(cfg), dx[1], dx[2], x[0], dy, n)
					})
			}
		})
	}
	for si, cfg := range convTrainTransposeGradShapes() {
		t.Run(fmt.Sprintf("transpose%d", si), func(t *testing.T) {
			const n = 2
			coutG := cfg.OutC / cfg.Groups
			in := []gradInput{
				{"src", gradRandom(uint64(si), n*cfg.InH*cfg.InW*cfg.InC, -1, 1)},
				{"w", gradRandom(uint64(si)+100, cfg.InC*coutG*cfg.KH*cfg.KW, -1, 1)},
				{"bias", gradRandom(uint64(si)+200, cfg.OutC, -1, 1)},
			}
			ny := n * cfg.OutH * cfg.OutW * cfg.OutC
			gradcheck(t, uint64(si), in, ny,
				func(y []float64, x [][]float64) { trainref.ConvTransposeForward(refConvT(cfg), y, x[0], x[1], x[2], n) },
				func(dx [][]float64, dy []float64, x [][]float64) {
					trainref.ConvTransposeBackwardData(refConvT(cfg), dx[0], dy, x[1], n, false)
					trainref.ConvTransposeBackwardWeight(refConvT(cfg), dx[1], dx[2], x[0], dy, n)
				})
		})
	}
}

// TestConvTrainRefForward compares the references' forward with the
// inference tests' references, written independently (a gather and a
// scatter loop), item by item.
func TestConvTrainRefForward(t *testing.T) {
	const n = 2
	for si, cfg := range append(convShapes(), convTrainGradShapes()...) {
		r := rand.New(rand.NewPCG(uint64(si), 5))
		w := convRandom(r, cfg.OutC*cfg.InC/cfg.Groups*cfg.KH*cfg.KW)
		bias := convRandom(r, cfg.OutC)
		src := convRandom(r, n*cfg.InH*cfg.InW*cfg.InC)
		got := make([]float64, n*cfg.OutH*cfg.OutW*cfg.OutC)
		trainref.ConvForward(refConv(cfg), got, convTrainF64(src), convTrainF64(w), convTrainF64(bias), n)
		in, out := cfg.InH*cfg.InW*cfg.InC, cfg.OutH*cfg.OutW*cfg.OutC
		for i := range n {
			want := convRef(cfg, w, bias, src[i*in:(i+1)*in], nil)
			convClose(t, convName(cfg), convTrainF32(got[i*out:(i+1)*out]), want)
		}
	}
	for si, cfg := range append(convTrainTransposeShapes(), convTrainTransposeGradShapes()...) {
		r := rand.New(rand.NewPCG(uint64(si), 6))
		w := convRandom(r, cfg.InC*cfg.OutC/cfg.Groups*cfg.KH*cfg.KW)
		bias := convRandom(r, cfg.OutC)
		src := convRandom(r, n*cfg.InH*cfg.InW*cfg.InC)
		got := make([]float64, n*cfg.OutH*cfg.OutW*cfg.OutC)
		trainref.ConvTransposeForward(refConvT(cfg), got, convTrainF64(src), convTrainF64(w), convTrainF64(bias), n)
		in, out := cfg.InH*cfg.InW*cfg.InC, cfg.OutH*cfg.OutW*cfg.OutC
		for i := range n {
			want := convTransposeRef(cfg, w, bias, src[i*in:(i+1)*in], nil)
			convClose(t, fmt.Sprintf("transpose %d", si), convTrainF32(got[i*out:(i+1)*out]), want)
		}
	}
}

func convTrainF32(s []float64) []float32 {
	d := make([]float32, len(s))
	for i, v := range s {
		d[i] = float32(v)
	}
	return d
}

// convTrainRtol bounds the float32 kernels' error relative to the sum of
// the absolute values of an element's terms (the float64 reference run on
// |inputs|): they sum in float32, in another order than the reference.
// Float32 sums of K terms err by about sqrt(K)·2⁻²⁴ of that magnitude, 4e-6
// for the largest reductions here (K ≈ 4500); the worst seen is 3e-7. A
// term left out or counted twice errs by about 1/K, far above the bound.
const convTrainRtol = 1e-5

// convTrainClose compares got with want elementwise, within
// convTrainRtol·mag[i] (and 1e-7 absolute, for all-zero terms), and
// returns the largest |got−want|/mag seen.
func convTrainClose(t *testing.T, what string, got []float32, want, mag []float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var worst float64
	for i := range want {
		d := math.Abs(float64(got[i]) - want[i])
		if tol := convTrainRtol*mag[i] + 1e-7; !(d <= tol) {
			t.Fatalf("%s: element %d = %v, want %v (|diff| %.3g > tol %.3g)", what, i, got[i], want[i], d, tol)
		}
		if mag[i] > 0 {
			worst = max(worst, d/mag[i])
		}
	}
	return worst
}

// convTrainAcc returns the reference of dx0 + dx and its magnitude.
func convTrainAcc(dx0, dx, mag []float64) (sum, sumMag []float64) {
	sum, sumMag = make([]float64, len(dx)), make([]float64, len(dx))
	for i := range dx {
		sum[i], sumMag[i] = dx0[i]+dx[i], math.Abs(dx0[i])+mag[i]
	}
	return sum, sumMag
}

func convTrainSame(t *testing.T, what string, got, first []float32) {
	t.Helper()
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
			t.Fatalf("%s: element %d = %v here, %v with one thread: results depend on the thread count", what, i, got[i], first[i])
		}
	}
}

func convTrainNaNs(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN()) // every element must be written
	}
	return s
}

// convTrainWant holds the float64 reference results of the three products
// and their magnitudes.
type convTrainWant struct {
	fwd, fwdMag     []float64
	dx, dxMag       []float64 // acc = false
	dxAcc, dxAccMag []float64 // acc = true, onto dx0
	dw, dwMag       []float64
	db, dbMag       []float64
}

// convTrainRun checks one layer: run computes the four products with the
// fast kernels; want holds the references. Every kernel path and thread
// count must be within tolerance and, per path, bit-identical.
func convTrainRun(t *testing.T, isas []convTestISA, want *convTrainWant, dx0 []float32,
	run func(p *Pool, fwd, dx, dxAcc, dw, db []float32)) {
	pools := []*Pool{nil, NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	var worst float64
	for _, isa := range isas {
		restore := isa.use()
		var first [5][]float32
		for _, p := range pools {
			got := [5][]float32{
				convTrainNaNs(len(want.fwd)), convTrainNaNs(len(want.dx)), append([]float32(nil), dx0...),
				convTrainNaNs(len(want.dw)), convTrainNaNs(len(want.db)),
			}
			run(p, got[0], got[1], got[2], got[3], got[4])
			what := fmt.Sprintf("%s/threads=%d", isa.name, p.Threads())
			worst = max(worst,
				convTrainClose(t, what+"/forward", got[0], want.fwd, want.fwdMag),
				convTrainClose(t, what+"/backward-data", got[1], want.dx, want.dxMag),
				convTrainClose(t, what+"/backward-data-acc", got[2], want.dxAcc, want.dxAccMag),
				convTrainClose(t, what+"/backward-weight", got[3], want.dw, want.dwMag),
				convTrainClose(t, what+"/backward-bias", got[4], want.db, want.dbMag))
			if first[0] == nil {
				first = got
				continue
			}
			for i, name := range []string{"forward", "backward-data", "backward-data-acc", "backward-weight", "backward-bias"} {
				convTrainSame(t, what+"/"+name, got[i], first[i])
			}
		}
		restore()
		if t.Failed() {
			return
		}
	}
	t.Logf("largest error: %.2g of the terms' magnitude", worst)
}

// convTrainShapes adds training's shapes to the inference tests' list:
// CIFAR stems, a chunked 3×3 layer, and linear layers at a batch.
func convTrainShapes() []ConvConfig {
	c := func(inC, h, w, outC, k, s, p int) ConvConfig {
		return ConvConfig{InC: inC, InH: h, InW: w, OutC: outC,
			OutH: convOutLen(h, k, s, p, 1), OutW: convOutLen(w, k, s, p, 1),
			KH: k, KW: k, StrideH: s, StrideW: s, PadH: p, PadW: p, DilH: 1, DilW: 1, Groups: 1}
	}
	return append(convShapes(),
		c(3, 12, 12, 16, 3, 1, 1),  // CIFAR stem
		c(1, 10, 9, 16, 3, 1, 1),   // Fashion-MNIST stem
		c(16, 9, 9, 32, 1, 2, 0),   // 1x1 stride 2, odd map
		c(64, 1, 1, 10, 1, 1, 0),   // CIFAR classifier
		c(48, 16, 16, 48, 3, 1, 1), // several chunks
	)
}

func TestConvTrain(t *testing.T) {
	for si, cfg := range convTrainShapes() {
		t.Run(convName(cfg), func(t *testing.T) {
			// With 2 threads, 5 items run item-parallel, with 3 split
			// each item's tiles.
			const n = 5
			r := rand.New(rand.NewPCG(uint64(si), 9))
			cinG := cfg.InC / cfg.Groups
			w := convRandom(r, cfg.OutC*cinG*cfg.KH*cfg.KW)
			bias := convRandom(r, cfg.OutC)
			src := convRandom(r, n*cfg.InH*cfg.InW*cfg.InC)
			dy := convRandom(r, n*cfg.OutH*cfg.OutW*cfg.OutC)
			dx0 := convRandom(r, len(src))

			var want convTrainWant
			w64, b64, src64, dy64, dx064 := convTrainF64(w), convTrainF64(bias), convTrainF64(src), convTrainF64(dy), convTrainF64(dx0)
			aw, ab, asrc, ady := convTrainAbs(w64), convTrainAbs(b64), convTrainAbs(src64), convTrainAbs(dy64)
			want.fwd, want.fwdMag = make([]float64, len(dy)), make([]float64, len(dy))
			trainref.ConvForward(refConv(cfg), want.fwd, src64, w64, b64, n)
			trainref.ConvForward(refConv(cfg), want.fwdMag, asrc, aw, ab, n)
			want.dx, want.dxMag = make([]float64, len(src)), make([]float64, len(src))
			trainref.ConvBackwardData(refConv(cfg), want.dx, dy64, w64, n, false)
			trainref.ConvBackwardData(refConv(cfg), want.dxMag, ady, aw, n, false)
			want.dxAcc, want.dxAccMag = convTrainAcc(dx064, want.dx, want.dxMag)
			want.dw, want.dwMag = make([]float64, len(w)), make([]float64, len(w))
			want.db, want.dbMag = make([]float64, cfg.OutC), make([]float64, cfg.OutC)
			trainref.ConvBackwardWeight(refConv(cfg), want.dw, want.db, src64, dy64, n)
			trainref.ConvBackwardWeight(refConv(cfg), want.dwMag, want.dbMag, asrc, ady, n)

			// Chunk budgets for the weight gradient: the default, one item
			// per chunk, and a few items per chunk (small maps then take
			// the item-tap path over several chunks).
			// The chunking is the same on every kernel path.
			for _, chunk := range []int{convWGChunkBytes, 1, 64 << 10} {
				isas := convTestISAs()
				if chunk != convWGChunkBytes {
					isas = isas[:1]
				}
				t.Run(fmt.Sprintf("chunk%d", chunk), func(t *testing.T) {
					defer func(old int) { convWGChunkBytes = old }(convWGChunkBytes)
					convWGChunkBytes = chunk
					ct, err := NewConvTrain(cfg)
					if err != nil {
						t.Fatal(err)
					}
					convTrainRun(t, isas, &want, dx0, func(p *Pool, fwd, dx, dxAcc, dw, db []float32) {
						ct.Forward(p, fwd, src, w, bias, n)
						ct.BackwardData(p, dx, dy, w, n, false)
						ct.BackwardData(p, dxAcc, dy, w, n, true)
						ct.BackwardWeight(p, dw, db, src, dy, n)
					})
				})
			}
		})
	}
}

func convTrainTransposeShapes() []ConvTransposeConfig {
	c := convTrainTransposeCfg
	return []ConvTransposeConfig{
		c(16, 5, 6, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1),   // U-Net up-convolution
		c(64, 7, 7, 40, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1),  // U-Net, panel tail
		c(8, 5, 4, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),    // output padding
		c(5, 6, 5, 7, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1),    // 4x4 stride 2
		c(6, 5, 5, 9, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1),    // stride 1
		c(4, 5, 6, 6, 3, 3, 2, 1, 1, 2, 0, 0, 2, 2, 2),    // dilation, groups
		c(6, 4, 5, 4, 2, 2, 3, 3, 0, 0, 2, 1, 1, 1, 1),    // stride > kernel
		c(12, 4, 4, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 12), // depthwise
		c(20, 6, 6, 10, 3, 3, 2, 2, 0, 0, 0, 0, 3, 2, 1),  // dilation > stride
		c(6, 4, 4, 5, 3, 3, 2, 2, 0, 0, 2, 1, 3, 2, 1),    // output padding ≥ stride: reference fallback
		c(32, 4, 5, 64, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1),  // two panels
		c(3, 1, 1, 4, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1, 1),    // 1x1 input
	}
}

func TestConvTransposeTrain(t *testing.T) {
	for si, cfg := range convTrainTransposeShapes() {
		t.Run(fmt.Sprint(si), func(t *testing.T) {
			const n = 5
			r := rand.New(rand.NewPCG(uint64(si), 10))
			w := convRandom(r, cfg.InC*cfg.OutC/cfg.Groups*cfg.KH*cfg.KW)
			bias := convRandom(r, cfg.OutC)
			src := convRandom(r, n*cfg.InH*cfg.InW*cfg.InC)
			dy := convRandom(r, n*cfg.OutH*cfg.OutW*cfg.OutC)
			dx0 := convRandom(r, len(src))

			var want convTrainWant
			w64, b64, src64, dy64, dx064 := convTrainF64(w), convTrainF64(bias), convTrainF64(src), convTrainF64(dy), convTrainF64(dx0)
			aw, ab, asrc, ady := convTrainAbs(w64), convTrainAbs(b64), convTrainAbs(src64), convTrainAbs(dy64)
			want.fwd, want.fwdMag = make([]float64, len(dy)), make([]float64, len(dy))
			trainref.ConvTransposeForward(refConvT(cfg), want.fwd, src64, w64, b64, n)
			trainref.ConvTransposeForward(refConvT(cfg), want.fwdMag, asrc, aw, ab, n)
			want.dx, want.dxMag = make([]float64, len(src)), make([]float64, len(src))
			trainref.ConvTransposeBackwardData(refConvT(cfg), want.dx, dy64, w64, n, false)
			trainref.ConvTransposeBackwardData(refConvT(cfg), want.dxMag, ady, aw, n, false)
			want.dxAcc, want.dxAccMag = convTrainAcc(dx064, want.dx, want.dxMag)
			want.dw, want.dwMag = make([]float64, len(w)), make([]float64, len(w))
			want.db, want.dbMag = make([]float64, cfg.OutC), make([]float64, cfg.OutC)
			trainref.ConvTransposeBackwardWeight(refConvT(cfg), want.dw, want.db, src64, dy64, n)
			trainref.ConvTransposeBackwardWeight(refConvT(cfg), want.dwMag, want.dbMag, asrc, ady, n)

			for _, chunk := range []int{convWGChunkBytes, 1} {
				isas := convTestISAs()
				if chunk != convWGChunkBytes {
					isas = isas[:1]
				}
				t.Run(fmt.Sprintf("chunk%d", chunk), func(t *testing.T) {
					defer func(old int) { convWGChunkBytes = old }(convWGChunkBytes)
					convWGChunkBytes = chunk
					ct, err := NewConvTransposeTrain(cfg)
					if err != nil {
						t.Fatal(err)
					}
					convTrainRun(t, isas, &want, dx0, func(p *Pool, fwd, dx, dxAcc, dw, db []float32) {
						ct.Forward(p, fwd, src, w, bias, n)
						ct.BackwardData(p, dx, dy, w, n, false)
						ct.BackwardData(p, dxAcc, dy, w, n, true)
						ct.BackwardWeight(p, dw, db, src, dy, n)
					})
				})
			}
		})
	}
}

// TestConvTrainWeightsChange runs Forward twice with different weights on
// one ConvTrain: the second call must not see the first weights.
func TestConvTrainWeightsChange(t *testing.T) {
	cfg := convTrainShapes()[5] // 3x3, two panels
	const n = 2
	r := rand.New(rand.NewPCG(3, 3))
	src := convRandom(r, n*cfg.InH*cfg.InW*cfg.InC)
	ct, err := NewConvTrain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, n*cfg.OutH*cfg.OutW*cfg.OutC)
	for step := range 2 {
		w := convRandom(r, cfg.OutC*cfg.InC*cfg.KH*cfg.KW)
		ct.Forward(nil, dst, src, w, nil, n)
		want, mag := make([]float64, len(dst)), make([]float64, len(dst))
		trainref.ConvForward(refConv(cfg), want, convTrainF64(src), convTrainF64(w), nil, n)
		trainref.ConvForward(refConv(cfg), mag, convTrainAbs(convTrainF64(src)), convTrainAbs(convTrainF64(w)), nil, n)
		convTrainClose(t, fmt.Sprintf("step %d", step), dst, want, mag)
	}
}

func TestConvTrainAllocs(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	cfg := ConvConfig{InC: 16, InH: 10, InW: 10, OutC: 40, OutH: 5, OutW: 5, KH: 3, KW: 3,
		StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1}
	tcfg := convTrainTransposeCfg(16, 5, 5, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1)
	const n = 4 // item-parallel with 2 threads
	r := rand.New(rand.NewPCG(1, 1))
	ct, err := NewConvTrain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tt, err := NewConvTransposeTrain(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	x, y := convRandom(r, n*10*10*16), convRandom(r, n*5*5*40)
	w, b := convRandom(r, 40*16*9), convRandom(r, 40)
	dw, db := make([]float32, len(w)), make([]float32, 40)
	tx, ty := convRandom(r, n*5*5*16), convRandom(r, n*10*10*8)
	tw, tb := convRandom(r, 16*8*4), convRandom(r, 8)
	tdw, tdb := make([]float32, len(tw)), make([]float32, 8)
	// A 32-pixel-wide map runs item by item (item-parallel on the pool),
	// a linear layer as one stacked GEMM.
	big := ConvConfig{InC: 8, InH: 12, InW: 32, OutC: 16, OutH: 12, OutW: 32, KH: 3, KW: 3,
		StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1}
	bt, err := NewConvTrain(big)
	if err != nil {
		t.Fatal(err)
	}
	bx, by, bw := convRandom(r, n*12*32*8), convRandom(r, n*12*32*16), convRandom(r, 16*8*9)
	fc := ConvConfig{InC: 64, InH: 1, InW: 1, OutC: 10, OutH: 1, OutW: 1, KH: 1, KW: 1,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1}
	ft, err := NewConvTrain(fc)
	if err != nil {
		t.Fatal(err)
	}
	fx, fy, fw, fdw := convRandom(r, n*64), convRandom(r, n*10), convRandom(r, 640), make([]float32, 640)
	for _, isa := range convTestISAs() {
		restore := isa.use()
		for _, p := range []*Pool{nil, pool} {
			for name, f := range map[string]func(){
				"big ConvTrain.Forward":             func() { bt.Forward(p, by, bx, bw, nil, n) },
				"big ConvTrain.BackwardData":        func() { bt.BackwardData(p, bx, by, bw, n, false) },
				"linear ConvTrain.Forward":          func() { ft.Forward(p, fy, fx, fw, b[:10], n) },
				"linear ConvTrain.BackwardData":     func() { ft.BackwardData(p, fx, fy, fw, n, true) },
				"linear ConvTrain.BackwardWeight":   func() { ft.BackwardWeight(p, fdw, db[:10], fx, fy, n) },
				"ConvTrain.Forward":                 func() { ct.Forward(p, y, x, w, b, n) },
				"ConvTrain.BackwardData":            func() { ct.BackwardData(p, x, y, w, n, true) },
				"ConvTrain.BackwardWeight":          func() { ct.BackwardWeight(p, dw, db, x, y, n) },
				"ConvTransposeTrain.Forward":        func() { tt.Forward(p, ty, tx, tw, tb, n) },
				"ConvTransposeTrain.BackwardData":   func() { tt.BackwardData(p, tx, ty, tw, n, false) },
				"ConvTransposeTrain.BackwardWeight": func() { tt.BackwardWeight(p, tdw, tdb, tx, ty, n) },
			} {
				f() // the first call at this n may allocate scratch
				if a := testing.AllocsPerRun(5, f); a != 0 {
					t.Errorf("%s: %s with %d threads: %v allocations, want 0", isa.name, name, p.Threads(), a)
				}
			}
		}
		restore()
	}
}

func TestConvTrainErrors(t *testing.T) {
	good := ConvConfig{InC: 4, InH: 6, InW: 6, OutC: 8, OutH: 6, OutW: 6, KH: 3, KW: 3,
		StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1}
	for _, tt := range []struct {
		name string
		edit func(*ConvConfig)
		want string
	}{
		{"relu", func(c *ConvConfig) { c.Act = ActReLU }, "activation"},
		{"groups", func(c *ConvConfig) { c.Groups = 3 }, "multiples of Groups"},
		{"output size", func(c *ConvConfig) { c.OutH = 5 }, "output 5x6"},
		{"zero kernel", func(c *ConvConfig) { c.KW = 0 }, "KW is 0"},
	} {
		cfg := good
		tt.edit(&cfg)
		if _, err := NewConvTrain(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
	tgood := convTrainTransposeCfg(4, 3, 3, 2, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1)
	bad := tgood
	bad.Act = ActReLU
	if _, err := NewConvTransposeTrain(bad); err == nil || !strings.Contains(err.Error(), "activation") {
		t.Errorf("transpose relu: err = %v", err)
	}
	bad = tgood
	bad.OutH = 9
	if _, err := NewConvTransposeTrain(bad); err == nil || !strings.Contains(err.Error(), "output padding") {
		t.Errorf("transpose output size: err = %v", err)
	}
}

func TestConvTrainPanics(t *testing.T) {
	cfg := ConvConfig{InC: 2, InH: 3, InW: 3, OutC: 4, OutH: 3, OutW: 3, KH: 1, KW: 1,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1}
	ct, err := NewConvTrain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2
	x, y, w := make([]float32, n*18), make([]float32, n*36), make([]float32, 8)
	for name, f := range map[string]func(){
		"short src":  func() { ct.Forward(nil, y, x[:35], w, nil, n) },
		"short dst":  func() { ct.Forward(nil, y[:71], x, w, nil, n) },
		"short w":    func() { ct.Forward(nil, y, x, w[:7], nil, n) },
		"short bias": func() { ct.Forward(nil, y, x, w, w[:3], n) },
		"short dx":   func() { ct.BackwardData(nil, x[:35], y, w, n, false) },
		"short dy":   func() { ct.BackwardWeight(nil, w, nil, x, y[:70], n) },
		"short dw":   func() { ct.BackwardWeight(nil, w[:7], nil, x, y, n) },
		"short db":   func() { ct.BackwardWeight(nil, w, w[:3], x, y, n) },
	} {
		func() {
			defer func() {
				if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), "ConvTrain.") {
					t.Errorf("%s: panic %v, want one naming the method", name, v)
				}
			}()
			f()
		}()
	}
}

// BenchmarkConvTrain times the three products of the layers the training
// goal is measured on, at batch 128, on one thread (t1) and two (t2).
// GFLOP/s counts 2 flops per multiply-add of the product (the same count
// for all three).
//
//	go test -run=^$ -bench=ConvTrain///t1 -benchtime=20x ./runtime
func BenchmarkConvTrain(b *testing.B) {
	convBenchISA(b)
	c := func(inC, hw, outC, k, s, p int) ConvConfig {
		o := convOutLen(hw, k, s, p, 1)
		return ConvConfig{InC: inC, InH: hw, InW: hw, OutC: outC, OutH: o, OutW: o, KH: k, KW: k,
			StrideH: s, StrideW: s, PadH: p, PadW: p, DilH: 1, DilW: 1, Groups: 1}
	}
	for _, sh := range []struct {
		name string
		cfg  ConvConfig
		n    int // 0: 128
	}{
		{"c20_3x3_16-16_32", c(16, 32, 16, 3, 1, 1), 0},
		{"c20_3x3_64-64_8", c(64, 8, 64, 3, 1, 1), 0},
		{"r18_3x3_128-128_8", c(128, 8, 128, 3, 1, 1), 0},
		{"r18_3x3_256-256_4", c(256, 4, 256, 3, 1, 1), 0},
		{"r18_3x3_512-512_2", c(512, 2, 512, 3, 1, 1), 0},
		{"c20_3x3s2_16-32_32", c(16, 32, 32, 3, 2, 1), 0},
		{"c20_stem_3-16_32", c(3, 32, 16, 3, 1, 1), 0},
		{"r18_stem_7x7s2_3-64_64", c(3, 64, 64, 7, 2, 3), 0},
		{"r18_1x1s2_64-128_16", c(64, 16, 128, 1, 2, 0), 0},
		{"fc_512-1000", c(512, 1, 1000, 1, 1, 0), 0},
		{"unet_3x3_64-64_128", c(64, 128, 64, 3, 1, 1), 8},
	} {
		cfg, n := sh.cfg, sh.n
		if n == 0 {
			n = 128
		}
		r := rand.New(rand.NewPCG(7, 7))
		ct, err := NewConvTrain(cfg)
		if err != nil {
			b.Fatal(err)
		}
		w := convRandom(r, cfg.OutC*cfg.InC*cfg.KH*cfg.KW)
		dw := make([]float32, len(w))
		x := convRandom(r, n*cfg.InH*cfg.InW*cfg.InC)
		dx := make([]float32, len(x))
		y := convRandom(r, n*cfg.OutH*cfg.OutW*cfg.OutC)
		flops := 2 * float64(n*cfg.OutH*cfg.OutW*cfg.OutC) * float64(cfg.InC*cfg.KH*cfg.KW)
		for _, op := range []struct {
			name string
			f    func(p *Pool)
		}{
			{"forward", func(p *Pool) { ct.Forward(p, y, x, w, nil, n) }},
			{"data", func(p *Pool) { ct.BackwardData(p, dx, y, w, n, false) }},
			{"weight", func(p *Pool) { ct.BackwardWeight(p, dw, nil, x, y, n) }},
		} {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/t%d", sh.name, op.name, threads), func(b *testing.B) {
					var pool *Pool
					if threads > 1 {
						pool = NewPool(threads)
						defer pool.Close()
					}
					b.ReportAllocs()
					cpu0, cpuOK := convCPUTime()
					for b.Loop() {
						op.f(pool)
					}
					convReportGFLOPs(b, flops, threads, cpu0, cpuOK)
				})
			}
		}
	}
}

// BenchmarkConvTransposeTrain: U-Net's 2×2 stride-2 up-convolutions at
// batch 16, one thread and two.
func BenchmarkConvTransposeTrain(b *testing.B) {
	convBenchISA(b)
	const n = 16
	for _, sh := range []struct {
		name string
		cfg  ConvTransposeConfig
	}{
		{"unet_2x2s2_128-64_32", convTrainTransposeCfg(128, 32, 32, 64, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1)},
		{"unet_2x2s2_512-256_8", convTrainTransposeCfg(512, 8, 8, 256, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1)},
	} {
		cfg := sh.cfg
		r := rand.New(rand.NewPCG(7, 7))
		ct, err := NewConvTransposeTrain(cfg)
		if err != nil {
			b.Fatal(err)
		}
		w := convRandom(r, cfg.InC*cfg.OutC*cfg.KH*cfg.KW)
		bias, dw, db := convRandom(r, cfg.OutC), make([]float32, len(w)), make([]float32, cfg.OutC)
		x := convRandom(r, n*cfg.InH*cfg.InW*cfg.InC)
		dx := make([]float32, len(x))
		y := convRandom(r, n*cfg.OutH*cfg.OutW*cfg.OutC)
		flops := 2 * float64(n*cfg.InH*cfg.InW*cfg.InC) * float64(cfg.OutC*cfg.KH*cfg.KW)
		for _, op := range []struct {
			name string
			f    func(p *Pool)
		}{
			{"forward", func(p *Pool) { ct.Forward(p, y, x, w, bias, n) }},
			{"data", func(p *Pool) { ct.BackwardData(p, dx, y, w, n, false) }},
			{"weight", func(p *Pool) { ct.BackwardWeight(p, dw, db, x, y, n) }},
		} {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/t%d", sh.name, op.name, threads), func(b *testing.B) {
					var pool *Pool
					if threads > 1 {
						pool = NewPool(threads)
						defer pool.Close()
					}
					b.ReportAllocs()
					cpu0, cpuOK := convCPUTime()
					for b.Loop() {
						op.f(pool)
					}
					convReportGFLOPs(b, flops, threads, cpu0, cpuOK)
				})
			}
		}
	}
}
