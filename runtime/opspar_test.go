package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func opsParSame(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: element %d = %v, want %v (bit-identical)", what, i, got[i], want[i])
		}
	}
}

func TestMaxPool2DP(t *testing.T) {
	pools := []*Pool{nil, NewPool(1), NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	r := rand.New(rand.NewPCG(9, 10))
	cfgs := []PoolConfig{
		{C: 64, InH: 112, InW: 112, OutH: 56, OutW: 56, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, // ResNet
		{C: 5, InH: 1, InW: 7, OutH: 1, OutW: 3, KH: 1, KW: 3, StrideH: 1, StrideW: 2},
	}
	for iter := 0; iter < 200; iter++ {
		cfg := PoolConfig{C: 1 + r.IntN(9), InH: 1 + r.IntN(12), InW: 1 + r.IntN(9),
			KH: 1 + r.IntN(4), KW: 1 + r.IntN(4), StrideH: 1 + r.IntN(3), StrideW: 1 + r.IntN(3)}
		cfg.PadH, cfg.PadW = r.IntN(cfg.KH/2+1), r.IntN(cfg.KW/2+1)
		if cfg.InH+2*cfg.PadH < cfg.KH || cfg.InW+2*cfg.PadW < cfg.KW {
			continue
		}
		ceil := r.IntN(2) == 0
		cfg.OutH = opsTestPoolOut(cfg.InH, cfg.KH, cfg.StrideH, cfg.PadH, ceil)
		cfg.OutW = opsTestPoolOut(cfg.InW, cfg.KW, cfg.StrideW, cfg.PadW, ceil)
		cfgs = append(cfgs, cfg)
	}
	for _, cfg := range cfgs {
		src := opsTestRand(r, cfg.InH*cfg.InW*cfg.C)
		want := make([]float32, cfg.OutH*cfg.OutW*cfg.C)
		MaxPool2D(want, src, cfg)
		wide, pcfg := opsTestPitched(r, src, cfg)
		for _, p := range pools {
			dst := make([]float32, len(want))
			MaxPool2DP(p, dst, src, cfg)
			opsParSame(t, fmt.Sprintf("MaxPool2DP %+v threads=%d", cfg, p.Threads()), dst, want)
			dst = make([]float32, len(want))
			MaxPool2DP(p, dst, wide, pcfg)
			opsParSame(t, fmt.Sprintf("MaxPool2DP %+v threads=%d", pcfg, p.Threads()), dst, want)
		}
	}
	cfg := cfgs[0]
	src := opsTestRand(r, cfg.InH*cfg.InW*cfg.C)
	dst := make([]float32, cfg.OutH*cfg.OutW*cfg.C)
	if n := testing.AllocsPerRun(10, func() { MaxPool2DP(pools[2], dst, src, cfg) }); n != 0 {
		t.Errorf("MaxPool2DP: %v allocations, want 0", n)
	}
}

func TestNCHWToNHWCP(t *testing.T) {
	pools := []*Pool{nil, NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	r := rand.New(rand.NewPCG(11, 12))
	for _, s := range [][3]int{{3, 224, 224}, {3, 65, 67}, {3, 4, 5}, {8, 30, 31}, {1, 9, 9}} {
		c, h, w := s[0], s[1], s[2]
		src := opsTestRand(r, c*h*w)
		want := make([]float32, len(src))
		NCHWToNHWC(want, src, c, h, w)
		for _, p := range pools {
			dst := make([]float32, len(src))
			NCHWToNHWCP(p, dst, src, c, h, w)
			opsParSame(t, fmt.Sprintf("NCHWToNHWCP %v threads=%d", s, p.Threads()), dst, want)
		}
	}
	src := opsTestRand(r, 3*224*224)
	dst := make([]float32, len(src))
	if n := testing.AllocsPerRun(10, func() { NCHWToNHWCP(pools[1], dst, src, 3, 224, 224) }); n != 0 {
		t.Errorf("NCHWToNHWCP: %v allocations, want 0", n)
	}
}

func BenchmarkMaxPool2DP(b *testing.B) {
	cfg := PoolConfig{C: 64, InH: 112, InW: 112, OutH: 56, OutW: 56, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	src := make([]float32, cfg.InH*cfg.InW*cfg.C)
	dst := make([]float32, cfg.OutH*cfg.OutW*cfg.C)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("t%d", threads), func(b *testing.B) {
			p := NewPool(threads)
			defer p.Close()
			for b.Loop() {
				MaxPool2DP(p, dst, src, cfg)
			}
		})
	}
}

func BenchmarkNCHWToNHWCP(b *testing.B) {
	src := make([]float32, 3*224*224)
	dst := make([]float32, len(src))
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("t%d", threads), func(b *testing.B) {
			p := NewPool(threads)
			defer p.Close()
			for b.Loop() {
				NCHWToNHWCP(p, dst, src, 3, 224, 224)
			}
		})
	}
}

func TestConcatP(t *testing.T) {
	pools := []*Pool{nil, NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	r := rand.New(rand.NewPCG(13, 14))
	for _, s := range []struct{ hw, c1, c2 int }{{256 * 256, 32, 32}, {64 * 64, 128, 128}, {1500, 3, 5}, {7, 2, 1}} {
		a, b := opsTestRand(r, s.hw*s.c1), opsTestRand(r, s.hw*s.c2)
		want := make([]float32, s.hw*(s.c1+s.c2))
		Concat(want, s.hw, ConcatPart{Src: a, C: s.c1}, ConcatPart{Src: b, C: s.c2})
		// The reference: pixel p's channels are a's, then b's.
		for p := range s.hw {
			for c := range s.c1 + s.c2 {
				var v float32
				if c < s.c1 {
					v = a[p*s.c1+c]
				} else {
					v = b[p*s.c2+c-s.c1]
				}
				if want[p*(s.c1+s.c2)+c] != v {
					t.Fatalf("Concat %v: pixel %d channel %d wrong", s, p, c)
				}
			}
		}
		for _, p := range pools {
			dst := make([]float32, len(want))
			ConcatP(p, dst, s.hw, ConcatPart{Src: a, C: s.c1}, ConcatPart{Src: b, C: s.c2})
			opsParSame(t, fmt.Sprintf("ConcatP %v threads=%d", s, p.Threads()), dst, want)
			// b already in place: only a's channels are written.
			dst = make([]float32, len(want))
			for px := range s.hw {
				copy(dst[px*(s.c1+s.c2)+s.c1:], b[px*s.c2:(px+1)*s.c2])
			}
			ConcatP(p, dst, s.hw, ConcatPart{Src: a, C: s.c1}, ConcatPart{C: s.c2})
			opsParSame(t, fmt.Sprintf("ConcatP in place %v threads=%d", s, p.Threads()), dst, want)
		}
	}
	a, b := opsTestRand(r, 4096*16), opsTestRand(r, 4096*16)
	dst := make([]float32, 4096*32)
	if n := testing.AllocsPerRun(10, func() {
		ConcatP(pools[1], dst, 4096, ConcatPart{Src: a, C: 16}, ConcatPart{Src: b, C: 16})
	}); n != 0 {
		t.Errorf("ConcatP: %v allocations, want 0", n)
	}
}

func TestGlobalAvgPoolP(t *testing.T) {
	pools := []*Pool{nil, NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	r := rand.New(rand.NewPCG(15, 16))
	for _, s := range [][2]int{{49, 2048}, {64, 512}, {16, 100}, {3, 7}} {
		hw, c := s[0], s[1]
		src := opsTestRand(r, hw*c)
		want := make([]float32, c)
		GlobalAvgPool(want, src, hw, c)
		for ch := range c { // the reference: a float64 mean per channel
			var sum float64
			for p := range hw {
				sum += float64(src[p*c+ch])
			}
			if d := math.Abs(float64(want[ch]) - sum/float64(hw)); d > 1e-6 {
				t.Fatalf("GlobalAvgPool %v: channel %d = %v, want %v", s, ch, want[ch], sum/float64(hw))
			}
		}
		for _, p := range pools {
			dst := make([]float32, c)
			GlobalAvgPoolP(p, dst, src, hw, c)
			opsParSame(t, fmt.Sprintf("GlobalAvgPoolP %v threads=%d", s, p.Threads()), dst, want)
		}
	}
	src := opsTestRand(r, 49*2048)
	dst := make([]float32, 2048)
	if n := testing.AllocsPerRun(10, func() { GlobalAvgPoolP(pools[1], dst, src, 49, 2048) }); n != 0 {
		t.Errorf("GlobalAvgPoolP: %v allocations, want 0", n)
	}
}
