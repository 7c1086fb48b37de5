package ir

import (
	"fmt"
	"math"
	"strconv"

	"github.com/resgen/resgen/internal/winomat"
)

// ChooseWinograd decides, per 3×3 stride-1 convolution, whether it runs
// directly or as Winograd F(m×m, 3×3) for m = 2, 4 or 6, and records the
// choice in Conv.Winograd. With g.Winograd "" or "auto" it follows the
// cost model (winogradCost), which reads only the layer's shapes, so the
// generated code does not depend on the machine or on timing noise; "off"
// keeps every convolution direct, and "2", "4" or "6" force that size
// wherever it applies.
func ChooseWinograd(g *Graph) error {
	force := 0
	switch g.Winograd {
	case "", "auto":
	case "off":
		force = -1
	default:
		m, err := strconv.Atoi(g.Winograd)
		if err != nil || !winogradSize(m) {
			return fmt.Errorf("winograd %q: want auto, off, 2, 4 or 6", g.Winograd)
		}
		force = m
	}
	for _, n := range g.Nodes {
		c, ok := n.Op.(*Conv)
		if !ok {
			continue
		}
		c.Winograd = 0
		if !WinogradEligible(c) || force < 0 {
			continue
		}
		if force > 0 {
			c.Winograd = force
			continue
		}
		c.Winograd = bestWinograd(n.Inputs[0].Shape, n.Shape)
	}
	return nil
}

func winogradSize(m int) bool {
	for _, s := range winomat.Sizes {
		if s == m {
			return true
		}
	}
	return false
}

// WinogradEligible reports whether c can run as Winograd F(m×m, 3×3).
func WinogradEligible(c *Conv) bool {
	return !c.Linear && c.KH == 3 && c.KW == 3 && c.StrideH == 1 && c.StrideW == 1 &&
		c.DilH == 1 && c.DilW == 1 && c.Groups == 1
}

// bestWinograd returns the m of the cheapest F(m,3), or 0 when direct
// convolution is cheaper. Winograd must save 10% to be chosen (the model's
// error is about that), and F(6,3), whose rounding error is about 10×
// F(4,3)'s, must save another 10% over F(4,3).
func bestWinograd(in, out Shape) int {
	best, cost := 0, 0.9*directCost(in, out)
	for _, m := range winomat.Sizes {
		c := winogradCost(in, out, m)
		if m == 6 {
			c *= 1.1
		}
		if c < cost {
			best, cost = m, c
		}
	}
	return best
}

// The cost model, in nanoseconds on one core. Calibrated with
// runtime.BenchmarkWinograd on an AVX-512 Xeon (the CPU-time GFLOP/s,
// which a busy machine disturbs least): the GEMM micro-kernels reach 78
// GMAC/s with panels of 32 channels and half that with 16-channel panels;
// the transforms cost 0.3 ns per transformed value (input and output);
// weights beyond the L2 cache stream at 12 GB/s.
const (
	costMACsPerNs      = 78
	costTransformNs    = 0.3
	costBytesPerNs     = 12
	costL2WeightsBytes = 1 << 20
)

func gemmRate(outC int) float64 {
	if outC <= 16 {
		return costMACsPerNs / 2
	}
	return costMACsPerNs
}

// weightTraffic is the time to read bytes of weights passes times: once
// from memory, and again per pass when they do not stay in L2.
func weightTraffic(bytes float64, passes int) float64 {
	if bytes <= costL2WeightsBytes {
		passes = 1
	}
	return bytes * float64(passes) / costBytesPerNs
}

func directCost(in, out Shape) float64 {
	macs := float64(out.H*out.W*out.C) * float64(9*in.C)
	return macs/gemmRate(out.C) + weightTraffic(float64(9*in.C*out.C*4), 1)
}

func winogradCost(in, out Shape, m int) float64 {
	a := m + 2
	tiles := ((out.H + m - 1) / m) * ((out.W + m - 1) / m)
	block := winomat.Block(tiles, a, in.C, out.C)
	passes := (tiles + block - 1) / block
	// The GEMMs have K = in.C and rows = tiles of a block (at most 14 per
	// micro-kernel call): short K and few rows both cost efficiency.
	rows := float64(min(block, 14))
	eff := float64(in.C) / float64(in.C+16) * math.Sqrt(rows/14)
	macs := float64(tiles*a*a) * float64(in.C) * float64(out.C)
	gemm := macs / (gemmRate(out.C) * eff)
	transforms := costTransformNs * float64(tiles*a*a) * float64(in.C+out.C)
	weights := weightTraffic(float64(a*a*in.C*out.C*4), passes)
	return gemm + transforms + weights
}
