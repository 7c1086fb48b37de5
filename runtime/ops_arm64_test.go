//go:build arm64 && !purego

package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxPoolNEONChannels covers the channel counts that only the NEON loop
// takes (multiples of 4 but not of 8: blocks of 16, then of 4) against the
// scalar reference, and, with NaNs and infinities in the input, against the
// Go loop: opsTestPoolRef's math.Max makes a window holding +Inf and NaN
// +Inf, where PyTorch (and both loops) give NaN.
func TestMaxPoolNEONChannels(t *testing.T) {
	if !opsAVX2 {
		t.Skip("no NEON loops")
	}
	r := rand.New(rand.NewPCG(41, 42))
	for iter := 0; iter < 200; iter++ {
		cfg := PoolConfig{C: []int{4, 12, 20, 28, 36, 52, 68}[r.IntN(7)], InH: 1 + r.IntN(10), InW: 1 + r.IntN(10),
			KH: 1 + r.IntN(4), KW: 1 + r.IntN(4), StrideH: 1 + r.IntN(3), StrideW: 1 + r.IntN(3)}
		cfg.PadH, cfg.PadW = r.IntN(cfg.KH/2+1), r.IntN(cfg.KW/2+1)
		if cfg.InH+2*cfg.PadH < cfg.KH || cfg.InW+2*cfg.PadW < cfg.KW {
			continue
		}
		cfg.OutH = opsTestPoolOut(cfg.InH, cfg.KH, cfg.StrideH, cfg.PadH, false)
		cfg.OutW = opsTestPoolOut(cfg.InW, cfg.KW, cfg.StrideW, cfg.PadW, false)
		src := opsTestRand(r, cfg.InH*cfg.InW*cfg.C)
		special := iter%3 == 0
		if special {
			for range 3 {
				src[r.IntN(len(src))] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[r.IntN(3)]
			}
		}
		dst := make([]float32, cfg.OutH*cfg.OutW*cfg.C)
		MaxPool2D(dst, src, cfg)
		want := opsTestPoolRef(src, cfg, true)
		if special {
			opsAVX2 = false
			MaxPool2D(want, src, cfg)
			opsAVX2 = true
		}
		opsTestClose(t, fmt.Sprintf("MaxPool2D %+v", cfg), dst, want, 0)
	}
}
