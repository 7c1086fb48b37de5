package imageio

import "image"

// Lossy WebP (VP8) stores limited-range BT.601 YCbCr at 4:2:0. Go's
// x/image/webp returns those planes as an *image.YCbCr, whose color model
// is JFIF full range: read through At, blacks and whites come out grey (up
// to 20 levels off) and chroma is repeated rather than interpolated.
// libwebp, which PIL, browsers and dwebp use, converts with its "fancy"
// upsampler and fixed-point BT.601 (src/dsp/upsampling.c and src/dsp/yuv.h
// in libwebp 1.2); webpToNRGBA does the same, so a lossy WebP decodes to the
// pixels PIL shows. VP8 decoding itself is bit-exact by specification.

// webpToNRGBA converts a lossy WebP as decoded by x/image/webp (m with
// Min = (0, 0), 4:2:0) to straight RGBA, with alpha (nil: opaque, else one
// byte per pixel at the given stride).
func webpToNRGBA(m *image.YCbCr, alpha []uint8, astride int) *image.NRGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	ch := (h + 1) / 2
	uRow := func(k int) []uint8 { return m.Cb[k*m.CStride:] }
	vRow := func(k int) []uint8 { return m.Cr[k*m.CStride:] }
	for y := range h {
		// Each output row interpolates between its nearest chroma row
		// (weight 3/4) and the next nearest (1/4); the first row and the
		// last of an even height mirror theirs.
		var near, far int
		switch {
		case y == 0:
		case y&1 == 1:
			near, far = (y-1)/2, min((y+1)/2, ch-1)
		default:
			near, far = y/2, y/2-1
		}
		ys := m.Y[y*m.YStride : y*m.YStride+w]
		row := out.Pix[y*out.Stride : y*out.Stride+4*w]
		nu, nv, fu, fv := uRow(near), vRow(near), uRow(far), vRow(far)
		put := func(x int, u, v int32) {
			r, g, b := webpRGB(int32(ys[x]), u, v)
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = r, g, b, 0xff
		}
		put(0, (3*int32(nu[0])+int32(fu[0])+2)>>2, (3*int32(nv[0])+int32(fv[0])+2)>>2)
		last := (w - 1) >> 1
		for x := 1; x <= last; x++ {
			u0, u1 := webpDiag(int32(nu[x-1]), int32(nu[x]), int32(fu[x-1]), int32(fu[x]))
			v0, v1 := webpDiag(int32(nv[x-1]), int32(nv[x]), int32(fv[x-1]), int32(fv[x]))
			put(2*x-1, u0, v0)
			put(2*x, u1, v1)
		}
		if w&1 == 0 && w > 1 {
			put(w-1, (3*int32(nu[last])+int32(fu[last])+2)>>2, (3*int32(nv[last])+int32(fv[last])+2)>>2)
		}
		if alpha != nil {
			a := alpha[y*astride : y*astride+w]
			for x := range w {
				row[4*x+3] = a[x]
			}
		}
	}
	return out
}

// webpDiag interpolates the two output pixels between near-row samples a
// (left) and b (right) and far-row samples c and d: about 9/16 of the
// nearest sample, 3/16 of each neighbor and 1/16 of the diagonal, rounded
// in libwebp's two steps.
func webpDiag(a, b, c, d int32) (left, right int32) {
	avg := a + b + c + d + 8
	d12 := (avg + 2*(b+c)) >> 3
	d03 := (avg + 2*(a+d)) >> 3
	return (d12 + a) >> 1, (d03 + b) >> 1
}

// webpRGB is libwebp's VP8YuvToRgb: 14-bit products (MultHi), results
// with 6 fractional bits, clipped.
func webpRGB(y, u, v int32) (r, g, b uint8) {
	mulHi := func(v, c int32) int32 { return (v * c) >> 8 }
	clip := func(v int32) uint8 {
		if v&^(256<<6-1) == 0 {
			return uint8(v >> 6)
		}
		if v < 0 {
			return 0
		}
		return 255
	}
	yy := mulHi(y, 19077)
	return clip(yy + mulHi(v, 26149) - 14234),
		clip(yy - mulHi(u, 6419) - mulHi(v, 13320) + 8708),
		clip(yy + mulHi(u, 33050) - 17685)
}

// libwebpColors replaces a lossy WebP's planes by the RGBA libwebp would
// produce; any other image is returned as is.
func libwebpColors(img image.Image) image.Image {
	switch m := img.(type) {
	case *image.YCbCr:
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 && m.Rect.Min == (image.Point{}) {
			return webpToNRGBA(m, nil, 0)
		}
	case *image.NYCbCrA:
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 && m.Rect.Min == (image.Point{}) {
			return webpToNRGBA(&m.YCbCr, m.A, m.AStride)
		}
	}
	return img
}
