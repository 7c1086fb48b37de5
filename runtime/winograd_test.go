package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// winoTolerance is the largest error, relative to max|output|, that the
// tests accept from F(m,3) on uniform [-1, 1) data: the transforms
// amplify rounding error, more for larger tiles (F(6,3)'s points ±1/2
// and ±2 give entries up to 21/4 in Bᵀ and 32 in Aᵀ).
var winoTolerance = map[int]float64{2: 2e-6, 4: 1e-5, 6: 1e-4}

func winoShapes() []ConvConfig {
	c := func(inC, h, w, outC, pad int) ConvConfig {
		return ConvConfig{InC: inC, InH: h, InW: w, OutC: outC, OutH: h + 2*pad - 2, OutW: w + 2*pad - 2,
			KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: pad, PadW: pad, DilH: 1, DilW: 1, Groups: 1}
	}
	return []ConvConfig{
		c(16, 8, 8, 16, 1),   // CIFAR-like, narrow panels
		c(32, 11, 13, 48, 1), // tiles cut at both edges, a partial panel
		c(64, 9, 7, 64, 0),   // unpadded
		c(3, 10, 10, 5, 1),   // channels not a multiple of 16: the portable transforms
		c(48, 4, 4, 40, 1),   // fewer pixels than one F(6,3) tile
		c(128, 14, 14, 96, 1),
	}
}

func TestWinograd(t *testing.T) {
	pools := []*Pool{nil, NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for _, isa := range convTestISAs() {
		t.Run(isa.name, func(t *testing.T) {
			defer isa.use()()
			for si, cfg0 := range winoShapes() {
				r := rand.New(rand.NewPCG(uint64(si), 9))
				weight := convRandom(r, cfg0.OutC*cfg0.InC*9)
				bias := convRandom(r, cfg0.OutC)
				src := convRandom(r, cfg0.InH*cfg0.InW*cfg0.InC)
				res := convRandom(r, cfg0.OutH*cfg0.OutW*cfg0.OutC)
				for _, m := range WinogradSizes {
					t.Run(fmt.Sprintf("%s/F%d", convName(cfg0), m), func(t *testing.T) {
						convVariants(func(name string, act Act, useRes, alias bool) {
							cfg := cfg0
							cfg.Act, cfg.Winograd = act, m
							conv, err := NewConv2D(cfg, weight, bias)
							if err != nil {
								t.Fatal(err)
							}
							var rs []float32
							if useRes {
								rs = res
							}
							want := convRef(cfg, weight, bias, src, rs)
							var first []float32
							for _, p := range pools {
								dst := make([]float32, len(want))
								if alias {
									copy(dst, res)
									rs = dst
								}
								conv.Forward(p, dst, src, rs)
								what := fmt.Sprintf("%s/threads=%d", name, p.Threads())
								if e := winoRelErr(dst, want); !(e <= winoTolerance[m]) {
									t.Fatalf("%s: max |error| %.3g of max|want|, want ≤ %.3g", what, e, winoTolerance[m])
								}
								if first == nil {
									first = dst
									continue
								}
								for i := range dst {
									if math.Float32bits(dst[i]) != math.Float32bits(first[i]) {
										t.Fatalf("%s: element %d = %v with 1 thread, %v now: not bit-identical", what, i, first[i], dst[i])
									}
								}
							}
						})
					})
				}
			}
		})
	}
}

// winoRelErr is max|got-want| / max|want|.
func winoRelErr(got, want []float32) float64 {
	var m, d float64
	for i := range want {
		m = max(m, math.Abs(float64(want[i])))
		d = max(d, math.Abs(float64(got[i])-float64(want[i])))
	}
	return d / max(m, 1e-30)
}

// TestWinogradErrors: only 3×3 stride-1 convolutions without groups or
// dilation, and only the sizes of WinogradSizes.
func TestWinogradErrors(t *testing.T) {
	base := winoShapes()[0]
	for _, tt := range []struct {
		name string
		edit func(*ConvConfig)
	}{
		{"stride 2", func(c *ConvConfig) { c.StrideH, c.StrideW, c.OutH, c.OutW = 2, 2, 4, 4 }},
		{"1x1", func(c *ConvConfig) { c.KH, c.KW, c.PadH, c.PadW = 1, 1, 0, 0 }},
		{"groups", func(c *ConvConfig) { c.Groups = 2 }},
		{"F(3,3)", func(c *ConvConfig) { c.Winograd = 3 }},
	} {
		cfg := base
		cfg.Winograd = 4
		tt.edit(&cfg)
		w := make([]float32, cfg.OutC*cfg.InC/cfg.Groups*cfg.KH*cfg.KW)
		if _, err := NewConv2D(cfg, w, nil); err == nil {
			t.Errorf("%s: no error", tt.name)
		} else {
			t.Logf("%s: %v", tt.name, err)
		}
	}
}

// TestWinogradAllocs: Forward allocates nothing once the pool's scratch
// has grown.
func TestWinogradAllocs(t *testing.T) {
	cfg := winoShapes()[1]
	cfg.Winograd = 4
	r := rand.New(rand.NewPCG(1, 1))
	conv, err := NewConv2D(cfg, convRandom(r, cfg.OutC*cfg.InC*9), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPool(2)
	defer p.Close()
	src := convRandom(r, cfg.InH*cfg.InW*cfg.InC)
	dst := make([]float32, cfg.OutH*cfg.OutW*cfg.OutC)
	conv.Forward(p, dst, src, nil)
	if n := testing.AllocsPerRun(20, func() { conv.Forward(p, dst, src, nil) }); n != 0 {
		t.Errorf("Forward: %v allocations, want 0", n)
	}
}

// BenchmarkWinograd runs the 3×3 stride-1 layers of the presets directly
// (F0) and with each Winograd size; GFLOP/s counts the direct
// convolution's multiply-adds, so it compares the two at equal work.
func BenchmarkWinograd(b *testing.B) {
	convBenchISA(b)
	c := func(ch, hw int) ConvConfig {
		return ConvConfig{InC: ch, InH: hw, InW: hw, OutC: ch, OutH: hw, OutW: hw, KH: 3, KW: 3,
			StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1, Act: ActReLU}
	}
	for _, sh := range []struct {
		name string
		cfg  ConvConfig
	}{
		{"c20_16_32", c(16, 32)}, {"c20_32_16", c(32, 16)}, {"c20_64_8", c(64, 8)},
		{"r18_64_56", c(64, 56)}, {"r18_128_28", c(128, 28)}, {"r18_256_14", c(256, 14)}, {"r18_512_7", c(512, 7)},
		{"unet_32_256", c(32, 256)}, {"unet_64_128", c(64, 128)},
	} {
		for _, m := range append([]int{0}, WinogradSizes...) {
			cfg := sh.cfg
			cfg.Winograd = m
			r := rand.New(rand.NewPCG(7, 7))
			conv, err := NewConv2D(cfg, convRandom(r, cfg.OutC*cfg.InC*9), convRandom(r, cfg.OutC))
			if err != nil {
				b.Fatal(err)
			}
			src := convRandom(r, cfg.InH*cfg.InW*cfg.InC)
			dst := make([]float32, cfg.OutH*cfg.OutW*cfg.OutC)
			flops := 2 * float64(cfg.OutH*cfg.OutW*cfg.OutC) * float64(cfg.InC*9)
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/F%d/t%d", sh.name, m, threads), func(b *testing.B) {
					var pool *Pool
					if threads > 1 {
						pool = NewPool(threads)
						defer pool.Close()
					}
					b.ReportAllocs()
					cpu0, cpuOK := convCPUTime()
					for b.Loop() {
						conv.Forward(pool, dst, src, nil)
					}
					convReportGFLOPs(b, flops, threads, cpu0, cpuOK)
				})
			}
		}
	}
}

// TestConvForwardBatch: ForwardBatch over n items gives the bits of n
// Forward calls, direct or Winograd, on every kernel path and pool.
func TestConvForwardBatch(t *testing.T) {
	pools := []*Pool{nil, NewPool(2)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	const n = 3
	// Direct convolutions whose weights exceed L2, so a batch runs them
	// panel-major across items: 3×3 padded (direct and column tiles),
	// 1×1, and 1×1 stride 2.
	big := []ConvConfig{
		{InC: 256, InH: 7, InW: 7, OutC: 256, OutH: 7, OutW: 7, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1},
		{InC: 512, InH: 7, InW: 7, OutC: 1024, OutH: 7, OutW: 7, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1},
		{InC: 256, InH: 14, InW: 14, OutC: 1024, OutH: 7, OutW: 7, KH: 1, KW: 1, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, Groups: 1},
	}
	for _, isa := range convTestISAs() {
		t.Run(isa.name, func(t *testing.T) {
			defer isa.use()()
			for si, cfg0 := range append(winoShapes(), big...) {
				r := rand.New(rand.NewPCG(uint64(si), 11))
				weight := convRandom(r, cfg0.OutC*cfg0.InC*cfg0.KH*cfg0.KW)
				bias := convRandom(r, cfg0.OutC)
				inLen, outLen := cfg0.InH*cfg0.InW*cfg0.InC, cfg0.OutH*cfg0.OutW*cfg0.OutC
				src := convRandom(r, n*inLen)
				res := convRandom(r, n*outLen)
				for _, m := range append([]int{0}, WinogradSizes...) {
					cfg := cfg0
					cfg.Act, cfg.Winograd = ActReLU, m
					if m != 0 && cfg.KH != 3 {
						continue
					}
					conv, err := NewConv2D(cfg, weight, bias)
					if err != nil {
						t.Fatal(err)
					}
					if m == 0 && si >= len(winoShapes()) && !conv.e.panelsOuter {
						t.Fatalf("%s: tiles are not panel-major; the test misses the batched direct path", convName(cfg0))
					}
					for _, p := range pools {
						want := make([]float32, n*outLen)
						for i := range n {
							conv.Forward(p, want[i*outLen:(i+1)*outLen], src[i*inLen:(i+1)*inLen], res[i*outLen:(i+1)*outLen])
						}
						got := make([]float32, n*outLen)
						conv.ForwardBatch(p, n, got, src, res)
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s F%d threads=%d: element %d = %v batched, %v item by item", convName(cfg0), m, p.Threads(), i, got[i], want[i])
							}
						}
					}
				}
			}
		})
	}
}
