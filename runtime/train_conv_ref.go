package runtime

import "github.com/resgen/resgen/internal/trainref"

// The scalar references of the training kernels live in internal/trainref
// (generic over the float type: runtime's tests check them by finite
// differences in float64 and compare the fast float32 kernels with them, and
// internal/train64 runs them as the float64 build's kernels). These adapt
// runtime's configs to them.

// refConv is cfg's geometry as trainref takes it.
func refConv(cfg ConvConfig) trainref.ConvConfig {
	return trainref.ConvConfig{
		InC: cfg.InC, InH: cfg.InH, InW: cfg.InW, OutC: cfg.OutC, OutH: cfg.OutH, OutW: cfg.OutW,
		KH: cfg.KH, KW: cfg.KW, StrideH: cfg.StrideH, StrideW: cfg.StrideW,
		PadH: cfg.PadH, PadW: cfg.PadW, DilH: cfg.DilH, DilW: cfg.DilW, Groups: cfg.Groups,
	}
}

// refConvT is cfg's geometry as trainref takes it.
func refConvT(cfg ConvTransposeConfig) trainref.ConvTransposeConfig {
	return trainref.ConvTransposeConfig(refConv(ConvConfig{
		InC: cfg.InC, InH: cfg.InH, InW: cfg.InW, OutC: cfg.OutC, OutH: cfg.OutH, OutW: cfg.OutW,
		KH: cfg.KH, KW: cfg.KW, StrideH: cfg.StrideH, StrideW: cfg.StrideW,
		PadH: cfg.PadH, PadW: cfg.PadW, DilH: cfg.DilH, DilW: cfg.DilW, Groups: cfg.Groups,
	}))
}

// convTransposeAsConv is the convolution whose adjoint the transposed
// convolution cfg is (trainref.ConvTransposeAsConv), without activation.
func convTransposeAsConv(cfg ConvTransposeConfig) ConvConfig {
	a := trainref.ConvTransposeAsConv(refConvT(cfg))
	return ConvConfig{
		InC: a.InC, InH: a.InH, InW: a.InW, OutC: a.OutC, OutH: a.OutH, OutW: a.OutW,
		KH: a.KH, KW: a.KW, StrideH: a.StrideH, StrideW: a.StrideW,
		PadH: a.PadH, PadW: a.PadW, DilH: a.DilH, DilW: a.DilW, Groups: a.Groups,
	}
}

// convTransposeBackwardDataRef runs ConvTransposeTrain.BackwardData's rare
// shapes on the reference.
func convTransposeBackwardDataRef(cfg ConvTransposeConfig, dx, dy, w []float32, n int, acc bool) {
	trainref.ConvTransposeBackwardData(refConvT(cfg), dx, dy, w, n, acc)
}
