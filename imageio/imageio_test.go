package imageio

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/resgen/resgen/runtime"
)

// testImage is a small image with distinct pixels.
func testImage() *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, 5, 4))
	for y := range 4 {
		for x := range 5 {
			m.SetNRGBA(x, y, color.NRGBA{uint8(50 * x), uint8(60 * y), uint8(10 * (x + y)), 255})
		}
	}
	return m
}

// encoded returns testImage in every format Go can encode.
func encoded(t testing.TB) map[string][]byte {
	m := testImage()
	out := map[string][]byte{}
	for name, enc := range map[string]func(io.Writer, image.Image) error{
		"png":  png.Encode,
		"jpeg": func(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, nil) },
		"gif":  func(w io.Writer, m image.Image) error { return gif.Encode(w, m, nil) },
		"bmp":  bmp.Encode,
		"tiff": func(w io.Writer, m image.Image) error { return tiff.Encode(w, m, nil) },
	} {
		var b bytes.Buffer
		if err := enc(&b, m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b.Bytes()
	}
	for _, f := range []string{"lossless.webp", "lossy.webp", "alpha.webp"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

func TestDecodeFormats(t *testing.T) {
	for name, b := range encoded(t) {
		img, format, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want := name
		if strings.HasSuffix(name, ".webp") {
			want = "webp"
		}
		if format != want {
			t.Errorf("%s: format %q, want %q", name, format, want)
		}
		if !strings.HasSuffix(name, ".webp") && img.Bounds() != testImage().Bounds() {
			t.Errorf("%s: bounds %v", name, img.Bounds())
		}
	}
}

// TestWebPLossless: the lossless WebP (written by PIL) decodes to exactly
// the pixels of the PNG written from the same array.
func TestWebPLossless(t *testing.T) {
	w, err := Open(filepath.Join("testdata", "lossless.webp"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(filepath.Join("testdata", "lossless.png"))
	if err != nil {
		t.Fatal(err)
	}
	if w.Bounds() != p.Bounds() {
		t.Fatalf("webp %v, png %v", w.Bounds(), p.Bounds())
	}
	for y := p.Bounds().Min.Y; y < p.Bounds().Max.Y; y++ {
		for x := p.Bounds().Min.X; x < p.Bounds().Max.X; x++ {
			if a, b := color.NRGBAModel.Convert(w.At(x, y)), color.NRGBAModel.Convert(p.At(x, y)); a != b {
				t.Fatalf("(%d, %d): webp %v, png %v", x, y, a, b)
			}
		}
	}
}

// TestWebPLossy: a lossy WebP decodes to the pixels libwebp gives PIL
// (written as PNG by reference/preprocess.py), with and without alpha.
func TestWebPLossy(t *testing.T) {
	for _, name := range []string{"lossy", "alpha"} {
		w, err := Open(filepath.Join("testdata", name+".webp"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Open(filepath.Join("testdata", name+".pil.png"))
		if err != nil {
			t.Fatal(err)
		}
		if w.Bounds() != p.Bounds() {
			t.Fatalf("%s: webp %v, PIL %v", name, w.Bounds(), p.Bounds())
		}
		bad := 0
		for y := p.Bounds().Min.Y; y < p.Bounds().Max.Y; y++ {
			for x := p.Bounds().Min.X; x < p.Bounds().Max.X; x++ {
				a, b := color.NRGBAModel.Convert(w.At(x, y)), color.NRGBAModel.Convert(p.At(x, y))
				if a != b {
					if bad == 0 {
						t.Errorf("%s (%d, %d): %T gives %v, PIL %v", name, x, y, w, a, b)
					}
					bad++
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d pixels differ from PIL", name, bad, p.Bounds().Dx()*p.Bounds().Dy())
		}
	}
}

// TestFormatsMatchPIL decodes each format with imageio and runs it through
// runtime.Preprocess (no resize), against PIL's convert("RGB") of the same
// file (a PNG written by reference/preprocess.py). Exact, except for
// JPEG's IDCT (docs/preprocess.md); ptrns.gif checks that the color of the
// transparent index is restored.
func TestFormatsMatchPIL(t *testing.T) {
	for _, tt := range []struct {
		file      string
		maxLevels float64 // allowed difference in 8-bit levels
		minExact  float64 // fraction of values that must be exact
	}{
		{"rgb.bmp", 0, 1}, {"p.bmp", 0, 1}, {"l.bmp", 0, 1},
		{"rgb.tiff", 0, 1}, {"rgba_lzw.tiff", 0, 1}, {"l_deflate.tiff", 0, 1},
		{"p.gif", 0, 1},
		{"ptrns.gif", 255, 0.5},
		{"cmyk.jpg", 4, 0.5},
		{"lossy.webp", 0, 1}, {"alpha.webp", 0, 1},
	} {
		img, err := Open(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		ref := strings.TrimSuffix(tt.file, ".webp") + ".pil.png"
		if !strings.HasSuffix(tt.file, ".webp") {
			ref = tt.file + ".pil.png"
		}
		pil, err := Open(filepath.Join("testdata", ref))
		if err != nil {
			t.Fatal(err)
		}
		b := pil.Bounds()
		if img.Bounds().Size() != b.Size() {
			t.Errorf("%s: %v, PIL %v", tt.file, img.Bounds(), b)
			continue
		}
		got := make([]float32, 3*b.Dx()*b.Dy())
		want := make([]float32, len(got))
		if err := runtime.Preprocess(got, img, &runtime.PreprocessConfig{}); err != nil {
			t.Fatal(err)
		}
		if err := runtime.Preprocess(want, pil, &runtime.PreprocessConfig{}); err != nil {
			t.Fatal(err)
		}
		worst, exact := 0.0, 0
		for i := range got {
			d := float64(got[i]-want[i]) * 255
			worst = max(worst, d, -d)
			if got[i] == want[i] {
				exact++
			}
		}
		frac := float64(exact) / float64(len(got))
		t.Logf("%s (%T): max %.0f levels, %.1f%% of values exact", tt.file, img, worst, 100*frac)
		if worst > tt.maxLevels+1e-3 || frac < tt.minExact {
			t.Errorf("%s: max %.0f levels (allowed %v), %.1f%% exact (want ≥ %.0f%%)", tt.file, worst, tt.maxLevels, 100*frac, 100*tt.minExact)
		}
	}
}

// pngClaiming returns a valid PNG signature and IHDR chunk claiming w×h,
// followed by nothing else: decoding it would fail, so an error about the
// size shows the header was checked first.
func pngClaiming(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestPixelLimit(t *testing.T) {
	_, format, err := Decode(bytes.NewReader(pngClaiming(100000, 100000)))
	want := "imageio: png: image is 100000x100000 = 10000.0 Mpx, over the limit of 64.0 Mpx"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if format != "png" {
		t.Errorf("format %q, want png", format)
	}
	// Width alone past the limit (the product might overflow elsewhere).
	if _, _, err := (Limits{MaxPixels: 1000}).Decode(bytes.NewReader(pngClaiming(1<<31-1, 1))); err == nil || !strings.Contains(err.Error(), "over the limit of 1000 px") {
		t.Errorf("error %v", err)
	}
	// A real image over a configured limit.
	for name, b := range encoded(t) {
		if _, _, err := (Limits{MaxPixels: 19}).Decode(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "over the limit") {
			t.Errorf("%s with MaxPixels 19: error %v", name, err)
		}
		if _, _, err := (Limits{MaxPixels: 20}).Decode(bytes.NewReader(b)); !strings.HasSuffix(name, ".webp") && err != nil {
			t.Errorf("%s with MaxPixels 20: %v", name, err)
		}
	}
}

func TestMaxBytes(t *testing.T) {
	b := encoded(t)["bmp"] // uncompressed: bigger than 64 bytes
	if _, _, err := (Limits{MaxBytes: 64}).Decode(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "over the limit of 64 bytes") {
		t.Errorf("error %v", err)
	}
	if _, _, err := (Limits{MaxBytes: int64(len(b))}).Decode(bytes.NewReader(b)); err != nil {
		t.Errorf("exactly at the limit: %v", err)
	}
	path := filepath.Join(t.TempDir(), "big.bmp")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (Limits{MaxBytes: 64}).Open(path); err == nil || !strings.Contains(err.Error(), path+": file is") {
		t.Errorf("error %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	png := encoded(t)["png"]
	tests := []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "missing.png"), "imageio: open " + filepath.Join(dir, "missing.png") + ": no such file"},
		{dir, "imageio: " + dir + ": not a regular file"},
		{write("notes.txt", []byte("hello, world")), "notes.txt: not an image in a known format (png, jpeg, gif, bmp, tiff, webp); it starts 68 65 6c 6c 6f 2c 20 77 …"},
		{write("empty.png", nil), "empty.png: not an image in a known format (png, jpeg, gif, bmp, tiff, webp); it starts empty"},
		{write("truncated.png", png[:len(png)-20]), "truncated.png: png: "},
		{write("header.png", png[:20]), "header.png: png: reading the header: "},
		{write("huge.png", pngClaiming(9000, 9000)), "huge.png: png: image is 9000x9000 = 81.0 Mpx, over the limit of 64.0 Mpx"},
		{write("zero.png", pngClaiming(0, 10)), "zero.png: png: reading the header: "},
	}
	for _, tt := range tests {
		img, err := Open(tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%s): error %v, want it to contain %q", filepath.Base(tt.path), err, tt.want)
		}
		if img != nil {
			t.Errorf("Open(%s): image with an error", filepath.Base(tt.path))
		}
	}
}

// TestFormatAllowlist: a format some other package registers is refused.
func TestFormatAllowlist(t *testing.T) {
	image.RegisterFormat("fake", "FAKE", func(io.Reader) (image.Image, error) {
		return image.NewGray(image.Rect(0, 0, 1, 1)), nil
	}, func(io.Reader) (image.Config, error) {
		return image.Config{ColorModel: color.GrayModel, Width: 1, Height: 1}, nil
	})
	_, _, err := Decode(strings.NewReader("FAKE image"))
	if err == nil || !strings.Contains(err.Error(), `format "fake" is not allowed`) {
		t.Errorf("error %v", err)
	}
}

// FuzzDecode: no input makes Decode panic or return an image beyond the
// limit, and whatever decodes goes through runtime.Preprocess.
func FuzzDecode(f *testing.F) {
	for _, b := range encoded(f) {
		f.Add(b)
	}
	f.Add(pngClaiming(1<<20, 1<<20))
	f.Add([]byte("GIF89a"))
	f.Add([]byte("BM"))
	f.Add([]byte("II*\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	const maxPixels = 1 << 16
	cfg := &runtime.PreprocessConfig{ResizeShort: 7, Interp: runtime.InterpBicubic, CropH: 5, CropW: 6}
	dst := make([]float32, 3*5*6)
	f.Fuzz(func(t *testing.T, b []byte) {
		img, _, err := (Limits{MaxPixels: maxPixels, MaxBytes: 1 << 20}).Decode(bytes.NewReader(b))
		if err != nil {
			if img != nil {
				t.Fatalf("image with error %v", err)
			}
			return
		}
		r := img.Bounds()
		if r.Empty() || int64(r.Dx())*int64(r.Dy()) > maxPixels {
			t.Fatalf("decoded %v past the limit", r)
		}
		if err := runtime.Preprocess(dst, img, cfg); err != nil {
			t.Fatalf("Preprocess of a decoded %T %v: %v", img, r, err)
		}
	})
}
