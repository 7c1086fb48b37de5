//go:build !amd64 || purego

package runtime

// Without assembly the BatchNorm and ReLU backward loops are the Go ones.

func bnSums(s1, s2 []float64, src []float32, c, c0 int, k []float64, p0, p1 int) {
	bnSumsGo(s1, s2, src, c, c0, k, p0, p1)
}

func bnGradSums(sg, sxg []float64, dy, src, dst []float32, c, c0 int, mean []float64, relu bool, p0, p1 int) {
	bnGradSumsGo(sg, sxg, dy, src, dst, c, c0, mean, relu, p0, p1)
}

func bnApply(dst, src []float32, c, c0 int, mean, scale, shift []float32, relu bool, p0, p1 int) {
	bnApplyGo(dst, src, c, c0, mean, scale, shift, relu, p0, p1)
}

func bnGradApply(dx, dy, src, dst []float32, c, c0 int, mean, a, b, cc []float32, relu, acc bool, p0, p1 int) {
	bnGradApplyGo(dx, dy, src, dst, c, c0, mean, a, b, cc, relu, acc, p0, p1)
}

func reluBackward(dx, dy, y []float32, acc bool) { reluBackwardGo(dx, dy, y, acc) }

func maxPoolArg(idx []int32, src []float32, c, kh, kw, row int) {
	maxPoolArgGo(idx, src, c, kh, kw, row)
}
