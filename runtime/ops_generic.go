//go:build (!amd64 && !arm64) || purego

package runtime

// opsAVX2 is false: there are no assembly loops on this build.
var opsAVX2 = false

// opsMaxWindows computes n max-pooling windows of kh×kw pixels: window i
// starts at src[i*step], its rows are row floats apart and its pixels pix
// floats apart (c, or more in a wider map); dst receives n pixels of c
// channels.
func opsMaxWindows(dst, src []float32, n, c, pix, kh, kw, step, row int) {
	opsMaxWindowsGo(dst, src, n, c, pix, kh, kw, step, row)
}
