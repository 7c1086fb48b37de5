// Package trainref holds the scalar references of resgen's training
// kernels, generic over the float type, and the index rules they share with
// runtime's kernels.
//
// In float64 the references are checked by finite differences (runtime's
// gradcheck tests), the backward of each against the forward of the same op;
// in float32 they are what runtime's fast kernels are compared with; and in
// float64 they are the kernels of the float64 build of a generated trainer
// (internal/train64), which checks the generated code's semantics against
// PyTorch in float64. They are written in the most direct form, one output
// element at a time where that is clearer, and share only the index rules
// (NearestIndex, LinearIndex) with runtime's kernels, since those rules are
// what the forward kernels are tested against PyTorch with. Per-channel and
// per-pixel sums are float64 for both types, as in the kernels.
//
// Tensors are batched NHWC (item after item), parameters in PyTorch layout
// (docs/training.md). The package uses only the standard library and must
// never import runtime: runtime imports it, and runtime's tests use it.
package trainref

import "math"

// PoolConfig is runtime.PoolConfig's geometry, field for field, so that one
// converts to the other: trainref.PoolConfig(cfg).
type PoolConfig struct {
	C, InH, InW, OutH, OutW, KH, KW, StrideH, StrideW, PadH, PadW int

	// InPitch mirrors runtime.PoolConfig's; training values are dense, so
	// it is always 0 here.
	InPitch int

	// CountIncludePad makes AvgPool divide by the window size including
	// padding (PyTorch count_include_pad).
	CountIncludePad bool
}

// ConvConfig is the geometry of runtime.ConvConfig (without its fused
// activation, which training convolutions do not take).
type ConvConfig struct {
	InC, InH, InW, OutC, OutH, OutW                  int
	KH, KW, StrideH, StrideW, PadH, PadW, DilH, DilW int
	Groups                                           int
}

// ConvTransposeConfig is the geometry of runtime.ConvTransposeConfig.
type ConvTransposeConfig struct {
	InC, InH, InW, OutC, OutH, OutW                  int
	KH, KW, StrideH, StrideW, PadH, PadW, DilH, DilW int
	Groups                                           int
}

// NearestIndex is PyTorch's legacy 'nearest' source index (UpSample.h
// nearest_idx): floor(dst*scale) in float32 with scale = in/out, clamped to the
// input. For the integer scale factors specs use it equals floor(dst*in/out).
func NearestIndex(dst, in, out int) int {
	if out == in {
		return dst
	}
	if out == 2*in {
		return dst >> 1
	}
	scale := float32(in) / float32(out)
	return min(int(float32(math.Floor(float64(float32(dst)*scale)))), in-1)
}

// LinearIndex returns the two source indices and their weights for output
// index dst, following PyTorch's compute_source_index_and_lambda: the scale is
// a float32 computed from the sizes, the source position is computed in
// float64 and clamped at 0 (align_corners=false), and the right neighbour is
// clamped at the last input. (PyTorch computes scale and weights in the
// tensor's own type, so a float64 tensor gets float64 weights; they agree
// with these wherever in/out and the weights are exact in float32, as for
// the integer scale factors specs use.)
func LinearIndex(dst, in, out int, alignCorners bool) (i0, i1 int, l0, l1 float32) {
	if in == out {
		return dst, dst, 1, 0
	}
	var real float64
	if alignCorners {
		var scale float32
		if out > 1 {
			scale = float32(in-1) / float32(out-1)
		}
		real = float64(scale) * float64(dst)
	} else {
		scale := float32(in) / float32(out)
		real = max(float64(scale)*(float64(dst)+0.5)-0.5, 0)
	}
	i0 = int(real)
	i1 = i0
	if i0 < in-1 {
		i1 = i0 + 1
	}
	l1 = float32(real - float64(i0))
	return i0, i1, 1 - l1, l1
}
