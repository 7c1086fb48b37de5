package runtime

import "math"

// FoldBatchNorm folds an inference-mode batch norm that follows a
// convolution or linear layer into its weight and bias:
//
//	scale = gamma / sqrt(variance + eps)
//	w2    = weight * scale
//	b2    = (bias - mean) * scale + beta
//
// weight's dimension 0 is the output channel, so each channel owns
// len(weight)/len(gamma) consecutive values; bias may be nil (zeros). Each
// result is computed in float64 and rounded once, so it is as close to
// PyTorch's unfused arithmetic as float32 allows. The inputs are not
// modified; the results are new slices.
func FoldBatchNorm(weight, bias, gamma, beta, mean, variance []float32, eps float64) (w2, b2 []float32) {
	c := len(gamma)
	if c == 0 || len(weight)%c != 0 || len(beta) != c || len(mean) != c || len(variance) != c ||
		(bias != nil && len(bias) != c) {
		panic("runtime.FoldBatchNorm: weight, bias and batch norm sizes do not match")
	}
	per := len(weight) / c
	w2 = make([]float32, len(weight))
	b2 = make([]float32, c)
	for o := 0; o < c; o++ {
		scale := float64(gamma[o]) / math.Sqrt(float64(variance[o])+eps)
		ws := weight[o*per : (o+1)*per]
		wd := w2[o*per : (o+1)*per]
		wd = wd[:len(ws)]
		for i, v := range ws {
			wd[i] = float32(float64(v) * scale)
		}
		var b float64
		if bias != nil {
			b = float64(bias[o])
		}
		b2[o] = float32((b-float64(mean[o]))*scale + float64(beta[o]))
	}
	return w2, b2
}

// BatchNormAffine turns an inference-mode batch norm that cannot be folded
// (one not preceded by a convolution) into the per-channel scale and shift
// Affine applies: scale = gamma/sqrt(variance+eps), shift = beta -
// mean*scale, computed in float64 and rounded once.
func BatchNormAffine(gamma, beta, mean, variance []float32, eps float64) (scale, shift []float32) {
	c := len(gamma)
	if len(beta) != c || len(mean) != c || len(variance) != c {
		panic("runtime.BatchNormAffine: batch norm sizes do not match")
	}
	scale = make([]float32, c)
	shift = make([]float32, c)
	for o := 0; o < c; o++ {
		s := float64(gamma[o]) / math.Sqrt(float64(variance[o])+eps)
		scale[o] = float32(s)
		shift[o] = float32(float64(beta[o]) - float64(mean[o])*s)
	}
	return scale, shift
}
