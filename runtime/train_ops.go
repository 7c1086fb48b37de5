package runtime

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// Training kernels other than convolution (docs/training.md). A batch
// tensor is n items of H×W×C, item after item, so an op that treats pixels
// alike sees the batch as one map of n·H·W pixels.
//
// Conventions: acc=false overwrites dx, acc=true adds into it; parameter
// gradients are always overwritten. Sizes that do not match the slices are
// bugs in the generated code and panic naming the kernel; only the labels of
// SoftmaxCrossEntropy come from the user and are reported as an error.

// trainLen panics unless every slice holds at least n values.
func trainLen(op string, n int, s ...[]float32) {
	for _, v := range s {
		if len(v) < n {
			opsPanic(op, fmt.Sprintf("slice of %d values, want %d", len(v), n))
		}
	}
}

// ReLUBackward computes dx = dy where y > 0 and 0 elsewhere: the gradient at
// 0 is 0, as in PyTorch (threshold_backward), so a ReLU output works as the
// mask. y is the ReLU's output (or any output it was fused into).
func ReLUBackward(dx, dy, y []float32, acc bool) {
	n := len(dy)
	trainLen("ReLUBackward", n, dx, y)
	reluBackward(dx[:n], dy, y[:n], acc)
}

// reluBackwardGo is the loop of ReLUBackward; dx, dy and y have one length.
func reluBackwardGo(dx, dy, y []float32, acc bool) {
	dx, y = dx[:len(dy)], y[:len(dy)]
	if acc {
		for i, g := range dy {
			dx[i] += trainMask(g, y[i], 0)
		}
		return
	}
	for i, g := range dy {
		dx[i] = trainMask(g, y[i], 0)
	}
}

// SigmoidBackward computes dx = dy·(1−y)·y from the sigmoid's output y, in
// PyTorch's order of operations.
func SigmoidBackward(dx, dy, y []float32, acc bool) {
	n := len(dy)
	trainLen("SigmoidBackward", n, dx, y)
	dx, y = dx[:n], y[:n]
	if acc {
		for i, g := range dy {
			dx[i] += g * (1 - y[i]) * y[i]
		}
		return
	}
	for i, g := range dy {
		dx[i] = g * (1 - y[i]) * y[i]
	}
}

// SoftmaxBackward computes, per pixel of c channels, dx = y·(dy − Σ dy·y)
// from the softmax's output y. The dot product is summed in float64.
func SoftmaxBackward(dx, dy, y []float32, c int, acc bool) {
	n := len(dy)
	opsPixels("SoftmaxBackward", n, c)
	trainLen("SoftmaxBackward", n, dx, y)
	for p := 0; p < n; p += c {
		g := dy[p : p+c]
		yy := y[p : p+c]
		d := dx[p : p+c]
		yy, d = yy[:len(g)], d[:len(g)]
		var dot float64
		for i, v := range g {
			dot += float64(v) * float64(yy[i])
		}
		s := float32(dot)
		if acc {
			for i, v := range g {
				d[i] += yy[i] * (v - s)
			}
		} else {
			for i, v := range g {
				d[i] = yy[i] * (v - s)
			}
		}
	}
}

// trainClear zeroes dx[:n] unless the kernel accumulates.
func trainClear(dx []float32, n int, acc bool) {
	if !acc {
		clear(dx[:n])
	}
}

// MaxPool2DBackward routes each output gradient to the input pixel that
// MaxPool2D took: the first maximum of its window in scan order (row by
// row), or the last NaN, exactly the rule of MaxPool2D and PyTorch. Padding
// never wins; a window wholly in the padding passes no gradient. dy and src
// hold n items of cfg's output and input shape. The gradients are added in
// output order.
func MaxPool2DBackward(dx, dy, src []float32, cfg PoolConfig, n int, acc bool) {
	cfg.opsCheck("MaxPool2DBackward", dy, src)
	in, out := cfg.InH*cfg.InW*cfg.C, cfg.OutH*cfg.OutW*cfg.C
	trainLen("MaxPool2DBackward", n*in, dx, src)
	trainLen("MaxPool2DBackward", n*out, dy)
	trainClear(dx, n*in, acc)
	c, inW := cfg.C, cfg.InW
	var idx [bnBlock]int32
	for item := range n {
		s := src[item*in : (item+1)*in]
		d := dx[item*in : (item+1)*in]
		g := dy[item*out : (item+1)*out]
		o := 0
		for oh := 0; oh < cfg.OutH; oh++ {
			h0 := oh*cfg.StrideH - cfg.PadH
			hs, he := max(h0, 0), min(h0+cfg.KH, cfg.InH)
			for ow := 0; ow < cfg.OutW; ow++ {
				w0 := ow*cfg.StrideW - cfg.PadW
				ws, we := max(w0, 0), min(w0+cfg.KW, inW)
				if hs >= he || ws >= we {
					o += c
					continue
				}
				base := (hs*inW + ws) * c
				for c0 := 0; c0 < c; c0 += bnBlock {
					ix := idx[:min(bnBlock, c-c0)]
					maxPoolArg(ix, s[base+c0:], c, he-hs, we-ws, inW*c)
					gg := g[o+c0 : o+c0+len(ix)]
					dd := d[base+c0:]
					for i, j := range ix {
						dd[j] += gg[i]
					}
				}
				o += c
			}
		}
	}
}

// maxPoolArgGo sets idx[i], for the len(idx) channels of the kh×kw window
// at src (pixels c floats apart, rows row floats apart), to the offset from
// src of the value MaxPool2D takes: it replaces the running maximum when
// greater (so of equal values the first stays) or NaN.
func maxPoolArgGo(idx []int32, src []float32, c, kh, kw, row int) {
	var best [bnBlock]float32
	bv := best[:len(idx)]
	copy(bv, src)
	for i := range idx {
		idx[i] = int32(i)
	}
	for y := range kh {
		for x := range kw {
			if y == 0 && x == 0 {
				continue
			}
			j := y*row + x*c
			r := src[j : j+len(bv)]
			for i, v := range r {
				if v > bv[i] || v != v {
					bv[i], idx[i] = v, int32(j+i)
				}
			}
		}
	}
}

// AvgPool2DBackward spreads each output gradient, divided by the divisor
// AvgPool2D used for that window, over the window's real input pixels.
func AvgPool2DBackward(dx, dy []float32, cfg PoolConfig, n int, acc bool) {
	cfg.opsCheck("AvgPool2DBackward", dy, dx)
	in, out := cfg.InH*cfg.InW*cfg.C, cfg.OutH*cfg.OutW*cfg.C
	trainLen("AvgPool2DBackward", n*in, dx)
	trainLen("AvgPool2DBackward", n*out, dy)
	trainClear(dx, n*in, acc)
	c, inW := cfg.C, cfg.InW
	for item := range n {
		d := dx[item*in : (item+1)*in]
		g := dy[item*out : (item+1)*out]
		o := 0
		for oh := 0; oh < cfg.OutH; oh++ {
			h0 := oh*cfg.StrideH - cfg.PadH
			h1 := min(h0+cfg.KH, cfg.InH+cfg.PadH)
			hs, he := max(h0, 0), min(h1, cfg.InH)
			for ow := 0; ow < cfg.OutW; ow++ {
				w0 := ow*cfg.StrideW - cfg.PadW
				w1 := min(w0+cfg.KW, inW+cfg.PadW)
				ws, we := max(w0, 0), min(w1, inW)
				gg := g[o : o+c]
				o += c
				if hs >= he || ws >= we {
					continue
				}
				div := (he - hs) * (we - ws)
				if cfg.CountIncludePad {
					div = (h1 - h0) * (w1 - w0)
				}
				f := float32(div)
				for ih := hs; ih < he; ih++ {
					for iw := ws; iw < we; iw++ {
						dd := d[(ih*inW+iw)*c : (ih*inW+iw+1)*c]
						dd = dd[:len(gg)]
						for i, v := range gg {
							dd[i] += v / f
						}
					}
				}
			}
		}
	}
}

// GlobalAvgPoolBackward gives each of the hw pixels of an item dy/hw of its
// channel's gradient; dy holds n vectors of c values.
func GlobalAvgPoolBackward(dx, dy []float32, n, hw, c int, acc bool) {
	if n < 0 || hw <= 0 || c <= 0 {
		opsPanic("GlobalAvgPoolBackward", "invalid sizes")
	}
	trainLen("GlobalAvgPoolBackward", n*hw*c, dx)
	trainLen("GlobalAvgPoolBackward", n*c, dy)
	f := float32(hw)
	for item := range n {
		g := dy[item*c : (item+1)*c]
		for p := range hw {
			d := dx[(item*hw+p)*c : (item*hw+p+1)*c]
			d = d[:len(g)]
			if acc {
				for i, v := range g {
					d[i] += v / f
				}
			} else {
				for i, v := range g {
					d[i] = v / f
				}
			}
		}
	}
}

// FlattenBackward is the adjoint of Flatten: dy holds n items in PyTorch's
// (channel, height, width) order, dx receives them as NHWC.
func FlattenBackward(dx, dy []float32, n, h, w, c int, acc bool) {
	if n < 0 || h <= 0 || w <= 0 || c <= 0 {
		opsPanic("FlattenBackward", "invalid sizes")
	}
	size, hw := h*w*c, h*w
	trainLen("FlattenBackward", n*size, dx, dy)
	for item := range n {
		d := dx[item*size : (item+1)*size]
		g := dy[item*size : (item+1)*size]
		if !acc {
			NCHWToNHWC(d, g, c, h, w)
			continue
		}
		for ch := range c {
			row := g[ch*hw : (ch+1)*hw]
			for p, v := range row {
				d[p*c+ch] += v
			}
		}
	}
}

// ConcatBackward is the adjoint of Concat over n items of hw pixels: each
// part's Src receives that part's channels of dy.
func ConcatBackward(dy []float32, n, hw int, acc bool, parts ...ConcatPart) {
	total := 0
	for _, pt := range parts {
		if pt.C < 0 {
			opsPanic("ConcatBackward", "negative channel count")
		}
		total += pt.C
	}
	px := n * hw
	trainLen("ConcatBackward", px*total, dy)
	off := 0
	for _, pt := range parts {
		c := pt.C
		trainLen("ConcatBackward", px*c, pt.Src)
		d := pt.Src[:px*c]
		for p := range px {
			g := dy[p*total+off : p*total+off+c]
			dd := d[p*c : p*c+c]
			if acc {
				dd = dd[:len(g)]
				for i, v := range g {
					dd[i] += v
				}
			} else {
				copy(dd, g)
			}
		}
		off += c
	}
}

func trainUpsampleCheck(op string, dx, dy []float32, n, c, inH, inW, outH, outW int) {
	if n < 0 || c <= 0 || inH <= 0 || inW <= 0 || outH < 0 || outW < 0 {
		opsPanic(op, "invalid sizes")
	}
	trainLen(op, n*inH*inW*c, dx)
	trainLen(op, n*outH*outW*c, dy)
}

// UpsampleNearestBackward is the adjoint of UpsampleNearest: each input
// pixel receives the sum of the gradients of the output pixels copied from
// it, added in output order.
func UpsampleNearestBackward(dx, dy []float32, n, c, inH, inW, outH, outW int, acc bool) {
	trainUpsampleCheck("UpsampleNearestBackward", dx, dy, n, c, inH, inW, outH, outW)
	in, out := inH*inW*c, outH*outW*c
	trainClear(dx, n*in, acc)
	for item := range n {
		d := dx[item*in : (item+1)*in]
		g := dy[item*out : (item+1)*out]
		o := 0
		for oh := range outH {
			ih := opsNearestIndex(oh, inH, outH)
			for ow := range outW {
				iw := opsNearestIndex(ow, inW, outW)
				dd := d[(ih*inW+iw)*c : (ih*inW+iw+1)*c]
				gg := g[o : o+c]
				o += c
				dd = dd[:len(gg)]
				for i, v := range gg {
					dd[i] += v
				}
			}
		}
	}
}

// UpsampleBilinearBackward is the adjoint of UpsampleBilinear: each output
// gradient goes to the four source pixels with the products of the same
// weights (opsLinearIndex), added in output order.
func UpsampleBilinearBackward(dx, dy []float32, n, c, inH, inW, outH, outW int, alignCorners, acc bool) {
	trainUpsampleCheck("UpsampleBilinearBackward", dx, dy, n, c, inH, inW, outH, outW)
	in, out := inH*inW*c, outH*outW*c
	trainClear(dx, n*in, acc)
	for item := range n {
		d := dx[item*in : (item+1)*in]
		g := dy[item*out : (item+1)*out]
		o := 0
		for oh := range outH {
			h0, h1, lh0, lh1 := opsLinearIndex(oh, inH, outH, alignCorners)
			for ow := range outW {
				w0, w1, lw0, lw1 := opsLinearIndex(ow, inW, outW, alignCorners)
				gg := g[o : o+c]
				o += c
				trainAxpy(d[(h0*inW+w0)*c:], gg, lh0*lw0)
				trainAxpy(d[(h0*inW+w1)*c:], gg, lh0*lw1)
				trainAxpy(d[(h1*inW+w0)*c:], gg, lh1*lw0)
				trainAxpy(d[(h1*inW+w1)*c:], gg, lh1*lw1)
			}
		}
	}
}

// trainAxpy adds a·x into y[:len(x)].
func trainAxpy(y, x []float32, a float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// ShortcutABackward is the adjoint of ShortcutA: the input pixels the
// shortcut sampled receive the gradient of the middle inC channels; the
// others get none.
func ShortcutABackward(dx, dy []float32, n, inC, inH, inW, outC, outH, outW, stride int, acc bool) {
	p := (outC - inC) / 2
	if n < 0 || inC <= 0 || stride <= 0 || p < 0 || inC+2*p != outC ||
		outH != (inH+stride-1)/stride || outW != (inW+stride-1)/stride {
		opsPanic("ShortcutABackward", "sizes do not match")
	}
	in, out := inH*inW*inC, outH*outW*outC
	trainLen("ShortcutABackward", n*in, dx)
	trainLen("ShortcutABackward", n*out, dy)
	trainClear(dx, n*in, acc)
	for item := range n {
		d := dx[item*in : (item+1)*in]
		g := dy[item*out : (item+1)*out]
		o := 0
		for oh := range outH {
			ih := oh * stride
			for ow := range outW {
				iw := ow * stride
				gg := g[o+p : o+p+inC]
				o += outC
				dd := d[(ih*inW+iw)*inC : (ih*inW+iw+1)*inC]
				dd = dd[:len(gg)]
				for i, v := range gg {
					dd[i] += v
				}
			}
		}
	}
}

// AddInto computes dst += src.
func AddInto(dst, src []float32) {
	trainLen("AddInto", len(src), dst)
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

// SoftmaxCrossEntropy is nn.CrossEntropyLoss(reduction="mean") over the n·hw
// positions of logits (NHWC, c classes per position): it returns the mean of
// logsumexp(x) − x[label] and writes dlogits = (softmax − onehot)/(n·hw).
// Each position is computed in float64, the log-sum-exp after subtracting
// the maximum. dlogits may be nil to compute the loss only. A label outside
// [0, c) is an error naming its item and position; nothing is written then.
func SoftmaxCrossEntropy(dlogits, logits []float32, labels []int32, n, hw, c int) (loss float64, err error) {
	if n <= 0 || hw <= 0 || c <= 0 {
		opsPanic("SoftmaxCrossEntropy", "invalid sizes")
	}
	np := n * hw
	trainLen("SoftmaxCrossEntropy", np*c, logits)
	if dlogits != nil {
		trainLen("SoftmaxCrossEntropy", np*c, dlogits)
	}
	if len(labels) < np {
		opsPanic("SoftmaxCrossEntropy", fmt.Sprintf("%d labels, want %d", len(labels), np))
	}
	labels = labels[:np]
	for i, l := range labels {
		if l < 0 || int(l) >= c {
			if hw == 1 {
				return 0, fmt.Errorf("label %d of item %d is outside [0, %d)", l, i, c)
			}
			return 0, fmt.Errorf("label %d of item %d, position %d is outside [0, %d)", l, i/hw, i%hw, c)
		}
	}
	inv := 1 / float64(np)
	var sum float64
	for i, l := range labels {
		x := logits[i*c : (i+1)*c]
		m := x[0]
		for _, v := range x[1:] {
			if v > m || v != v {
				m = v
			}
		}
		mx := float64(m)
		var s float64
		if dlogits == nil {
			for _, v := range x {
				s += math.Exp(float64(v) - mx)
			}
		} else {
			// Park exp(x−max) in dlogits, rounded to float32 like
			// Softmax's, and scale it once the sum is known.
			d := dlogits[i*c : (i+1)*c]
			d = d[:len(x)]
			for j, v := range x {
				e := math.Exp(float64(v) - mx)
				s += e
				d[j] = float32(e)
			}
			k := inv / s
			for j, e := range d {
				d[j] = float32(float64(e) * k)
			}
			// The label's softmax − 1 may cancel: compute it from the
			// float64 exponential rather than the rounded one.
			d[l] = float32((math.Exp(float64(x[l])-mx)/s - 1) * inv)
		}
		sum += mx + math.Log(s) - float64(x[l])
	}
	return sum * inv, nil
}

// SGD is one step of torch.optim.SGD without dampening or Nesterov:
// d = g + weightDecay·w; buf = d on the first step, else momentum·buf + d;
// w −= lr·buf. With momentum 0, buf is neither read nor written (it may be
// nil) and w −= lr·d, as PyTorch keeps no buffer then.
func SGD(w, g, buf []float32, lr, momentum, weightDecay float32, first bool) {
	n := len(w)
	trainLen("SGD", n, g)
	g = g[:n]
	if momentum == 0 {
		for i, v := range g {
			d := v + weightDecay*w[i]
			w[i] -= lr * d
		}
		return
	}
	trainLen("SGD", n, buf)
	buf = buf[:n]
	if first {
		for i, v := range g {
			d := v + weightDecay*w[i]
			buf[i] = d
			w[i] -= lr * d
		}
		return
	}
	for i, v := range g {
		d := v + weightDecay*w[i]
		b := momentum*buf[i] + d
		buf[i] = b
		w[i] -= lr * b
	}
}

// FirstNonFinite returns the index of the first NaN or ±Inf in x, or -1.
func FirstNonFinite(x []float32) int {
	for i, v := range x {
		// v−v is 0 for finite v and NaN for NaN and ±Inf.
		if v-v != 0 {
			return i
		}
	}
	return -1
}

// BatchNorm in training mode. Each channel's statistics are float64 sums
// over the n·hw pixels, formed chunk by chunk (bnChunk pixels) and the chunk
// sums added in chunk order, so the result is the same whether one thread or
// many computed the chunks. The forward pass reads src once for the
// statistics, summing x−K and (x−K)² with K the channel's first value (the
// shift keeps E[(x−K)²] − E[x−K]² free of cancellation unless that value is
// far out), and once more to normalize; the backward pass reads its
// operands once for the two sums it needs and once to write dx.

// bnChunkValues is the number of values per chunk of the per-channel sums.
const bnChunkValues = 1 << 14

// bnBlock is the number of channels handled at a time with their state on
// the stack: by BatchNorm's single-threaded path and by MaxPool2DBackward.
const bnBlock = 64

// bnParMin is the number of values from which the kernels split their work
// over the pool.
const bnParMin = 1 << 16

// bnChunk returns the number of pixels per chunk for c channels.
func bnChunk(c int) int { return max(1, bnChunkValues/c) }

func bnCheck(op string, n, hw, c int, big [][]float32, small [][]float32) {
	if n <= 0 || hw <= 0 || c <= 0 {
		opsPanic(op, "invalid sizes")
	}
	for _, s := range big {
		trainLen(op, n*hw*c, s)
	}
	for _, s := range small {
		trainLen(op, c, s)
	}
}

// BatchNormTrain is BatchNorm2d in training mode over n items of hw pixels
// of c channels: y = (x − mean)·invstd·gamma + beta with the batch mean and
// the biased batch variance, followed by a ReLU when act is ActReLU. It
// writes saveMean and saveInvStd (= 1/sqrt(var+eps)) for the backward pass
// and updates runMean and runVar as PyTorch does, with the unbiased variance
// (with one value per channel, where PyTorch refuses to train, the biased
// one: 0). dst may be src.
func BatchNormTrain(p *Pool, dst, src []float32, n, hw, c int, gamma, beta, saveMean, saveInvStd, runMean, runVar []float32, momentum, eps float32, act Act) {
	bnCheck("BatchNormTrain", n, hw, c, [][]float32{dst, src}, [][]float32{gamma, beta, saveMean, saveInvStd, runMean, runVar})
	m := n * hw
	src, dst = src[:m*c], dst[:m*c]
	st := bnStats{m: m, momentum: float64(momentum), eps: float64(eps)}
	if p.Threads() > 1 && m*c >= bnParMin {
		bnTrainPar(p, dst, src, c, gamma, beta, saveMean, saveInvStd, runMean, runVar, &st, act == ActReLU)
		return
	}
	chunk := bnChunk(c)
	var k, s1, s2, t1, t2 [bnBlock]float64
	var scale [bnBlock]float32
	for c0 := 0; c0 < c; c0 += bnBlock {
		nb := min(bnBlock, c-c0)
		kk, a1, a2 := k[:nb], s1[:nb], s2[:nb]
		for i := range kk {
			kk[i] = float64(src[c0+i])
		}
		clear(a1)
		clear(a2)
		for p0 := 0; p0 < m; p0 += chunk {
			b1, b2 := t1[:nb], t2[:nb]
			clear(b1)
			clear(b2)
			bnSums(b1, b2, src, c, c0, kk, p0, min(p0+chunk, m))
			bnAdd(a1, b1)
			bnAdd(a2, b2)
		}
		sl := bnSlice{c0, c0 + nb}
		st.finish(a1, a2, kk, sl.of(gamma), sl.of(saveMean), sl.of(saveInvStd), sl.of(runMean), sl.of(runVar), scale[:nb])
		bnApply(dst, src, c, c0, sl.of(saveMean), scale[:nb], sl.of(beta), act == ActReLU, 0, m)
	}
}

// bnSlice is a range of channels.
type bnSlice struct{ lo, hi int }

func (s bnSlice) of(x []float32) []float32 { return x[s.lo:s.hi] }

func bnAdd(dst, src []float64) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// bnSumsGo adds, over pixels [p0, p1) and channels [c0, c0+len(s1)), x−k into
// s1 and (x−k)² into s2. Four channels at a time keep their sums in
// registers; each channel's sum still runs over the pixels in order.
func bnSumsGo(s1, s2 []float64, src []float32, c, c0 int, k []float64, p0, p1 int) {
	nb := len(s1)
	s2, k = s2[:nb], k[:nb]
	end := p1 * c
	i := 0
	for ; i+4 <= nb; i += 4 {
		k0, k1, k2, k3 := k[i], k[i+1], k[i+2], k[i+3]
		var a0, a1, a2, a3, b0, b1, b2, b3 float64
		for o := p0*c + c0 + i; o < end; o += c {
			x := src[o : o+4 : o+4]
			d0 := float64(x[0]) - k0
			d1 := float64(x[1]) - k1
			d2 := float64(x[2]) - k2
			d3 := float64(x[3]) - k3
			a0 += d0
			a1 += d1
			a2 += d2
			a3 += d3
			b0 += d0 * d0
			b1 += d1 * d1
			b2 += d2 * d2
			b3 += d3 * d3
		}
		s1[i] += a0
		s1[i+1] += a1
		s1[i+2] += a2
		s1[i+3] += a3
		s2[i] += b0
		s2[i+1] += b1
		s2[i+2] += b2
		s2[i+3] += b3
	}
	for ; i < nb; i++ {
		ki := k[i]
		var a, b float64
		for o := p0*c + c0 + i; o < end; o += c {
			d := float64(src[o]) - ki
			a += d
			b += d * d
		}
		s1[i] += a
		s2[i] += b
	}
}

// bnStats holds what the per-channel finishing step needs besides the sums.
type bnStats struct {
	m             int
	momentum, eps float64
}

// finish turns the shifted sums of a range of channels into the saved and
// running statistics and the scale the normalization multiplies by.
func (st *bnStats) finish(s1, s2, k []float64, gamma, saveMean, saveInvStd, runMean, runVar, scale []float32) {
	m := float64(st.m)
	unbias := 1.0
	if st.m > 1 {
		unbias = m / (m - 1)
	}
	mo := st.momentum
	for i := range s1 {
		d := s1[i] / m
		mean := k[i] + d
		v := max(s2[i]/m-d*d, 0)
		invstd := 1 / math.Sqrt(v+st.eps)
		saveMean[i] = float32(mean)
		saveInvStd[i] = float32(invstd)
		runMean[i] = float32(mo*mean + (1-mo)*float64(runMean[i]))
		runVar[i] = float32(mo*v*unbias + (1-mo)*float64(runVar[i]))
		scale[i] = float32(invstd * float64(gamma[i]))
	}
}

// bnApplyGo writes y = (x − mean)·scale + shift (and its ReLU) for pixels
// [p0, p1) and channels [c0, c0+len(mean)).
func bnApplyGo(dst, src []float32, c, c0 int, mean, scale, shift []float32, relu bool, p0, p1 int) {
	nb := len(mean)
	scale, shift = scale[:nb], shift[:nb]
	for p := p0; p < p1; p++ {
		x := src[p*c+c0 : p*c+c0+nb]
		y := dst[p*c+c0 : p*c+c0+nb]
		x, y = x[:nb], y[:nb]
		if relu {
			for i, v := range x {
				// max rather than a branch the ReLU's sign would mispredict;
				// it keeps NaN.
				y[i] = max((v-mean[i])*scale[i]+shift[i], 0)
			}
		} else {
			for i, v := range x {
				y[i] = (v-mean[i])*scale[i] + shift[i]
			}
		}
	}
}

// BatchNormTrainBackward is the backward pass of BatchNormTrain: from dy,
// the forward's src and output dst (whose sign is the ReLU mask when act is
// ActReLU) and the saved statistics it writes dgamma = Σ g·x̂,
// dbeta = Σ g and
//
//	dx = gamma·invstd·(g − dbeta/m − x̂·dgamma/m),  x̂ = (x − mean)·invstd,
//
// with g = dy masked by the ReLU and m = n·hw. src must still hold the
// forward's input (the forward may not have run in place); dx may be dy.
func BatchNormTrainBackward(p *Pool, dx, dgamma, dbeta, dy, src, dst []float32, n, hw, c int, gamma, saveMean, saveInvStd []float32, act Act, acc bool) {
	bnCheck("BatchNormTrainBackward", n, hw, c, [][]float32{dx, dy, src, dst}, [][]float32{dgamma, dbeta, gamma, saveMean, saveInvStd})
	m := n * hw
	dx, dy, src, dst = dx[:m*c], dy[:m*c], src[:m*c], dst[:m*c]
	relu := act == ActReLU
	if p.Threads() > 1 && m*c >= bnParMin {
		bnBackwardPar(p, dx, dgamma, dbeta, dy, src, dst, m, c, gamma, saveMean, saveInvStd, relu, acc)
		return
	}
	chunk := bnChunk(c)
	var mean, sg, sxg, t1, t2 [bnBlock]float64
	var a, b, cc [bnBlock]float32
	for c0 := 0; c0 < c; c0 += bnBlock {
		nb := min(bnBlock, c-c0)
		sl := bnSlice{c0, c0 + nb}
		mu, a1, a2 := mean[:nb], sg[:nb], sxg[:nb]
		for i, v := range sl.of(saveMean) {
			mu[i] = float64(v)
		}
		clear(a1)
		clear(a2)
		for p0 := 0; p0 < m; p0 += chunk {
			b1, b2 := t1[:nb], t2[:nb]
			clear(b1)
			clear(b2)
			bnGradSums(b1, b2, dy, src, dst, c, c0, mu, relu, p0, min(p0+chunk, m))
			bnAdd(a1, b1)
			bnAdd(a2, b2)
		}
		bnGradFinish(a1, a2, m, sl.of(gamma), sl.of(saveInvStd), sl.of(dgamma), sl.of(dbeta), a[:nb], b[:nb], cc[:nb])
		bnGradApply(dx, dy, src, dst, c, c0, sl.of(saveMean), a[:nb], b[:nb], cc[:nb], relu, acc, 0, m)
	}
}

// bnGradSumsGo adds, over pixels [p0, p1) and channels [c0, c0+len(sg)), g
// into sg and (x − mean)·g into sxg, four channels at a time in registers
// like bnSums.
func bnGradSumsGo(sg, sxg []float64, dy, src, dst []float32, c, c0 int, mean []float64, relu bool, p0, p1 int) {
	nb := len(sg)
	sxg, mean = sxg[:nb], mean[:nb]
	all := trainMaskAll(relu)
	end := p1 * c
	i := 0
	for ; i+4 <= nb; i += 4 {
		m0, m1, m2, m3 := mean[i], mean[i+1], mean[i+2], mean[i+3]
		var a0, a1, a2, a3, b0, b1, b2, b3 float64
		for o := p0*c + c0 + i; o < end; o += c {
			g := dy[o : o+4 : o+4]
			x := src[o : o+4 : o+4]
			y := dst[o : o+4 : o+4]
			g0 := float64(trainMask(g[0], y[0], all))
			g1 := float64(trainMask(g[1], y[1], all))
			g2 := float64(trainMask(g[2], y[2], all))
			g3 := float64(trainMask(g[3], y[3], all))
			a0 += g0
			a1 += g1
			a2 += g2
			a3 += g3
			b0 += (float64(x[0]) - m0) * g0
			b1 += (float64(x[1]) - m1) * g1
			b2 += (float64(x[2]) - m2) * g2
			b3 += (float64(x[3]) - m3) * g3
		}
		sg[i] += a0
		sg[i+1] += a1
		sg[i+2] += a2
		sg[i+3] += a3
		sxg[i] += b0
		sxg[i+1] += b1
		sxg[i+2] += b2
		sxg[i+3] += b3
	}
	for ; i < nb; i++ {
		mi := mean[i]
		var a, b float64
		for o := p0*c + c0 + i; o < end; o += c {
			g := float64(trainMask(dy[o], dst[o], all))
			a += g
			b += (float64(src[o]) - mi) * g
		}
		sg[i] += a
		sxg[i] += b
	}
}

// bnGradFinish writes dgamma and dbeta and the coefficients of
// dx = a·g + b·(x − mean) + cc for a range of channels.
func bnGradFinish(sg, sxg []float64, m int, gamma, invStd, dgamma, dbeta, a, b, cc []float32) {
	fm := float64(m)
	for i := range sg {
		is := float64(invStd[i])
		dgamma[i] = float32(sxg[i] * is)
		dbeta[i] = float32(sg[i])
		ai := float64(gamma[i]) * is
		a[i] = float32(ai)
		b[i] = float32(-ai * is * is * sxg[i] / fm)
		cc[i] = float32(-ai * sg[i] / fm)
	}
}

// bnGradApplyGo writes (or adds) dx = a·g + b·(x − mean) + cc for pixels
// [p0, p1) and channels [c0, c0+len(mean)).
func bnGradApplyGo(dx, dy, src, dst []float32, c, c0 int, mean, a, b, cc []float32, relu, acc bool, p0, p1 int) {
	nb := len(mean)
	a, b, cc = a[:nb], b[:nb], cc[:nb]
	all := trainMaskAll(relu)
	for p := p0; p < p1; p++ {
		g := dy[p*c+c0 : p*c+c0+nb]
		x := src[p*c+c0 : p*c+c0+nb]
		y := dst[p*c+c0 : p*c+c0+nb]
		d := dx[p*c+c0 : p*c+c0+nb]
		g, x, y, d = g[:nb], x[:nb], y[:nb], d[:nb]
		if acc {
			for i, v := range g {
				d[i] += a[i]*trainMask(v, y[i], all) + b[i]*(x[i]-mean[i]) + cc[i]
			}
		} else {
			for i, v := range g {
				d[i] = a[i]*trainMask(v, y[i], all) + b[i]*(x[i]-mean[i]) + cc[i]
			}
		}
	}
}

// trainMask returns g where y > 0 and 0 elsewhere (or g whatever y is,
// when all comes from trainMaskAll(false)). It is branch-free: the sign of
// a ReLU's output is a coin toss a branch predictor loses.
func trainMask(g, y float32, all uint32) float32 {
	// y > 0 (not ±0, not NaN) when its bits lie in [1, 0x7f800000]: then
	// bits−1 < 0x7f800000, the 64-bit subtraction below wraps, and its top
	// half is all ones.
	keep := uint32((uint64(math.Float32bits(y)-1) - 0x7f800000) >> 32)
	return math.Float32frombits(math.Float32bits(g) & (keep | all))
}

// trainMaskAll is the all argument of trainMask: no mask without a ReLU.
func trainMaskAll(relu bool) uint32 {
	if relu {
		return 0
	}
	return ^uint32(0)
}

// bnPar is the pool task of the BatchNorm kernels, kept in the Pool with
// its scratch so a call allocates nothing once the scratch has grown.
type bnPar struct {
	kind                int
	dx, dy, dst, src    []float32
	c, m, chunk, chunks int
	relu, acc           bool
	k                   []float64 // per channel: the shift (forward) or the mean (backward)
	part                []float64 // per chunk: 2·c sums
	s1, s2              []float64 // per channel: the chunk sums added up
	mean, a, b, cc      []float32 // per channel: the coefficients of the elementwise pass
	bb                  []float32 // the backward pass's b (the forward's is beta)
	next                atomic.Int64
}

const (
	bnParSums = iota
	bnParApply
	bnParGradSums
	bnParGradApply
)

type bnParState struct {
	mu sync.Mutex
	t  bnPar
}

func (t *bnPar) poolWork(int) {
	c := t.c
	for {
		i := int(t.next.Add(1)) - 1
		if i >= t.chunks {
			return
		}
		p0 := i * t.chunk
		p1 := min(p0+t.chunk, t.m)
		switch t.kind {
		case bnParSums, bnParGradSums:
			b1 := t.part[2*i*c : (2*i+1)*c]
			b2 := t.part[(2*i+1)*c : (2*i+2)*c]
			clear(b1)
			clear(b2)
			if t.kind == bnParSums {
				bnSums(b1, b2, t.src, c, 0, t.k, p0, p1)
			} else {
				bnGradSums(b1, b2, t.dy, t.src, t.dst, c, 0, t.k, t.relu, p0, p1)
			}
		case bnParApply:
			bnApply(t.dst, t.src, c, 0, t.mean, t.a, t.b, t.relu, p0, p1)
		case bnParGradApply:
			bnGradApply(t.dx, t.dy, t.src, t.dst, c, 0, t.mean, t.a, t.b, t.cc, t.relu, t.acc, p0, p1)
		}
	}
}

// run runs one phase over all chunks on p.
func (t *bnPar) run(p *Pool, kind int) {
	t.kind = kind
	t.next.Store(0)
	p.poolRun(t)
}

// setup sizes the scratch for m pixels of c channels.
func (t *bnPar) setup(m, c int) {
	t.m, t.c, t.chunk = m, c, bnChunk(c)
	t.chunks = (m + t.chunk - 1) / t.chunk
	t.k = bnGrow(t.k, c)
	t.s1 = bnGrow(t.s1, c)
	t.s2 = bnGrow(t.s2, c)
	t.part = bnGrow(t.part, 2*c*t.chunks)
	if cap(t.a) < c {
		t.a, t.cc = make([]float32, c), make([]float32, c)
	}
	t.a, t.cc = t.a[:c], t.cc[:c]
}

func bnGrow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// total adds the chunk sums up in chunk order into s1 and s2.
func (t *bnPar) total() {
	c := t.c
	clear(t.s1)
	clear(t.s2)
	for i := range t.chunks {
		bnAdd(t.s1, t.part[2*i*c:(2*i+1)*c])
		bnAdd(t.s2, t.part[(2*i+1)*c:(2*i+2)*c])
	}
}

// done drops the references to the caller's slices.
func (t *bnPar) done() {
	t.dx, t.dy, t.dst, t.src, t.mean, t.b = nil, nil, nil, nil, nil, nil
}

func bnTrainPar(p *Pool, dst, src []float32, c int, gamma, beta, saveMean, saveInvStd, runMean, runVar []float32, st *bnStats, relu bool) {
	s := &p.train
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	defer t.done()
	t.setup(st.m, c)
	t.dst, t.src, t.relu = dst, src, relu
	for i := range t.k {
		t.k[i] = float64(src[i])
	}
	t.run(p, bnParSums)
	t.total()
	st.finish(t.s1, t.s2, t.k, gamma, saveMean, saveInvStd, runMean, runVar, t.a)
	t.mean, t.b = saveMean[:c], beta[:c]
	t.run(p, bnParApply)
}

func bnBackwardPar(p *Pool, dx, dgamma, dbeta, dy, src, dst []float32, m, c int, gamma, saveMean, saveInvStd []float32, relu, acc bool) {
	s := &p.train
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	defer t.done()
	t.setup(m, c)
	t.dx, t.dy, t.src, t.dst, t.relu, t.acc = dx, dy, src, dst, relu, acc
	for i, v := range saveMean[:c] {
		t.k[i] = float64(v)
	}
	t.run(p, bnParGradSums)
	t.total()
	if cap(t.bb) < c {
		t.bb = make([]float32, c)
	}
	t.bb = t.bb[:c]
	bnGradFinish(t.s1, t.s2, m, gamma, saveInvStd, dgamma, dbeta, t.a, t.bb, t.cc)
	t.mean, t.b = saveMean[:c], t.bb
	t.run(p, bnParGradApply)
}
