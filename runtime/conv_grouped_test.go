package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// resnextGroupedShapes are the grouped 3×3 convs of torchvision's ResNeXt
// nets at 224×224 (the 32x4d widths; 32x8d and 64x4d double the channels
// per group or the groups).
func resnextGroupedShapes() []struct {
	name string
	cfg  ConvConfig
} {
	c := func(ch, hw, s, g int) ConvConfig {
		o := convOut(hw, 3, s, 1, 1)
		return ConvConfig{InC: ch, InH: hw, InW: hw, OutC: ch, OutH: o, OutW: o, KH: 3, KW: 3,
			StrideH: s, StrideW: s, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: g, Act: ActReLU}
	}
	return []struct {
		name string
		cfg  ConvConfig
	}{
		{"x50_g32x4_56", c(128, 56, 1, 32)},
		{"x50_g32x8_56s2", c(256, 56, 2, 32)},
		{"x50_g32x8_28", c(256, 28, 1, 32)},
		{"x50_g32x16_28s2", c(512, 28, 2, 32)},
		{"x50_g32x16_14", c(512, 14, 1, 32)},
		{"x50_g32x32_14s2", c(1024, 14, 2, 32)},
		{"x50_g32x32_7", c(1024, 7, 1, 32)},
		{"x101_g64x4_56", c(256, 56, 1, 64)},
		{"x101_g32x8_56", c(256, 56, 1, 32)},
		{"x101_g32x64_7", c(2048, 7, 1, 32)},
	}
}

func BenchmarkConvGrouped(b *testing.B) {
	convBenchISA(b)
	for _, sh := range resnextGroupedShapes() {
		cfg := sh.cfg
		r := rand.New(rand.NewPCG(7, 7))
		conv, err := NewConv2D(cfg, convRandom(r, cfg.OutC*cfg.InC/cfg.Groups*cfg.KH*cfg.KW), convRandom(r, cfg.OutC))
		if err != nil {
			b.Fatal(err)
		}
		src := convRandom(r, cfg.InH*cfg.InW*cfg.InC)
		dst := make([]float32, cfg.OutH*cfg.OutW*cfg.OutC)
		flops := 2 * float64(cfg.OutH*cfg.OutW*cfg.OutC) * float64(cfg.InC/cfg.Groups*cfg.KH*cfg.KW)
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/t%d", sh.name, threads), func(b *testing.B) {
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

// groupedShapes covers the fast path: every channels-per-group family,
// strides, dilations, paddings (none, partial, wider than the kernel's
// reach), kernels from 1×1 to 5×5, maps narrower than a tile and longer
// than several, and tiles down the border columns.
func groupedShapes() []ConvConfig {
	c := func(ch, g, h, w, kh, kw, sh, sw, ph, pw, dh, dw int) ConvConfig {
		return ConvConfig{InC: ch, InH: h, InW: w, OutC: ch,
			OutH: convOut(h, kh, sh, ph, dh), OutW: convOut(w, kw, sw, pw, dw),
			KH: kh, KW: kw, StrideH: sh, StrideW: sw, PadH: ph, PadW: pw, DilH: dh, DilW: dw, Groups: g}
	}
	var out []ConvConfig
	for _, per := range []int{1, 2, 4, 8} {
		for _, ch := range []int{16, 48} {
			g := ch / per
			out = append(out,
				c(ch, g, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1),  // 3x3
				c(ch, g, 12, 13, 3, 3, 2, 2, 1, 1, 1, 1), // stride 2
				c(ch, g, 5, 60, 3, 3, 1, 1, 1, 1, 1, 1),  // rows of several tiles
				c(ch, g, 60, 4, 3, 3, 1, 1, 1, 1, 1, 1),  // columns of several tiles
				c(ch, g, 10, 9, 3, 3, 1, 1, 2, 2, 2, 2),  // dilation 2
				c(ch, g, 7, 8, 1, 1, 1, 1, 0, 0, 1, 1),   // 1x1
				c(ch, g, 9, 10, 5, 5, 2, 1, 2, 2, 1, 1),  // 5x5, mixed stride
				c(ch, g, 6, 7, 3, 1, 1, 1, 1, 0, 1, 1),   // 3x1
				c(ch, g, 3, 3, 3, 3, 1, 1, 4, 4, 1, 1),   // padding beyond the kernel: tiles without taps
				c(ch, g, 8, 9, 3, 3, 3, 2, 0, 1, 1, 1),   // no vertical padding, stride 3
				c(ch, g, 14, 14, 3, 3, 2, 2, 1, 1, 1, 1), // ResNeXt stride-2 shape
				c(ch, g, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1),   // one pixel
				c(ch, g, 30, 29, 3, 3, 1, 1, 1, 1, 1, 1), // larger map
				c(ch, g, 11, 6, 2, 2, 2, 2, 0, 0, 1, 1),  // even kernel
				c(ch, g, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1),   // 7x7 map
				c(ch, g, 9, 9, 4, 3, 1, 2, 3, 0, 1, 3),   // asymmetric everything
			)
		}
	}
	return append(out,
		c(128, 32, 15, 16, 3, 3, 1, 1, 1, 1, 1, 1), // ResNeXt 32x4d
		c(256, 32, 9, 10, 3, 3, 2, 2, 1, 1, 1, 1),  // ResNeXt 32x8d, stride 2
		c(256, 64, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1),   // ResNeXt 64x4d
	)
}

// TestConvGrouped compares the grouped fast path, on the AVX-512 kernels
// and on the portable kernel's tiles, with the scalar reference, for every
// activation and residual variant at 1, 2 and 3 threads (bit-identical).
func TestConvGrouped(t *testing.T) {
	pools := []*Pool{nil, NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	groupedForce = true
	defer func() { groupedForce = false }()
	for _, isa := range convTestISAs() {
		if isa.name == "avx2" {
			continue // the fast path has no AVX2 kernels: it runs the portable one
		}
		t.Run(isa.name, func(t *testing.T) {
			defer isa.use()()
			for si, cfg0 := range groupedShapes() {
				t.Run(convName(cfg0), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(si), 2))
					cinG := cfg0.InC / cfg0.Groups
					weight := convRandom(r, cfg0.OutC*cinG*cfg0.KH*cfg0.KW)
					bias := convRandom(r, cfg0.OutC)
					if si%3 == 2 {
						bias = nil
					}
					src := convRandom(r, cfg0.InH*cfg0.InW*cfg0.InC)
					res := convRandom(r, cfg0.OutH*cfg0.OutW*cfg0.OutC)
					convVariants(func(name string, act Act, useRes, alias bool) {
						cfg := cfg0
						cfg.Act = act
						conv, err := NewConv2D(cfg, weight, bias)
						if err != nil {
							t.Fatal(err)
						}
						if conv.grouped == nil {
							t.Fatal("the fast path refused the shape")
						}
						var rs []float32
						if useRes {
							rs = res
						}
						want := convRef(cfg, weight, bias, src, rs)
						var first []float32
						for _, p := range pools {
							dst := make([]float32, len(want))
							for i := range dst {
								dst[i] = float32(math.NaN()) // a pixel no tile writes shows
							}
							if alias {
								copy(dst, res)
								rs = dst
							}
							conv.Forward(p, dst, src, rs)
							what := fmt.Sprintf("%s/threads=%d", name, p.Threads())
							convClose(t, what, dst, want)
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
		})
	}
}

// TestConvGroupedEligible: which shapes take the fast path.
func TestConvGroupedEligible(t *testing.T) {
	c := func(inC, outC, g int) ConvConfig {
		return ConvConfig{InC: inC, InH: 5, InW: 5, OutC: outC, OutH: 5, OutW: 5, KH: 3, KW: 3,
			StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: g}
	}
	for _, tc := range []struct {
		cfg  ConvConfig
		want bool
	}{
		{c(128, 128, 32), true},  // 4 per group
		{c(256, 256, 32), true},  // 8
		{c(32, 32, 32), true},    // depthwise
		{c(32, 32, 16), true},    // 2
		{c(512, 512, 32), false}, // 16 per group: the general engine's panels are full
		{c(64, 64, 1), false},    // not grouped
		{c(24, 24, 6), false},    // 4 per group, but 24 channels: no whole blocks
		{c(64, 128, 16), false},  // 4 in, 8 out per group
		{c(48, 48, 16), false},   // 3 per group
	} {
		w := make([]float32, tc.cfg.OutC*tc.cfg.InC/tc.cfg.Groups*9)
		for _, force := range []bool{false, true} {
			groupedForce = force
			conv, err := NewConv2D(tc.cfg, w, nil)
			groupedForce = false
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want && (force || groupedFast())
			if got := conv.grouped != nil; got != want {
				t.Errorf("%s force=%v: fast path %v, want %v", convName(tc.cfg), force, got, want)
			}
		}
	}
}

// TestConvGroupedAllocs: the fast path's Forward allocates nothing.
func TestConvGroupedAllocs(t *testing.T) {
	groupedForce = true
	cfg := resnextGroupedShapes()[0].cfg
	conv, err := NewConv2D(cfg, make([]float32, cfg.OutC*cfg.InC/cfg.Groups*9), nil)
	groupedForce = false
	if err != nil {
		t.Fatal(err)
	}
	src := make([]float32, cfg.InH*cfg.InW*cfg.InC)
	dst := make([]float32, cfg.OutH*cfg.OutW*cfg.OutC)
	p := NewPool(2)
	defer p.Close()
	for _, pool := range []*Pool{nil, p} {
		if n := testing.AllocsPerRun(20, func() { conv.Forward(pool, dst, src, nil) }); n != 0 {
			t.Errorf("threads=%d: %v allocations per Forward", pool.Threads(), n)
		}
	}
}
