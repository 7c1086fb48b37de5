package trainref

import "math"

// Float is the element type of a reference.
type Float interface{ ~float32 | ~float64 }

// store stores v into *d, or adds it when acc is set.
func store[T Float](d *T, v T, acc bool) {
	if acc {
		*d += v
	} else {
		*d = v
	}
}

// clearUnless zeroes d unless acc is set.
func clearUnless[T Float](d []T, acc bool) {
	if !acc {
		clear(d)
	}
}

// BatchNormTrain is runtime.BatchNormTrain computed the textbook way: the mean,
// then the biased variance as the mean of squared deviations from it.
func BatchNormTrain[T Float](dst, src []T, n, hw, c int, gamma, beta, saveMean, saveInvStd, runMean, runVar []T, momentum, eps float64, relu bool) {
	m := n * hw
	for ch := range c {
		var sum float64
		for p := range m {
			sum += float64(src[p*c+ch])
		}
		mean := sum / float64(m)
		var sq float64
		for p := range m {
			d := float64(src[p*c+ch]) - mean
			sq += d * d
		}
		v := sq / float64(m)
		unbiased := v
		if m > 1 {
			unbiased = sq / float64(m-1)
		}
		invstd := 1 / math.Sqrt(v+eps)
		saveMean[ch] = T(mean)
		saveInvStd[ch] = T(invstd)
		runMean[ch] = T(momentum*mean + (1-momentum)*float64(runMean[ch]))
		runVar[ch] = T(momentum*unbiased + (1-momentum)*float64(runVar[ch]))
		mu, scale := T(mean), T(invstd*float64(gamma[ch]))
		for p := range m {
			y := (src[p*c+ch]-mu)*scale + beta[ch]
			if relu {
				y = max(y, 0)
			}
			dst[p*c+ch] = y
		}
	}
}

// BatchNormTrainBackward is runtime.BatchNormTrainBackward from the textbook
// formula dx = gamma·invstd·(g − mean(g) − x̂·mean(g·x̂)).
func BatchNormTrainBackward[T Float](dx, dgamma, dbeta, dy, src, dst []T, n, hw, c int, gamma, saveMean, saveInvStd []T, relu, acc bool) {
	m := n * hw
	grad := func(i int) float64 {
		if relu && !(dst[i] > 0) {
			return 0
		}
		return float64(dy[i])
	}
	for ch := range c {
		mean, invstd := float64(saveMean[ch]), float64(saveInvStd[ch])
		var sg, sgx float64
		for p := range m {
			i := p*c + ch
			sg += grad(i)
			sgx += grad(i) * (float64(src[i]) - mean) * invstd
		}
		dgamma[ch], dbeta[ch] = T(sgx), T(sg)
		k := float64(gamma[ch]) * invstd
		for p := range m {
			i := p*c + ch
			xhat := (float64(src[i]) - mean) * invstd
			store(&dx[i], T(k*(grad(i)-sg/float64(m)-xhat*sgx/float64(m))), acc)
		}
	}
}

func ReLU[T Float](dst, src []T) {
	for i, v := range src {
		dst[i] = max(v, 0)
	}
}

func ReLUBackward[T Float](dx, dy, y []T, acc bool) {
	for i := range dy {
		var g T
		if y[i] > 0 {
			g = dy[i]
		}
		store(&dx[i], g, acc)
	}
}

func Sigmoid[T Float](dst, src []T) {
	for i, v := range src {
		dst[i] = T(1 / (1 + math.Exp(-float64(v))))
	}
}

func SigmoidBackward[T Float](dx, dy, y []T, acc bool) {
	for i := range dy {
		store(&dx[i], dy[i]*(1-y[i])*y[i], acc)
	}
}

func Softmax[T Float](dst, src []T, c int) {
	for p := 0; p < len(src); p += c {
		m := math.Inf(-1)
		for _, v := range src[p : p+c] {
			m = max(m, float64(v))
		}
		var s float64
		for _, v := range src[p : p+c] {
			s += math.Exp(float64(v) - m)
		}
		for i, v := range src[p : p+c] {
			dst[p+i] = T(math.Exp(float64(v)-m) / s)
		}
	}
}

func SoftmaxBackward[T Float](dx, dy, y []T, c int, acc bool) {
	for p := 0; p < len(dy); p += c {
		var dot float64
		for i := range c {
			dot += float64(dy[p+i]) * float64(y[p+i])
		}
		for i := range c {
			store(&dx[p+i], y[p+i]*(dy[p+i]-T(dot)), acc)
		}
	}
}

// poolWindow returns the clipped window of output (oh, ow): the real
// input rows [hs, he) and columns [ws, we), and the window's size inside
// the padded input.
func poolWindow(cfg *PoolConfig, oh, ow int) (hs, he, ws, we, padded int) {
	h0, w0 := oh*cfg.StrideH-cfg.PadH, ow*cfg.StrideW-cfg.PadW
	h1, w1 := min(h0+cfg.KH, cfg.InH+cfg.PadH), min(w0+cfg.KW, cfg.InW+cfg.PadW)
	return max(h0, 0), min(h1, cfg.InH), max(w0, 0), min(w1, cfg.InW), (h1 - h0) * (w1 - w0)
}

// maxPoolArg returns the index in src of the input MaxPool2D takes for
// output (oh, ow) and channel ch, or -1 for a window wholly in the padding.
func maxPoolArg[T Float](src []T, cfg *PoolConfig, oh, ow, ch int) int {
	// MaxPool2D clips the window to the input itself, not to the padded input.
	h0, w0 := oh*cfg.StrideH-cfg.PadH, ow*cfg.StrideW-cfg.PadW
	best := -1
	for ih := max(h0, 0); ih < min(h0+cfg.KH, cfg.InH); ih++ {
		for iw := max(w0, 0); iw < min(w0+cfg.KW, cfg.InW); iw++ {
			j := (ih*cfg.InW+iw)*cfg.C + ch
			if v := src[j]; best < 0 || v > src[best] || v != v {
				best = j
			}
		}
	}
	return best
}

func MaxPool[T Float](dst, src []T, cfg PoolConfig, n int) {
	in, out := cfg.InH*cfg.InW*cfg.C, cfg.OutH*cfg.OutW*cfg.C
	for item := range n {
		s := src[item*in : (item+1)*in]
		for oh := range cfg.OutH {
			for ow := range cfg.OutW {
				for ch := range cfg.C {
					v := T(math.Inf(-1))
					if j := maxPoolArg(s, &cfg, oh, ow, ch); j >= 0 {
						v = s[j]
					}
					dst[item*out+(oh*cfg.OutW+ow)*cfg.C+ch] = v
				}
			}
		}
	}
}

func MaxPoolBackward[T Float](dx, dy, src []T, cfg PoolConfig, n int, acc bool) {
	in, out := cfg.InH*cfg.InW*cfg.C, cfg.OutH*cfg.OutW*cfg.C
	clearUnless(dx[:n*in], acc)
	for item := range n {
		for oh := range cfg.OutH {
			for ow := range cfg.OutW {
				for ch := range cfg.C {
					if j := maxPoolArg(src[item*in:(item+1)*in], &cfg, oh, ow, ch); j >= 0 {
						dx[item*in+j] += dy[item*out+(oh*cfg.OutW+ow)*cfg.C+ch]
					}
				}
			}
		}
	}
}

// avgPoolDivisor is AvgPool2D's divisor for a window, 0 for one with no
// real pixels.
func avgPoolDivisor(cfg *PoolConfig, hs, he, ws, we, padded int) int {
	if hs >= he || ws >= we {
		return 0
	}
	if cfg.CountIncludePad {
		return padded
	}
	return (he - hs) * (we - ws)
}

func AvgPool[T Float](dst, src []T, cfg PoolConfig, n int) {
	in, out := cfg.InH*cfg.InW*cfg.C, cfg.OutH*cfg.OutW*cfg.C
	for item := range n {
		for oh := range cfg.OutH {
			for ow := range cfg.OutW {
				hs, he, ws, we, padded := poolWindow(&cfg, oh, ow)
				div := avgPoolDivisor(&cfg, hs, he, ws, we, padded)
				for ch := range cfg.C {
					var s T
					for ih := hs; ih < he; ih++ {
						for iw := ws; iw < we; iw++ {
							s += src[item*in+(ih*cfg.InW+iw)*cfg.C+ch]
						}
					}
					if div > 0 {
						s /= T(div)
					}
					dst[item*out+(oh*cfg.OutW+ow)*cfg.C+ch] = s
				}
			}
		}
	}
}

func AvgPoolBackward[T Float](dx, dy []T, cfg PoolConfig, n int, acc bool) {
	in, out := cfg.InH*cfg.InW*cfg.C, cfg.OutH*cfg.OutW*cfg.C
	clearUnless(dx[:n*in], acc)
	for item := range n {
		for oh := range cfg.OutH {
			for ow := range cfg.OutW {
				hs, he, ws, we, padded := poolWindow(&cfg, oh, ow)
				div := avgPoolDivisor(&cfg, hs, he, ws, we, padded)
				for ih := hs; ih < he; ih++ {
					for iw := ws; iw < we; iw++ {
						for ch := range cfg.C {
							dx[item*in+(ih*cfg.InW+iw)*cfg.C+ch] += dy[item*out+(oh*cfg.OutW+ow)*cfg.C+ch] / T(div)
						}
					}
				}
			}
		}
	}
}

func GlobalAvgPool[T Float](dst, src []T, n, hw, c int) {
	for item := range n {
		for ch := range c {
			var s float64
			for p := range hw {
				s += float64(src[(item*hw+p)*c+ch])
			}
			dst[item*c+ch] = T(s / float64(hw))
		}
	}
}

func GlobalAvgPoolBackward[T Float](dx, dy []T, n, hw, c int, acc bool) {
	for item := range n {
		for p := range hw {
			for ch := range c {
				store(&dx[(item*hw+p)*c+ch], dy[item*c+ch]/T(hw), acc)
			}
		}
	}
}

// Flatten writes each NHWC item in (channel, height, width) order.
func Flatten[T Float](dst, src []T, n, h, w, c int) {
	for item := range n {
		for p := range h * w {
			for ch := range c {
				dst[item*h*w*c+ch*h*w+p] = src[item*h*w*c+p*c+ch]
			}
		}
	}
}

func FlattenBackward[T Float](dx, dy []T, n, h, w, c int, acc bool) {
	for item := range n {
		for p := range h * w {
			for ch := range c {
				store(&dx[item*h*w*c+p*c+ch], dy[item*h*w*c+ch*h*w+p], acc)
			}
		}
	}
}

// Concat joins parts of cs[i] channels over px pixels along channels.
func Concat[T Float](dst []T, px int, parts [][]T, cs []int) {
	total := 0
	for _, c := range cs {
		total += c
	}
	off := 0
	for i, s := range parts {
		for p := range px {
			for ch := range cs[i] {
				dst[p*total+off+ch] = s[p*cs[i]+ch]
			}
		}
		off += cs[i]
	}
}

func ConcatBackward[T Float](dparts [][]T, dy []T, px int, cs []int, acc bool) {
	total := 0
	for _, c := range cs {
		total += c
	}
	off := 0
	for i, d := range dparts {
		for p := range px {
			for ch := range cs[i] {
				store(&d[p*cs[i]+ch], dy[p*total+off+ch], acc)
			}
		}
		off += cs[i]
	}
}

func UpsampleNearest[T Float](dst, src []T, n, c, inH, inW, outH, outW int) {
	for item := range n {
		for oh := range outH {
			ih := NearestIndex(oh, inH, outH)
			for ow := range outW {
				iw := NearestIndex(ow, inW, outW)
				for ch := range c {
					dst[((item*outH+oh)*outW+ow)*c+ch] = src[((item*inH+ih)*inW+iw)*c+ch]
				}
			}
		}
	}
}

func UpsampleNearestBackward[T Float](dx, dy []T, n, c, inH, inW, outH, outW int, acc bool) {
	clearUnless(dx[:n*inH*inW*c], acc)
	for item := range n {
		for oh := range outH {
			ih := NearestIndex(oh, inH, outH)
			for ow := range outW {
				iw := NearestIndex(ow, inW, outW)
				for ch := range c {
					dx[((item*inH+ih)*inW+iw)*c+ch] += dy[((item*outH+oh)*outW+ow)*c+ch]
				}
			}
		}
	}
}

// bilinearTaps returns the four source pixels of output (oh, ow)
// and their weights, in UpsampleBilinear's float32 arithmetic.
func bilinearTaps(oh, ow, inH, inW, outH, outW int, alignCorners bool) (idx [4]int, wt [4]float32) {
	h0, h1, lh0, lh1 := LinearIndex(oh, inH, outH, alignCorners)
	w0, w1, lw0, lw1 := LinearIndex(ow, inW, outW, alignCorners)
	return [4]int{h0*inW + w0, h0*inW + w1, h1*inW + w0, h1*inW + w1},
		[4]float32{lh0 * lw0, lh0 * lw1, lh1 * lw0, lh1 * lw1}
}

// UpsampleBilinear is UpsampleBilinear with the weights applied as
// UpsampleBilinear associates them (rows first), so that in float32 it is
// bitwise equal to it.
func UpsampleBilinear[T Float](dst, src []T, n, c, inH, inW, outH, outW int, alignCorners bool) {
	for item := range n {
		s := src[item*inH*inW*c:]
		for oh := range outH {
			h0, h1, lh0, lh1 := LinearIndex(oh, inH, outH, alignCorners)
			for ow := range outW {
				w0, w1, lw0, lw1 := LinearIndex(ow, inW, outW, alignCorners)
				for ch := range c {
					at := func(h, w int) T { return s[(h*inW+w)*c+ch] }
					dst[((item*outH+oh)*outW+ow)*c+ch] = T(lh0)*(T(lw0)*at(h0, w0)+T(lw1)*at(h0, w1)) +
						T(lh1)*(T(lw0)*at(h1, w0)+T(lw1)*at(h1, w1))
				}
			}
		}
	}
}

// UpsampleBilinearBackward is the adjoint of UpsampleBilinear: the
// weight of a tap is the product of its row and column weights.
func UpsampleBilinearBackward[T Float](dx, dy []T, n, c, inH, inW, outH, outW int, alignCorners, acc bool) {
	clearUnless(dx[:n*inH*inW*c], acc)
	for item := range n {
		for oh := range outH {
			for ow := range outW {
				idx, wt := bilinearTaps(oh, ow, inH, inW, outH, outW, alignCorners)
				for k := range 4 {
					for ch := range c {
						dx[(item*inH*inW+idx[k])*c+ch] += T(wt[k]) * dy[((item*outH+oh)*outW+ow)*c+ch]
					}
				}
			}
		}
	}
}

func ShortcutA[T Float](dst, src []T, n, inC, inH, inW, outC, outH, outW, stride int) {
	p := (outC - inC) / 2
	for item := range n {
		for oh := range outH {
			for ow := range outW {
				for ch := range outC {
					var v T
					if ch >= p && ch < p+inC {
						v = src[((item*inH+oh*stride)*inW+ow*stride)*inC+ch-p]
					}
					dst[((item*outH+oh)*outW+ow)*outC+ch] = v
				}
			}
		}
	}
}

func ShortcutABackward[T Float](dx, dy []T, n, inC, inH, inW, outC, outH, outW, stride int, acc bool) {
	p := (outC - inC) / 2
	for item := range n {
		for ih := range inH {
			for iw := range inW {
				for ch := range inC {
					var g T
					if ih%stride == 0 && iw%stride == 0 {
						g = dy[((item*outH+ih/stride)*outW+iw/stride)*outC+ch+p]
					}
					store(&dx[((item*inH+ih)*inW+iw)*inC+ch], g, acc)
				}
			}
		}
	}
}

// SoftmaxCrossEntropy is the mean over positions of
// logsumexp(x) − x[label], and its gradient (softmax − onehot)/positions.
// Labels must be in range.
func SoftmaxCrossEntropy[T Float](dlogits, logits []T, labels []int32, c int) float64 {
	np := len(labels)
	var loss float64
	for i, l := range labels {
		x := logits[i*c : (i+1)*c]
		m := math.Inf(-1)
		for _, v := range x {
			m = max(m, float64(v))
		}
		var s float64
		for _, v := range x {
			s += math.Exp(float64(v) - m)
		}
		loss += m + math.Log(s) - float64(x[l])
		for j, v := range x {
			g := math.Exp(float64(v)-m) / s
			if j == int(l) {
				g--
			}
			dlogits[i*c+j] = T(g / float64(np))
		}
	}
	return loss / float64(np)
}

// SGD is torch.optim.SGD's step without dampening or Nesterov.
func SGD[T Float](w, g, buf []T, lr, momentum, weightDecay T, first bool) {
	for i := range w {
		d := g[i] + weightDecay*w[i]
		if momentum != 0 {
			if first {
				buf[i] = d
			} else {
				buf[i] = momentum*buf[i] + d
			}
			d = buf[i]
		}
		w[i] -= lr * d
	}
}
