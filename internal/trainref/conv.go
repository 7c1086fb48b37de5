package trainref

// The training convolutions. They also run the rare shapes runtime's fast
// kernels do not take (see runtime.ConvTransposeTrain.BackwardData).
//
// Tensors are batched NHWC (item after item), weights in PyTorch layout. A
// transposed convolution is the adjoint of the convolution with the same
// geometry and the roles of input and output swapped (ConvTransposeAsConv):
// its forward is that convolution's backward-data, its backward-data that
// convolution's forward, and the two share one weight layout, so the
// transposed references are written with the convolution's loop.

// convMACs calls f(xi, yi, wi, k) for every tap of the convolution cfg over
// n items: the k = InC/Groups multiply-adds of input xi+ic, output yi and
// OIHW weight wi+ic·KH·KW, ic = 0..k−1, which f runs in order of ic (one
// call per tap rather than per multiply-add keeps the float64 build's steps
// fast enough for tests; every output still sums in the same order). Taps
// that fall in the padding are skipped. cfg's output size is taken as given,
// not checked against the input size.
func convMACs(cfg ConvConfig, n int, f func(xi, yi, wi, k int)) {
	cinG, coutG := cfg.InC/cfg.Groups, cfg.OutC/cfg.Groups
	for b := range n {
		for oh := range cfg.OutH {
			for ow := range cfg.OutW {
				yp := ((b*cfg.OutH+oh)*cfg.OutW + ow) * cfg.OutC
				for oc := range cfg.OutC {
					g := oc / coutG
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
							f(((b*cfg.InH+ih)*cfg.InW+iw)*cfg.InC+g*cinG, yp+oc, ((oc*cinG)*cfg.KH+kh)*cfg.KW+kw, cinG)
						}
					}
				}
			}
		}
	}
}

// ConvTransposeAsConv is the convolution whose adjoint the transposed
// convolution cfg is: it maps cfg's output shape to cfg's input shape with
// the same kernel, stride, padding, dilation and groups, and its OIHW
// weight is cfg's [In][Out/G][KH][KW] weight.
func ConvTransposeAsConv(cfg ConvTransposeConfig) ConvConfig {
	return ConvConfig{
		InC: cfg.OutC, InH: cfg.OutH, InW: cfg.OutW,
		OutC: cfg.InC, OutH: cfg.InH, OutW: cfg.InW,
		KH: cfg.KH, KW: cfg.KW, StrideH: cfg.StrideH, StrideW: cfg.StrideW,
		PadH: cfg.PadH, PadW: cfg.PadW, DilH: cfg.DilH, DilW: cfg.DilW, Groups: cfg.Groups,
	}
}

// fillBias sets every pixel of dst (c channels) to bias, or to zero when
// bias is nil.
func fillBias[T Float](dst, bias []T, c int) {
	for i := range dst {
		if bias != nil {
			dst[i] = bias[i%c]
		} else {
			dst[i] = 0
		}
	}
}

// biasGrad writes dbias[c] = the sum of channel c of dy over all pixels.
func biasGrad[T Float](dbias, dy []T, c int) {
	clear(dbias[:c])
	for i, v := range dy {
		dbias[i%c] += v
	}
}

// ConvForward computes dst = conv(src, w) + bias (bias may be nil).
func ConvForward[T Float](cfg ConvConfig, dst, src, w, bias []T, n int) {
	dst = dst[:n*cfg.OutH*cfg.OutW*cfg.OutC]
	fillBias(dst, bias, cfg.OutC)
	khw := cfg.KH * cfg.KW
	convMACs(cfg, n, func(xi, yi, wi, k int) {
		s := dst[yi]
		for ic := range k {
			s += src[xi+ic] * w[wi+ic*khw]
		}
		dst[yi] = s
	})
}

// ConvBackwardData computes dx (= or +=, by acc) the gradient of the
// input from dy.
func ConvBackwardData[T Float](cfg ConvConfig, dx, dy, w []T, n int, acc bool) {
	if !acc {
		clear(dx[:n*cfg.InH*cfg.InW*cfg.InC])
	}
	khw := cfg.KH * cfg.KW
	convMACs(cfg, n, func(xi, yi, wi, k int) {
		for ic := range k {
			dx[xi+ic] += dy[yi] * w[wi+ic*khw]
		}
	})
}

// ConvBackwardWeight computes dw (OIHW) and, unless nil, dbias.
func ConvBackwardWeight[T Float](cfg ConvConfig, dw, dbias, src, dy []T, n int) {
	clear(dw[:cfg.OutC*cfg.InC/cfg.Groups*cfg.KH*cfg.KW])
	khw := cfg.KH * cfg.KW
	convMACs(cfg, n, func(xi, yi, wi, k int) {
		for ic := range k {
			dw[wi+ic*khw] += src[xi+ic] * dy[yi]
		}
	})
	if dbias != nil {
		biasGrad(dbias, dy[:n*cfg.OutH*cfg.OutW*cfg.OutC], cfg.OutC)
	}
}

// ConvTransposeForward computes dst = convtranspose(src, w) + bias.
func ConvTransposeForward[T Float](cfg ConvTransposeConfig, dst, src, w, bias []T, n int) {
	dst = dst[:n*cfg.OutH*cfg.OutW*cfg.OutC]
	fillBias(dst, bias, cfg.OutC)
	khw := cfg.KH * cfg.KW
	convMACs(ConvTransposeAsConv(cfg), n, func(xi, yi, wi, k int) {
		for ic := range k {
			dst[xi+ic] += src[yi] * w[wi+ic*khw]
		}
	})
}

// ConvTransposeBackwardData computes dx (= or +=, by acc) from dy.
func ConvTransposeBackwardData[T Float](cfg ConvTransposeConfig, dx, dy, w []T, n int, acc bool) {
	if !acc {
		clear(dx[:n*cfg.InH*cfg.InW*cfg.InC])
	}
	khw := cfg.KH * cfg.KW
	convMACs(ConvTransposeAsConv(cfg), n, func(xi, yi, wi, k int) {
		s := dx[yi]
		for ic := range k {
			s += dy[xi+ic] * w[wi+ic*khw]
		}
		dx[yi] = s
	})
}

// ConvTransposeBackwardWeight computes dw ([In][Out/G][KH][KW]) and,
// unless nil, dbias.
func ConvTransposeBackwardWeight[T Float](cfg ConvTransposeConfig, dw, dbias, src, dy []T, n int) {
	clear(dw[:cfg.InC*cfg.OutC/cfg.Groups*cfg.KH*cfg.KW])
	khw := cfg.KH * cfg.KW
	convMACs(ConvTransposeAsConv(cfg), n, func(xi, yi, wi, k int) {
		for ic := range k {
			dw[wi+ic*khw] += dy[xi+ic] * src[yi]
		}
	})
	if dbias != nil {
		biasGrad(dbias, dy[:n*cfg.OutH*cfg.OutW*cfg.OutC], cfg.OutC)
	}
}
