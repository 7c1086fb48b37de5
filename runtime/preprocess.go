package runtime

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"sync"
)

// Interp is the resampling filter of a resize, as torchvision's
// InterpolationMode selects it for PIL images.
type Interp uint8

const (
	InterpNearest Interp = iota
	InterpBilinear
	InterpBicubic
)

func (i Interp) String() string {
	switch i {
	case InterpNearest:
		return "nearest"
	case InterpBilinear:
		return "bilinear"
	case InterpBicubic:
		return "bicubic"
	}
	return fmt.Sprintf("Interp(%d)", uint8(i))
}

// PreprocessConfig describes the torchvision pipeline
//
//	Compose([Resize(...), CenterCrop(...), ToTensor(), Normalize(Mean, Std)])
//
// applied to PIL.Image.open(path).convert("L" if Gray else "RGB").
type PreprocessConfig struct {
	Gray             bool      // PIL convert("L") luma; else convert("RGB")
	ResizeShort      int       // > 0: torchvision Resize(int): shorter side to this (torchvision 0.14's rule for the long side)
	ResizeH, ResizeW int       // > 0: Resize([H, W]); all zero: no resize
	Interp           Interp    // the Resize interpolation
	CropH, CropW     int       // > 0: CenterCrop (torchvision's rounding, zero padding when the crop is larger)
	Mean, Std        []float32 // one per channel; both nil: no Normalize
}

// maxSide bounds every size Preprocess works with, so that no product
// overflows and PIL's float32 box coordinates stay exact.
const maxSide = 1 << 24

// Preprocess writes the C×H×W (NCHW, one item) float32 tensor that the
// torchvision pipeline cfg describes into dst, for an image decoded by Go.
// len(dst) must equal C·H·W of the final image.
//
// The result equals torchvision 0.14 with PIL 9.4 exactly when img holds the
// pixels PIL decodes (every 8-bit PNG mode: RGB, RGBA, L, LA, P with and
// without transparency): the resize is PIL's fixed-point separable
// resampling, not an approximation of it. See docs/preprocess.md, also for
// what differs with JPEG.
func Preprocess(dst []float32, img image.Image, cfg *PreprocessConfig) error {
	if cfg == nil {
		return errors.New("preprocess: nil config")
	}
	if img == nil {
		return errors.New("preprocess: nil image")
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return fmt.Errorf("preprocess: image is empty (%dx%d)", max(w, 0), max(h, 0))
	}
	if w > maxSide || h > maxSide {
		return fmt.Errorf("preprocess: image %dx%d is too large", w, h)
	}
	p, err := planPreprocess(cfg, w, h)
	if err != nil {
		return fmt.Errorf("preprocess: %w", err)
	}
	// int64: on 32-bit platforms the product of two sides can overflow int.
	if want := int64(p.c) * int64(p.y.out) * int64(p.x.out); int64(len(dst)) != want {
		return fmt.Errorf("preprocess: dst has %d values, want %d = %dx%dx%d (CxHxW) for a %dx%d image",
			len(dst), want, p.c, p.y.out, p.x.out, w, h)
	}
	p.x.buildTaps()
	p.y.buildTaps()
	p.run(dst, img)
	return nil
}

// preprocessPlan is everything Preprocess computes from the sizes alone.
type preprocessPlan struct {
	c    int
	gray bool
	x, y axisPlan
	lut  [][256]float32 // per channel: 8-bit level → normalized value
}

// axisPlan is one axis of resize-then-crop. Output index i (0 ≤ i < out)
// reads index i+off of the resized axis; outside [0, resized) it is zero
// padding. Only the outputs in [lo, hi) read the image, through taps.
type axisPlan struct {
	n, resized, off int // source size, resized size, crop offset
	interp          Interp
	out, lo, hi     int
	taps            taps // after buildTaps
}

func planPreprocess(cfg *PreprocessConfig, w, h int) (*preprocessPlan, error) {
	if cfg.Interp > InterpBicubic {
		return nil, fmt.Errorf("unknown interpolation %d", cfg.Interp)
	}
	for _, v := range []struct {
		name string
		v    int
	}{{"ResizeShort", cfg.ResizeShort}, {"ResizeH", cfg.ResizeH}, {"ResizeW", cfg.ResizeW}, {"CropH", cfg.CropH}, {"CropW", cfg.CropW}} {
		if v.v < 0 || v.v > maxSide {
			return nil, fmt.Errorf("%s is %d, want 0 (off) or 1 to %d", v.name, v.v, maxSide)
		}
	}
	if (cfg.ResizeH > 0) != (cfg.ResizeW > 0) {
		return nil, fmt.Errorf("ResizeH x ResizeW is %dx%d, want both set or both 0", cfg.ResizeH, cfg.ResizeW)
	}
	if cfg.ResizeShort > 0 && cfg.ResizeH > 0 {
		return nil, fmt.Errorf("both ResizeShort (%d) and ResizeH x ResizeW (%dx%d) are set", cfg.ResizeShort, cfg.ResizeH, cfg.ResizeW)
	}
	if (cfg.CropH > 0) != (cfg.CropW > 0) {
		return nil, fmt.Errorf("CropH x CropW is %dx%d, want both set or both 0", cfg.CropH, cfg.CropW)
	}
	p := &preprocessPlan{c: 3, gray: cfg.Gray}
	if cfg.Gray {
		p.c = 1
	}
	if err := p.setNormalize(cfg.Mean, cfg.Std); err != nil {
		return nil, err
	}

	rw, rh := w, h
	switch {
	case cfg.ResizeShort > 0:
		// torchvision 0.14 _compute_resized_output_size: the long side is
		// int(short_target * long / short), truncated (not rounded).
		short, long := w, h
		if h < w {
			short, long = h, w
		}
		newLong := math.Trunc(float64(int64(cfg.ResizeShort)*int64(long)) / float64(short))
		if newLong > maxSide {
			return nil, fmt.Errorf("ResizeShort %d makes the %dx%d image %v pixels long, too large", cfg.ResizeShort, w, h, newLong)
		}
		if w <= h {
			rw, rh = cfg.ResizeShort, int(newLong)
		} else {
			rw, rh = int(newLong), cfg.ResizeShort
		}
	case cfg.ResizeH > 0:
		rw, rh = cfg.ResizeW, cfg.ResizeH
	}
	cw, ch := cfg.CropW, cfg.CropH
	if cw == 0 {
		cw, ch = rw, rh
	}
	// torchvision returns the image unchanged when the size does not change,
	// and so does PIL; an axis whose size is kept is never resampled (PIL
	// skips that pass), so it is planned as the identity.
	p.x = planAxis(w, rw, cw, cfg.Interp)
	p.y = planAxis(h, rh, ch, cfg.Interp)
	return p, nil
}

func (p *preprocessPlan) setNormalize(mean, std []float32) error {
	if len(mean) != len(std) {
		return fmt.Errorf("Mean has %d values and Std %d, want %d each", len(mean), len(std), p.c)
	}
	if len(mean) != 0 && len(mean) != p.c {
		return fmt.Errorf("Mean and Std have %d values, want %d (one per channel)", len(mean), p.c)
	}
	p.lut = make([][256]float32, p.c)
	for c := range p.c {
		m, s := float32(0), float32(1)
		if len(mean) != 0 {
			m, s = mean[c], std[c]
		}
		if s == 0 || !finite(m) || !finite(s) {
			return fmt.Errorf("channel %d: Mean %v, Std %v, want a finite mean and a nonzero std", c, m, s)
		}
		// The same float32 operations as ToTensor's div(255) and
		// Normalize's sub_(mean).div_(std), so results are bit-identical.
		for v := range 256 {
			x := float32(v) / 255
			p.lut[c][v] = (x - m) / s
		}
	}
	return nil
}

func finite(v float32) bool {
	return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
}

// planAxis plans an axis of n source pixels resized to rn and center
// cropped (or zero padded) to cn.
func planAxis(n, rn, cn int, interp Interp) axisPlan {
	var off int
	if cn > rn {
		// torchvision pads (cn-rn)//2 before and the rest after.
		off = -((cn - rn) / 2)
	} else {
		// int(round((rn - cn) / 2.0)): Python rounds halves to even.
		off = int(math.RoundToEven(float64(rn-cn) / 2))
	}
	return axisPlan{n: n, resized: rn, off: off, interp: interp, out: cn, lo: max(0, -off), hi: min(cn, rn-off)}
}

// buildTaps computes the taps, once the output size is known to match the
// caller's buffer: they take memory in proportion to the output.
func (a *axisPlan) buildTaps() {
	j0, j1 := a.lo+a.off, a.hi+a.off
	switch {
	case a.resized == a.n:
		a.taps = identityTaps(j0, j1)
	case a.interp == InterpNearest:
		a.taps = nearestTaps(a.n, a.resized, j0, j1)
	default:
		a.taps = filterTaps(a.n, a.resized, j0, j1, a.interp)
	}
}

// precisionBits is PIL's PRECISION_BITS: 8 bits for the result, 2 for
// overshoot, the rest for the weights.
const precisionBits = 32 - 8 - 2

// taps are the source pixels and fixed-point weights of a run of outputs
// along one axis.
type taps struct {
	start []int32 // first source index of each output
	n     []int32 // number of source pixels read (0: none, the output is 0)
	off   []int32 // where each output's weights start in coef
	coef  []int32 // weights; 1<<precisionBits is 1
	// single: every output reads at most one source pixel at weight 1
	// (no resize, or nearest), so a pass is a gather.
	single bool
}

func (t *taps) len() int { return len(t.start) }

// span returns the source range [lo, hi) the outputs read.
func (t *taps) span() (lo, hi int) {
	lo, hi = math.MaxInt, 0
	for i, s := range t.start {
		if t.n[i] > 0 {
			lo = min(lo, int(s))
			hi = max(hi, int(s+t.n[i]))
		}
	}
	if lo > hi {
		return 0, 0
	}
	return lo, hi
}

func identityTaps(j0, j1 int) taps {
	t := taps{single: true}
	for j := j0; j < j1; j++ {
		t.start = append(t.start, int32(j))
		t.n = append(t.n, 1)
	}
	return t
}

// nearestTaps follows PIL's ImagingScaleAffine (what Image.resize uses for
// NEAREST): the source coordinate starts at scale/2 and accumulates scale
// per output in float64, and each output takes the pixel at its truncation.
// The accumulation is reproduced rather than computed as (j+0.5)*scale, so
// ties fall on the same side.
func nearestTaps(n, rn, j0, j1 int) taps {
	t := taps{single: true}
	scale := float64(n) / float64(rn)
	xo := float64(scale * 0.5)
	for j := 0; j < j1; j++ {
		if j >= j0 {
			xin := -1
			if xo >= 0 {
				xin = int(xo)
			}
			if xin >= 0 && xin < n {
				t.start = append(t.start, int32(xin))
				t.n = append(t.n, 1)
			} else {
				t.start = append(t.start, 0)
				t.n = append(t.n, 0)
			}
		}
		xo += scale
	}
	return t
}

// filterTaps follows PIL's precompute_coeffs and normalize_coeffs_8bpc
// (libImaging/Resample.c): when downscaling the filter's support grows by
// the scale, so every source pixel contributes (antialiasing); weights are
// normalized in float64 and rounded to fixed point. Products are wrapped in
// float64() so that the compiler cannot fuse them into FMAs, which would
// round differently from PIL's C.
func filterTaps(n, rn, j0, j1 int, interp Interp) taps {
	filter, support := bilinearFilter, 1.0
	if interp == InterpBicubic {
		filter, support = bicubicFilter, 2.0
	}
	scale := float64(n) / float64(rn)
	filterscale := max(scale, 1)
	support = float64(support * filterscale)
	ss := 1.0 / filterscale

	var t taps
	var k []float64
	for j := j0; j < j1; j++ {
		center := float64((float64(j) + 0.5) * scale)
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), n) - xmin
		k = k[:0]
		ww := 0.0
		for x := range max(xmax, 0) {
			w := filter(float64((float64(x+xmin) - center + 0.5) * ss))
			k = append(k, w)
			ww += w
		}
		t.start = append(t.start, int32(xmin))
		t.n = append(t.n, int32(len(k)))
		t.off = append(t.off, int32(len(t.coef)))
		for _, w := range k {
			if ww != 0 {
				w /= ww
			}
			// C's (int) truncates toward zero after the ±0.5.
			if w < 0 {
				t.coef = append(t.coef, int32(-0.5+float64(w*(1<<precisionBits))))
			} else {
				t.coef = append(t.coef, int32(0.5+float64(w*(1<<precisionBits))))
			}
		}
	}
	return t
}

func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// bicubicFilter is PIL's cubic convolution with a = -0.5.
func bicubicFilter(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return float64(float64(float64(float64((a+2)*x)-(a+3))*x)*x) + 1
	}
	if x < 2 {
		return float64(float64(float64(float64(float64(x-5)*x)+8)*x)-4) * a
	}
	return 0
}

// clip8 rounds a fixed-point sum (which started at one half) to 8 bits, as
// PIL's clip8 does with its lookup table.
func clip8(s int32) uint8 {
	v := s >> precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

const half = 1 << (precisionBits - 1)

// run converts the source pixels the outputs need to PIL's 8-bit RGB or L,
// resamples horizontally then vertically (PIL's order, each pass rounded and
// clipped to 8 bits), and writes the normalized planes.
func (p *preprocessPlan) run(dst []float32, img image.Image) {
	c := p.c
	ow, oh := p.x.out, p.y.out
	plane := ow * oh
	if p.x.lo > 0 || p.x.hi < ow || p.y.lo > 0 || p.y.hi < oh {
		for ch := range c {
			zero := p.lut[ch][0]
			d := dst[ch*plane : (ch+1)*plane]
			for i := range d {
				d[i] = zero
			}
		}
	}
	if p.x.lo >= p.x.hi || p.y.lo >= p.y.hi {
		return
	}
	sx0, sx1 := p.x.taps.span()
	sy0, sy1 := p.y.taps.span()
	b := img.Bounds()
	sw := sx1 - sx0
	sc := scratchPool.Get().(*preprocessScratch)
	defer scratchPool.Put(sc)
	src := grow(&sc.src, (sy1-sy0)*sw*c)
	if sw > 0 {
		readPixels(src, img, image.Rect(b.Min.X+sx0, b.Min.Y+sy0, b.Min.X+sx1, b.Min.Y+sy1), p.gray)
	}

	// Horizontal pass over the source rows the vertical pass reads.
	nx := p.x.taps.len()
	tmp := src
	tstride := sw * c
	if !isIdentity(&p.x.taps, sx0) {
		tstride = nx * c
		tmp = grow(&sc.tmp, (sy1-sy0)*tstride)
		resampleRows(tmp, tstride, src, sw*c, sy1-sy0, c, &p.x.taps, sx0)
	}

	// Vertical pass, straight into the planes.
	acc := grow(&sc.acc, nx*c)
	row8 := grow(&sc.row8, nx*c)
	yt := &p.y.taps
	for i := range yt.len() {
		var row []uint8
		switch {
		case yt.n[i] == 0:
			clear(row8)
			row = row8
		case yt.single:
			s := int(yt.start[i]) - sy0
			row = tmp[s*tstride : s*tstride+nx*c]
		default:
			for j := range acc {
				acc[j] = half
			}
			s := int(yt.start[i]) - sy0
			k := yt.coef[yt.off[i] : yt.off[i]+yt.n[i]]
			for t, w := range k {
				r := tmp[(s+t)*tstride : (s+t)*tstride+len(acc)]
				for j, v := range r {
					acc[j] += int32(v) * w
				}
			}
			for j, s := range acc {
				row8[j] = clip8(s)
			}
			row = row8
		}
		y := p.y.lo + i
		for ch := range c {
			lut := &p.lut[ch]
			d := dst[ch*plane+y*ow+p.x.lo : ch*plane+y*ow+p.x.hi]
			for x := range d {
				d[x] = lut[row[x*c+ch]]
			}
		}
	}
}

// preprocessScratch holds Preprocess's buffers between calls: a
// 1000×750 photo needs about 2 MB, which would otherwise be allocated and
// zeroed for every image. Every element is written before it is read.
type preprocessScratch struct {
	src, tmp, row8 []uint8
	acc            []int32
}

var scratchPool = sync.Pool{New: func() any { return new(preprocessScratch) }}

func grow[T any](b *[]T, n int) []T {
	if cap(*b) < n {
		*b = make([]T, n)
	}
	*b = (*b)[:n]
	return *b
}

// isIdentity reports whether the taps read source pixels sx0, sx0+1, …
// one to one, so the pass can be skipped.
func isIdentity(t *taps, sx0 int) bool {
	if !t.single {
		return false
	}
	for i, s := range t.start {
		if t.n[i] != 1 || int(s) != sx0+i {
			return false
		}
	}
	return true
}

// resampleRows applies taps along each of rows rows of c-channel pixels.
func resampleRows(dst []uint8, dstride int, src []uint8, sstride, rows, c int, t *taps, sx0 int) {
	n := t.len()
	for r := range rows {
		in := src[r*sstride : (r+1)*sstride]
		out := dst[r*dstride : r*dstride+n*c]
		switch {
		case t.single:
			for i := range n {
				if t.n[i] == 0 {
					for ch := range c {
						out[i*c+ch] = 0
					}
					continue
				}
				s := (int(t.start[i]) - sx0) * c
				copy(out[i*c:i*c+c], in[s:s+c])
			}
		case c == 3:
			for i := range n {
				s := (int(t.start[i]) - sx0) * 3
				k := t.coef[t.off[i] : t.off[i]+t.n[i]]
				px := in[s : s+3*len(k)]
				s0, s1, s2 := int32(half), int32(half), int32(half)
				for j, w := range k {
					q := px[3*j : 3*j+3]
					s0 += int32(q[0]) * w
					s1 += int32(q[1]) * w
					s2 += int32(q[2]) * w
				}
				out[3*i], out[3*i+1], out[3*i+2] = clip8(s0), clip8(s1), clip8(s2)
			}
		default:
			for i := range n {
				s := int(t.start[i]) - sx0
				k := t.coef[t.off[i] : t.off[i]+t.n[i]]
				px := in[s : s+len(k)]
				s0 := int32(half)
				for j, w := range k {
					s0 += int32(px[j]) * w
				}
				out[i] = clip8(s0)
			}
		}
	}
}

// readPixels writes the pixels of r (absolute coordinates inside
// img.Bounds()) into dst as 8-bit RGB, or L when gray, the values PIL's
// convert("RGB") or convert("L") gives for the same file: straight (not
// premultiplied) color with alpha dropped, never composited; palette entries
// looked up; L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16 (PIL's L24).
func readPixels(dst []uint8, img image.Image, r image.Rectangle, gray bool) {
	w := r.Dx()
	if gray {
		switch m := img.(type) {
		case *image.Gray:
			for y := r.Min.Y; y < r.Max.Y; y++ {
				i := m.PixOffset(r.Min.X, y)
				copy(dst[(y-r.Min.Y)*w:(y-r.Min.Y+1)*w], m.Pix[i:i+w])
			}
			return
		case *image.Gray16:
			for y := r.Min.Y; y < r.Max.Y; y++ {
				i := m.PixOffset(r.Min.X, y)
				d := dst[(y-r.Min.Y)*w : (y-r.Min.Y+1)*w]
				for x := range d {
					d[x] = m.Pix[i+2*x]
				}
			}
			return
		}
		rgb := make([]uint8, 3*w)
		read := rgbRows(img)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			read(rgb, y, r.Min.X, r.Max.X)
			d := dst[(y-r.Min.Y)*w : (y-r.Min.Y+1)*w]
			for x := range d {
				q := rgb[3*x : 3*x+3]
				d[x] = uint8((uint32(q[0])*19595 + uint32(q[1])*38470 + uint32(q[2])*7471 + 0x8000) >> 16)
			}
		}
		return
	}
	read := rgbRows(img)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		read(dst[(y-r.Min.Y)*3*w:(y-r.Min.Y+1)*3*w], y, r.Min.X, r.Max.X)
	}
}

// rgbRows returns a function that fills row with the 8-bit straight RGB of
// image row y, columns [x0, x1). The concrete types Go's decoders return
// have loops of their own; anything else goes through At.
func rgbRows(img image.Image) func(row []uint8, y, x0, x1 int) {
	switch m := img.(type) {
	case *image.RGBA:
		return func(row []uint8, y, x0, x1 int) {
			p := m.Pix[m.PixOffset(x0, y):]
			for x := range x1 - x0 {
				q := p[4*x : 4*x+4]
				if q[3] == 0xff {
					row[3*x], row[3*x+1], row[3*x+2] = q[0], q[1], q[2]
				} else {
					row[3*x], row[3*x+1], row[3*x+2] = unpremul(q[0], q[3]), unpremul(q[1], q[3]), unpremul(q[2], q[3])
				}
			}
		}
	case *image.NRGBA:
		return func(row []uint8, y, x0, x1 int) {
			p := m.Pix[m.PixOffset(x0, y):]
			for x := range x1 - x0 {
				q := p[4*x : 4*x+3]
				row[3*x], row[3*x+1], row[3*x+2] = q[0], q[1], q[2]
			}
		}
	case *image.Gray:
		return func(row []uint8, y, x0, x1 int) {
			p := m.Pix[m.PixOffset(x0, y):]
			for x := range x1 - x0 {
				row[3*x], row[3*x+1], row[3*x+2] = p[x], p[x], p[x]
			}
		}
	case *image.Gray16:
		return func(row []uint8, y, x0, x1 int) {
			p := m.Pix[m.PixOffset(x0, y):]
			for x := range x1 - x0 {
				row[3*x], row[3*x+1], row[3*x+2] = p[2*x], p[2*x], p[2*x]
			}
		}
	case *image.NRGBA64:
		// PIL's RGB;16B and RGBA;16B unpackers keep the high byte.
		return func(row []uint8, y, x0, x1 int) {
			p := m.Pix[m.PixOffset(x0, y):]
			for x := range x1 - x0 {
				q := p[8*x : 8*x+6]
				row[3*x], row[3*x+1], row[3*x+2] = q[0], q[2], q[4]
			}
		}
	case *image.Paletted:
		var pal [256][3]uint8 // indices past the palette are black, as Go's PNG decoder makes them
		for i, c := range m.Palette {
			if i == len(pal) {
				break
			}
			pal[i] = straightRGB(c)
		}
		return func(row []uint8, y, x0, x1 int) {
			p := m.Pix[m.PixOffset(x0, y):]
			for x := range x1 - x0 {
				q := &pal[p[x]]
				row[3*x], row[3*x+1], row[3*x+2] = q[0], q[1], q[2]
			}
		}
	case *image.YCbCr:
		return ycbcrRows(m)
	case *image.NYCbCrA:
		return ycbcrRows(&m.YCbCr) // alpha dropped
	case *image.CMYK:
		// PIL's cmyk2rgb: channel = 255-K - (C·(255-K))/255, rounded its way.
		return func(row []uint8, y, x0, x1 int) {
			p := m.Pix[m.PixOffset(x0, y):]
			for x := range x1 - x0 {
				q := p[4*x : 4*x+4]
				nk := 255 - int32(q[3])
				for c := range 3 {
					t := int32(q[c])*nk + 128
					row[3*x+c] = uint8(max(nk-((t>>8)+t)>>8, 0))
				}
			}
		}
	}
	return func(row []uint8, y, x0, x1 int) {
		for x := x0; x < x1; x++ {
			q := straightRGB(img.At(x, y))
			i := 3 * (x - x0)
			row[i], row[i+1], row[i+2] = q[0], q[1], q[2]
		}
	}
}

// ycbcrRows reads m the way libjpeg(-turbo) decodes a JPEG to RGB, which
// is what PIL sees, rather than the way m.At does: chroma is upsampled with
// libjpeg's "fancy" triangle filter for 4:2:0, 4:2:2 and 4:4:0 (m.At
// repeats the nearest sample, up to tens of levels off at color edges), and
// converted with jdcolor.c's fixed-point constants and rounding. Edge
// chroma rows and columns are repeated, as libjpeg's context rows do. 4:1:1
// and 4:1:0 are replicated, as libjpeg's int_upsample does.
func ycbcrRows(m *image.YCbCr) func(row []uint8, y, x0, x1 int) {
	hs, vs := 1, 1
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 2
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		vs = 2
	case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
		return replicateChroma(m)
	}
	rect := m.Rect
	// The chroma plane's own size: Go maps pixel x to sample x/hs - Min.X/hs.
	cw := (rect.Max.X+hs-1)/hs - rect.Min.X/hs
	ch := (rect.Max.Y+vs-1)/vs - rect.Min.Y/vs
	if hs == 2 && cw <= 2 {
		// libjpeg-turbo's jinit_upsampler uses fancy upsampling for
		// horizontally subsampled chroma only when it is wider than two
		// samples; narrower images get plain replication, both ways.
		return replicateChroma(m)
	}
	cbs, crs := make([]int32, cw), make([]int32, cw)
	var ubuf, vbuf []uint8
	return func(row []uint8, y, x0, x1 int) {
		cy := min(max(y/vs-rect.Min.Y/vs, 0), ch-1)
		j0 := min(max(x0/hs-rect.Min.X/hs-1, 0), cw-1)
		j1 := min(max((x1-1)/hs-rect.Min.X/hs+1, 0), cw-1)
		// Vertical: 3/4 of the nearest chroma row, 1/4 of the next nearest
		// (above for the upper of two output rows, below for the lower).
		cb, cr := m.Cb[cy*m.CStride:], m.Cr[cy*m.CStride:]
		if vs == 2 {
			ny := cy + 1
			if y&1 == 0 {
				ny = cy - 1
			}
			ny = min(max(ny, 0), ch-1)
			nb, nr := m.Cb[ny*m.CStride:], m.Cr[ny*m.CStride:]
			for j := j0; j <= j1; j++ {
				cbs[j] = 3*int32(cb[j]) + int32(nb[j])
				crs[j] = 3*int32(cr[j]) + int32(nr[j])
			}
		} else {
			for j := j0; j <= j1; j++ {
				cbs[j], crs[j] = int32(cb[j]), int32(cr[j])
			}
		}
		// Horizontal, into one upsampled (Cb, Cr) per output pixel.
		n := x1 - x0
		ub, vb := grow(&ubuf, n), grow(&vbuf, n)
		base := rect.Min.X / hs
		switch {
		case hs == 2:
			// 3/4 of this column sum, 1/4 of the neighbor on the pixel's
			// side; libjpeg alternates the rounding bias between the two.
			shift, bias0, bias1 := uint(2), int32(1), int32(2)
			if vs == 2 {
				shift, bias0, bias1 = 4, 8, 7
			}
			for x := x0; x < x1; x++ {
				j := min(max(x/2-base, 0), cw-1)
				k, bias := max(j-1, 0), bias0
				if x&1 != 0 {
					k, bias = min(j+1, cw-1), bias1
				}
				ub[x-x0] = uint8((3*cbs[j] + cbs[k] + bias) >> shift)
				vb[x-x0] = uint8((3*crs[j] + crs[k] + bias) >> shift)
			}
		case vs == 2:
			bias := int32(2)
			if y&1 == 0 {
				bias = 1
			}
			for x := x0; x < x1; x++ {
				j := min(max(x-base, 0), cw-1)
				ub[x-x0], vb[x-x0] = uint8((cbs[j]+bias)>>2), uint8((crs[j]+bias)>>2)
			}
		default:
			for x := x0; x < x1; x++ {
				j := min(max(x-base, 0), cw-1)
				ub[x-x0], vb[x-x0] = uint8(cbs[j]), uint8(crs[j])
			}
		}
		yrow := m.Y[m.YOffset(x0, y):][:n]
		row = row[:3*n]
		for i, yv := range yrow {
			row[3*i], row[3*i+1], row[3*i+2] = jpegRGB(yv, ub[i], vb[i])
		}
	}
}

// replicateChroma reads m with each chroma sample repeated over the pixels
// it covers, as m.At does and libjpeg's int_upsample and h2v2_upsample do,
// but with libjpeg's color conversion.
func replicateChroma(m *image.YCbCr) func(row []uint8, y, x0, x1 int) {
	return func(row []uint8, y, x0, x1 int) {
		for x := x0; x < x1; x++ {
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			i := 3 * (x - x0)
			row[i], row[i+1], row[i+2] = jpegRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
		}
	}
}

// libjpeg's jdcolor.c tables: FIX(c) = round(c·2^16); the red and blue
// terms are rounded, green's two terms share one rounding.
var jpegCrR, jpegCbB, jpegCrG, jpegCbG = func() (crR, cbB, crG, cbG [256]int32) {
	const one, halfOne = 1 << 16, 1 << 15
	fix := func(c float64) int32 { return int32(c*one + 0.5) }
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + halfOne) >> 16
		cbB[i] = (fix(1.77200)*x + halfOne) >> 16
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + halfOne
	}
	return
}()

func jpegRGB(y, cb, cr uint8) (r, g, b uint8) {
	yy := int32(y)
	return clamp8(yy + jpegCrR[cr]), clamp8(yy + (jpegCbG[cb]+jpegCrG[cr])>>16), clamp8(yy + jpegCbB[cb])
}

func clamp8(v int32) uint8 {
	return uint8(min(max(v, 0), 255))
}

// straightRGB returns c's 8-bit non-premultiplied color.
func straightRGB(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.RGBA:
		if c.A == 0xff {
			return [3]uint8{c.R, c.G, c.B}
		}
		return [3]uint8{unpremul(c.R, c.A), unpremul(c.G, c.A), unpremul(c.B, c.A)}
	case color.Gray:
		return [3]uint8{c.Y, c.Y, c.Y}
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}

// unpremul undoes premultiplication by alpha a, rounding to nearest; a
// fully transparent pixel has lost its color and reads as black.
func unpremul(v, a uint8) uint8 {
	if a == 0 {
		return 0
	}
	return uint8(min((uint32(v)*255+uint32(a)/2)/uint32(a), 255))
}
