package runtime

import (
	"testing"
)

// coldFlush is larger than the last-level cache: reading it evicts a
// layer's weights, as the rest of a large network does between two runs
// of one layer.
var coldFlush []float32

func flushCaches() float32 {
	if coldFlush == nil {
		coldFlush = make([]float32, 768<<18) // 768 MB
		for i := range coldFlush {
			coldFlush[i] = 1
		}
	}
	var s float32
	for i := 0; i < len(coldFlush); i += 16 {
		s += coldFlush[i]
	}
	return s
}

// BenchmarkConvCold times convolutions whose weights (late layers) or
// inputs (early layers, maps larger than L2) come from memory, caches
// flushed before every iteration, as inside resnet50 at batch 1, next to
// the same layer hot.
func BenchmarkConvCold(b *testing.B) {
	convBenchISA(b)
	c := convBenchCfg
	wino := func(cfg ConvConfig, m int) ConvConfig { cfg.Winograd = m; return cfg }
	shapes := []struct {
		name string
		cfg  ConvConfig
	}{
		{"3x3_64-64_56_F4", wino(c(64, 56, 64, 3, 1, 1), 4)},
		{"3x3_128-128_28_F4", wino(c(128, 28, 128, 3, 1, 1), 4)},
		{"3x3_512-512_7", c(512, 7, 512, 3, 1, 1)},
		{"3x3_512-512_7_F2", wino(c(512, 7, 512, 3, 1, 1), 2)},
		{"3x3_256-256_14", c(256, 14, 256, 3, 1, 1)},
		{"3x3_256-256_14_F2", wino(c(256, 14, 256, 3, 1, 1), 2)},
		{"3x3_256-256_14_F4", wino(c(256, 14, 256, 3, 1, 1), 4)},
		{"1x1_256-64_56", c(256, 56, 64, 1, 1, 0)},
		{"1x1_512-128_28", c(512, 28, 128, 1, 1, 0)},
		{"1x1_64-256_56", c(64, 56, 256, 1, 1, 0)},
		{"1x1_512-2048_7", c(512, 7, 2048, 1, 1, 0)},
		{"1x1_2048-512_7", c(2048, 7, 512, 1, 1, 0)},
		{"1x1s2_1024-2048_14", c(1024, 14, 2048, 1, 2, 0)},
		{"1x1_1024-256_14", c(1024, 14, 256, 1, 1, 0)},
		{"3x3_512-512_14", c(512, 14, 512, 3, 1, 1)},
		{"3x3_512-512_14_F2", wino(c(512, 14, 512, 3, 1, 1), 2)},
		{"3x3_128-256_32_F4", wino(c(128, 32, 256, 3, 1, 1), 4)},
		{"3x3_128-256_32_F6", wino(c(128, 32, 256, 3, 1, 1), 6)},
		{"3x3_256-128_64_F4", wino(c(256, 64, 128, 3, 1, 1), 4)},
		{"3x3_256-128_64_F6", wino(c(256, 64, 128, 3, 1, 1), 6)},
		{"3x3_256-256_32_F4", wino(c(256, 32, 256, 3, 1, 1), 4)},
		{"3x3_256-256_32_F6", wino(c(256, 32, 256, 3, 1, 1), 6)},
		{"3x3_256-256_28_F4", wino(c(256, 28, 256, 3, 1, 1), 4)},
		{"3x3_256-256_28_F6", wino(c(256, 28, 256, 3, 1, 1), 6)},
		{"3x3_512-512_16", c(512, 16, 512, 3, 1, 1)},
		{"3x3_512-512_16_F2", wino(c(512, 16, 512, 3, 1, 1), 2)},
		{"3x3_512-512_16_F4", wino(c(512, 16, 512, 3, 1, 1), 4)},
		{"3x3_256-512_16", c(256, 16, 512, 3, 1, 1)},
		{"3x3_256-512_16_F2", wino(c(256, 16, 512, 3, 1, 1), 2)},
		{"3x3_256-512_16_F4", wino(c(256, 16, 512, 3, 1, 1), 4)},
	}
	for _, sh := range shapes {
		conv, src, dst, flops := convBenchLayer(b, sh.cfg)
		for _, cold := range []bool{false, true} {
			name := sh.name + "/hot"
			if cold {
				name = sh.name + "/cold"
			}
			b.Run(name, func(b *testing.B) {
				conv.Forward(nil, dst, src, nil)
				for b.Loop() {
					if cold {
						b.StopTimer()
						flushCaches()
						b.StartTimer()
					}
					conv.Forward(nil, dst, src, nil)
				}
				b.ReportMetric(flops*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
			})
		}
	}
}
