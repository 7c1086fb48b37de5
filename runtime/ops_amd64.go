//go:build amd64 && !purego

package runtime

import "golang.org/x/sys/cpu"

// opsAVX2 selects the assembly loops of the memory-bound ops. On AVX-512
// machines they use 256-bit vectors too: these loops are limited by memory,
// not by vector width. Tests clear it to run the Go loops on the same data;
// RESGEN_KERNELS=go does too (see gemmISA).
var opsAVX2 = cpu.X86.HasAVX2 && gemmISABest != gemmISAGo

//go:noescape
func opsMaxPoolAVX2(dst, src *float32, n, c, kh, kw, step, row, pix int)

// opsMaxWindows computes n max-pooling windows of kh×kw pixels: window i
// starts at src[i*step], its rows are row floats apart and its pixels pix
// floats apart (c, or more in a wider map); dst receives n pixels of c
// channels.
func opsMaxWindows(dst, src []float32, n, c, pix, kh, kw, step, row int) {
	if n <= 0 {
		return
	}
	if !opsAVX2 || c%8 != 0 {
		opsMaxWindowsGo(dst, src, n, c, pix, kh, kw, step, row)
		return
	}
	// The assembly does not check bounds: check the last values it touches.
	_ = dst[n*c-1]
	_ = src[(n-1)*step+(kh-1)*row+(kw-1)*pix+c-1]
	opsMaxPoolAVX2(&dst[0], &src[0], n, c, kh, kw, step*4, row*4, pix*4)
}
