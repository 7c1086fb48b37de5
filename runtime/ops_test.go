package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The ops are tested against the scalar references below, written in the
// most direct (often float64, NCHW-indexed) form, and against a few values
// derived by hand or taken from PyTorch 1.13.

func opsTestRand(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * 3)
	}
	return s
}

func opsTestClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsInf(w, 0) || math.IsNaN(w) {
			if g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
				t.Fatalf("%s: [%d] = %v, want %v", what, i, g, w)
			}
			continue
		}
		if math.Abs(g-w) > tol*math.Max(1, math.Abs(w)) {
			t.Fatalf("%s: [%d] = %v, want %v (diff %g)", what, i, g, w, g-w)
		}
	}
}

func opsTestApplyAct(v float64, act Act) float64 {
	if act == ActReLU && v < 0 {
		return 0
	}
	return v
}

func TestAffine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []int{1, 3, 16, 67} {
		for _, act := range []Act{ActNone, ActReLU} {
			hw := 13
			src := opsTestRand(r, hw*c)
			scale, shift := opsTestRand(r, c), opsTestRand(r, c)
			want := make([]float32, len(src))
			for p := 0; p < hw; p++ {
				for ch := 0; ch < c; ch++ {
					want[p*c+ch] = float32(opsTestApplyAct(float64(src[p*c+ch])*float64(scale[ch])+float64(shift[ch]), act))
				}
			}
			dst := make([]float32, len(src))
			Affine(dst, src, c, scale, shift, act)
			opsTestClose(t, fmt.Sprintf("Affine c=%d %v", c, act), dst, want, 1e-6)
			Affine(src, src, c, scale, shift, act) // in place
			opsTestClose(t, "Affine in place", src, want, 1e-6)
		}
	}
}

func TestAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, act := range []Act{ActNone, ActReLU} {
		a, b := opsTestRand(r, 1001), opsTestRand(r, 1001)
		want := make([]float32, len(a))
		for i := range a {
			want[i] = float32(opsTestApplyAct(float64(a[i]+b[i]), act))
		}
		dst := make([]float32, len(a))
		Add(dst, a, b, act)
		opsTestClose(t, "Add", dst, want, 0)
		a2, b2 := append([]float32(nil), a...), append([]float32(nil), b...)
		Add(a2, a2, b, act)
		opsTestClose(t, "Add dst==a", a2, want, 0)
		Add(b2, a, b2, act)
		opsTestClose(t, "Add dst==b", b2, want, 0)
	}
}

// TestReLUBits: Add's branch-free ReLU gives the bits of y < 0 ? 0 : y for
// every class of float32 (zeros of both signs, subnormals, the extremes,
// infinities, NaNs of both signs) and for a million random bit patterns.
func TestReLUBits(t *testing.T) {
	branch := func(y float32) float32 {
		if y < 0 {
			y = 0
		}
		return y
	}
	check := func(u uint32) {
		y := math.Float32frombits(u)
		if got, want := math.Float32bits(reluBits(y)), math.Float32bits(branch(y)); got != want {
			t.Fatalf("reluBits(%#08x) = %#08x, want %#08x", u, got, want)
		}
	}
	for _, u := range []uint32{
		0, 0x80000000, 1, 0x80000001, 0x007fffff, 0x807fffff, 0x00800000, 0x80800000,
		0x3f800000, 0xbf800000, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000,
		0x7f800001, 0xff800001, 0x7fc00000, 0xffc00000, 0x7fffffff, 0xffffffff,
	} {
		check(u)
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 1 << 20 {
		check(r.Uint32())
	}
	// And through Add, on the same edge cases.
	a := []float32{float32(math.Copysign(0, -1)), -1, 1, float32(math.NaN()), float32(math.Inf(-1))}
	b := []float32{float32(math.Copysign(0, -1)), 0.5, -2, 0, 1}
	dst := make([]float32, len(a))
	Add(dst, a, b, ActReLU)
	for i := range a {
		if got, want := math.Float32bits(dst[i]), math.Float32bits(branch(a[i]+b[i])); got != want {
			t.Errorf("Add ReLU %v + %v = %#08x, want %#08x", a[i], b[i], got, want)
		}
	}
}

func TestReLU(t *testing.T) {
	nan := float32(math.NaN())
	src := []float32{-1, 0, 2.5, -1e30, float32(math.Inf(-1)), float32(math.Inf(1)), nan}
	want := []float32{0, 0, 2.5, 0, 0, float32(math.Inf(1)), nan}
	dst := make([]float32, len(src))
	ReLU(dst, src)
	opsTestClose(t, "ReLU", dst, want, 0)
	ReLU(src, src)
	opsTestClose(t, "ReLU in place", src, want, 0)
}

func TestSigmoid(t *testing.T) {
	inf := float32(math.Inf(1))
	src := []float32{0, 1, -1, 20, -20, 88, -88, 100, -100, 1e30, -1e30, inf, -inf, -104, -120}
	want := make([]float32, len(src))
	for i, v := range src {
		want[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
	dst := make([]float32, len(src))
	Sigmoid(dst, src)
	for i, v := range dst {
		if math.IsNaN(float64(v)) || v < 0 || v > 1 {
			t.Fatalf("Sigmoid(%v) = %v", src[i], v)
		}
	}
	opsTestClose(t, "Sigmoid", dst, want, 1e-7)
	// exp(-100) ≈ 3.7e-44 is a float32 subnormal and must survive; exp(-120)
	// underflows to 0.
	if got := dst[8]; got == 0 {
		t.Errorf("Sigmoid(-100) = 0, want a subnormal")
	}
	if got := dst[len(dst)-1]; got != 0 {
		t.Errorf("Sigmoid(-120) = %v, want 0", got)
	}
	Sigmoid(src, src)
	opsTestClose(t, "Sigmoid in place", src, want, 1e-7)
}

func opsTestSoftmaxRef(src []float32, c int) []float32 {
	out := make([]float32, len(src))
	for p := 0; p < len(src); p += c {
		m := math.Inf(-1)
		for _, v := range src[p : p+c] {
			m = math.Max(m, float64(v))
		}
		var sum float64
		for _, v := range src[p : p+c] {
			sum += math.Exp(float64(v) - m)
		}
		for i, v := range src[p : p+c] {
			out[p+i] = float32(math.Exp(float64(v)-m) / sum)
		}
	}
	return out
}

func TestSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []int{1, 2, 21} {
		src := opsTestRand(r, 7*c)
		src[0] = 1e30 // would overflow exp without the max subtraction
		if c > 1 {
			src[1] = -1e30
		}
		want := opsTestSoftmaxRef(src, c)
		dst := make([]float32, len(src))
		Softmax(dst, src, c)
		opsTestClose(t, "Softmax", dst, want, 1e-6)
		for p := 0; p < len(dst); p += c {
			var s float64
			for _, v := range dst[p : p+c] {
				s += float64(v)
			}
			if math.Abs(s-1) > 1e-5 {
				t.Fatalf("Softmax c=%d pixel %d sums to %v", c, p/c, s)
			}
		}
		Softmax(src, src, c)
		opsTestClose(t, "Softmax in place", src, want, 1e-6)
	}
	// Hand-checked: softmax(0, ln 3) = (1/4, 3/4).
	dst := make([]float32, 2)
	Softmax(dst, []float32{0, float32(math.Log(3))}, 2)
	opsTestClose(t, "Softmax(0, ln3)", dst, []float32{0.25, 0.75}, 1e-7)
}

// opsTestPoolRef pools by enumerating every window position, with PyTorch's
// rules: the window is clipped to the padded input, max ignores padding
// (-Inf), avg divides by the clipped window size or by the real pixel count.
func opsTestPoolRef(src []float32, cfg PoolConfig, isMax bool) []float32 {
	out := make([]float32, cfg.OutH*cfg.OutW*cfg.C)
	for oh := 0; oh < cfg.OutH; oh++ {
		for ow := 0; ow < cfg.OutW; ow++ {
			for ch := 0; ch < cfg.C; ch++ {
				m, sum, padded, real := math.Inf(-1), 0.0, 0, 0
				for kh := 0; kh < cfg.KH; kh++ {
					for kw := 0; kw < cfg.KW; kw++ {
						ih, iw := oh*cfg.StrideH-cfg.PadH+kh, ow*cfg.StrideW-cfg.PadW+kw
						if ih >= cfg.InH+cfg.PadH || iw >= cfg.InW+cfg.PadW {
							continue
						}
						padded++
						if ih < 0 || iw < 0 || ih >= cfg.InH || iw >= cfg.InW {
							continue
						}
						real++
						v := float64(src[(ih*cfg.InW+iw)*cfg.C+ch])
						// PyTorch's rule: a NaN anywhere in the window wins
						// (math.Max lets +Inf win over NaN).
						if m == m && (v > m || v != v) {
							m = v
						}
						sum += v
					}
				}
				var y float64
				switch {
				case isMax:
					y = m
				case real == 0:
					y = 0
				case cfg.CountIncludePad:
					y = sum / float64(padded)
				default:
					y = sum / float64(real)
				}
				out[(oh*cfg.OutW+ow)*cfg.C+ch] = float32(y)
			}
		}
	}
	return out
}

// opsTestPoolOut is PyTorch's pooling output size (pooling_output_shape).
func opsTestPoolOut(in, k, s, p int, ceil bool) int {
	num := in + 2*p - k
	out := num/s + 1
	if ceil {
		out = (num+s-1)/s + 1
		if (out-1)*s >= in+p {
			out--
		}
	}
	return out
}

func TestPoolRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for iter := 0; iter < 400; iter++ {
		cfg := PoolConfig{C: 1 + r.IntN(9), InH: 1 + r.IntN(9), InW: 1 + r.IntN(9),
			KH: 1 + r.IntN(4), KW: 1 + r.IntN(4), StrideH: 1 + r.IntN(3), StrideW: 1 + r.IntN(3),
			CountIncludePad: r.IntN(2) == 0}
		cfg.PadH, cfg.PadW = r.IntN(cfg.KH/2+1), r.IntN(cfg.KW/2+1)
		if cfg.InH+2*cfg.PadH < cfg.KH || cfg.InW+2*cfg.PadW < cfg.KW {
			continue
		}
		ceil := r.IntN(2) == 0
		cfg.OutH = opsTestPoolOut(cfg.InH, cfg.KH, cfg.StrideH, cfg.PadH, ceil)
		cfg.OutW = opsTestPoolOut(cfg.InW, cfg.KW, cfg.StrideW, cfg.PadW, ceil)
		src := opsTestRand(r, cfg.InH*cfg.InW*cfg.C)
		dst := make([]float32, cfg.OutH*cfg.OutW*cfg.C)
		MaxPool2D(dst, src, cfg)
		opsTestClose(t, fmt.Sprintf("MaxPool2D %+v", cfg), dst, opsTestPoolRef(src, cfg, true), 0)
		AvgPool2D(dst, src, cfg)
		opsTestClose(t, fmt.Sprintf("AvgPool2D %+v", cfg), dst, opsTestPoolRef(src, cfg, false), 1e-6)
	}
}

// opsTestInput builds the 2-channel NCHW map the PyTorch snippets below use:
//
//	a = torch.arange(h*w, dtype=torch.float32).reshape(h, w)
//	b = (torch.arange(h*w, dtype=torch.float32)*7 % 11) - 5
//	x = torch.stack([a, b.reshape(h, w)]).unsqueeze(0)
//
// and returns it in NHWC.
func opsTestInput(h, w int) []float32 {
	nchw := make([]float32, 2*h*w)
	for i := 0; i < h*w; i++ {
		nchw[i] = float32(i)
		nchw[h*w+i] = float32((i*7)%11 - 5)
	}
	nhwc := make([]float32, len(nchw))
	NCHWToNHWC(nhwc, nchw, 2, h, w)
	return nhwc
}

func opsTestToNHWC(nchw []float32, c, h, w int) []float32 {
	out := make([]float32, len(nchw))
	for ch := 0; ch < c; ch++ {
		for p := 0; p < h*w; p++ {
			out[p*c+ch] = nchw[ch*h*w+p]
		}
	}
	return out
}

// Expected values from torch 1.13 (python3, torch.nn.functional as F, x as in
// opsTestInput), printed NCHW with "%.9g".
func TestPoolTorch(t *testing.T) {
	tests := []struct {
		name   string
		python string
		h, w   int
		cfg    PoolConfig
		isMax  bool
		want   []float32 // NCHW
	}{
		{
			"avg ceil include pad", "F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True)", 6, 6,
			PoolConfig{C: 2, InH: 6, InW: 6, OutH: 4, OutW: 4, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, CountIncludePad: true}, false,
			[]float32{1.55555558, 3.33333325, 4.66666651, 2.66666675, 8.33333302, 14, 16, 8.5, 16.333334, 26, 28, 14.5, 10.166667, 16, 17, 8.75, 0.111111112, 0.444444448, 0, -1.33333337, 0, 0.111111112, -0.555555582, 0.166666672, -0.222222224, -0.222222224, -0.888888896, 0, -0.166666672, -0.5, -0.833333313, -0.5},
		},
		{
			"avg ceil exclude pad", "F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)", 6, 6,
			PoolConfig{C: 2, InH: 6, InW: 6, OutH: 4, OutW: 4, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, false,
			[]float32{3.5, 5, 7, 8, 12.5, 14, 16, 17, 24.5, 26, 28, 29, 30.5, 32, 34, 35, 0.25, 0.666666687, 0, -4, 0, 0.111111112, -0.555555582, 0.333333343, -0.333333343, -0.222222224, -0.888888896, 0, -0.5, -1, -1.66666663, -2},
		},
		{
			"max ceil", "F.max_pool2d(x, 3, 2, 1, ceil_mode=True)", 6, 6,
			PoolConfig{C: 2, InH: 6, InW: 6, OutH: 4, OutW: 4, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, true,
			[]float32{7, 9, 11, 11, 19, 21, 23, 23, 31, 33, 35, 35, 31, 33, 35, 35, 4, 5, 5, -3, 4, 5, 4, 4, 5, 5, 4, 2, 3, 3, 2, -2},
		},
		{
			"avg 2x3 ceil include pad", "F.avg_pool2d(x, (2,3), (2,2), (1,1), ceil_mode=True, count_include_pad=True)", 5, 7,
			PoolConfig{C: 2, InH: 5, InW: 7, OutH: 3, OutW: 4, KH: 2, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, CountIncludePad: true}, false,
			[]float32{0.166666672, 1, 2, 1.83333337, 7.33333349, 12.5, 14.5, 10.666667, 16.666666, 26.5, 28.5, 20, -0.5, 0.833333313, 0.5, 0.166666672, 0.333333343, 0, -0.666666687, -0.166666672, -0.333333343, -1, 0.166666672, -0.833333313},
		},
		{
			"avg 2x3 ceil exclude pad", "F.avg_pool2d(x, (2,3), (2,2), (1,1), ceil_mode=True, count_include_pad=False)", 5, 7,
			PoolConfig{C: 2, InH: 5, InW: 7, OutH: 3, OutW: 4, KH: 2, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, false,
			[]float32{0.5, 2, 4, 5.5, 11, 12.5, 14.5, 16, 25, 26.5, 28.5, 30, -1.5, 1.66666663, 1, 0.5, 0.5, 0, -0.666666687, -0.25, -0.5, -1, 0.166666672, -1.25},
		},
	}
	for _, tt := range tests {
		src := opsTestInput(tt.h, tt.w)
		dst := make([]float32, tt.cfg.OutH*tt.cfg.OutW*tt.cfg.C)
		if tt.isMax {
			MaxPool2D(dst, src, tt.cfg)
		} else {
			AvgPool2D(dst, src, tt.cfg)
		}
		opsTestClose(t, tt.name+": "+tt.python, dst, opsTestToNHWC(tt.want, 2, tt.cfg.OutH, tt.cfg.OutW), 1e-6)
	}
}

func TestMaxPoolAllPadding(t *testing.T) {
	// A window wholly in the padding (possible only with hand-made sizes)
	// yields -Inf for max and 0 for avg.
	// Window 0 is the left padding column, window 1 the only pixel.
	cfg := PoolConfig{C: 1, InH: 1, InW: 1, OutH: 1, OutW: 2, KH: 1, KW: 1, StrideH: 1, StrideW: 1, PadW: 1}
	dst := make([]float32, 2)
	MaxPool2D(dst, []float32{5}, cfg)
	if !math.IsInf(float64(dst[0]), -1) || dst[1] != 5 {
		t.Errorf("MaxPool2D = %v, want [-Inf 5]", dst)
	}
	AvgPool2D(dst, []float32{5}, cfg)
	if dst[0] != 0 || dst[1] != 5 {
		t.Errorf("AvgPool2D = %v, want [0 5]", dst)
	}
	// Both windows in the padding, the second one past the right edge.
	cfg.StrideW, cfg.PadW = 4, 2
	MaxPool2D(dst, []float32{5}, cfg)
	if !math.IsInf(float64(dst[0]), -1) || !math.IsInf(float64(dst[1]), -1) {
		t.Errorf("MaxPool2D = %v, want [-Inf -Inf]", dst)
	}
	AvgPool2D(dst, []float32{5}, cfg)
	if dst[0] != 0 || dst[1] != 0 {
		t.Errorf("AvgPool2D = %v, want [0 0]", dst)
	}
}

func TestMaxPoolNaN(t *testing.T) {
	cfg := PoolConfig{C: 1, InH: 1, InW: 3, OutH: 1, OutW: 1, KH: 1, KW: 3, StrideH: 1, StrideW: 1}
	dst := make([]float32, 1)
	MaxPool2D(dst, []float32{1, float32(math.NaN()), 2}, cfg)
	if !math.IsNaN(float64(dst[0])) {
		t.Errorf("MaxPool2D over a NaN = %v, want NaN (as PyTorch)", dst[0])
	}
}

func TestGlobalAvgPool(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range []int{1, 63, 64, 65, 200} {
		hw := 49
		src := opsTestRand(r, hw*c)
		want := make([]float32, c)
		for ch := 0; ch < c; ch++ {
			var s float64
			for p := 0; p < hw; p++ {
				s += float64(src[p*c+ch])
			}
			want[ch] = float32(s / float64(hw))
		}
		dst := make([]float32, c)
		GlobalAvgPool(dst, src, hw, c)
		opsTestClose(t, "GlobalAvgPool", dst, want, 0)
	}
}

func TestConcat(t *testing.T) {
	// Two pixels; parts of 1, 0 and 2 channels.
	a := []float32{1, 2}
	b := []float32{}
	c := []float32{10, 11, 20, 21}
	dst := make([]float32, 6)
	Concat(dst, 2, ConcatPart{a, 1}, ConcatPart{b, 0}, ConcatPart{c, 2})
	opsTestClose(t, "Concat", dst, []float32{1, 10, 11, 2, 20, 21}, 0)

	// A part with a nil Src is already in place: its channels stay.
	dst = []float32{-1, -2, -3, -4, -5, -6}
	Concat(dst, 2, ConcatPart{a, 1}, ConcatPart{nil, 2})
	opsTestClose(t, "Concat in place", dst, []float32{1, -2, -3, 2, -5, -6}, 0)
}

// opsTestBilinearRef is bilinear interpolation in float64, straight from the
// definition: align_corners maps the corner pixel centres onto each other
// (src = dst*(in-1)/(out-1)); otherwise pixel areas line up
// (src = (dst+0.5)*in/out - 0.5, clamped at 0). Neighbours clamp at the edge.
func opsTestBilinearRef(src []float32, c, inH, inW, outH, outW int, align bool) []float32 {
	pos := func(d, in, out int) (int, int, float64) {
		var s float64
		if align {
			if out > 1 {
				s = float64(d) * float64(in-1) / float64(out-1)
			}
		} else {
			s = math.Max((float64(d)+0.5)*float64(in)/float64(out)-0.5, 0)
		}
		i0 := int(math.Floor(s))
		return i0, min(i0+1, in-1), s - float64(i0)
	}
	out := make([]float32, outH*outW*c)
	for oh := 0; oh < outH; oh++ {
		h0, h1, lh := pos(oh, inH, outH)
		for ow := 0; ow < outW; ow++ {
			w0, w1, lw := pos(ow, inW, outW)
			for ch := 0; ch < c; ch++ {
				at := func(h, w int) float64 { return float64(src[(h*inW+w)*c+ch]) }
				top := (1-lw)*at(h0, w0) + lw*at(h0, w1)
				bot := (1-lw)*at(h1, w0) + lw*at(h1, w1)
				out[(oh*outW+ow)*c+ch] = float32((1-lh)*top + lh*bot)
			}
		}
	}
	return out
}

func TestUpsampleBilinearHand(t *testing.T) {
	// 2×2 → 4×4 of [[1 2] [3 4]].
	//
	// align_corners=false: src = (d+0.5)/2 - 0.5 = 0.5d - 0.25, clamped at 0:
	// d = 0,1,2,3 → 0, 0.25, 0.75, 1.25 (which clamps to pixel 1). So along
	// an axis the weights are x0, .75x0+.25x1, .25x0+.75x1, x1; row [1 2]
	// becomes [1 1.25 1.75 2], row [3 4] becomes [3 3.25 3.75 4], and the
	// rows mix the same way.
	src := []float32{1, 2, 3, 4}
	dst := make([]float32, 16)
	UpsampleBilinear(dst, src, 1, 2, 2, 4, 4, false)
	opsTestClose(t, "bilinear align_corners=false", dst, []float32{
		1, 1.25, 1.75, 2,
		1.5, 1.75, 2.25, 2.5,
		2.5, 2.75, 3.25, 3.5,
		3, 3.25, 3.75, 4,
	}, 1e-7)
	// align_corners=true: src = d*(2-1)/(4-1) = d/3: 0, 1/3, 2/3, 1. Row [1 2]
	// becomes [1 4/3 5/3 2], row [3 4] becomes [3 10/3 11/3 4]; row 1 is
	// 2/3 of the first plus 1/3 of the second, row 2 the reverse.
	UpsampleBilinear(dst, src, 1, 2, 2, 4, 4, true)
	opsTestClose(t, "bilinear align_corners=true", dst, []float32{
		1, 4.0 / 3, 5.0 / 3, 2,
		5.0 / 3, 2, 7.0 / 3, 8.0 / 3,
		7.0 / 3, 8.0 / 3, 3, 10.0 / 3,
		3, 10.0 / 3, 11.0 / 3, 4,
	}, 1e-6)
}

// Expected values from torch 1.13 (python3, x = opsTestInput(3, 5) as there),
// printed NCHW with "%.9g".
func TestUpsampleTorch(t *testing.T) {
	src := opsTestInput(3, 5)
	dst := make([]float32, 2*7*4)
	// F.interpolate(x, size=(7, 4), mode="bilinear", align_corners=False)
	UpsampleBilinear(dst, src, 2, 3, 5, 7, 4, false)
	opsTestClose(t, "bilinear 3x5→7x4 align_corners=false", dst, opsTestToNHWC([]float32{0.125, 1.375, 2.625, 3.875, 0.839285731, 2.08928585, 3.33928585, 4.58928585, 2.98214293, 4.23214293, 5.48214293, 6.73214293, 5.125, 6.375, 7.625, 8.875, 7.26785707, 8.51785755, 9.76785755, 11.0178576, 9.41071415, 10.6607141, 11.9107141, 13.1607141, 10.125, 11.375, 12.625, 13.875, -4.125, 0.5, 2.375, 1.5, -3.83928585, 0.785714269, 1.67857146, 1.58928573, -2.98214269, 1.64285719, -0.410714388, 1.85714281, -2.125, 2.5, -2.5, 2.125, -1.85714281, 0.410714149, -1.64285707, 2.98214293, -1.58928573, -1.67857158, -0.785714269, 3.83928585, -1.5, -2.375, -0.5, 4.125}, 2, 7, 4), 1e-6)
	// F.interpolate(x, size=(7, 4), mode="bilinear", align_corners=True)
	UpsampleBilinear(dst, src, 2, 3, 5, 7, 4, true)
	opsTestClose(t, "bilinear 3x5→7x4 align_corners=true", dst, opsTestToNHWC([]float32{0, 1.33333337, 2.66666675, 4, 1.66666675, 3, 4.33333349, 5.66666651, 3.33333349, 4.66666698, 6.00000048, 7.33333302, 5.00000048, 6.33333349, 7.66666746, 9, 6.66666698, 8, 9.33333397, 10.666667, 8.33333397, 9.66666698, 11.000001, 12.333333, 10, 11.333333, 12.666667, 14, -5, 0.666666508, 2.66666722, 1, -4.33333302, 1.33333313, 0.888889015, 1.66666663, -3.66666651, 1.99999988, -0.888889015, 2.33333325, -3, 2.66666651, -2.66666698, 3.00000024, -2.33333325, 0.888888597, -2.00000024, 3.66666675, -1.66666651, -0.888889313, -1.33333349, 4.33333349, -1, -2.66666651, -0.666666985, 5}, 2, 7, 4), 1e-6)
	// F.interpolate(x, size=(7, 4), mode="nearest")
	UpsampleNearest(dst, src, 2, 3, 5, 7, 4)
	opsTestClose(t, "nearest 3x5→7x4", dst, opsTestToNHWC([]float32{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 5, 6, 7, 8, 5, 6, 7, 8, 10, 11, 12, 13, 10, 11, 12, 13, -5, 2, -2, 5, -5, 2, -2, 5, -5, 2, -2, 5, -3, 4, 0, -4, -3, 4, 0, -4, -1, -5, 2, -2, -1, -5, 2, -2}, 2, 7, 4), 0)
	// F.interpolate(torch.arange(11.).reshape(1,1,1,11), size=(1,3), mode="nearest") → [0, 3, 7]
	// F.interpolate(torch.arange(3.).reshape(1,1,1,3), size=(1,11), mode="nearest") → [0,0,0,0,1,1,1,1,2,2,2]
	ramp := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(i)
		}
		return s
	}
	d3 := make([]float32, 3)
	UpsampleNearest(d3, ramp(11), 1, 1, 11, 1, 3)
	opsTestClose(t, "nearest 11→3", d3, []float32{0, 3, 7}, 0)
	d11 := make([]float32, 11)
	UpsampleNearest(d11, ramp(3), 1, 1, 3, 1, 11)
	opsTestClose(t, "nearest 3→11", d11, []float32{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2}, 0)
}

func TestUpsampleBilinearRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for iter := 0; iter < 200; iter++ {
		c, inH, inW := 1+r.IntN(5), 1+r.IntN(8), 1+r.IntN(8)
		outH, outW := 1+r.IntN(20), 1+r.IntN(20)
		align := r.IntN(2) == 0
		src := opsTestRand(r, inH*inW*c)
		dst := make([]float32, outH*outW*c)
		UpsampleBilinear(dst, src, c, inH, inW, outH, outW, align)
		want := opsTestBilinearRef(src, c, inH, inW, outH, outW, align)
		opsTestClose(t, fmt.Sprintf("bilinear %dx%d→%dx%d align=%v", inH, inW, outH, outW, align), dst, want, 1e-5)
	}
}

// For the integer scale factors a spec can give, PyTorch's float32 nearest
// index is exactly floor(dst*in/out).
func TestNearestIndexIntegerScales(t *testing.T) {
	for in := 1; in <= 300; in++ {
		for s := 1; s <= 16; s++ {
			out := in * s
			for d := 0; d < out; d++ {
				if got, want := opsNearestIndex(d, in, out), d*in/out; got != want {
					t.Fatalf("in=%d out=%d dst=%d: index %d, want %d", in, out, d, got, want)
				}
			}
		}
	}
}

func TestShortcutA(t *testing.T) {
	// 3×3×2 → stride 2 → 2×2×4 (one zero channel each side). Pixel (h, w)
	// channel ch holds 100h + 10w + ch.
	inC, inH, inW := 2, 3, 3
	src := make([]float32, inH*inW*inC)
	for h := 0; h < inH; h++ {
		for w := 0; w < inW; w++ {
			for ch := 0; ch < inC; ch++ {
				src[(h*inW+w)*inC+ch] = float32(100*h + 10*w + ch)
			}
		}
	}
	dst := make([]float32, 2*2*4)
	for i := range dst {
		dst[i] = -1 // must be overwritten, zeros included
	}
	ShortcutA(dst, src, 2, 3, 3, 4, 2, 2, 2)
	opsTestClose(t, "ShortcutA", dst, []float32{
		0, 0, 1, 0, 0, 20, 21, 0,
		0, 200, 201, 0, 0, 220, 221, 0,
	}, 0)
}

func TestOpsDoNotAllocate(t *testing.T) {
	src := make([]float32, 8*8*16)
	dst := make([]float32, 16*16*16)
	sc, sh := make([]float32, 16), make([]float32, 16)
	pc := PoolConfig{C: 16, InH: 8, InW: 8, OutH: 4, OutW: 4, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	ops := map[string]func(){
		"Affine":           func() { Affine(src, src, 16, sc, sh, ActReLU) },
		"Add":              func() { Add(src, src, src, ActReLU) },
		"ReLU":             func() { ReLU(src, src) },
		"Sigmoid":          func() { Sigmoid(src, src) },
		"Softmax":          func() { Softmax(src, src, 16) },
		"MaxPool2D":        func() { MaxPool2D(dst, src, pc) },
		"AvgPool2D":        func() { AvgPool2D(dst, src, pc) },
		"GlobalAvgPool":    func() { GlobalAvgPool(dst, src, 64, 16) },
		"Concat":           func() { Concat(dst, 64, ConcatPart{src, 8}, ConcatPart{src, 8}) },
		"UpsampleNearest":  func() { UpsampleNearest(dst, src, 16, 8, 8, 16, 16) },
		"UpsampleBilinear": func() { UpsampleBilinear(dst, src, 16, 8, 8, 16, 16, false) },
		"ShortcutA":        func() { ShortcutA(dst, src, 16, 8, 8, 32, 4, 4, 2) },
		"Flatten":          func() { Flatten(dst, src, 8, 8, 16) },
		"NCHWToNHWC":       func() { NCHWToNHWC(dst, src, 16, 8, 8) },
	}
	for name, f := range ops {
		if n := testing.AllocsPerRun(10, f); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}

func TestOpsPanicOnBadSizes(t *testing.T) {
	for name, f := range map[string]func(){
		"Affine": func() {
			Affine(make([]float32, 4), make([]float32, 5), 2, make([]float32, 2), make([]float32, 2), ActNone)
		},
		"Add":     func() { Add(make([]float32, 4), make([]float32, 4), make([]float32, 3), ActNone) },
		"Softmax": func() { Softmax(make([]float32, 4), make([]float32, 4), 0) },
		"MaxPool2D": func() {
			MaxPool2D(nil, nil, PoolConfig{C: 1, InH: 1, InW: 1, OutH: 1, OutW: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1})
		},
		"ShortcutA": func() { ShortcutA(make([]float32, 100), make([]float32, 100), 2, 2, 2, 5, 1, 1, 2) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with bad sizes did not panic", name)
				}
			}()
			f()
		}()
	}
}

func BenchmarkAffineReLU(b *testing.B) {
	const c, hw = 64, 56 * 56
	src := make([]float32, c*hw)
	sc, sh := make([]float32, c), make([]float32, c)
	b.SetBytes(int64(8 * len(src)))
	for b.Loop() {
		Affine(src, src, c, sc, sh, ActReLU)
	}
}

// BenchmarkAddReLU runs on sums of random sign, as a residual block's are
// (zeros would make a branch on the sign free).
func BenchmarkAddReLU(b *testing.B) {
	n := 64 * 56 * 56
	r := rand.New(rand.NewPCG(5, 6))
	x, y := opsTestRand(r, n), opsTestRand(r, n)
	dst := make([]float32, n)
	b.SetBytes(int64(12 * n))
	for b.Loop() {
		Add(dst, x, y, ActReLU)
	}
}

func BenchmarkMaxPool3x3s2(b *testing.B) {
	cfg := PoolConfig{C: 64, InH: 112, InW: 112, OutH: 56, OutW: 56, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	src := make([]float32, 112*112*64)
	dst := make([]float32, 56*56*64)
	b.SetBytes(int64(4 * len(src)))
	for b.Loop() {
		MaxPool2D(dst, src, cfg)
	}
}

func BenchmarkNCHWToNHWC(b *testing.B) {
	src := make([]float32, 3*224*224)
	dst := make([]float32, len(src))
	b.SetBytes(int64(8 * len(src)))
	for b.Loop() {
		NCHWToNHWC(dst, src, 3, 224, 224)
	}
}

// opsTestPaths runs f once with the assembly loops (where this build has
// them) and once with the Go loops.
func opsTestPaths(t *testing.T, f func(t *testing.T)) {
	old := opsAVX2
	defer func() { opsAVX2 = old }()
	for _, asm := range []bool{true, false} {
		if asm && !old {
			continue
		}
		opsAVX2 = asm
		t.Run(map[bool]string{true: "asm", false: "go"}[asm], f)
	}
}

// TestMaxPoolChannels covers channel counts the vector loop handles (blocks
// of 32 and of 8), with NaNs and infinities in some inputs.
func TestMaxPoolChannels(t *testing.T) {
	opsTestPaths(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for iter := 0; iter < 300; iter++ {
			cfg := PoolConfig{C: []int{8, 16, 24, 32, 40, 64, 72, 5}[r.IntN(8)], InH: 1 + r.IntN(12), InW: 1 + r.IntN(12),
				KH: 1 + r.IntN(4), KW: 1 + r.IntN(4), StrideH: 1 + r.IntN(3), StrideW: 1 + r.IntN(3)}
			cfg.PadH, cfg.PadW = r.IntN(cfg.KH/2+1), r.IntN(cfg.KW/2+1)
			if cfg.InH+2*cfg.PadH < cfg.KH || cfg.InW+2*cfg.PadW < cfg.KW {
				continue
			}
			ceil := r.IntN(2) == 0
			cfg.OutH = opsTestPoolOut(cfg.InH, cfg.KH, cfg.StrideH, cfg.PadH, ceil)
			cfg.OutW = opsTestPoolOut(cfg.InW, cfg.KW, cfg.StrideW, cfg.PadW, ceil)
			src := opsTestRand(r, cfg.InH*cfg.InW*cfg.C)
			if iter%3 == 0 {
				for range 3 {
					src[r.IntN(len(src))] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[r.IntN(3)]
				}
			}
			dst := make([]float32, cfg.OutH*cfg.OutW*cfg.C)
			MaxPool2D(dst, src, cfg)
			opsTestClose(t, fmt.Sprintf("MaxPool2D %+v", cfg), dst, opsTestPoolRef(src, cfg, true), 0)

			// The same input as C channels of a wider map: the same bits.
			wide, pcfg := opsTestPitched(r, src, cfg)
			pdst := make([]float32, len(dst))
			MaxPool2D(pdst, wide, pcfg)
			opsParSame(t, fmt.Sprintf("MaxPool2D %+v", pcfg), pdst, dst)
		}
	})
}

// opsTestPitched returns src (pixels of cfg.C channels) as channels
// [off, off+C) of a map of cfg.C+extra channels of random values, sliced
// from its first value as a pitched pool input, and cfg with InPitch set.
func opsTestPitched(r *rand.Rand, src []float32, cfg PoolConfig) ([]float32, PoolConfig) {
	extra := 1 + r.IntN(9)
	off := r.IntN(extra + 1)
	pitch := cfg.C + extra
	px := cfg.InH * cfg.InW
	wide := opsTestRand(r, px*pitch)
	for q := range px {
		copy(wide[q*pitch+off:], src[q*cfg.C:(q+1)*cfg.C])
	}
	cfg.InPitch = pitch
	return wide[off : (px-1)*pitch+off+cfg.C], cfg
}

func TestMaxPoolNaNVector(t *testing.T) {
	opsTestPaths(t, func(t *testing.T) {
		// A NaN first, last or in the middle of a window, in every lane.
		for pos := range 3 {
			cfg := PoolConfig{C: 40, InH: 1, InW: 3, OutH: 1, OutW: 1, KH: 1, KW: 3, StrideH: 1, StrideW: 1}
			src := make([]float32, 3*40)
			for i := range src {
				src[i] = float32(i % 7)
			}
			for ch := range 40 {
				src[pos*40+ch] = float32(math.NaN())
			}
			dst := make([]float32, 40)
			MaxPool2D(dst, src, cfg)
			for ch, v := range dst {
				if !math.IsNaN(float64(v)) {
					t.Fatalf("NaN at window pixel %d: channel %d = %v, want NaN", pos, ch, v)
				}
			}
		}
	})
}
