package runtime

// Layout conversions between PyTorch's NCHW and the kernels' NHWC. They are
// transposes of a channels × pixels matrix, done in tiles so that both the
// reads and the writes stay in cache.

// Flatten writes an h×w×c NHWC map in PyTorch's flatten order (channel,
// height, width), ready for a Linear layer trained on NCHW tensors.
func Flatten(dst, src []float32, h, w, c int) {
	NHWCToNCHW(dst, src, c, h, w)
}

// layoutTile is the side of the square tiles transposes work in, small
// enough that a tile of both source and destination stays in L1.
const layoutTile = 32

// layoutTranspose writes the rows×cols matrix src into dst as its cols×rows
// transpose, a tile at a time.
func layoutTranspose(op string, dst, src []float32, rows, cols int) {
	if rows <= 0 || cols <= 0 || len(src) < rows*cols || len(dst) < rows*cols {
		opsPanic(op, "sizes do not match")
	}
	src = src[:rows*cols]
	dst = dst[:rows*cols]
	if rows == 1 || cols == 1 {
		copy(dst, src)
		return
	}
	if rows == 3 {
		// An RGB image to NHWC: one pass, writing each pixel whole, beats
		// tiles whose destination rows are only three floats long.
		s0, s1, s2 := src[:cols], src[cols:2*cols], src[2*cols:]
		s1, s2 = s1[:len(s0)], s2[:len(s0)]
		for p, v := range s0 {
			d := dst[3*p : 3*p+3 : 3*p+3]
			d[0], d[1], d[2] = v, s1[p], s2[p]
		}
		return
	}
	for r0 := 0; r0 < rows; r0 += layoutTile {
		r1 := min(r0+layoutTile, rows)
		for c0 := 0; c0 < cols; c0 += layoutTile {
			c1 := min(c0+layoutTile, cols)
			for r := r0; r < r1; r++ {
				s := src[r*cols+c0 : r*cols+c1]
				for j, v := range s {
					dst[(c0+j)*rows+r] = v
				}
			}
		}
	}
}

// NCHWToNHWC converts one c×h×w NCHW item to NHWC.
func NCHWToNHWC(dst, src []float32, c, h, w int) {
	layoutTranspose("NCHWToNHWC", dst, src, c, h*w)
}

// NHWCToNCHW converts one h×w×c NHWC item to NCHW.
func NHWCToNCHW(dst, src []float32, c, h, w int) {
	layoutTranspose("NHWCToNCHW", dst, src, h*w, c)
}
