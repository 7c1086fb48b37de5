package runtime

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/resgen/resgen/internal/trainref"
)

// Each training kernel is tested three ways: its float64 reference's
// backward against finite differences of the reference's forward
// (gradcheck), the reference's float32 forward against the inference kernel
// it mirrors (so the gradcheck is of the op the network runs), and the fast
// float32 kernel against the float32 reference, bitwise where both do the
// same operations in the same order and within a few ulps of the operands'
// magnitude where the kernel sums in another order (BatchNorm,
// SoftmaxCrossEntropy). A few hand cases check the formulas of PyTorch's
// documentation (running statistics, SGD, cross entropy).

func trainRand(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func to64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

func clone32(s []float32) []float32 { return append([]float32(nil), s...) }

// trainSame fails unless got and want are bitwise equal (any NaN matches NaN).
func trainSame(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, g, w)
		}
	}
}

// ulp32 is the spacing of float32 values at |x|.
func ulp32(x float64) float64 {
	a := float32(math.Abs(x))
	if a == 0 || a < math.SmallestNonzeroFloat32*(1<<23) {
		return math.SmallestNonzeroFloat32
	}
	return float64(math.Nextafter32(a, float32(math.Inf(1))) - a)
}

// trainNear fails unless |got−want| ≤ ulps·ulp32(mag) for every element,
// where mag (at least |want|) is the magnitude of the terms that were summed.
func trainNear(t *testing.T, what string, got, want []float32, mag []float64, ulps float64) {
	t.Helper()
	for i, w := range want {
		m := math.Abs(float64(w))
		if mag != nil {
			m = max(m, mag[i])
		}
		d := math.Abs(float64(got[i])-float64(w)) / ulp32(m)
		if !(d <= ulps) {
			t.Fatalf("%s: [%d] = %v, want %v (%.1f ulps of %g)", what, i, got[i], w, d, m)
		}
	}
}

// trainDX returns dx for a kernel call: a copy of init for acc, or NaNs
// that a kernel must overwrite.
func trainDX(init []float32, acc bool) []float32 {
	if acc {
		return clone32(init)
	}
	d := make([]float32, len(init))
	for i := range d {
		d[i] = float32(math.NaN())
	}
	return d
}

// awayFrom0 moves every value at least gap away from 0, so no finite
// difference crosses a ReLU's kink.
func awayFrom0(x []float64, gap float64) []float64 {
	for i, v := range x {
		x[i] = math.Copysign(gap+math.Abs(v), v)
	}
	return x
}

// distinct returns n values in random order, 0.05 apart: a max pool over
// them has no ties within a finite difference.
func distinct(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float64, n)
	for i, j := range r.Perm(n) {
		x[i] = 0.05*float64(j) - 0.025*float64(n)
	}
	return x
}

func TestTrainElementwise(t *testing.T) {
	type op struct {
		name string
		fwd  func(dst, src []float64)
		ref  func(dx, dy, y []float64)
		bwd  func(dx, dy, y []float32, acc bool)
		ref3 func(dx, dy, y []float32, acc bool)
		y32  func(y, x []float32)
	}
	const c = 5
	ops := []op{
		{"ReLU", trainref.ReLU[float64], func(dx, dy, y []float64) { trainref.ReLUBackward(dx, dy, y, false) },
			ReLUBackward, trainref.ReLUBackward[float32], ReLU},
		{"Sigmoid", trainref.Sigmoid[float64], func(dx, dy, y []float64) { trainref.SigmoidBackward(dx, dy, y, false) },
			SigmoidBackward, trainref.SigmoidBackward[float32], Sigmoid},
		{"Softmax", func(d, s []float64) { trainref.Softmax(d, s, c) }, func(dx, dy, y []float64) { trainref.SoftmaxBackward(dx, dy, y, c, false) },
			func(dx, dy, y []float32, acc bool) { SoftmaxBackward(dx, dy, y, c, acc) },
			func(dx, dy, y []float32, acc bool) { trainref.SoftmaxBackward(dx, dy, y, c, acc) },
			func(y, x []float32) { Softmax(y, x, c) }},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			x := awayFrom0(gradRandom(1, 4*c, -2, 2), 0.01)
			gradcheck(t, 2, []gradInput{{"x", x}}, len(x),
				func(y []float64, x [][]float64) { o.fwd(y, x[0]) },
				func(dx [][]float64, dy []float64, x [][]float64) {
					y := make([]float64, len(x[0]))
					o.fwd(y, x[0])
					o.ref(dx[0], dy, y)
				})
			// The float32 reference's forward is the inference kernel.
			r := rand.New(rand.NewPCG(3, 4))
			xs := trainRand(r, 40*c)
			want, got := make([]float32, len(xs)), make([]float32, len(xs))
			for i := range xs {
				want[i] = float32(xs[i])
			}
			o.y32(got, xs)
			if o.name == "ReLU" {
				trainref.ReLU(want, xs)
			} else if o.name == "Sigmoid" {
				trainref.Sigmoid(want, xs)
			} else {
				trainref.Softmax(want, xs, c)
			}
			trainNear(t, "forward", got, want, nil, 1)
			opsTestPaths(t, func(t *testing.T) {
				for _, n := range []int{c, 3 * c, 8 * c, 41 * c} {
					for _, acc := range []bool{false, true} {
						x, dy, init := trainRand(r, n), trainRand(r, n), trainRand(r, n)
						x[0] = 0 // a ReLU's kink: no gradient
						x[1] = float32(math.NaN())
						y := make([]float32, n)
						o.y32(y, x)
						want, got := trainDX(init, acc), trainDX(init, acc)
						o.ref3(want, dy, y, acc)
						o.bwd(got, dy, y, acc)
						trainSame(t, fmt.Sprintf("n=%d acc=%v", n, acc), got, want)
					}
				}
			})
		})
	}
}

func TestReLUBackwardAtZero(t *testing.T) {
	dx := []float32{9, 9, 9, 9}
	ReLUBackward(dx, []float32{1, 2, 3, 4}, []float32{0, float32(math.Copysign(0, -1)), 1, float32(math.NaN())}, false)
	trainSame(t, "dx", dx, []float32{0, 0, 3, 0})
}

// poolOut is PyTorch's pooling output size.
func poolOut(in, k, s, p int, ceil bool) int {
	num := in + 2*p - k
	if ceil {
		o := (num+s-1)/s + 1
		if (o-1)*s >= in+p { // the last window must start inside the input or left padding
			o--
		}
		return o
	}
	return num/s + 1
}

func poolConfigs() []PoolConfig {
	var cfgs []PoolConfig
	for _, s := range []struct {
		c, h, w, k, st, p int
		ceil              bool
	}{
		{3, 7, 7, 3, 2, 1, false}, // ResNet's stem pool
		{2, 6, 5, 2, 2, 0, false},
		{4, 7, 6, 2, 2, 0, true}, // ceil_mode: the last window hangs over
		{1, 5, 5, 3, 1, 1, false},
		{5, 8, 9, 3, 2, 1, true},
		{3, 4, 3, 1, 1, 0, false},
		{8, 7, 7, 3, 2, 1, false}, // whole groups of 8 channels (the assembly)
		{16, 6, 5, 2, 2, 0, true},
		{72, 5, 4, 3, 2, 1, false}, // a block of 64 and one of 8
	} {
		cfgs = append(cfgs, PoolConfig{C: s.c, InH: s.h, InW: s.w,
			OutH: poolOut(s.h, s.k, s.st, s.p, s.ceil), OutW: poolOut(s.w, s.k, s.st, s.p, s.ceil),
			KH: s.k, KW: s.k, StrideH: s.st, StrideW: s.st, PadH: s.p, PadW: s.p})
	}
	return cfgs
}

func TestMaxPool2DBackward(t *testing.T) {
	for ci, cfg := range poolConfigs() {
		t.Run(fmt.Sprintf("%d", ci), func(t *testing.T) {
			in, out := cfg.InH*cfg.InW*cfg.C, cfg.OutH*cfg.OutW*cfg.C
			rcfg := trainref.PoolConfig(cfg)
			const n = 2
			gradcheck(t, uint64(ci), []gradInput{{"x", distinct(uint64(ci), n*in)}}, n*out,
				func(y []float64, x [][]float64) { trainref.MaxPool(y, x[0], rcfg, n) },
				func(dx [][]float64, dy []float64, x [][]float64) {
					trainref.MaxPoolBackward(dx[0], dy, x[0], rcfg, n, false)
				})
			r := rand.New(rand.NewPCG(uint64(ci), 9))
			for _, n := range []int{1, 3} {
				// Small integers: many ties, which must go to the first maximum.
				src := make([]float32, n*in)
				for i := range src {
					src[i] = float32(r.IntN(3))
				}
				for item := range n {
					want, got := make([]float32, out), make([]float32, out)
					trainref.MaxPool(want, src[item*in:(item+1)*in], rcfg, 1)
					MaxPool2D(got, src[item*in:(item+1)*in], cfg)
					trainSame(t, "forward", got, want)
				}
				src[len(src)/2] = float32(math.NaN())
				opsTestPaths(t, func(t *testing.T) {
					for _, acc := range []bool{false, true} {
						dy, init := trainRand(r, n*out), trainRand(r, n*in)
						want, got := trainDX(init, acc), trainDX(init, acc)
						trainref.MaxPoolBackward(want, dy, src, rcfg, n, acc)
						MaxPool2DBackward(got, dy, src, cfg, n, acc)
						trainSame(t, fmt.Sprintf("n=%d acc=%v", n, acc), got, want)
					}
				})
			}
		})
	}
}

// TestMaxPool2DBackwardFirst checks the routing rules on one window by hand.
func TestMaxPool2DBackwardFirst(t *testing.T) {
	cfg := PoolConfig{C: 1, InH: 2, InW: 3, OutH: 1, OutW: 2, KH: 2, KW: 2, StrideH: 1, StrideW: 1}
	dx := make([]float32, 6)
	// The input is 1 5 5 / 5 −1 5. Window 0 holds three 5s, window 1
	// three too: in both the first in row order, (0,1), wins.
	MaxPool2DBackward(dx, []float32{10, 100}, []float32{1, 5, 5, 5, -1, 5}, cfg, 1, false)
	trainSame(t, "dx", dx, []float32{0, 110, 0, 0, 0, 0})
	// Padding never wins, even over -Inf.
	cfg = PoolConfig{C: 1, InH: 1, InW: 1, OutH: 1, OutW: 1, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	dx = []float32{7}
	MaxPool2DBackward(dx, []float32{3}, []float32{float32(math.Inf(-1))}, cfg, 1, true)
	trainSame(t, "dx", dx, []float32{10})
}

func TestAvgPool2DBackward(t *testing.T) {
	for ci, base := range poolConfigs() {
		for _, inc := range []bool{false, true} {
			cfg := base
			cfg.CountIncludePad = inc
			t.Run(fmt.Sprintf("%d/include=%v", ci, inc), func(t *testing.T) {
				in, out := cfg.InH*cfg.InW*cfg.C, cfg.OutH*cfg.OutW*cfg.C
				rcfg := trainref.PoolConfig(cfg)
				const n = 2
				gradcheck(t, uint64(ci), []gradInput{{"x", gradRandom(uint64(ci), n*in, -1, 1)}}, n*out,
					func(y []float64, x [][]float64) { trainref.AvgPool(y, x[0], rcfg, n) },
					func(dx [][]float64, dy []float64, x [][]float64) { trainref.AvgPoolBackward(dx[0], dy, rcfg, n, false) })
				r := rand.New(rand.NewPCG(uint64(ci), 10))
				for _, n := range []int{1, 3} {
					src := trainRand(r, n*in)
					for item := range n {
						want, got := make([]float32, out), make([]float32, out)
						trainref.AvgPool(want, src[item*in:(item+1)*in], rcfg, 1)
						AvgPool2D(got, src[item*in:(item+1)*in], cfg)
						trainSame(t, "forward", got, want)
					}
					for _, acc := range []bool{false, true} {
						dy, init := trainRand(r, n*out), trainRand(r, n*in)
						want, got := trainDX(init, acc), trainDX(init, acc)
						trainref.AvgPoolBackward(want, dy, rcfg, n, acc)
						AvgPool2DBackward(got, dy, cfg, n, acc)
						trainSame(t, fmt.Sprintf("n=%d acc=%v", n, acc), got, want)
					}
				}
			})
		}
	}
}

func TestGlobalAvgPoolBackward(t *testing.T) {
	gradcheck(t, 1, []gradInput{{"x", gradRandom(1, 2*6*3, -1, 1)}}, 2*3,
		func(y []float64, x [][]float64) { trainref.GlobalAvgPool(y, x[0], 2, 6, 3) },
		func(dx [][]float64, dy []float64, x [][]float64) {
			trainref.GlobalAvgPoolBackward(dx[0], dy, 2, 6, 3, false)
		})
	r := rand.New(rand.NewPCG(1, 11))
	for _, s := range [][3]int{{1, 1, 1}, {3, 49, 5}, {2, 7, 67}} {
		n, hw, c := s[0], s[1], s[2]
		src := trainRand(r, n*hw*c)
		for item := range n {
			want, got := make([]float32, c), make([]float32, c)
			trainref.GlobalAvgPool(want, src[item*hw*c:(item+1)*hw*c], 1, hw, c)
			GlobalAvgPool(got, src[item*hw*c:(item+1)*hw*c], hw, c)
			trainSame(t, "forward", got, want)
		}
		for _, acc := range []bool{false, true} {
			dy, init := trainRand(r, n*c), trainRand(r, n*hw*c)
			want, got := trainDX(init, acc), trainDX(init, acc)
			trainref.GlobalAvgPoolBackward(want, dy, n, hw, c, acc)
			GlobalAvgPoolBackward(got, dy, n, hw, c, acc)
			trainSame(t, fmt.Sprintf("%v acc=%v", s, acc), got, want)
		}
	}
}

func TestFlattenBackward(t *testing.T) {
	gradcheck(t, 1, []gradInput{{"x", gradRandom(1, 2*2*3*4, -1, 1)}}, 2*2*3*4,
		func(y []float64, x [][]float64) { trainref.Flatten(y, x[0], 2, 2, 3, 4) },
		func(dx [][]float64, dy []float64, x [][]float64) {
			trainref.FlattenBackward(dx[0], dy, 2, 2, 3, 4, false)
		})
	r := rand.New(rand.NewPCG(1, 12))
	for _, s := range [][4]int{{1, 1, 1, 7}, {3, 5, 3, 4}, {2, 7, 7, 33}} {
		n, h, w, c := s[0], s[1], s[2], s[3]
		size := h * w * c
		src := trainRand(r, n*size)
		for item := range n {
			want, got := make([]float32, size), make([]float32, size)
			trainref.Flatten(want, src[item*size:(item+1)*size], 1, h, w, c)
			Flatten(got, src[item*size:(item+1)*size], h, w, c)
			trainSame(t, "forward", got, want)
		}
		for _, acc := range []bool{false, true} {
			dy, init := trainRand(r, n*size), trainRand(r, n*size)
			want, got := trainDX(init, acc), trainDX(init, acc)
			trainref.FlattenBackward(want, dy, n, h, w, c, acc)
			FlattenBackward(got, dy, n, h, w, c, acc)
			trainSame(t, fmt.Sprintf("%v acc=%v", s, acc), got, want)
		}
	}
}

func TestConcatBackward(t *testing.T) {
	cs := []int{1, 3, 4}
	const px = 6
	in := make([]gradInput, len(cs))
	for i, c := range cs {
		in[i] = gradInput{fmt.Sprintf("part%d", i), gradRandom(uint64(i), px*c, -1, 1)}
	}
	gradcheck(t, 1, in, px*8,
		func(y []float64, x [][]float64) { trainref.Concat(y, px, x, cs) },
		func(dx [][]float64, dy []float64, x [][]float64) { trainref.ConcatBackward(dx, dy, px, cs, false) })
	r := rand.New(rand.NewPCG(1, 13))
	for _, s := range [][2]int{{1, 1}, {3, 25}} {
		n, hw := s[0], s[1]
		px := n * hw
		src := [][]float32{trainRand(r, px*1), trainRand(r, px*3), trainRand(r, px*4)}
		for item := range n {
			want, got := make([]float32, hw*8), make([]float32, hw*8)
			var parts []ConcatPart
			var items [][]float32
			for i, c := range cs {
				items = append(items, src[i][item*hw*c:(item+1)*hw*c])
				parts = append(parts, ConcatPart{items[i], c})
			}
			trainref.Concat(want, hw, items, cs)
			Concat(got, hw, parts...)
			trainSame(t, "forward", got, want)
		}
		for _, acc := range []bool{false, true} {
			dy := trainRand(r, px*8)
			var want, got [][]float32
			var parts []ConcatPart
			for _, c := range cs {
				init := trainRand(r, px*c)
				want = append(want, trainDX(init, acc))
				got = append(got, trainDX(init, acc))
				parts = append(parts, ConcatPart{got[len(got)-1], c})
			}
			trainref.ConcatBackward(want, dy, px, cs, acc)
			ConcatBackward(dy, n, hw, acc, parts...)
			for i := range cs {
				trainSame(t, fmt.Sprintf("%v acc=%v part %d", s, acc, i), got[i], want[i])
			}
		}
	}
}

var upsampleShapes = [][4]int{{3, 3, 6, 6}, {2, 3, 6, 9}, {4, 5, 7, 11}, {5, 5, 5, 5}, {1, 2, 4, 5}, {6, 4, 3, 2}}

func TestUpsampleNearestBackward(t *testing.T) {
	for _, s := range upsampleShapes {
		inH, inW, outH, outW := s[0], s[1], s[2], s[3]
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			const n, c = 2, 2
			gradcheck(t, 1, []gradInput{{"x", gradRandom(1, n*inH*inW*c, -1, 1)}}, n*outH*outW*c,
				func(y []float64, x [][]float64) { trainref.UpsampleNearest(y, x[0], n, c, inH, inW, outH, outW) },
				func(dx [][]float64, dy []float64, x [][]float64) {
					trainref.UpsampleNearestBackward(dx[0], dy, n, c, inH, inW, outH, outW, false)
				})
			r := rand.New(rand.NewPCG(1, 14))
			for _, n := range []int{1, 3} {
				for _, c := range []int{1, 5} {
					in, out := inH*inW*c, outH*outW*c
					src := trainRand(r, n*in)
					for item := range n {
						want, got := make([]float32, out), make([]float32, out)
						trainref.UpsampleNearest(want, src[item*in:(item+1)*in], 1, c, inH, inW, outH, outW)
						UpsampleNearest(got, src[item*in:(item+1)*in], c, inH, inW, outH, outW)
						trainSame(t, "forward", got, want)
					}
					for _, acc := range []bool{false, true} {
						dy, init := trainRand(r, n*out), trainRand(r, n*in)
						want, got := trainDX(init, acc), trainDX(init, acc)
						trainref.UpsampleNearestBackward(want, dy, n, c, inH, inW, outH, outW, acc)
						UpsampleNearestBackward(got, dy, n, c, inH, inW, outH, outW, acc)
						trainSame(t, fmt.Sprintf("n=%d c=%d acc=%v", n, c, acc), got, want)
					}
				}
			}
		})
	}
}

func TestUpsampleBilinearBackward(t *testing.T) {
	for _, s := range upsampleShapes {
		for _, align := range []bool{false, true} {
			inH, inW, outH, outW := s[0], s[1], s[2], s[3]
			t.Run(fmt.Sprintf("%v/align=%v", s, align), func(t *testing.T) {
				const n, c = 2, 2
				gradcheck(t, 1, []gradInput{{"x", gradRandom(1, n*inH*inW*c, -1, 1)}}, n*outH*outW*c,
					func(y []float64, x [][]float64) {
						trainref.UpsampleBilinear(y, x[0], n, c, inH, inW, outH, outW, align)
					},
					func(dx [][]float64, dy []float64, x [][]float64) {
						trainref.UpsampleBilinearBackward(dx[0], dy, n, c, inH, inW, outH, outW, align, false)
					})
				r := rand.New(rand.NewPCG(1, 15))
				for _, n := range []int{1, 3} {
					for _, c := range []int{1, 5} {
						in, out := inH*inW*c, outH*outW*c
						src := trainRand(r, n*in)
						for item := range n {
							want, got := make([]float32, out), make([]float32, out)
							trainref.UpsampleBilinear(want, src[item*in:(item+1)*in], 1, c, inH, inW, outH, outW, align)
							UpsampleBilinear(got, src[item*in:(item+1)*in], c, inH, inW, outH, outW, align)
							trainSame(t, "forward", got, want)
						}
						for _, acc := range []bool{false, true} {
							dy, init := trainRand(r, n*out), trainRand(r, n*in)
							want, got := trainDX(init, acc), trainDX(init, acc)
							trainref.UpsampleBilinearBackward(want, dy, n, c, inH, inW, outH, outW, align, acc)
							UpsampleBilinearBackward(got, dy, n, c, inH, inW, outH, outW, align, acc)
							trainSame(t, fmt.Sprintf("n=%d c=%d acc=%v", n, c, acc), got, want)
						}
					}
				}
			})
		}
	}
}

func TestShortcutABackward(t *testing.T) {
	for _, s := range [][5]int{{4, 5, 5, 8, 2}, {2, 6, 7, 6, 2}, {3, 4, 4, 3, 1}, {1, 7, 5, 5, 3}} {
		inC, inH, inW, outC, stride := s[0], s[1], s[2], s[3], s[4]
		outH, outW := (inH+stride-1)/stride, (inW+stride-1)/stride
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			const n = 2
			gradcheck(t, 1, []gradInput{{"x", gradRandom(1, n*inH*inW*inC, -1, 1)}}, n*outH*outW*outC,
				func(y []float64, x [][]float64) {
					trainref.ShortcutA(y, x[0], n, inC, inH, inW, outC, outH, outW, stride)
				},
				func(dx [][]float64, dy []float64, x [][]float64) {
					trainref.ShortcutABackward(dx[0], dy, n, inC, inH, inW, outC, outH, outW, stride, false)
				})
			r := rand.New(rand.NewPCG(1, 16))
			in, out := inH*inW*inC, outH*outW*outC
			for _, n := range []int{1, 3} {
				src := trainRand(r, n*in)
				for item := range n {
					want, got := make([]float32, out), make([]float32, out)
					trainref.ShortcutA(want, src[item*in:(item+1)*in], 1, inC, inH, inW, outC, outH, outW, stride)
					ShortcutA(got, src[item*in:(item+1)*in], inC, inH, inW, outC, outH, outW, stride)
					trainSame(t, "forward", got, want)
				}
				for _, acc := range []bool{false, true} {
					dy, init := trainRand(r, n*out), trainRand(r, n*in)
					want, got := trainDX(init, acc), trainDX(init, acc)
					trainref.ShortcutABackward(want, dy, n, inC, inH, inW, outC, outH, outW, stride, acc)
					ShortcutABackward(got, dy, n, inC, inH, inW, outC, outH, outW, stride, acc)
					trainSame(t, fmt.Sprintf("n=%d acc=%v", n, acc), got, want)
				}
			}
		})
	}
}

func TestAddInto(t *testing.T) {
	dst := []float32{1, 2, 3, 0.1}
	AddInto(dst, []float32{10, -2, 0.5, 0.2})
	trainSame(t, "dst", dst, []float32{11, 0, 3.5, 0.1 + 0.2})
}

func TestFirstNonFinite(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, c := range []struct {
		x    []float32
		want int
	}{
		{nil, -1},
		{[]float32{0, 1, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}, -1},
		{[]float32{0, 1, nan, inf}, 2},
		{[]float32{-inf}, 0},
		{[]float32{1, 2, 3, inf}, 3},
	} {
		if got := FirstNonFinite(c.x); got != c.want {
			t.Errorf("FirstNonFinite(%v) = %d, want %d", c.x, got, c.want)
		}
	}
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	const n, hw, c = 2, 3, 4
	labels := []int32{0, 3, 1, 2, 2, 0}
	gradcheck(t, 1, []gradInput{{"logits", gradRandom(1, n*hw*c, -3, 3)}}, 1,
		func(y []float64, x [][]float64) {
			y[0] = trainref.SoftmaxCrossEntropy(make([]float64, n*hw*c), x[0], labels, c)
		},
		func(dx [][]float64, dy []float64, x [][]float64) {
			trainref.SoftmaxCrossEntropy(dx[0], x[0], labels, c)
			for i := range dx[0] {
				dx[0][i] *= dy[0]
			}
		})

	// -log_softmax([1, 2, 3])[0] and the uniform case, log(c).
	loss, err := SoftmaxCrossEntropy(nil, []float32{1, 2, 3, 0, 0, 0}, []int32{0, 1}, 2, 1, 3)
	want := (math.Log(math.Exp(1)+math.Exp(2)+math.Exp(3)) - 1 + math.Log(3)) / 2
	if err != nil || math.Abs(loss-want) > 1e-15 {
		t.Errorf("loss %v, %v; want %v", loss, err, want)
	}

	r := rand.New(rand.NewPCG(1, 17))
	for _, s := range [][3]int{{1, 1, 10}, {3, 1, 10}, {2, 9, 3}, {3, 5, 1}} {
		n, hw, c := s[0], s[1], s[2]
		logits := trainRand(r, n*hw*c)
		for i := range logits {
			logits[i] *= 5
		}
		logits[0] = 80 // exp would overflow without the max subtracted
		labels := make([]int32, n*hw)
		for i := range labels {
			labels[i] = int32(r.IntN(c))
		}
		want := make([]float32, len(logits))
		wantLoss := trainref.SoftmaxCrossEntropy(want, logits, labels, c)
		got := make([]float32, len(logits))
		loss, err := SoftmaxCrossEntropy(got, logits, labels, n, hw, c)
		if err != nil || math.Abs(loss-wantLoss) > 1e-14*math.Abs(wantLoss) {
			t.Errorf("%v: loss %v, %v; want %v", s, loss, err, wantLoss)
		}
		trainNear(t, fmt.Sprintf("%v: dlogits", s), got, want, nil, 1)
		if l2, err := SoftmaxCrossEntropy(nil, logits, labels, n, hw, c); err != nil || l2 != loss {
			t.Errorf("%v: loss without dlogits %v, %v; want %v", s, l2, err, loss)
		}
	}

	for _, c := range []struct {
		labels []int32
		hw     int
		want   string
	}{
		{[]int32{0, 4}, 1, "label 4 of item 1 is outside [0, 4)"},
		{[]int32{-1, 0}, 1, "label -1 of item 0 is outside [0, 4)"},
		{[]int32{0, 1, 2, 3, 0, 1, 2, 9}, 4, "label 9 of item 1, position 3 is outside [0, 4)"},
	} {
		d := make([]float32, len(c.labels)*4)
		_, err := SoftmaxCrossEntropy(d, make([]float32, len(c.labels)*4), c.labels, len(c.labels)/c.hw, c.hw, 4)
		if err == nil || err.Error() != c.want {
			t.Errorf("labels %v: error %v, want %q", c.labels, err, c.want)
		}
	}
}

func TestSGD(t *testing.T) {
	// torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01), two steps
	// with gradient 0.5, from the update rule in PyTorch's documentation.
	w, buf := []float32{1}, []float32{123}
	SGD(w, []float32{0.5}, buf, 0.1, 0.9, 0.01, true)
	if math.Abs(float64(w[0])-0.949) > 1e-7 || math.Abs(float64(buf[0])-0.51) > 1e-7 {
		t.Errorf("step 1: w %v buf %v, want 0.949 0.51", w[0], buf[0])
	}
	SGD(w, []float32{0.5}, buf, 0.1, 0.9, 0.01, false)
	if math.Abs(float64(w[0])-0.852151) > 1e-7 || math.Abs(float64(buf[0])-0.96849) > 1e-7 {
		t.Errorf("step 2: w %v buf %v, want 0.852151 0.96849", w[0], buf[0])
	}
	// Momentum 0 keeps no buffer.
	w = []float32{1, -2}
	SGD(w, []float32{0.5, 1}, nil, 0.1, 0, 0.5, false)
	trainSame(t, "momentum 0", w, []float32{1 - 0.1*(0.5+0.5), -2 - 0.1*(1-1)})

	r := rand.New(rand.NewPCG(1, 18))
	for _, h := range []struct {
		mom, wd float32
		first   bool
	}{{0.9, 5e-4, true}, {0.9, 5e-4, false}, {0, 1e-4, false}, {0.5, 0, false}} {
		w, g, buf := trainRand(r, 37), trainRand(r, 37), trainRand(r, 37)
		w2, buf2 := clone32(w), clone32(buf)
		SGD(w, g, buf, 0.05, h.mom, h.wd, h.first)
		trainref.SGD(w2, g, buf2, 0.05, h.mom, h.wd, h.first)
		trainSame(t, fmt.Sprintf("%+v w", h), w, w2)
		trainSame(t, fmt.Sprintf("%+v buf", h), buf, buf2)
	}
}

// bnCase is what one BatchNorm run computes.
type bnCase struct {
	y, dx, saveMean, saveInvStd, runMean, runVar, dgamma, dbeta []float32
}

func TestBatchNormTrainGradcheck(t *testing.T) {
	const n, hw, c = 2, 6, 3
	for _, relu := range []bool{false, true} {
		t.Run(fmt.Sprintf("relu=%v", relu), func(t *testing.T) {
			x := gradRandom(1, n*hw*c, -2, 2)
			gamma, beta := gradRandom(2, c, 0.5, 1.5), gradRandom(3, c, -0.5, 0.5)
			fwd := func(y []float64, x [][]float64, relu bool) (mean, invstd []float64) {
				mean, invstd = make([]float64, c), make([]float64, c)
				trainref.BatchNormTrain(y, x[0], n, hw, c, x[1], x[2], mean, invstd, make([]float64, c), make([]float64, c), 0.1, 1e-5, relu)
				return mean, invstd
			}
			// No pre-activation may sit within a finite difference of 0.
			z := make([]float64, n*hw*c)
			fwd(z, [][]float64{x, gamma, beta}, false)
			for i, v := range z {
				if relu && math.Abs(v) < 1e-3 {
					t.Fatalf("pre-activation [%d] = %g: pick another seed", i, v)
				}
			}
			gradcheck(t, 4, []gradInput{{"x", x}, {"gamma", gamma}, {"beta", beta}}, n*hw*c,
				func(y []float64, x [][]float64) { fwd(y, x, relu) },
				func(dx [][]float64, dy []float64, x [][]float64) {
					y := make([]float64, n*hw*c)
					mean, invstd := fwd(y, x, relu)
					trainref.BatchNormTrainBackward(dx[0], dx[1], dx[2], dy, x[0], y, n, hw, c, x[1], mean, invstd, relu, false)
				})
		})
	}
}

// TestBatchNormTrainHand checks the statistics against the formulas of
// PyTorch's BatchNorm2d documentation on one channel of 1, 2, 3, 4.
func TestBatchNormTrainHand(t *testing.T) {
	src := []float32{1, 2, 3, 4}
	dst := make([]float32, 4)
	mean, invstd := make([]float32, 1), make([]float32, 1)
	runMean, runVar := []float32{0.5}, []float32{2}
	BatchNormTrain(nil, dst, src, 2, 2, 1, []float32{2}, []float32{1}, mean, invstd, runMean, runVar, 0.1, 1e-5, ActNone)
	// mean 2.5, biased variance 1.25, unbiased 5/3.
	is := 1 / math.Sqrt(1.25+1e-5)
	check := func(what string, got float32, want float64) {
		t.Helper()
		if math.Abs(float64(got)-want) > 2*ulp32(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("saveMean", mean[0], 2.5)
	check("saveInvStd", invstd[0], is)
	check("running_mean", runMean[0], 0.9*0.5+0.1*2.5)
	check("running_var", runVar[0], 0.9*2+0.1*5.0/3)
	for i, x := range src {
		check(fmt.Sprintf("y[%d]", i), dst[i], (float64(x)-2.5)*is*2+1)
	}
	// dy = 1 everywhere: x̂ sums to 0, so dx = 0, dbeta = 4, dgamma = Σx̂ = 0.
	dx, dg, db := make([]float32, 4), make([]float32, 1), make([]float32, 1)
	BatchNormTrainBackward(nil, dx, dg, db, []float32{1, 1, 1, 1}, src, dst, 2, 2, 1, []float32{2}, mean, invstd, ActNone, false)
	check("dbeta", db[0], 4)
	if math.Abs(float64(dg[0])) > 1e-6 {
		t.Errorf("dgamma = %v, want 0", dg[0])
	}
	for i, v := range dx {
		if math.Abs(float64(v)) > 1e-6 {
			t.Errorf("dx[%d] = %v, want 0", i, v)
		}
	}
}

// bnRun is one way to run the BatchNorm kernels: a pool and a kernel path.
type bnRun struct {
	p   *Pool
	asm bool
}

// bnRuns returns every pool with the assembly loops (if haveAsm) and with
// the Go loops.
func bnRuns(pools []*Pool, haveAsm bool) []bnRun {
	var runs []bnRun
	for _, asm := range []bool{haveAsm, false} {
		for _, p := range pools {
			runs = append(runs, bnRun{p, asm})
		}
		if !haveAsm {
			break
		}
	}
	return runs
}

func TestBatchNormTrain(t *testing.T) {
	pools := []*Pool{nil, NewPool(1), NewPool(2), NewPool(3)}
	old := opsAVX2
	defer func() {
		opsAVX2 = old
		for _, p := range pools {
			p.Close()
		}
	}()
	r := rand.New(rand.NewPCG(1, 19))
	for _, s := range []struct {
		n, hw, c int
		offset   float32
	}{
		{1, 5, 3, 0}, {3, 7, 16, 0}, {2, 49, 67, 0}, {3, 9, 130, 0}, {1, 3, 1, 0},
		{2, 10, 64, 0}, {3, 9, 136, 0}, {1, 2, 8, 0}, // whole groups of 8 channels
		{3, 25, 8, 100},     // mean ≫ std: the shifted sums must not cancel
		{4, 1024, 16, 0},    // over the pool
		{3, 1000, 33, -0.5}, // over the pool, odd channels, a last short chunk
	} {
		for _, act := range []Act{ActNone, ActReLU} {
			for _, acc := range []bool{false, true} {
				name := fmt.Sprintf("%d×%d×%d+%g/%v/acc=%v", s.n, s.hw, s.c, s.offset, act, acc)
				m, c := s.n*s.hw, s.c
				src := trainRand(r, m*c)
				for i := range src {
					src[i] = src[i]*0.7 + s.offset + float32(i%c)*0.1
				}
				gamma, beta := trainRand(r, c), trainRand(r, c)
				runMean, runVar := trainRand(r, c), trainRand(r, c)
				for i := range runVar {
					runVar[i] = 1 + runVar[i]*runVar[i]
				}
				dy, init := trainRand(r, m*c), trainRand(r, m*c)

				// The reference, in float32 with float64 sums.
				relu := act == ActReLU
				want := bnCase{dx: trainDX(init, acc), saveMean: make([]float32, c), saveInvStd: make([]float32, c),
					dgamma: make([]float32, c), dbeta: make([]float32, c),
					runMean: clone32(runMean), runVar: clone32(runVar), y: make([]float32, m*c)}
				trainref.BatchNormTrain(want.y, src, s.n, s.hw, c, gamma, beta, want.saveMean, want.saveInvStd, want.runMean, want.runVar, float64(float32(0.1)), float64(float32(1e-5)), relu)
				trainref.BatchNormTrainBackward(want.dx, want.dgamma, want.dbeta, dy, src, want.y, s.n, s.hw, c, gamma, want.saveMean, want.saveInvStd, relu, acc)

				// The magnitudes of the terms each result is made of.
				magY, magDX := make([]float64, m*c), make([]float64, m*c)
				magG, magGX := make([]float64, c), make([]float64, c)
				for i, x := range src {
					ch := i % c
					xm := math.Abs(float64(x) - float64(want.saveMean[ch]))
					is, gm := float64(want.saveInvStd[ch]), math.Abs(float64(gamma[ch]))
					magY[i] = xm*is*gm + math.Abs(float64(beta[ch]))
					g := math.Abs(float64(dy[i]))
					magG[ch] += g
					magGX[ch] += g * xm * is
				}
				for i, x := range src {
					ch := i % c
					xm := math.Abs(float64(x) - float64(want.saveMean[ch]))
					is, gm := float64(want.saveInvStd[ch]), math.Abs(float64(gamma[ch]))
					magDX[i] = gm * is * (math.Abs(float64(dy[i])) + magG[ch]/float64(m) + xm*is*magGX[ch]/float64(m))
					if acc {
						magDX[i] += math.Abs(float64(init[i]))
					}
				}
				for i := range magG {
					// The float64 sums round at 2⁻⁵³ of the terms they add.
					magG[i] *= 1e-7
					magGX[i] *= 1e-7
				}

				var first *bnCase
				for _, run := range bnRuns(pools, old) {
					p := run.p
					opsAVX2 = run.asm
					got := bnCase{dx: trainDX(init, acc), saveMean: make([]float32, c), saveInvStd: make([]float32, c),
						dgamma: make([]float32, c), dbeta: make([]float32, c),
						runMean: clone32(runMean), runVar: clone32(runVar), y: make([]float32, m*c)}
					BatchNormTrain(p, got.y, src, s.n, s.hw, c, gamma, beta, got.saveMean, got.saveInvStd, got.runMean, got.runVar, 0.1, 1e-5, act)
					BatchNormTrainBackward(p, got.dx, got.dgamma, got.dbeta, dy, src, got.y, s.n, s.hw, c, gamma, got.saveMean, got.saveInvStd, act, acc)
					if first != nil {
						// Every thread count computes the same bits.
						what := fmt.Sprintf("%s threads=%d asm=%v", name, p.Threads(), run.asm)
						trainSame(t, what+" dst", got.y, first.y)
						trainSame(t, what+" dx", got.dx, first.dx)
						trainSame(t, what+" dgamma", got.dgamma, first.dgamma)
						trainSame(t, what+" dbeta", got.dbeta, first.dbeta)
						trainSame(t, what+" runVar", got.runVar, first.runVar)
						continue
					}
					first = &got
					trainNear(t, name+" saveMean", got.saveMean, want.saveMean, nil, 1)
					trainNear(t, name+" saveInvStd", got.saveInvStd, want.saveInvStd, nil, 1)
					trainNear(t, name+" runMean", got.runMean, want.runMean, nil, 1)
					trainNear(t, name+" runVar", got.runVar, want.runVar, nil, 1)
					trainNear(t, name+" dst", got.y, want.y, magY, 3)
					trainNear(t, name+" dgamma", got.dgamma, want.dgamma, magGX, 2)
					trainNear(t, name+" dbeta", got.dbeta, want.dbeta, magG, 2)
					trainNear(t, name+" dx", got.dx, want.dx, magDX, 4)
				}
			}
		}
	}
}

// TestTrainAllocs checks that the kernels allocate nothing once their
// scratch has grown.
func TestTrainAllocs(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	const n, hw, c = 2, 64 * 32, 16
	r := rand.New(rand.NewPCG(1, 20))
	src, dst, dx, dy := trainRand(r, n*hw*c), make([]float32, n*hw*c), make([]float32, n*hw*c), trainRand(r, n*hw*c)
	v := func() []float32 { return trainRand(r, c) }
	gamma, beta, mean, invstd, rm, rv, dg, db := v(), v(), v(), v(), v(), v(), v(), v()
	labels := make([]int32, n*hw)
	cfg := PoolConfig{C: c, InH: 64, InW: 32, OutH: 32, OutW: 16, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	parts := []ConcatPart{{dx[:n*hw*4], 4}, {dx[n*hw*4 : n*hw*16], 12}}
	for name, f := range map[string]func(){
		"BatchNorm": func() {
			BatchNormTrain(p, dst, src, n, hw, c, gamma, beta, mean, invstd, rm, rv, 0.1, 1e-5, ActReLU)
			BatchNormTrainBackward(p, dx, dg, db, dy, src, dst, n, hw, c, gamma, mean, invstd, ActReLU, false)
		},
		"BatchNormSerial": func() {
			BatchNormTrain(nil, dst, src, n, hw, c, gamma, beta, mean, invstd, rm, rv, 0.1, 1e-5, ActReLU)
			BatchNormTrainBackward(nil, dx, dg, db, dy, src, dst, n, hw, c, gamma, mean, invstd, ActReLU, true)
		},
		"ReLUBackward":    func() { ReLUBackward(dx, dy, src, false) },
		"SoftmaxBackward": func() { SoftmaxBackward(dx, dy, src, c, true) },
		"SGD":             func() { SGD(dst, dy, dx, 0.1, 0.9, 1e-4, false) },
		"SoftmaxCrossEntropy": func() {
			if _, err := SoftmaxCrossEntropy(dx, src, labels, n, hw, c); err != nil {
				t.Fatal(err)
			}
		},
		"MaxPool2DBackward":        func() { MaxPool2DBackward(dx, dy, src, cfg, n, false) },
		"AvgPool2DBackward":        func() { AvgPool2DBackward(dx, dy, cfg, n, false) },
		"UpsampleBilinearBackward": func() { UpsampleBilinearBackward(dx, dy, n, c, 32, 16, 64, 32, false, false) },
		"FlattenBackward":          func() { FlattenBackward(dx, dy, n, 64, 32, c, false) },
		"ConcatBackward":           func() { ConcatBackward(dy, n, hw, true, parts...) },
		"SigmoidBackward":          func() { SigmoidBackward(dx, dy, src, true) },
		"GlobalAvgPoolBackward":    func() { GlobalAvgPoolBackward(dx, dy, n, hw, c, false) },
		"UpsampleNearestBackward":  func() { UpsampleNearestBackward(dx, dy, n, c, 32, 16, 64, 32, true) },
		"ShortcutABackward":        func() { ShortcutABackward(dx, dy, n, 8, 64, 32, 16, 32, 16, 2, false) },
		"AddInto":                  func() { AddInto(dx, dy) },
		"FirstNonFinite":           func() { FirstNonFinite(dx) },
	} {
		if a := testing.AllocsPerRun(3, f); a != 0 {
			t.Errorf("%s: %v allocations per call", name, a)
		}
	}
}

// The benchmarks time BatchNorm forward and backward on the activation of a
// CIFAR ResNet's first stage at batch 128 (128×32×32×16, 8 MiB) and report
// the bytes each pass moves.
func benchBN(b *testing.B, threads int, backward bool) {
	p := NewPool(threads)
	defer p.Close()
	const n, hw, c = 128, 32 * 32, 16
	r := rand.New(rand.NewPCG(1, 21))
	src, dst, dx, dy := trainRand(r, n*hw*c), make([]float32, n*hw*c), make([]float32, n*hw*c), trainRand(r, n*hw*c)
	v := func() []float32 { return trainRand(r, c) }
	gamma, beta, mean, invstd, rm, rv, dg, db := v(), v(), v(), v(), v(), v(), v(), v()
	BatchNormTrain(p, dst, src, n, hw, c, gamma, beta, mean, invstd, rm, rv, 0.1, 1e-5, ActReLU)
	// Forward reads src twice and writes dst; backward reads dy, src and
	// dst twice and writes dx.
	bytes := int64(3 * 4 * n * hw * c)
	if backward {
		bytes = int64(7 * 4 * n * hw * c)
	}
	b.SetBytes(bytes)
	b.ResetTimer()
	for range b.N {
		if backward {
			BatchNormTrainBackward(p, dx, dg, db, dy, src, dst, n, hw, c, gamma, mean, invstd, ActReLU, false)
		} else {
			BatchNormTrain(p, dst, src, n, hw, c, gamma, beta, mean, invstd, rm, rv, 0.1, 1e-5, ActReLU)
		}
	}
}

func BenchmarkTrainBNForward(b *testing.B) {
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", th), func(b *testing.B) { benchBN(b, th, false) })
	}
}

func BenchmarkTrainBNBackward(b *testing.B) {
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", th), func(b *testing.B) { benchBN(b, th, true) })
	}
}

// TestBatchNormApplyNaN checks that a NaN going into the normalization comes
// out of its ReLU as NaN on every kernel path, so FirstNonFinite sees it.
func TestBatchNormApplyNaN(t *testing.T) {
	const c = 16
	nan := float32(math.NaN())
	src := make([]float32, 3*c)
	src[5], src[c+9], src[2*c] = nan, float32(math.Inf(-1)), float32(math.Inf(1))
	mean, scale, shift := make([]float32, c), make([]float32, c), make([]float32, c)
	for i := range scale {
		scale[i] = 1
	}
	opsTestPaths(t, func(t *testing.T) {
		dst := make([]float32, len(src))
		bnApply(dst, src, c, 0, mean, scale, shift, true, 0, 3)
		if dst[5] == dst[5] || dst[c+9] != 0 || !math.IsInf(float64(dst[2*c]), 1) {
			t.Errorf("ReLU(NaN, -Inf, +Inf) = %v, %v, %v", dst[5], dst[c+9], dst[2*c])
		}
		bnApply(dst, src, c, 0, mean, scale, shift, false, 0, 3)
		if dst[5] == dst[5] || !math.IsInf(float64(dst[c+9]), -1) {
			t.Errorf("NaN, -Inf = %v, %v", dst[5], dst[c+9])
		}
	})
}

// TestTrainOpsTorch compares the kernels with what PyTorch 1.13 computes
// on the cases of testdata/trainops/cases.json (written by gen.py there).
// The tolerances allow for float32 sums in another order.
func TestTrainOpsTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/trainops/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]json.RawMessage
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	type tc struct {
		N, C, H, W, K, S, P, OutH, OutW, HW int
		Relu, IncludePad, Align             bool
		Mode                                string
		X, Y, DY, DX, Gamma, Beta           []float32
		RunMean0, RunVar0, RunMean, RunVar  []float32
		Mean, InvStd, DGamma, DBeta         []float32
		Logits, DLogits                     []float32
		Labels                              []int32
		Loss                                float64
		LR, Momentum, WeightDecay           float32
		Weights0, Weights                   []float32
		Grads                               [][]float32
	}
	fields := map[string]string{"out_h": "OutH", "out_w": "OutW", "include_pad": "IncludePad", "run_mean0": "RunMean0",
		"run_var0": "RunVar0", "run_mean": "RunMean", "run_var": "RunVar", "weight_decay": "WeightDecay", "invstd": "InvStd"}
	near := func(t *testing.T, what string, got, want []float32, tol float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
		}
		for i, w := range want {
			if d := math.Abs(float64(got[i]) - float64(w)); !(d <= tol*max(1, math.Abs(float64(w)))) {
				t.Errorf("%s: [%d] = %v, want %v (PyTorch)", what, i, got[i], w)
				return
			}
		}
	}
	ran := 0
	for name, raw := range cases {
		if name == "torch" {
			continue
		}
		// Map gen.py's snake_case keys onto the struct's field names.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		for k, f := range fields {
			if v, ok := m[k]; ok {
				m[f] = v
				delete(m, k)
			}
		}
		raw, _ = json.Marshal(m)
		var c tc
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ran++
		t.Run(name, func(t *testing.T) {
			switch {
			case strings.HasPrefix(name, "batchnorm"):
				act := ActNone
				if c.Relu {
					act = ActReLU
				}
				hw := c.H * c.W
				y, dx := make([]float32, len(c.X)), make([]float32, len(c.X))
				mean, invstd, dg, db := make([]float32, c.C), make([]float32, c.C), make([]float32, c.C), make([]float32, c.C)
				rm, rv := clone32(c.RunMean0), clone32(c.RunVar0)
				BatchNormTrain(nil, y, c.X, c.N, hw, c.C, c.Gamma, c.Beta, mean, invstd, rm, rv, 0.1, 1e-5, act)
				BatchNormTrainBackward(nil, dx, dg, db, c.DY, c.X, y, c.N, hw, c.C, c.Gamma, mean, invstd, act, false)
				near(t, "y", y, c.Y, 1e-6)
				near(t, "mean", mean, c.Mean, 1e-6)
				near(t, "invstd", invstd, c.InvStd, 1e-6)
				near(t, "running_mean", rm, c.RunMean, 1e-6)
				near(t, "running_var", rv, c.RunVar, 1e-6)
				near(t, "dx", dx, c.DX, 1e-5)
				near(t, "dgamma", dg, c.DGamma, 1e-5)
				near(t, "dbeta", db, c.DBeta, 1e-5)
			case strings.HasPrefix(name, "maxpool"), strings.HasPrefix(name, "avgpool"):
				cfg := PoolConfig{C: c.C, InH: c.H, InW: c.W, OutH: c.OutH, OutW: c.OutW, KH: c.K, KW: c.K,
					StrideH: c.S, StrideW: c.S, PadH: c.P, PadW: c.P, CountIncludePad: c.IncludePad}
				in, out := c.H*c.W*c.C, c.OutH*c.OutW*c.C
				y, dx := make([]float32, c.N*out), make([]float32, c.N*in)
				for item := range c.N {
					if name[0] == 'm' {
						MaxPool2D(y[item*out:], c.X[item*in:], cfg)
					} else {
						AvgPool2D(y[item*out:], c.X[item*in:], cfg)
					}
				}
				if name[0] == 'm' {
					MaxPool2DBackward(dx, c.DY, c.X, cfg, c.N, false)
				} else {
					AvgPool2DBackward(dx, c.DY, cfg, c.N, false)
				}
				near(t, "y", y, c.Y, 1e-6)
				near(t, "dx", dx, c.DX, 1e-6)
			case strings.HasPrefix(name, "upsample"):
				in, out := c.H*c.W*c.C, c.OutH*c.OutW*c.C
				y, dx := make([]float32, c.N*out), make([]float32, c.N*in)
				for item := range c.N {
					if c.Mode == "nearest" {
						UpsampleNearest(y[item*out:], c.X[item*in:], c.C, c.H, c.W, c.OutH, c.OutW)
					} else {
						UpsampleBilinear(y[item*out:], c.X[item*in:], c.C, c.H, c.W, c.OutH, c.OutW, c.Align)
					}
				}
				if c.Mode == "nearest" {
					UpsampleNearestBackward(dx, c.DY, c.N, c.C, c.H, c.W, c.OutH, c.OutW, false)
				} else {
					UpsampleBilinearBackward(dx, c.DY, c.N, c.C, c.H, c.W, c.OutH, c.OutW, c.Align, false)
				}
				near(t, "y", y, c.Y, 1e-6)
				near(t, "dx", dx, c.DX, 1e-6)
			case strings.HasPrefix(name, "crossentropy"):
				d := make([]float32, len(c.Logits))
				loss, err := SoftmaxCrossEntropy(d, c.Logits, c.Labels, c.N, c.HW, c.C)
				if err != nil || math.Abs(loss-c.Loss) > 1e-6*c.Loss {
					t.Errorf("loss %v, %v; want %v (PyTorch)", loss, err, c.Loss)
				}
				near(t, "dlogits", d, c.DLogits, 1e-7)
			case strings.HasPrefix(name, "sgd"):
				w, buf := clone32(c.Weights0), make([]float32, len(c.Weights0))
				for i, g := range c.Grads {
					SGD(w, g, buf, c.LR, c.Momentum, c.WeightDecay, i == 0)
				}
				near(t, "w", w, c.Weights, 1e-6)
			case name == "softmax":
				dx := make([]float32, len(c.Y))
				SoftmaxBackward(dx, c.DY, c.Y, c.C, false)
				near(t, "dx", dx, c.DX, 1e-6)
			case name == "sigmoid":
				dx := make([]float32, len(c.Y))
				SigmoidBackward(dx, c.DY, c.Y, false)
				near(t, "dx", dx, c.DX, 1e-6)
			default:
				t.Fatalf("no test for case %s", name)
			}
		})
	}
	if ran < 20 {
		t.Errorf("%d cases, want at least 20", ran)
	}
}

// BenchmarkTrainMaxPoolBackward times ResNet-18's stem pool (3×3, stride 2,
// 112×112×64) for one item.
func BenchmarkTrainMaxPoolBackward(b *testing.B) {
	cfg := PoolConfig{C: 64, InH: 112, InW: 112, OutH: 56, OutW: 56, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	r := rand.New(rand.NewPCG(1, 22))
	src, dy := trainRand(r, 112*112*64), trainRand(r, 56*56*64)
	dx := make([]float32, len(src))
	b.SetBytes(int64(4 * (2*len(src) + len(dy))))
	for range b.N {
		MaxPool2DBackward(dx, dy, src, cfg, 1, false)
	}
}

func BenchmarkTrainMaxPoolBackwardGo(b *testing.B) {
	old := opsAVX2
	opsAVX2 = false
	defer func() { opsAVX2 = old }()
	BenchmarkTrainMaxPoolBackward(b)
}
