package runtime

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures are written by reference/preprocess.py: images and the
// tensors torchvision 0.14 + PIL 9.4 make of them.
const preprocessDir = "testdata/preprocess"

type preprocessCase struct {
	Name   string          `json:"name"`
	Image  string          `json:"image"`
	Mode   string          `json:"mode"` // PIL's mode of the file
	Gray   bool            `json:"gray"`
	Resize json.RawMessage `json:"resize"` // null, int or [h, w]
	Interp string          `json:"interp"`
	Crop   []int           `json:"crop"`
	Mean   []float32       `json:"mean"`
	Std    []float32       `json:"std"`
	Shape  []int           `json:"shape"`
	JPEG   bool            `json:"jpeg"`
}

func (c *preprocessCase) config(t *testing.T) *PreprocessConfig {
	cfg := &PreprocessConfig{Gray: c.Gray, Mean: c.Mean, Std: c.Std}
	switch c.Interp {
	case "nearest":
		cfg.Interp = InterpNearest
	case "bilinear":
		cfg.Interp = InterpBilinear
	case "bicubic":
		cfg.Interp = InterpBicubic
	default:
		t.Fatalf("%s: unknown interp %q", c.Name, c.Interp)
	}
	var hw []int
	switch r := string(c.Resize); {
	case r == "null":
	case strings.HasPrefix(r, "["):
		if err := json.Unmarshal(c.Resize, &hw); err != nil || len(hw) != 2 {
			t.Fatalf("%s: resize %s: %v", c.Name, r, err)
		}
		cfg.ResizeH, cfg.ResizeW = hw[0], hw[1]
	default:
		if err := json.Unmarshal(c.Resize, &cfg.ResizeShort); err != nil {
			t.Fatalf("%s: resize %s: %v", c.Name, r, err)
		}
	}
	if c.Crop != nil {
		cfg.CropH, cfg.CropW = c.Crop[0], c.Crop[1]
	}
	return cfg
}

type preprocessFixtures struct {
	cases []preprocessCase
	want  map[string][]float32
}

func loadPreprocessFixtures(t *testing.T) *preprocessFixtures {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(preprocessDir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []preprocessCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("cases.json: %v", err)
	}
	b, err = os.ReadFile(filepath.Join(preprocessDir, "want.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	f := &preprocessFixtures{cases: doc.Cases, want: map[string][]float32{}}
	for _, c := range doc.Cases {
		raw, ok := st.Bytes(c.Name)
		if dt, _ := st.DType(c.Name); !ok || dt != "F32" {
			t.Fatalf("want.safetensors: no F32 tensor %q", c.Name)
		}
		v := make([]float32, len(raw)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		if len(v) != c.Shape[0]*c.Shape[1]*c.Shape[2] {
			t.Fatalf("%s: %d values for shape %v", c.Name, len(v), c.Shape)
		}
		f.want[c.Name] = v
	}
	return f
}

func decodeFile(t *testing.T, name string) image.Image {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(preprocessDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var img image.Image
	if strings.HasSuffix(name, ".jpg") {
		img, err = jpeg.Decode(bytes.NewReader(b))
	} else {
		img, err = png.Decode(bytes.NewReader(b))
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return img
}

// levels returns the difference between got and want in 8-bit levels (the
// unit before Normalize), per value.
func levels(got, want []float32, std []float32, c int) []float64 {
	d := make([]float64, len(got))
	plane := len(got) / c
	for i := range got {
		s := 1.0
		if std != nil {
			s = float64(std[i/plane])
		}
		d[i] = math.Abs(float64(got[i])-float64(want[i])) * s * 255
	}
	return d
}

func runCase(t *testing.T, c *preprocessCase, img image.Image, want []float32) (got []float32, ok bool) {
	t.Helper()
	got = make([]float32, len(want))
	if err := Preprocess(got, img, c.config(t)); err != nil {
		t.Errorf("%s: %v", c.Name, err)
		return nil, false
	}
	return got, true
}

// TestPreprocessPNG compares every PNG case with torchvision's tensor. The
// brief allows one 8-bit level; the implementation is exact, which the log
// reports (values not bit-identical to torchvision's float32).
func TestPreprocessPNG(t *testing.T) {
	f := loadPreprocessFixtures(t)
	imgs := map[string]image.Image{}
	types := map[string]string{}
	var n, inexact int
	maxLevels := 0.0
	for i := range f.cases {
		c := &f.cases[i]
		if c.JPEG {
			continue
		}
		img, ok := imgs[c.Image]
		if !ok {
			img = decodeFile(t, c.Image)
			imgs[c.Image] = img
			types[c.Mode+" -> "+fmt.Sprintf("%T", img)] = c.Image
		}
		want := f.want[c.Name]
		got, ok := runCase(t, c, img, want)
		if !ok {
			continue
		}
		n++
		caseMax, bad := 0.0, -1
		for j, d := range levels(got, want, c.Std, c.Shape[0]) {
			if got[j] != want[j] {
				inexact++
			}
			if d > caseMax {
				caseMax = d
			}
			if d > 1+1e-3 && bad < 0 {
				bad = j
			}
		}
		maxLevels = max(maxLevels, caseMax)
		if bad >= 0 {
			plane := c.Shape[1] * c.Shape[2]
			t.Errorf("%s (%s %v, resize %s %s, crop %v): value %d (c %d, y %d, x %d) is %v, torchvision %v: %.2f levels apart",
				c.Name, c.Mode, c.Shape, c.Resize, c.Interp, c.Crop, bad, bad/plane, bad%plane/c.Shape[2], bad%c.Shape[2],
				got[bad], want[bad], caseMax)
		}
	}
	if n == 0 {
		t.Fatal("no PNG cases")
	}
	for k := range types {
		t.Logf("decoded %s", k)
	}
	t.Logf("%d PNG cases: max difference %.3g levels (of 255), %d values not bit-identical", n, maxLevels, inexact)
}

// TestPreprocessJPEG reports how far Go's image/jpeg plus Preprocess is from
// torchvision on PIL's libjpeg decode. The decoders differ (IDCT, chroma
// upsampling, YCbCr→RGB rounding), so this is not exact; the bound asserted
// is the documented one in docs/preprocess.md.
func TestPreprocessJPEG(t *testing.T) {
	const maxBound, meanBound = 4.0, 0.25 // 8-bit levels
	f := loadPreprocessFixtures(t)
	type stat struct {
		max, sum float64
		n        int
	}
	stats := map[string]*stat{}
	var names []string
	for i := range f.cases {
		c := &f.cases[i]
		if !c.JPEG {
			continue
		}
		img := decodeFile(t, c.Image)
		want := f.want[c.Name]
		got, ok := runCase(t, c, img, want)
		if !ok {
			continue
		}
		key := fmt.Sprintf("%s %T gray=%v", c.Image, img, c.Gray)
		s := stats[key]
		if s == nil {
			s = &stat{}
			stats[key] = s
			names = append(names, key)
		}
		for _, d := range levels(got, want, c.Std, c.Shape[0]) {
			s.max = max(s.max, d)
			s.sum += d
			s.n++
		}
	}
	if len(names) == 0 {
		t.Fatal("no JPEG cases")
	}
	for _, k := range names {
		s := stats[k]
		mean := s.sum / float64(s.n)
		t.Logf("%s: max %.2f levels, mean %.3f levels over %d values", k, s.max, mean, s.n)
		if s.max > maxBound+1e-3 || mean > meanBound {
			t.Errorf("%s: max %.2f levels (bound %v), mean %.3f (bound %v)", k, s.max, maxBound, mean, meanBound)
		}
	}
}

// opaque hides an image's concrete type, so Preprocess takes the generic
// At path.
type opaque struct{ image.Image }

// TestPreprocessImageTypes checks the per-type fast paths against Go's own
// color model (the generic path) and sub-images against copies: the same
// pixels must give the same tensor whatever holds them.
func TestPreprocessImageTypes(t *testing.T) {
	cfgs := []*PreprocessConfig{
		{ResizeShort: 9, Interp: InterpBilinear, CropH: 8, CropW: 7, Mean: []float32{0.5, 0.4, 0.3}, Std: []float32{0.2, 0.3, 0.25}},
		{ResizeH: 50, ResizeW: 31, Interp: InterpBicubic},
		{ResizeShort: 41, Interp: InterpNearest, CropH: 50, CropW: 20},
		{Gray: true, ResizeShort: 17, Interp: InterpBicubic, CropH: 15, CropW: 15},
		{Gray: true},
	}
	for _, file := range []string{"rgb_37x23.png", "rgba_37x23.png", "l_37x23.png", "la_37x23.png", "p_37x23.png", "ptrns_37x23.png"} {
		img := decodeFile(t, file)
		variants := map[string]image.Image{"generic": opaque{img}}
		// Set, not draw.Draw: Draw goes through premultiplied color and
		// would lose the color under alpha 0.
		nrgba := image.NewNRGBA(img.Bounds())
		for y := range img.Bounds().Dy() {
			for x := range img.Bounds().Dx() {
				nrgba.Set(x, y, img.At(x, y))
			}
		}
		variants["nrgba"] = nrgba
		if file != "rgba_37x23.png" && file != "la_37x23.png" && file != "ptrns_37x23.png" {
			// Opaque: premultiplied RGBA holds the same values.
			rgba := image.NewRGBA(img.Bounds())
			draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
			variants["rgba"] = rgba
		}
		// A sub-image with a nonzero origin against a copy of it.
		r := image.Rect(3, 2, 30, 21)
		sub := nrgba.SubImage(r)
		cp := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
		for y := range r.Dy() {
			for x := range r.Dx() {
				cp.Set(x, y, sub.At(r.Min.X+x, r.Min.Y+y))
			}
		}

		for i, cfg := range cfgs {
			ref := preprocessOrFail(t, img, cfg, file, i)
			for name, v := range variants {
				if got := preprocessOrFail(t, v, cfg, file, i); !equalFloats(got, ref) {
					t.Errorf("%s cfg %d: %s differs from %T", file, i, name, img)
				}
			}
			if !equalFloats(preprocessOrFail(t, sub, cfg, file, i), preprocessOrFail(t, cp, cfg, file, i)) {
				t.Errorf("%s cfg %d: sub-image at %v differs from its copy", file, i, r.Min)
			}
		}
	}
}

func preprocessOrFail(t *testing.T, img image.Image, cfg *PreprocessConfig, file string, i int) []float32 {
	t.Helper()
	b := img.Bounds()
	p, err := planPreprocess(cfg, b.Dx(), b.Dy())
	if err != nil {
		t.Fatalf("%s cfg %d: %v", file, i, err)
	}
	dst := make([]float32, p.c*p.x.out*p.y.out)
	if err := Preprocess(dst, img, cfg); err != nil {
		t.Fatalf("%s cfg %d: %v", file, i, err)
	}
	return dst
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPreprocessUnpremultiply: *image.RGBA with partial alpha is read as
// the straight color PIL would have decoded from the file, not as the
// darker premultiplied values.
func TestPreprocessUnpremultiply(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 2, 1))
	m.SetRGBA(0, 0, color.RGBA{100, 50, 0, 128}) // straight ≈ (199, 100, 0)
	m.SetRGBA(1, 0, color.RGBA{0, 0, 0, 0})
	dst := make([]float32, 6)
	if err := Preprocess(dst, m, &PreprocessConfig{}); err != nil {
		t.Fatal(err)
	}
	want := []float32{199. / 255, 0, 100. / 255, 0, 0, 0}
	for i := range want {
		if math.Abs(float64(dst[i]-want[i])) > 1e-6 {
			t.Fatalf("got %v, want %v", dst, want)
		}
	}
}

func TestPreprocessErrors(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 10, 8))
	tests := []struct {
		cfg  *PreprocessConfig
		img  image.Image
		dst  int
		want string
	}{
		{nil, img, 80, "nil config"},
		{&PreprocessConfig{}, nil, 80, "nil image"},
		{&PreprocessConfig{Gray: true}, image.NewGray(image.Rect(0, 0, 0, 5)), 0, "image is empty (0x5)"},
		{&PreprocessConfig{Gray: true}, img, 79, "dst has 79 values, want 80 = 1x8x10 (CxHxW) for a 10x8 image"},
		{&PreprocessConfig{}, img, 80, "dst has 80 values, want 240 = 3x8x10"},
		{&PreprocessConfig{Gray: true, CropH: 224, CropW: 224}, img, 80, "want 50176 = 1x224x224"},
		{&PreprocessConfig{Gray: true, ResizeShort: 4}, img, 80, "want 20 = 1x4x5"},
		{&PreprocessConfig{Interp: 7}, img, 240, "unknown interpolation 7"},
		{&PreprocessConfig{ResizeShort: -1}, img, 240, "ResizeShort is -1"},
		{&PreprocessConfig{ResizeH: 5}, img, 240, "ResizeH x ResizeW is 5x0, want both set or both 0"},
		{&PreprocessConfig{ResizeShort: 5, ResizeH: 5, ResizeW: 5}, img, 240, "both ResizeShort (5) and ResizeH x ResizeW (5x5) are set"},
		{&PreprocessConfig{CropW: 3}, img, 240, "CropH x CropW is 0x3"},
		{&PreprocessConfig{Mean: []float32{0.5}, Std: []float32{0.5}}, img, 240, "Mean and Std have 1 values, want 3 (one per channel)"},
		{&PreprocessConfig{Mean: []float32{0.5, 0.5, 0.5}}, img, 240, "Mean has 3 values and Std 0"},
		{&PreprocessConfig{Gray: true, Mean: []float32{0.5}, Std: []float32{0}}, img, 80, "channel 0: Mean 0.5, Std 0, want a finite mean and a nonzero std"},
		{&PreprocessConfig{ResizeShort: 1 << 23}, image.NewGray(image.Rect(0, 0, 1, 100)), 0, "too large"},
		{&PreprocessConfig{Gray: true, Mean: []float32{float32(math.Inf(1))}, Std: []float32{1}}, img, 80, "want a finite mean"},
		// Sizes are checked before any table is built: this must not
		// allocate 2^24-entry tap tables.
		{&PreprocessConfig{ResizeH: 1 << 24, ResizeW: 1 << 24}, img, 3, "dst has 3 values, want 844424930131968 = 3x16777216x16777216"},
	}
	for _, tt := range tests {
		err := Preprocess(make([]float32, tt.dst), tt.img, tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Preprocess(%+v): error %v, want it to contain %q", tt.cfg, err, tt.want)
		}
	}
}

// BenchmarkPreprocess: a 1000×750 4:2:0 JPEG-sized image to the ImageNet
// eval input (Resize(256), CenterCrop(224), Normalize).
func BenchmarkPreprocess(b *testing.B) {
	cfg := &PreprocessConfig{ResizeShort: 256, Interp: InterpBilinear, CropH: 224, CropW: 224,
		Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}
	r := image.Rect(0, 0, 1000, 750)
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(i * 7)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(i*3), uint8(i*5)
	}
	rgba := image.NewRGBA(r)
	draw.Draw(rgba, r, ycc, r.Min, draw.Src)
	dst := make([]float32, 3*224*224)
	for _, bc := range []struct {
		name string
		img  image.Image
	}{{"ycbcr420", ycc}, {"rgba", rgba}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := Preprocess(dst, bc.img, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzPreprocess: no image size and config make Preprocess panic, and on
// success every value is one of the 256 normalized levels.
func FuzzPreprocess(f *testing.F) {
	f.Add(uint8(37), uint8(23), uint8(0), uint16(7), uint16(0), uint16(0), uint16(6), uint16(5), false, uint8(0))
	f.Add(uint8(1), uint8(1), uint8(1), uint16(0), uint16(40), uint16(3), uint16(50), uint16(2), true, uint8(4))
	f.Add(uint8(13), uint8(200), uint8(2), uint16(300), uint16(0), uint16(0), uint16(0), uint16(0), false, uint8(2))
	f.Fuzz(func(t *testing.T, w, h, interp uint8, short, rh, rw, ch, cw uint16, gray bool, kind uint8) {
		cfg := &PreprocessConfig{Gray: gray, Interp: Interp(interp % 4), ResizeShort: int(short % 600),
			ResizeH: int(rh % 600), ResizeW: int(rw % 600), CropH: int(ch % 600), CropW: int(cw % 600)}
		r := image.Rect(0, 0, int(w), int(h))
		var img image.Image
		switch kind % 5 {
		case 0:
			img = image.NewNRGBA(r)
		case 1:
			img = image.NewGray(r)
		case 2:
			m := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
			for i := range m.Cb {
				m.Cb[i], m.Cr[i] = 128, 128 // black
			}
			img = m
		case 3:
			img = image.NewPaletted(r, color.Palette{color.Black, color.White})
		case 4:
			img = opaque{image.NewRGBA(r)}
		}
		p, err := planPreprocess(cfg, max(int(w), 1), max(int(h), 1))
		n := 0
		if err == nil {
			n = p.c * p.x.out * p.y.out
		}
		if n > 1<<22 {
			return // a valid but big output; not what this fuzzes
		}
		dst := make([]float32, n)
		if err := Preprocess(dst, img, cfg); err != nil {
			return
		}
		zero := float32(0) // the images are black
		for i, v := range dst {
			if v != zero {
				t.Fatalf("value %d is %v, want 0", i, v)
			}
		}
	})
}
