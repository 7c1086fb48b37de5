package runtime

import (
	"math"

	"github.com/resgen/resgen/internal/trainref"
)

// Elementwise and data-movement kernels. All of them work on one batch item
// in NHWC order, never allocate, and take their sizes from the caller; a size
// that does not match the slices is a bug in the generated code, so it
// panics with a message saying which argument is wrong.
//
// The loops reslice their operands to a common length before indexing
// (s = s[:n]) so the compiler can prove the indices in range and drop the
// bounds checks: these kernels are memory-bound and should run at copy speed.

func opsPanic(op, msg string) {
	panic("runtime." + op + ": " + msg)
}

// opsPixels returns the number of pixels in an NHWC activation of n values
// with c channels.
func opsPixels(op string, n, c int) int {
	if c <= 0 || n%c != 0 {
		opsPanic(op, "length is not a multiple of the channel count")
	}
	return n / c
}

// Affine computes dst = act(src*scale + shift) with one scale and shift per
// channel (a batch norm in inference mode). dst may be src.
func Affine(dst, src []float32, c int, scale, shift []float32, act Act) {
	n := len(src)
	opsPixels("Affine", n, c)
	if len(dst) < n || len(scale) < c || len(shift) < c {
		opsPanic("Affine", "dst, scale or shift too short")
	}
	dst = dst[:n]
	scale = scale[:c]
	shift = shift[:c]
	for p := 0; p < n; p += c {
		s := src[p : p+c]
		d := dst[p : p+c]
		d = d[:len(s)]
		sc := scale[:len(s)]
		sh := shift[:len(s)]
		if act == ActReLU {
			for i, v := range s {
				y := v*sc[i] + sh[i]
				if y < 0 {
					y = 0
				}
				d[i] = y
			}
		} else {
			for i, v := range s {
				d[i] = v*sc[i] + sh[i]
			}
		}
	}
}

// Add computes dst = act(a + b). dst may be a or b.
func Add(dst, a, b []float32, act Act) {
	n := len(a)
	if len(b) != n || len(dst) < n {
		opsPanic("Add", "operand lengths differ")
	}
	b = b[:n]
	dst = dst[:n]
	if act == ActReLU {
		for i, v := range a {
			dst[i] = reluBits(v + b[i])
		}
		return
	}
	for i, v := range a {
		dst[i] = v + b[i]
	}
}

// reluBits is y < 0 ? 0 : y without a branch: a residual sum's sign is a
// coin toss, and the mispredicted branch took most of Add's time (4-5x on
// BenchmarkAddReLU: 1.2-1.4 ms -> 0.2-0.3 ms). The result is the branch's,
// bit for bit: NaN and -0 pass through (the builtin max would turn -0 into
// 0). u is negative and not -0 or NaN exactly when u-0x80000001 < 0x7f800000
// (unsigned), and the 64-bit subtraction below borrows exactly then.
func reluBits(y float32) float32 {
	u := math.Float32bits(y)
	neg := uint32((uint64(u-0x80000001) - 0x7f800000) >> 63) // 1: clear y
	return math.Float32frombits(u & (neg - 1))
}

// ReLU computes dst = max(src, 0); NaN stays NaN, as in PyTorch. dst may be src.
func ReLU(dst, src []float32) {
	if len(dst) < len(src) {
		opsPanic("ReLU", "dst too short")
	}
	dst = dst[:len(src)]
	for i, v := range src {
		if v < 0 {
			v = 0
		}
		dst[i] = v
	}
}

// Sigmoid computes dst = 1/(1+exp(-src)). dst may be src. The exponential is
// only ever taken of a non-positive number, so it cannot overflow, and the
// result is computed in float64 and rounded once.
func Sigmoid(dst, src []float32) {
	if len(dst) < len(src) {
		opsPanic("Sigmoid", "dst too short")
	}
	dst = dst[:len(src)]
	for i, v := range src {
		x := float64(v)
		if x >= 0 {
			dst[i] = float32(1 / (1 + math.Exp(-x)))
		} else {
			e := math.Exp(x)
			dst[i] = float32(e / (1 + e))
		}
	}
}

// Softmax computes a softmax over the c channels of each pixel, subtracting
// the pixel's maximum first so exp cannot overflow. dst may be src.
func Softmax(dst, src []float32, c int) {
	n := len(src)
	opsPixels("Softmax", n, c)
	if len(dst) < n {
		opsPanic("Softmax", "dst too short")
	}
	dst = dst[:n]
	for p := 0; p < n; p += c {
		s := src[p : p+c]
		d := dst[p : p+c]
		d = d[:len(s)]
		m := s[0]
		for _, v := range s[1:] {
			if v > m {
				m = v
			}
		}
		mx := float64(m)
		var sum float64
		for i, v := range s {
			e := math.Exp(float64(v) - mx)
			sum += e
			d[i] = float32(e)
		}
		// Rounding each exp to float32 before dividing costs at most one
		// extra rounding; the sum itself is exact to float64.
		inv := 1 / sum
		for i, v := range d {
			d[i] = float32(float64(v) * inv)
		}
	}
}

// PoolConfig describes a 2-D pooling window over a C-channel NHWC map. OutH
// and OutW are given by the caller, so ceil_mode is expressed by them.
type PoolConfig struct {
	C, InH, InW, OutH, OutW, KH, KW, StrideH, StrideW, PadH, PadW int

	// InPitch, when not 0, is the floats between consecutive input pixels
	// (≥ C): the input is C channels of a wider NHWC map, such as a
	// concat's that a skip connection is written into. MaxPool2D only.
	InPitch int

	// CountIncludePad makes AvgPool2D divide by the window size including
	// padding (PyTorch count_include_pad).
	CountIncludePad bool
}

func (cfg *PoolConfig) opsCheck(op string, dst, src []float32) {
	if cfg.C <= 0 || cfg.InH <= 0 || cfg.InW <= 0 || cfg.OutH < 0 || cfg.OutW < 0 ||
		cfg.KH <= 0 || cfg.KW <= 0 || cfg.StrideH <= 0 || cfg.StrideW <= 0 ||
		cfg.PadH < 0 || cfg.PadW < 0 {
		opsPanic(op, "invalid PoolConfig")
	}
	if cfg.InPitch != 0 && (cfg.InPitch < cfg.C || op != "MaxPool2D") {
		opsPanic(op, "invalid PoolConfig.InPitch")
	}
	if len(src) < cfg.inLen() || len(dst) < cfg.OutH*cfg.OutW*cfg.C {
		opsPanic(op, "dst or src shorter than PoolConfig says")
	}
}

// inPitch is the floats between input pixels.
func (cfg *PoolConfig) inPitch() int { return max(cfg.C, cfg.InPitch) }

// inLen is the extent of the input: InH·InW pixels of C channels,
// inPitch apart.
func (cfg *PoolConfig) inLen() int { return (cfg.InH*cfg.InW-1)*cfg.inPitch() + cfg.C }

// MaxPool2D takes the maximum over each window. Padding counts as -Inf, as in
// PyTorch, so a window lying wholly in the padding yields -Inf; a NaN in a
// window propagates, and of equal values (±0) the first one stays.
//
// The windows of an output row that lie wholly inside the input
// horizontally run as one call of the vector loop; only the few clipped by
// the left or right padding run one at a time.
func MaxPool2D(dst, src []float32, cfg PoolConfig) {
	cfg.opsCheck("MaxPool2D", dst, src)
	lo, hi := maxPoolCols(&cfg)
	maxPoolRows(dst, src[:cfg.inLen()], &cfg, lo, hi, 0, cfg.OutH)
}

// maxPoolCols returns the output columns [lo, hi) whose windows lie wholly
// inside the input horizontally.
func maxPoolCols(cfg *PoolConfig) (lo, hi int) {
	sw, pw := cfg.StrideW, cfg.PadW
	lo = min(cfg.OutW, (pw+sw-1)/sw)
	hi = lo
	if last := cfg.InW + pw - cfg.KW; last >= 0 {
		hi = max(lo, min(cfg.OutW, last/sw+1))
	}
	return lo, hi
}

// maxPoolRows computes output rows [oh0, oh1) of MaxPool2D; owLo and owHi
// are from maxPoolCols.
func maxPoolRows(dst, src []float32, cfg *PoolConfig, owLo, owHi, oh0, oh1 int) {
	c, inW, sw, pw, ip := cfg.C, cfg.InW, cfg.StrideW, cfg.PadW, cfg.inPitch()
	negInf := float32(math.Inf(-1))
	rowLen := cfg.OutW * c
	for oh := oh0; oh < oh1; oh++ {
		h0 := oh*cfg.StrideH - cfg.PadH
		hs, he := max(h0, 0), min(h0+cfg.KH, cfg.InH)
		out := dst[oh*rowLen : (oh+1)*rowLen]
		for ow := 0; ow < cfg.OutW; ow++ {
			w0 := ow*sw - pw
			if ow == owLo && owHi > owLo && hs < he {
				opsMaxWindows(out[ow*c:owHi*c], src[(hs*inW+w0)*ip:], owHi-owLo, c, ip, he-hs, cfg.KW, sw*ip, inW*ip)
				ow = owHi - 1
				continue
			}
			ws, we := max(w0, 0), min(w0+cfg.KW, inW)
			d := out[ow*c : ow*c+c]
			if hs >= he || ws >= we {
				for i := range d {
					d[i] = negInf
				}
				continue
			}
			opsMaxWindows(d, src[(hs*inW+ws)*ip:], 1, c, ip, he-hs, we-ws, 0, inW*ip)
		}
	}
}

// opsMaxWindowsGo is the portable loop of opsMaxWindows. It follows
// PyTorch's rule: an element replaces the running maximum when it is
// greater or NaN.
func opsMaxWindowsGo(dst, src []float32, n, c, pix, kh, kw, step, row int) {
	for i := range n {
		d := dst[i*c : i*c+c]
		base := i * step
		copy(d, src[base:base+c])
		for y := range kh {
			for x := range kw {
				if y == 0 && x == 0 {
					continue
				}
				s := src[base+y*row+x*pix:][:len(d)]
				for j, v := range s {
					if v > d[j] || v != v {
						d[j] = v
					}
				}
			}
		}
	}
}

// AvgPool2D averages each window with PyTorch's divisor rules: the window is
// first clipped to the padded input (which matters when ceil_mode makes the
// last window run past the padding), that size is the divisor when
// CountIncludePad is set, and otherwise the divisor is the number of real
// input pixels in the window. A window with no real pixels yields 0.
func AvgPool2D(dst, src []float32, cfg PoolConfig) {
	cfg.opsCheck("AvgPool2D", dst, src)
	c, inW := cfg.C, cfg.InW
	src = src[:cfg.InH*inW*c]
	o := 0
	for oh := 0; oh < cfg.OutH; oh++ {
		h0 := oh*cfg.StrideH - cfg.PadH
		h1 := min(h0+cfg.KH, cfg.InH+cfg.PadH)
		hs, he := max(h0, 0), min(h1, cfg.InH)
		for ow := 0; ow < cfg.OutW; ow++ {
			w0 := ow*cfg.StrideW - cfg.PadW
			w1 := min(w0+cfg.KW, inW+cfg.PadW)
			ws, we := max(w0, 0), min(w1, inW)
			d := dst[o : o+c]
			o += c
			clear(d)
			if hs >= he || ws >= we {
				continue
			}
			for ih := hs; ih < he; ih++ {
				row := src[(ih*inW+ws)*c : (ih*inW+we)*c]
				for len(row) >= c {
					s := row[:len(d)]
					for i, v := range s {
						d[i] += v
					}
					row = row[c:]
				}
			}
			div := (he - hs) * (we - ws)
			if cfg.CountIncludePad {
				div = (h1 - h0) * (w1 - w0)
			}
			// Divide rather than multiply by the reciprocal, as PyTorch does,
			// so the result rounds the same way.
			f := float32(div)
			for i, v := range d {
				d[i] = v / f
			}
		}
	}
}

// GlobalAvgPool averages each of the c channels over hw pixels into dst[:c].
// The sums are kept in float64, a block of channels at a time on the stack,
// so the mean of a large map loses no precision and nothing is allocated.
func GlobalAvgPool(dst, src []float32, hw, c int) {
	if hw <= 0 || c <= 0 || len(src) < hw*c || len(dst) < c {
		opsPanic("GlobalAvgPool", "sizes do not match")
	}
	globalAvgPoolBlocks(dst, src, hw, c, 0, (c+gapBlock-1)/gapBlock)
}

// gapBlock is how many channels GlobalAvgPool sums at once.
const gapBlock = 64

// globalAvgPoolBlocks computes channel blocks [b0, b1) of GlobalAvgPool.
func globalAvgPoolBlocks(dst, src []float32, hw, c, b0, b1 int) {
	var acc [gapBlock]float64
	for c0 := b0 * gapBlock; c0 < min(c, b1*gapBlock); c0 += gapBlock {
		nb := min(gapBlock, c-c0)
		a := acc[:nb]
		clear(a)
		for p := 0; p < hw; p++ {
			s := src[p*c+c0 : p*c+c0+nb]
			s = s[:len(a)]
			for i, v := range s {
				a[i] += float64(v)
			}
		}
		d := dst[c0 : c0+nb]
		d = d[:len(a)]
		for i, v := range a {
			d[i] = float32(v / float64(hw))
		}
	}
}

// ConcatPart is one input of Concat: an NHWC map with C channels. A part
// with a nil Src is already in place (written into dst's channels by its
// producer, see ConvTransposeConfig.OutPitch): Concat leaves them alone.
type ConcatPart struct {
	Src []float32
	C   int
}

// Concat joins the parts along the channel axis into dst, each of hw pixels.
func Concat(dst []float32, hw int, parts ...ConcatPart) {
	total := concatCheck(dst, hw, parts)
	concatPixels(dst, hw, total, parts, 0, hw)
}

func concatCheck(dst []float32, hw int, parts []ConcatPart) (total int) {
	for _, pt := range parts {
		if pt.C < 0 || pt.Src != nil && len(pt.Src) < hw*pt.C {
			opsPanic("Concat", "part shorter than hw*C")
		}
		total += pt.C
	}
	if len(dst) < hw*total {
		opsPanic("Concat", "dst shorter than hw*sum(C)")
	}
	return total
}

// concatPixels writes pixels [p0, p1) of Concat.
func concatPixels(dst []float32, hw, total int, parts []ConcatPart, p0, p1 int) {
	off := 0
	for _, pt := range parts {
		c := pt.C
		if pt.Src == nil {
			off += c
			continue
		}
		s := pt.Src[:hw*c]
		for p := p0; p < p1; p++ {
			copy(dst[p*total+off:p*total+off+c], s[p*c:p*c+c])
		}
		off += c
	}
}

// opsNearestIndex is PyTorch's 'nearest' source index, kept in
// internal/trainref with the references that share it.
func opsNearestIndex(dst, in, out int) int { return trainref.NearestIndex(dst, in, out) }

// UpsampleNearest resizes a c-channel inH×inW map to outH×outW by PyTorch's
// 'nearest' rule.
func UpsampleNearest(dst, src []float32, c, inH, inW, outH, outW int) {
	if c <= 0 || inH <= 0 || inW <= 0 || outH < 0 || outW < 0 ||
		len(src) < inH*inW*c || len(dst) < outH*outW*c {
		opsPanic("UpsampleNearest", "sizes do not match")
	}
	o := 0
	for oh := 0; oh < outH; oh++ {
		ih := opsNearestIndex(oh, inH, outH)
		row := src[ih*inW*c : (ih+1)*inW*c]
		for ow := 0; ow < outW; ow++ {
			iw := opsNearestIndex(ow, inW, outW)
			copy(dst[o:o+c], row[iw*c:iw*c+c])
			o += c
		}
	}
}

// opsLinearIndex is PyTorch's linear source indices and weights
// (compute_source_index_and_lambda), kept in internal/trainref with the
// references that share it.
func opsLinearIndex(dst, in, out int, alignCorners bool) (i0, i1 int, l0, l1 float32) {
	return trainref.LinearIndex(dst, in, out, alignCorners)
}

// UpsampleBilinear resizes a c-channel inH×inW map to outH×outW by bilinear
// interpolation with PyTorch's semantics for both align_corners values (the
// scale is computed from the sizes, as with recompute_scale_factor or an
// integer scale factor).
func UpsampleBilinear(dst, src []float32, c, inH, inW, outH, outW int, alignCorners bool) {
	if c <= 0 || inH <= 0 || inW <= 0 || outH < 0 || outW < 0 ||
		len(src) < inH*inW*c || len(dst) < outH*outW*c {
		opsPanic("UpsampleBilinear", "sizes do not match")
	}
	o := 0
	for oh := 0; oh < outH; oh++ {
		h0, h1, lh0, lh1 := opsLinearIndex(oh, inH, outH, alignCorners)
		r0 := src[h0*inW*c : (h0+1)*inW*c]
		r1 := src[h1*inW*c : (h1+1)*inW*c]
		for ow := 0; ow < outW; ow++ {
			w0, w1, lw0, lw1 := opsLinearIndex(ow, inW, outW, alignCorners)
			d := dst[o : o+c]
			o += c
			a := r0[w0*c : w0*c+c]
			b := r0[w1*c : w1*c+c]
			e := r1[w0*c : w0*c+c]
			f := r1[w1*c : w1*c+c]
			a, b, e, f = a[:len(d)], b[:len(d)], e[:len(d)], f[:len(d)]
			for i := range d {
				// Same association as PyTorch: rows first, then columns.
				d[i] = lh0*(lw0*a[i]+lw1*b[i]) + lh1*(lw0*e[i]+lw1*f[i])
			}
		}
	}
}

// ShortcutA is the CIFAR ResNet "option A" shortcut: PyTorch's
// F.pad(x[:, :, ::stride, ::stride], (0, 0, 0, 0, p, p)) with
// p = (outC-inC)/2, i.e. subsample spatially and zero-pad the channels on
// both sides.
func ShortcutA(dst, src []float32, inC, inH, inW, outC, outH, outW, stride int) {
	p := (outC - inC) / 2
	if inC <= 0 || stride <= 0 || p < 0 || inC+2*p != outC ||
		outH != (inH+stride-1)/stride || outW != (inW+stride-1)/stride ||
		len(src) < inH*inW*inC || len(dst) < outH*outW*outC {
		opsPanic("ShortcutA", "sizes do not match")
	}
	o := 0
	for oh := 0; oh < outH; oh++ {
		ih := oh * stride
		for ow := 0; ow < outW; ow++ {
			iw := ow * stride
			d := dst[o : o+outC]
			o += outC
			clear(d[:p])
			copy(d[p:p+inC], src[(ih*inW+iw)*inC:(ih*inW+iw+1)*inC])
			clear(d[p+inC:])
		}
	}
}
