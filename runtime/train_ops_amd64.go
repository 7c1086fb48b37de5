//go:build amd64 && !purego

package runtime

import "math"

// The BatchNorm loops run in AVX2 (train_ops_amd64.s) when the channels
// come in groups of eight, and in Go otherwise or when opsAVX2 is off. Both
// do the same float operations in the same order, so they agree bit for
// bit; the only exception is a ReLU of −0, which the assembly's VMAXPS
// keeps as −0 and Go's max makes +0.

//go:noescape
func bnSumsAVX2(s1, s2, k *float64, src *float32, c, nb, npix int)

//go:noescape
func bnGradSumsAVX2(sg, sxg, mean *float64, dy, src, dst *float32, c, nb, npix, all int)

//go:noescape
func bnApplyAVX2(dst, src, mean, scale, shift *float32, c, nb, npix, floor int)

//go:noescape
func bnGradApplyAVX2(dx, dy, src, dst, mean, a, b, cc *float32, c, nb, npix, all, acc int)

//go:noescape
func reluBackwardAVX2(dx, dy, y *float32, n, acc int)

// bnAVX2 reports whether the assembly handles nb channels of pixels
// [p0, p1).
func bnAVX2(nb, p0, p1 int) bool { return opsAVX2 && nb > 0 && nb%8 == 0 && p1 > p0 }

func bnSums(s1, s2 []float64, src []float32, c, c0 int, k []float64, p0, p1 int) {
	nb := len(s1)
	if !bnAVX2(nb, p0, p1) {
		bnSumsGo(s1, s2, src, c, c0, k, p0, p1)
		return
	}
	// The assembly does not check bounds: check the last values it touches.
	_, _, _ = s2[nb-1], k[nb-1], src[(p1-1)*c+c0+nb-1]
	bnSumsAVX2(&s1[0], &s2[0], &k[0], &src[p0*c+c0], c, nb, p1-p0)
}

func bnGradSums(sg, sxg []float64, dy, src, dst []float32, c, c0 int, mean []float64, relu bool, p0, p1 int) {
	nb := len(sg)
	if !bnAVX2(nb, p0, p1) {
		bnGradSumsGo(sg, sxg, dy, src, dst, c, c0, mean, relu, p0, p1)
		return
	}
	last := (p1-1)*c + c0 + nb - 1
	_, _, _, _, _ = sxg[nb-1], mean[nb-1], dy[last], src[last], dst[last]
	o := p0*c + c0
	bnGradSumsAVX2(&sg[0], &sxg[0], &mean[0], &dy[o], &src[o], &dst[o], c, nb, p1-p0, int(trainMaskAll(relu)))
}

func bnApply(dst, src []float32, c, c0 int, mean, scale, shift []float32, relu bool, p0, p1 int) {
	nb := len(mean)
	if !bnAVX2(nb, p0, p1) {
		bnApplyGo(dst, src, c, c0, mean, scale, shift, relu, p0, p1)
		return
	}
	last := (p1-1)*c + c0 + nb - 1
	_, _, _, _ = scale[nb-1], shift[nb-1], dst[last], src[last]
	floor := math.Float32bits(float32(math.Inf(-1)))
	if relu {
		floor = 0
	}
	o := p0*c + c0
	bnApplyAVX2(&dst[o], &src[o], &mean[0], &scale[0], &shift[0], c, nb, p1-p0, int(floor))
}

func bnGradApply(dx, dy, src, dst []float32, c, c0 int, mean, a, b, cc []float32, relu, acc bool, p0, p1 int) {
	nb := len(mean)
	if !bnAVX2(nb, p0, p1) {
		bnGradApplyGo(dx, dy, src, dst, c, c0, mean, a, b, cc, relu, acc, p0, p1)
		return
	}
	last := (p1-1)*c + c0 + nb - 1
	_, _, _, _, _, _, _ = a[nb-1], b[nb-1], cc[nb-1], dx[last], dy[last], src[last], dst[last]
	o := p0*c + c0
	bnGradApplyAVX2(&dx[o], &dy[o], &src[o], &dst[o], &mean[0], &a[0], &b[0], &cc[0], c, nb, p1-p0, int(trainMaskAll(relu)), trainBool(acc))
}

func reluBackward(dx, dy, y []float32, acc bool) {
	n := len(dy) &^ 7
	if !opsAVX2 || n == 0 {
		reluBackwardGo(dx, dy, y, acc)
		return
	}
	_, _ = dx[n-1], y[n-1]
	reluBackwardAVX2(&dx[0], &dy[0], &y[0], n, trainBool(acc))
	reluBackwardGo(dx[n:], dy[n:], y[n:], acc)
}

func trainBool(b bool) int {
	if b {
		return 1
	}
	return 0
}

//go:noescape
func maxPoolArgAVX2(idx *int32, src *float32, c, nb, kh, kw, row int)

func maxPoolArg(idx []int32, src []float32, c, kh, kw, row int) {
	nb := len(idx)
	if !opsAVX2 || nb%8 != 0 {
		maxPoolArgGo(idx, src, c, kh, kw, row)
		return
	}
	_ = src[(kh-1)*row+(kw-1)*c+nb-1]
	maxPoolArgAVX2(&idx[0], &src[0], c, nb, kh, kw, row)
}
