package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// convRef is the scalar reference every path is compared against: a direct
// 7-loop NHWC convolution accumulating in float64 and rounding once.
func convRef(cfg ConvConfig, weight, bias, src, res []float32) []float32 {
	cinG, coutG := cfg.InC/cfg.Groups, cfg.OutC/cfg.Groups
	dst := make([]float32, cfg.OutH*cfg.OutW*cfg.OutC)
	for oh := range cfg.OutH {
		for ow := range cfg.OutW {
			for oc := range cfg.OutC {
				g := oc / coutG
				var s float64
				if bias != nil {
					s = float64(bias[oc])
				}
				for kh := range cfg.KH {
					ih := oh*cfg.StrideH - cfg.PadH + kh*cfg.DilH
					if ih < 0 || ih >= cfg.InH {
						continue
					}
					for kw := range cfg.KW {
						iw := ow*cfg.StrideW - cfg.PadW + kw*cfg.DilW
						if iw < 0 || iw >= cfg.InW {
							continue
						}
						for ic := range cinG {
							x := src[(ih*cfg.InW+iw)*cfg.InC+g*cinG+ic]
							w := weight[((oc*cinG+ic)*cfg.KH+kh)*cfg.KW+kw]
							s += float64(x) * float64(w)
						}
					}
				}
				i := (oh*cfg.OutW+ow)*cfg.OutC + oc
				if res != nil {
					s += float64(res[i])
				}
				if cfg.Act == ActReLU {
					s = max(s, 0)
				}
				dst[i] = float32(s)
			}
		}
	}
	return dst
}

// convTransposeRef scatters every input pixel through the kernel (float64).
func convTransposeRef(cfg ConvTransposeConfig, weight, bias, src, res []float32) []float32 {
	cinG, coutG := cfg.InC/cfg.Groups, cfg.OutC/cfg.Groups
	acc := make([]float64, cfg.OutH*cfg.OutW*cfg.OutC)
	for ih := range cfg.InH {
		for iw := range cfg.InW {
			for ic := range cfg.InC {
				g := ic / cinG
				x := float64(src[(ih*cfg.InW+iw)*cfg.InC+ic])
				for kh := range cfg.KH {
					oh := ih*cfg.StrideH - cfg.PadH + kh*cfg.DilH
					if oh < 0 || oh >= cfg.OutH {
						continue
					}
					for kw := range cfg.KW {
						ow := iw*cfg.StrideW - cfg.PadW + kw*cfg.DilW
						if ow < 0 || ow >= cfg.OutW {
							continue
						}
						for oc := range coutG {
							w := weight[((ic*coutG+oc)*cfg.KH+kh)*cfg.KW+kw]
							acc[(oh*cfg.OutW+ow)*cfg.OutC+g*coutG+oc] += x * float64(w)
						}
					}
				}
			}
		}
	}
	dst := make([]float32, len(acc))
	for i, s := range acc {
		if bias != nil {
			s += float64(bias[i%cfg.OutC])
		}
		if res != nil {
			s += float64(res[i])
		}
		if cfg.Act == ActReLU {
			s = max(s, 0)
		}
		dst[i] = float32(s)
	}
	return dst
}

func convRandom(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// convClose reports the first element differing from want by more than
// 1e-5·max|want| (at least 1e-5 absolute).
func convClose(t *testing.T, what string, got, want []float32) {
	t.Helper()
	var m float64
	for _, v := range want {
		m = max(m, math.Abs(float64(v)))
	}
	tol := 1e-5 * max(m, 1)
	for i := range want {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol) {
			t.Fatalf("%s: element %d = %v, want %v (|diff| %.3g > tol %.3g)", what, i, got[i], want[i], d, tol)
		}
	}
}

func convOut(in, k, s, p, d int) int { return (in+2*p-d*(k-1)-1)/s + 1 }

func convShapes() []ConvConfig {
	c := func(inC, h, w, outC, kh, kw, sh, sw, ph, pw, dh, dw, g int) ConvConfig {
		return ConvConfig{InC: inC, InH: h, InW: w, OutC: outC,
			OutH: convOut(h, kh, sh, ph, dh), OutW: convOut(w, kw, sw, pw, dw),
			KH: kh, KW: kw, StrideH: sh, StrideW: sw, PadH: ph, PadW: pw, DilH: dh, DilW: dw, Groups: g}
	}
	return []ConvConfig{
		c(16, 5, 7, 24, 1, 1, 1, 1, 0, 0, 1, 1, 1),    // 1x1, flattened rows
		c(32, 9, 9, 64, 1, 1, 2, 2, 0, 0, 1, 1, 1),    // 1x1 stride 2 (downsample)
		c(64, 1, 1, 1000, 1, 1, 1, 1, 0, 0, 1, 1, 1),  // linear layer
		c(37, 1, 1, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1),     // tiny linear
		c(3, 6, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1),      // 3x3
		c(64, 9, 11, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // 3x3, two panels
		c(17, 31, 29, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1),  // odd, rows longer than a tile
		c(16, 12, 13, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1),  // 3x3 stride 2
		c(3, 30, 31, 64, 7, 7, 2, 2, 3, 3, 1, 1, 1),   // ResNet stem
		c(8, 11, 12, 70, 3, 3, 1, 1, 2, 2, 2, 2, 1),   // dilation 2
		c(6, 10, 9, 7, 3, 3, 1, 2, 2, 1, 2, 1, 1),     // mixed dilation and stride
		c(12, 8, 9, 18, 3, 3, 1, 1, 1, 1, 1, 1, 2),    // groups 2
		c(48, 9, 8, 96, 3, 3, 1, 1, 1, 1, 1, 1, 3),    // groups 3, 32 channels each
		c(8, 10, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8),    // depthwise
		c(4, 7, 9, 8, 5, 5, 2, 2, 2, 2, 1, 1, 4),      // depthwise, multiplier 2
		c(5, 9, 10, 9, 1, 3, 1, 1, 0, 1, 1, 1, 1),     // 1x3
		c(5, 9, 10, 9, 3, 1, 3, 1, 1, 0, 1, 1, 1),     // 3x1, stride 3
		c(7, 6, 6, 11, 4, 4, 3, 3, 2, 2, 1, 1, 1),     // even kernel, stride 3
		c(9, 5, 5, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1),     // kernel as large as input
		c(96, 7, 7, 100, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // 7x7 map
		c(256, 4, 4, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // long K
		c(33, 3, 50, 17, 1, 1, 1, 1, 0, 0, 1, 1, 1),   // 1x1, M not a multiple of the tile
		c(2, 15, 16, 3, 2, 2, 2, 2, 0, 0, 1, 1, 1),    // 2x2 stride 2
		c(19, 6, 40, 31, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // wide
		c(8, 3, 3, 32, 3, 3, 1, 1, 5, 5, 1, 1, 1),     // padding larger than input
		c(4, 16, 16, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1),    // few channels
		c(1, 13, 14, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1),    // single channel
		c(24, 5, 5, 24, 3, 3, 1, 1, 1, 1, 1, 1, 24),   // depthwise, no padding tail
		c(64, 14, 14, 130, 1, 1, 1, 1, 0, 0, 1, 1, 1), // 1x1, panel tail
		c(512, 5, 6, 20, 1, 1, 1, 1, 0, 0, 1, 1, 1),   // 1x1, skewed pixel pitch
		c(1024, 5, 5, 8, 1, 1, 2, 2, 0, 0, 1, 1, 1),   // skewed pitch, stride 2
		c(512, 4, 5, 6, 3, 1, 1, 1, 1, 0, 1, 1, 1),    // skewed pitch, 3x1 with padding
		c(1024, 3, 3, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2),   // skewed pitch, groups
		c(16, 6, 60, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // 16-column panels, 20-pixel tiles
		c(8, 5, 10, 12, 1, 1, 1, 1, 0, 0, 1, 1, 1),    // 16-column panels, full 25-pixel tiles
		c(32, 8, 9, 32, 3, 3, 2, 2, 1, 1, 1, 1, 2),    // 16-column panels per group
		c(256, 7, 7, 80, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // panels outer, column tiles per panel
		c(256, 9, 8, 80, 3, 3, 2, 2, 1, 1, 1, 1, 1),   // panels outer, stride 2
	}
}

func convName(cfg ConvConfig) string {
	return fmt.Sprintf("%dx%dx%d-%d_k%dx%d_s%dx%d_p%dx%d_d%dx%d_g%d",
		cfg.InC, cfg.InH, cfg.InW, cfg.OutC, cfg.KH, cfg.KW, cfg.StrideH, cfg.StrideW, cfg.PadH, cfg.PadW, cfg.DilH, cfg.DilW, cfg.Groups)
}

// convVariants runs f for every residual/activation/aliasing combination.
func convVariants(f func(name string, act Act, useRes, alias bool)) {
	for _, act := range []Act{ActNone, ActReLU} {
		for _, v := range []struct {
			name          string
			useRes, alias bool
		}{{"plain", false, false}, {"res", true, false}, {"alias", true, true}} {
			f(act.String()+"/"+v.name, act, v.useRes, v.alias)
		}
	}
}

func TestConv2D(t *testing.T) {
	pools := []*Pool{nil, NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for _, isa := range convTestISAs() {
		t.Run(isa.name, func(t *testing.T) {
			defer isa.use()()
			for si, cfg0 := range convShapes() {
				t.Run(convName(cfg0), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(si), 1))
					cinG := cfg0.InC / cfg0.Groups
					weight := convRandom(r, cfg0.OutC*cinG*cfg0.KH*cfg0.KW)
					bias := convRandom(r, cfg0.OutC)
					if si%4 == 3 {
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
							convClose(t, what, dst, want)
							if first == nil {
								first = dst
							} else {
								for i := range dst {
									if math.Float32bits(dst[i]) != math.Float32bits(first[i]) {
										t.Fatalf("%s: element %d = %v with 1 thread, %v now: not bit-identical", what, i, first[i], dst[i])
									}
								}
							}
						}
					})
				})
			}
		})
	}
}

func TestConvTranspose2D(t *testing.T) {
	c := func(inC, h, w, outC, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, g int) ConvTransposeConfig {
		return ConvTransposeConfig{InC: inC, InH: h, InW: w, OutC: outC,
			OutH: (h-1)*sh - 2*ph + dh*(kh-1) + oph + 1, OutW: (w-1)*sw - 2*pw + dw*(kw-1) + opw + 1,
			KH: kh, KW: kw, StrideH: sh, StrideW: sw, PadH: ph, PadW: pw, DilH: dh, DilW: dw, Groups: g}
	}
	shapes := []ConvTransposeConfig{
		c(16, 5, 6, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1),     // U-Net up-convolution
		c(64, 7, 7, 40, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1),    // U-Net, panel tail
		c(8, 5, 4, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),      // output padding
		c(5, 6, 5, 7, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1),      // 4x4 stride 2
		c(6, 5, 5, 9, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1),      // stride 1
		c(4, 5, 6, 6, 3, 3, 2, 1, 1, 2, 0, 0, 2, 2, 2),      // dilation, groups
		c(6, 4, 5, 4, 2, 2, 3, 3, 0, 0, 2, 1, 1, 1, 1),      // stride > kernel: bias-only phases
		c(3, 3, 4, 5, 5, 3, 2, 3, 2, 0, 1, 2, 1, 1, 1),      // asymmetric
		c(12, 4, 4, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 12),   // depthwise
		c(40, 3, 17, 33, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1),   // wide rows
		c(7, 5, 5, 5, 3, 3, 1, 1, 3, 3, 0, 0, 1, 1, 1),      // padding larger than the kernel reach
		c(3, 1, 1, 4, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1, 1),      // 1x1 input
		c(20, 6, 6, 10, 3, 3, 2, 2, 0, 0, 0, 0, 3, 2, 1),    // dilation > stride
		c(16, 8, 8, 16, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 1),    // 1x1 stride 2
		c(32, 4, 5, 64, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1),    // two panels
		c(9, 3, 3, 3, 4, 4, 4, 4, 0, 0, 3, 3, 1, 1, 1),      // every phase one tap
		c(10, 5, 7, 20, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 10),   // groups, multiplier 2
		c(6, 4, 4, 6, 5, 5, 2, 2, 4, 4, 1, 1, 1, 1, 1),      // heavy cropping
		c(2, 9, 9, 2, 3, 3, 3, 3, 1, 1, 2, 2, 1, 1, 1),      // stride 3
		c(8, 2, 3, 4, 3, 2, 1, 2, 0, 0, 0, 1, 1, 1, 2),      // mixed
		c(4, 3, 3, 4, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1),      // crop with output padding
		c(5, 6, 6, 3, 7, 7, 3, 3, 3, 3, 2, 2, 1, 1, 1),      // large kernel
		c(11, 6, 5, 13, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1, 1),    // no pad, output padding
		c(8, 4, 4, 8, 4, 4, 2, 2, 2, 2, 1, 1, 2, 2, 1),      // dilation 2 stride 2 (phases with no taps)
		c(128, 14, 14, 64, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1), // U-Net decoder size
		c(512, 3, 4, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),    // skewed pitch, padding
		c(1024, 2, 3, 6, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 2),   // skewed pitch, groups
	}
	pools := []*Pool{nil, NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for _, isa := range convTestISAs() {
		t.Run(isa.name, func(t *testing.T) {
			defer isa.use()()
			for si, cfg0 := range shapes {
				name := fmt.Sprintf("%dx%dx%d-%dx%dx%d_k%dx%d_s%dx%d_p%dx%d_d%dx%d_g%d",
					cfg0.InC, cfg0.InH, cfg0.InW, cfg0.OutC, cfg0.OutH, cfg0.OutW, cfg0.KH, cfg0.KW,
					cfg0.StrideH, cfg0.StrideW, cfg0.PadH, cfg0.PadW, cfg0.DilH, cfg0.DilW, cfg0.Groups)
				t.Run(name, func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(si), 2))
					weight := convRandom(r, cfg0.InC*(cfg0.OutC/cfg0.Groups)*cfg0.KH*cfg0.KW)
					bias := convRandom(r, cfg0.OutC)
					if si%3 == 2 {
						bias = nil
					}
					src := convRandom(r, cfg0.InH*cfg0.InW*cfg0.InC)
					res := convRandom(r, cfg0.OutH*cfg0.OutW*cfg0.OutC)
					convVariants(func(name string, act Act, useRes, alias bool) {
						cfg := cfg0
						cfg.Act = act
						conv, err := NewConvTranspose2D(cfg, weight, bias)
						if err != nil {
							t.Fatal(err)
						}
						var rs []float32
						if useRes {
							rs = res
						}
						want := convTransposeRef(cfg, weight, bias, src, rs)
						var first []float32
						for _, p := range pools {
							dst := make([]float32, len(want))
							for i := range dst {
								dst[i] = float32(math.NaN()) // every element must be written
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
							} else {
								for i := range dst {
									if math.Float32bits(dst[i]) != math.Float32bits(first[i]) {
										t.Fatalf("%s: element %d not bit-identical across thread counts", what, i)
									}
								}
							}
						}
					})
				})
			}
		})
	}
}

func TestConvErrors(t *testing.T) {
	good := ConvConfig{InC: 4, InH: 8, InW: 8, OutC: 6, OutH: 8, OutW: 8, KH: 3, KW: 3,
		StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1}
	w := make([]float32, 6*4*9)
	if _, err := NewConv2D(good, w, nil); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		name   string
		edit   func(*ConvConfig)
		w, b   int
		substr string
	}{
		{"zero InC", func(c *ConvConfig) { c.InC = 0 }, 0, 0, "InC is 0"},
		{"negative stride", func(c *ConvConfig) { c.StrideH = -1 }, 0, 0, "StrideH"},
		{"zero dilation", func(c *ConvConfig) { c.DilW = 0 }, 0, 0, "DilW"},
		{"negative pad", func(c *ConvConfig) { c.PadW = -1 }, 0, 0, "padding"},
		{"bad OutH", func(c *ConvConfig) { c.OutH = 7 }, 0, 0, "output 7x8, want 8x8"},
		{"groups", func(c *ConvConfig) { c.Groups = 3 }, 0, 0, "multiples of Groups"},
		{"weight", func(*ConvConfig) {}, 5, 0, "weight has"},
		{"bias", func(*ConvConfig) {}, 0, 5, "bias has"},
		{"act", func(c *ConvConfig) { c.Act = 9 }, 0, 0, "activation"},
		{"kernel too big", func(c *ConvConfig) { c.KH = 20; c.OutH = 1 }, 0, 0, "larger than the padded input"},
		{"huge", func(c *ConvConfig) { c.InH, c.InW = 1<<20, 1<<20 }, 0, 0, ""},
	} {
		cfg := good
		tc.edit(&cfg)
		wl := cfg.OutC * max(cfg.InC, 1) * max(cfg.KH*cfg.KW, 1)
		if cfg.Groups > 0 && cfg.InC%cfg.Groups == 0 {
			wl = cfg.OutC * cfg.InC / cfg.Groups * cfg.KH * cfg.KW
		}
		if wl < 0 || wl > 1<<20 {
			wl = 1
		}
		wl += tc.w
		var b []float32
		if tc.b != 0 {
			b = make([]float32, tc.b)
		}
		_, err := NewConv2D(cfg, make([]float32, wl), b)
		if err == nil || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.substr)
		}
	}

	tgood := ConvTransposeConfig{InC: 4, InH: 5, InW: 5, OutC: 2, OutH: 10, OutW: 10, KH: 2, KW: 2,
		StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, Groups: 1}
	tw := make([]float32, 4*2*4)
	if _, err := NewConvTranspose2D(tgood, tw, nil); err != nil {
		t.Fatalf("good transpose config: %v", err)
	}
	bad := tgood
	bad.OutH = 12 // output padding 2 is not smaller than the stride
	if _, err := NewConvTranspose2D(bad, tw, nil); err == nil || !strings.Contains(err.Error(), "output padding") {
		t.Errorf("transpose output padding: err = %v", err)
	}
	bad = tgood
	bad.Groups = 0
	if _, err := NewConvTranspose2D(bad, tw, nil); err == nil {
		t.Errorf("transpose groups 0: no error")
	}
	if _, err := NewConvTranspose2D(tgood, tw[:3], nil); err == nil || !strings.Contains(err.Error(), "weight") {
		t.Errorf("transpose weight: err = %v", err)
	}
}

func TestConvForwardAllocs(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	cfg := ConvConfig{InC: 16, InH: 20, InW: 20, OutC: 40, OutH: 20, OutW: 20, KH: 3, KW: 3,
		StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1, Act: ActReLU}
	r := rand.New(rand.NewPCG(1, 1))
	conv, err := NewConv2D(cfg, convRandom(r, 40*16*9), convRandom(r, 40))
	if err != nil {
		t.Fatal(err)
	}
	tcfg := ConvTransposeConfig{InC: 16, InH: 10, InW: 10, OutC: 8, OutH: 20, OutW: 20, KH: 2, KW: 2,
		StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, Groups: 1}
	tconv, err := NewConvTranspose2D(tcfg, convRandom(r, 16*8*4), nil)
	if err != nil {
		t.Fatal(err)
	}
	src := convRandom(r, 20*20*16)
	dst := make([]float32, 20*20*40)
	tdst := make([]float32, 20*20*8)
	for _, isa := range convTestISAs() {
		restore := isa.use()
		for _, p := range []*Pool{nil, pool} {
			if n := testing.AllocsPerRun(20, func() { conv.Forward(p, dst, src, dst) }); n != 0 {
				t.Errorf("%s: Conv2D.Forward with %d threads: %v allocations, want 0", isa.name, p.Threads(), n)
			}
			if n := testing.AllocsPerRun(20, func() { tconv.Forward(p, tdst, src[:10*10*16], nil) }); n != 0 {
				t.Errorf("%s: ConvTranspose2D.Forward with %d threads: %v allocations, want 0", isa.name, p.Threads(), n)
			}
		}
		restore()
	}
}

func TestConvForwardPanics(t *testing.T) {
	cfg := ConvConfig{InC: 2, InH: 4, InW: 4, OutC: 2, OutH: 4, OutW: 4, KH: 1, KW: 1,
		StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 1}
	conv, err := NewConv2D(cfg, make([]float32, 4), nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, 64)
	for name, f := range map[string]func(){
		"short src":    func() { conv.Forward(nil, buf[32:], buf[:31], nil) },
		"short dst":    func() { conv.Forward(nil, buf[32:63], buf[:32], nil) },
		"short res":    func() { conv.Forward(nil, buf[32:], buf[:32], buf[:3]) },
		"dst overlaps": func() { conv.Forward(nil, buf[16:48], buf[:32], nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// Benchmarks: batch-1 ResNet-18 layers at 224x224 and the ResNet-50 1x1
// bottleneck shapes. GFLOP/s counts 2 flops per multiply-add.
//
// -gemm.isa=avx2 (or go) benchmarks a lesser kernel path on amd64.
func BenchmarkConv(b *testing.B) {
	convBenchISA(b)
	c := convBenchCfg
	shapes := []struct {
		name string
		cfg  ConvConfig
	}{
		{"r18_conv1_7x7s2_3-64_224", c(3, 224, 64, 7, 2, 3)},
		{"c20_3x3_16-16_32", c(16, 32, 16, 3, 1, 1)},
		{"c20_3x3_32-32_16", c(32, 16, 32, 3, 1, 1)},
		{"c20_3x3_64-64_8", c(64, 8, 64, 3, 1, 1)},
		{"r18_3x3_64-64_56", c(64, 56, 64, 3, 1, 1)},
		{"r18_3x3s2_64-128_56", c(64, 56, 128, 3, 2, 1)},
		{"r18_1x1s2_64-128_56", c(64, 56, 128, 1, 2, 0)},
		{"r18_3x3_128-128_28", c(128, 28, 128, 3, 1, 1)},
		{"r18_3x3_256-256_14", c(256, 14, 256, 3, 1, 1)},
		{"r18_3x3_512-512_7", c(512, 7, 512, 3, 1, 1)},
		{"r18_fc_512-1000", c(512, 1, 1000, 1, 1, 0)},
		{"r50_1x1_256-64_56", c(256, 56, 64, 1, 1, 0)},
		{"r50_1x1_64-64_56", c(64, 56, 64, 1, 1, 0)},
		{"r50_1x1_256-128_56", c(256, 56, 128, 1, 1, 0)},
		{"r50_1x1_128-512_28", c(128, 28, 512, 1, 1, 0)},
		{"r50_1x1_512-128_28", c(512, 28, 128, 1, 1, 0)},
		{"r50_1x1_256-1024_14", c(256, 14, 1024, 1, 1, 0)},
		{"r50_1x1_512-2048_7", c(512, 7, 2048, 1, 1, 0)},
		{"r50_1x1_64-256_56", c(64, 56, 256, 1, 1, 0)},
		{"r50_1x1_1024-256_14", c(1024, 14, 256, 1, 1, 0)},
		{"r50_1x1_2048-512_7", c(2048, 7, 512, 1, 1, 0)},
		{"r50_3x3s2_512-512_14", c(512, 14, 512, 3, 2, 1)},
		{"r50_1x1s2_1024-2048_14", c(1024, 14, 2048, 1, 2, 0)},
		{"r18_3x3s2_256-512_14", c(256, 14, 512, 3, 2, 1)},
	}
	for _, sh := range shapes {
		conv, src, dst, flops := convBenchLayer(b, sh.cfg)
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

// convBenchCfg is a square ungrouped convolution with ReLU, as the
// benchmarks' shapes are written.
func convBenchCfg(inC, hw, outC, k, s, p int) ConvConfig {
	o := convOut(hw, k, s, p, 1)
	return ConvConfig{InC: inC, InH: hw, InW: hw, OutC: outC, OutH: o, OutW: o, KH: k, KW: k,
		StrideH: s, StrideW: s, PadH: p, PadW: p, DilH: 1, DilW: 1, Groups: 1, Act: ActReLU}
}

// convBenchLayer builds cfg's ungrouped Conv2D with seeded weights, an
// input and an output, and its FLOPs per Forward.
func convBenchLayer(b *testing.B, cfg ConvConfig) (conv *Conv2D, src, dst []float32, flops float64) {
	r := rand.New(rand.NewPCG(7, 7))
	conv, err := NewConv2D(cfg, convRandom(r, cfg.OutC*cfg.InC*cfg.KH*cfg.KW), convRandom(r, cfg.OutC))
	if err != nil {
		b.Fatal(err)
	}
	src = convRandom(r, cfg.InH*cfg.InW*cfg.InC)
	dst = make([]float32, cfg.OutH*cfg.OutW*cfg.OutC)
	flops = 2 * float64(cfg.OutH*cfg.OutW*cfg.OutC) * float64(cfg.InC*cfg.KH*cfg.KW)
	return conv, src, dst, flops
}

// convReportGFLOPs reports GFLOP/s by wall time and, where available,
// GFLOP/s-cpu: flops × threads / process CPU time, i.e. the speed the
// kernel would reach if its threads had the cores to themselves. On a
// shared, busy machine wall time is mostly other people's load; CPU time
// also counts the pool's spinning, so it errs low, never high.
func convReportGFLOPs(b *testing.B, flops float64, threads int, cpu0 int64, cpuOK bool) {
	b.ReportMetric(flops*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
	if cpu1, ok := convCPUTime(); ok && cpuOK && cpu1 > cpu0 {
		b.ReportMetric(flops*float64(b.N)*float64(threads)/float64(cpu1-cpu0), "GFLOP/s-cpu")
	}
}

// BenchmarkConvTranspose: U-Net up-convolutions (2x2 stride 2).
func BenchmarkConvTranspose(b *testing.B) {
	convBenchISA(b)
	c := func(inC, hw, outC int) ConvTransposeConfig {
		return ConvTransposeConfig{InC: inC, InH: hw, InW: hw, OutC: outC, OutH: 2 * hw, OutW: 2 * hw,
			KH: 2, KW: 2, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, Groups: 1}
	}
	for _, sh := range []struct {
		name string
		cfg  ConvTransposeConfig
	}{
		{"unet_2x2s2_1024-512_28", c(1024, 28, 512)},
		{"unet_2x2s2_128-64_56", c(128, 56, 64)},
		{"unet32_2x2s2_64-32_128", c(64, 128, 32)},
		{"unet32_2x2s2_64-32_128_pitch64", func() ConvTransposeConfig { x := c(64, 128, 32); x.OutPitch = 64; return x }()},
	} {
		cfg := sh.cfg
		r := rand.New(rand.NewPCG(7, 7))
		conv, err := NewConvTranspose2D(cfg, convRandom(r, cfg.InC*cfg.OutC*4), convRandom(r, cfg.OutC))
		if err != nil {
			b.Fatal(err)
		}
		src := convRandom(r, cfg.InH*cfg.InW*cfg.InC)
		dst := make([]float32, cfg.OutH*cfg.OutW*max(cfg.OutC, cfg.OutPitch))
		flops := 2 * float64(cfg.InH*cfg.InW*cfg.InC) * float64(cfg.OutC*cfg.KH*cfg.KW)
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

func TestConvAligned(t *testing.T) {
	for n := range 40 {
		s := convAligned(n + 1)
		if p := uintptr(unsafe.Pointer(&s[0])); p%64 != 0 || len(s) != n+1 || cap(s) != n+1 {
			t.Fatalf("convAligned(%d): address %#x, len %d, cap %d", n+1, p, len(s), cap(s))
		}
	}
}

// TestConvTransposeOutPitch: with OutPitch a transposed convolution writes
// each pixel's OutC channels OutPitch floats apart, bit-identical to the
// dense result (the tiles are the same), and leaves every other float of
// dst alone: the channels of a concat it writes into in place.
func TestConvTransposeOutPitch(t *testing.T) {
	shapes := []struct {
		cfg   ConvTransposeConfig
		pitch int
		off   int // channel offset of the part in the wider map
	}{
		{ConvTransposeConfig{InC: 64, InH: 8, InW: 8, OutC: 32, OutH: 16, OutW: 16, KH: 2, KW: 2, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, Groups: 1}, 64, 32},
		{ConvTransposeConfig{InC: 16, InH: 5, InW: 6, OutC: 8, OutH: 10, OutW: 12, KH: 2, KW: 2, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, Groups: 1}, 24, 16},
		{ConvTransposeConfig{InC: 40, InH: 3, InW: 17, OutC: 33, OutH: 6, OutW: 34, KH: 2, KW: 2, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, Groups: 1, Act: ActReLU}, 50, 0},
		{ConvTransposeConfig{InC: 8, InH: 5, InW: 4, OutC: 6, OutH: 10, OutW: 8, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1}, 6, 0},
	}
	pools := []*Pool{nil, NewPool(2)}
	defer pools[1].Close()
	for _, isa := range convTestISAs() {
		t.Run(isa.name, func(t *testing.T) {
			defer isa.use()()
			for si, sh := range shapes {
				r := rand.New(rand.NewPCG(uint64(si), 9))
				cfg := sh.cfg
				weight := convRandom(r, cfg.InC*(cfg.OutC/cfg.Groups)*cfg.KH*cfg.KW)
				bias := convRandom(r, cfg.OutC)
				src := convRandom(r, cfg.InH*cfg.InW*cfg.InC)
				dense, err := NewConvTranspose2D(cfg, weight, bias)
				if err != nil {
					t.Fatal(err)
				}
				want := make([]float32, cfg.OutH*cfg.OutW*cfg.OutC)
				dense.Forward(nil, want, src, nil)
				cfg.OutPitch = sh.pitch
				pitched, err := NewConvTranspose2D(cfg, weight, bias)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range pools {
					wide := make([]float32, cfg.OutH*cfg.OutW*sh.pitch)
					for i := range wide {
						wide[i] = float32(-i) // the other channels, which must survive
					}
					dst := wide[sh.off : sh.off+(cfg.OutH*cfg.OutW-1)*sh.pitch+cfg.OutC]
					pitched.Forward(p, dst, src, nil)
					for px := range cfg.OutH * cfg.OutW {
						for c := range sh.pitch {
							got := wide[px*sh.pitch+c]
							if c >= sh.off && c < sh.off+cfg.OutC {
								if math.Float32bits(got) != math.Float32bits(want[px*cfg.OutC+c-sh.off]) {
									t.Fatalf("shape %d threads %d: pixel %d channel %d = %v, want %v", si, p.Threads(), px, c, got, want[px*cfg.OutC+c-sh.off])
								}
							} else if got != float32(-(px*sh.pitch + c)) {
								t.Fatalf("shape %d threads %d: pixel %d channel %d outside the part was written", si, p.Threads(), px, c)
							}
						}
					}
				}
			}
		})
	}
	bad := shapes[0].cfg
	bad.OutPitch = bad.OutC - 1
	if _, err := NewConvTranspose2D(bad, make([]float32, bad.InC*bad.OutC*4), nil); err == nil {
		t.Error("OutPitch < OutC accepted")
	}
}

// TestConvOutPitch: Conv2D with OutPitch writes each pixel's OutC channels
// OutPitch floats apart, bit-identical to the dense result, and leaves the
// rest of dst alone, on every path (direct and column tiles, 1×1, stride 2,
// groups, Winograd F(2|4|6,3), panel-major weights) and in ForwardBatch.
func TestConvOutPitch(t *testing.T) {
	c := func(inC, hw, outC, k, s, p, g, wino int) ConvConfig {
		o := convOut(hw, k, s, p, 1)
		return ConvConfig{InC: inC, InH: hw, InW: hw, OutC: outC, OutH: o, OutW: o, KH: k, KW: k,
			StrideH: s, StrideW: s, PadH: p, PadW: p, DilH: 1, DilW: 1, Groups: g, Act: ActReLU, Winograd: wino}
	}
	shapes := []ConvConfig{
		c(16, 9, 24, 3, 1, 1, 1, 0),
		c(8, 10, 40, 1, 1, 0, 1, 0),
		c(12, 9, 20, 3, 2, 1, 1, 0),
		c(16, 8, 32, 3, 1, 1, 4, 0),
		c(16, 12, 16, 3, 1, 1, 1, 2),
		c(32, 13, 24, 3, 1, 1, 1, 4),
		c(8, 14, 8, 3, 1, 1, 1, 6),
		c(256, 6, 160, 3, 1, 1, 1, 0), // 1.4 MB of weights: panel-major
	}
	pools := []*Pool{nil, NewPool(2)}
	defer pools[1].Close()
	for _, isa := range convTestISAs() {
		t.Run(isa.name, func(t *testing.T) {
			defer isa.use()()
			for si, cfg := range shapes {
				r := rand.New(rand.NewPCG(uint64(si), 11))
				weight := convRandom(r, cfg.OutC*cfg.InC/cfg.Groups*cfg.KH*cfg.KW)
				bias := convRandom(r, cfg.OutC)
				const n = 3
				inLen, px := cfg.InH*cfg.InW*cfg.InC, cfg.OutH*cfg.OutW
				src := convRandom(r, n*inLen)
				dense, err := NewConv2D(cfg, weight, bias)
				if err != nil {
					t.Fatal(err)
				}
				want := make([]float32, n*px*cfg.OutC)
				for i := range n {
					dense.Forward(nil, want[i*px*cfg.OutC:], src[i*inLen:(i+1)*inLen], nil)
				}
				pitch, off := cfg.OutC+7, 5
				pcfg := cfg
				pcfg.OutPitch = pitch
				pitched, err := NewConv2D(pcfg, weight, bias)
				if err != nil {
					t.Fatal(err)
				}
				check := func(what string, wide []float32, items int) {
					for it := range items {
						for q := range px {
							for ch := range pitch {
								got := wide[(it*px+q)*pitch+ch]
								if ch >= off && ch < off+cfg.OutC {
									if w := want[(it*px+q)*cfg.OutC+ch-off]; math.Float32bits(got) != math.Float32bits(w) {
										t.Fatalf("shape %d %s: item %d pixel %d channel %d = %v, want %v", si, what, it, q, ch, got, w)
									}
								} else if got != -1 {
									t.Fatalf("shape %d %s: item %d pixel %d channel %d outside the part was written", si, what, it, q, ch)
								}
							}
						}
					}
				}
				for _, p := range pools {
					wide := make([]float32, n*px*pitch)
					for i := range wide {
						wide[i] = -1
					}
					pitched.Forward(p, wide[off:], src, nil)
					check(fmt.Sprintf("Forward threads=%d", p.Threads()), wide, 1)
					for i := range wide {
						wide[i] = -1
					}
					pitched.ForwardBatch(p, n, wide[off:len(wide)-(pitch-off-cfg.OutC)], src, nil)
					check(fmt.Sprintf("ForwardBatch threads=%d", p.Threads()), wide, n)
				}
			}
		})
	}
}
