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
// convolution is cheaper. Winograd must save 8% to be chosen (about the
// model's error on the calibration shapes), and F(6,3), whose rounding
// error is several times F(4,3)'s, must save another 5% over F(4,3).
func bestWinograd(in, out Shape) int {
	best, cost := 0, 0.92*directCost(in, out)
	for _, m := range winomat.Sizes {
		c := winogradCost(in, out, m)
		if m == 6 {
			c *= 1.05
		}
		if c < cost {
			best, cost = m, c
		}
	}
	return best
}

// The cost model, in nanoseconds on one core, calibrated with
// runtime.BenchmarkWinograd (3×3 layers of the CIFAR ResNets, ResNet-18
// and U-Net, F(0|2|4|6,3), one thread, a quiet AVX-512 Xeon; within about
// 15% of every measured time there). The micro-kernels reach 78 GMAC/s on
// a direct convolution and 72 on a Winograd GEMM, whose short K (the input
// channels) and few rows (tiles per block) cost efficiency; a transformed
// value (input and output) costs 0.2, 0.25 or 0.37 ns for F(2,3), F(4,3) and
// F(6,3), whose transforms have more non-zero entries per row; weights
// larger than L2 are read at 25 bytes/ns the first time and 20 for every
// further block.
const (
	costDirectMACsPerNs = 78
	costWinoMACsPerNs   = 72
	costFirstBytesPerNs = 25
	costAgainBytesPerNs = 20
	costL2WeightsBytes  = 1 << 20
)

var costTransformNs = map[int]float64{2: 0.2, 4: 0.25, 6: 0.37}

// weightTraffic is the time to read bytes of weights passes times; weights
// that fit L2 stay there between inferences and cost nothing.
func weightTraffic(bytes float64, passes int) float64 {
	if bytes <= costL2WeightsBytes {
		return 0
	}
	return bytes/costFirstBytesPerNs + bytes*float64(passes-1)/costAgainBytesPerNs
}

func directCost(in, out Shape) float64 {
	macs := float64(out.H*out.W*out.C) * float64(9*in.C)
	return macs/costDirectMACsPerNs + weightTraffic(float64(9*in.C*out.C*4), 1)
}

// WinogradTiles is how many m×m output tiles F(m×m, 3×3) cuts out into.
func WinogradTiles(out Shape, m int) int {
	return ((out.H + m - 1) / m) * ((out.W + m - 1) / m)
}

func winogradCost(in, out Shape, m int) float64 {
	a := m + 2
	tiles := WinogradTiles(out, m)
	block := winomat.Block(tiles, a, in.C, out.C)
	passes := (tiles + block - 1) / block
	// Each GEMM call computes at least 8 rows (runtime's winoMinRows),
	// so a block of fewer tiles still pays for 8.
	rows := (passes-1)*max(block, 8) + max(tiles-(passes-1)*block, 8)
	eff := float64(in.C) / float64(in.C+8) * math.Pow(float64(min(max(block, 8), 14))/14, 0.25)
	macs := float64(rows*a*a) * float64(in.C) * float64(out.C)
	gemm := macs / (costWinoMACsPerNs * eff)
	transforms := costTransformNs[m] * float64(tiles*a*a) * float64(in.C+out.C)
	weights := weightTraffic(float64(a*a*in.C*out.C*4), passes)
	return gemm + transforms + weights
}
