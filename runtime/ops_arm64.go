//go:build arm64 && !purego

package runtime

// opsAVX2 selects the assembly loops of the memory-bound ops; the name is
// the amd64 one, which the tests share, and on arm64 the loops are NEON.
// Tests clear it to run the Go loops on the same data; RESGEN_KERNELS=go
// does too (see gemmISA).
var opsAVX2 = gemmISABest != gemmISAGo

//go:noescape
func opsMaxPoolNEON(dst, src *float32, n, c, kh, kw, step, row, pix int)

// opsMaxWindows computes n max-pooling windows of kh×kw pixels: window i
// starts at src[i*step], its rows are row floats apart and its pixels pix
// floats apart (c, or more in a wider map); dst receives n pixels of c
// channels.
func opsMaxWindows(dst, src []float32, n, c, pix, kh, kw, step, row int) {
	if n <= 0 {
		return
	}
	if !opsAVX2 || c%4 != 0 {
		opsMaxWindowsGo(dst, src, n, c, pix, kh, kw, step, row)
		return
	}
	// The assembly does not check bounds: check the last values it touches.
	_ = dst[n*c-1]
	_ = src[(n-1)*step+(kh-1)*row+(kw-1)*pix+c-1]
	opsMaxPoolNEON(&dst[0], &src[0], n, c, kh, kw, step*4, row*4, pix*4)
}
