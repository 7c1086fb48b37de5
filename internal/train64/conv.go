package train64

import (
	"github.com/resgen/resgen/internal/trainref"
	rt "github.com/resgen/resgen/runtime"
)

// ConvTrain is runtime.ConvTrain in float64: a convolution (or linear layer)
// and its two backward passes.
type ConvTrain struct{ cfg trainref.ConvConfig }

// NewConvTrain checks cfg as runtime.NewConvTrain does (it builds runtime's
// kernel and drops it, so both accept the same configs with the same
// errors).
func NewConvTrain(cfg rt.ConvConfig) (*ConvTrain, error) {
	if _, err := rt.NewConvTrain(cfg); err != nil {
		return nil, err
	}
	return &ConvTrain{trainref.ConvConfig{
		InC: cfg.InC, InH: cfg.InH, InW: cfg.InW, OutC: cfg.OutC, OutH: cfg.OutH, OutW: cfg.OutW,
		KH: cfg.KH, KW: cfg.KW, StrideH: cfg.StrideH, StrideW: cfg.StrideW,
		PadH: cfg.PadH, PadW: cfg.PadW, DilH: cfg.DilH, DilW: cfg.DilW, Groups: cfg.Groups,
	}}, nil
}

// Forward computes dst = conv(src, w) + bias over n items; bias may be nil.
func (c *ConvTrain) Forward(p *rt.Pool, dst, src, w, bias []float64, n int) {
	trainref.ConvForward(c.cfg, dst, src, w, bias, n)
}

// BackwardData computes the gradient of the input from dy (= or +=, by acc).
func (c *ConvTrain) BackwardData(p *rt.Pool, dx, dy, w []float64, n int, acc bool) {
	trainref.ConvBackwardData(c.cfg, dx, dy, w, n, acc)
}

// BackwardWeight computes the weight gradient and, unless dbias is nil, the
// bias gradient.
func (c *ConvTrain) BackwardWeight(p *rt.Pool, dw, dbias, src, dy []float64, n int) {
	trainref.ConvBackwardWeight(c.cfg, dw, dbias, src, dy, n)
}

// ConvTransposeTrain is runtime.ConvTransposeTrain in float64.
type ConvTransposeTrain struct{ cfg trainref.ConvTransposeConfig }

// NewConvTransposeTrain checks cfg as runtime.NewConvTransposeTrain does.
func NewConvTransposeTrain(cfg rt.ConvTransposeConfig) (*ConvTransposeTrain, error) {
	if _, err := rt.NewConvTransposeTrain(cfg); err != nil {
		return nil, err
	}
	return &ConvTransposeTrain{trainref.ConvTransposeConfig{
		InC: cfg.InC, InH: cfg.InH, InW: cfg.InW, OutC: cfg.OutC, OutH: cfg.OutH, OutW: cfg.OutW,
		KH: cfg.KH, KW: cfg.KW, StrideH: cfg.StrideH, StrideW: cfg.StrideW,
		PadH: cfg.PadH, PadW: cfg.PadW, DilH: cfg.DilH, DilW: cfg.DilW, Groups: cfg.Groups,
	}}, nil
}

// Forward computes dst = conv_transpose(src, w) + bias over n items.
func (c *ConvTransposeTrain) Forward(p *rt.Pool, dst, src, w, bias []float64, n int) {
	trainref.ConvTransposeForward(c.cfg, dst, src, w, bias, n)
}

// BackwardData computes the gradient of the input from dy (= or +=, by acc).
func (c *ConvTransposeTrain) BackwardData(p *rt.Pool, dx, dy, w []float64, n int, acc bool) {
	trainref.ConvTransposeBackwardData(c.cfg, dx, dy, w, n, acc)
}

// BackwardWeight computes the weight gradient and, unless dbias is nil, the
// bias gradient.
func (c *ConvTransposeTrain) BackwardWeight(p *rt.Pool, dw, dbias, src, dy []float64, n int) {
	trainref.ConvTransposeBackwardWeight(c.cfg, dw, dbias, src, dy, n)
}
