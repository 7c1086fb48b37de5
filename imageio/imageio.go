// Package imageio decodes image files for inference, treating every file as
// hostile input.
//
// It registers PNG, JPEG and GIF from the standard library and BMP, TIFF
// and WebP from golang.org/x/image, and decodes only those formats (another
// package registering a format with image.RegisterFormat does not widen
// the set). Before anything is decoded, the header is read with
// DecodeConfig and images larger than a pixel limit are refused, so a small
// file cannot make the decoder allocate gigabytes; the input is also capped
// in bytes. Errors name the file (Open) and the format.
//
// The decoded image is what runtime.Preprocess expects: pass it on as is.
// A lossy WebP is returned as *image.NRGBA converted the way libwebp does
// (see webp.go), not as x/image/webp's *image.YCbCr, whose colors Go would
// read as full-range JPEG YCbCr.
package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"strings"

	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

const (
	// DefaultMaxPixels is the default limit on width×height: 64 Mpx, a
	// 64-bit RGBA image of 512 MB once decoded.
	DefaultMaxPixels = 64_000_000
	// DefaultMaxBytes is the default limit on the encoded size: enough for
	// an uncompressed 64 Mpx 24-bit BMP or TIFF. It matters because TIFF's
	// decoder reads its whole input into memory (twice, with the header
	// pass).
	DefaultMaxBytes = 256 << 20
)

// Formats are the names, as image.Decode reports them, of the formats
// imageio decodes.
var Formats = []string{"png", "jpeg", "gif", "bmp", "tiff", "webp"}

// Limits bounds what Decode and Open accept. The zero value applies the
// defaults.
type Limits struct {
	MaxPixels int64 // width×height; 0: DefaultMaxPixels
	MaxBytes  int64 // encoded bytes read; 0: DefaultMaxBytes
}

// Decode decodes an image with the default limits. It returns the format
// name ("png", "jpeg", …) as image.Decode does.
func Decode(r io.Reader) (image.Image, string, error) { return Limits{}.Decode(r) }

// Open decodes the image file at path with the default limits.
func Open(path string) (image.Image, error) { return Limits{}.Open(path) }

// Open decodes the image file at path. Errors start with the path.
func (l Limits) Open(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err) // *PathError names the file
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("imageio: %s: not a regular file", path)
		}
		if st.Size() > l.maxBytes() {
			return nil, fmt.Errorf("imageio: %s: file is %d bytes, over the limit of %d", path, st.Size(), l.maxBytes())
		}
	}
	img, _, err := l.decode(f)
	if err != nil {
		return nil, fmt.Errorf("imageio: %s: %w", path, err)
	}
	return img, nil
}

// Decode decodes an image from r, refusing it before decoding if its
// header says it is larger than l.MaxPixels.
func (l Limits) Decode(r io.Reader) (image.Image, string, error) {
	img, format, err := l.decode(r)
	if err != nil {
		return nil, format, fmt.Errorf("imageio: %w", err)
	}
	return img, format, nil
}

func (l Limits) maxPixels() int64 {
	if l.MaxPixels > 0 {
		return l.MaxPixels
	}
	return DefaultMaxPixels
}

func (l Limits) maxBytes() int64 {
	if l.MaxBytes > 0 {
		return l.MaxBytes
	}
	return DefaultMaxBytes
}

// errTooLarge is what the byte-capped reader returns past the limit.
type errTooLarge struct{ limit int64 }

func (e errTooLarge) Error() string {
	return fmt.Sprintf("input is over the limit of %d bytes", e.limit)
}

// cappedReader fails, rather than ending quietly as io.LimitReader does,
// once more than n bytes are read, so a truncated read is never mistaken
// for a short file.
type cappedReader struct {
	r     io.Reader
	n     int64 // bytes left
	limit int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// Allow reading to end of stream at exactly the limit.
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			return 0, errTooLarge{c.limit}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

func (l Limits) decode(r io.Reader) (img image.Image, format string, err error) {
	// A decoder panic on a malformed file is a bug in that decoder, but the
	// file is the caller's input: report it as an error, not a crash.
	defer func() {
		if p := recover(); p != nil {
			img = nil
			err = fmt.Errorf("%s decoder failed on malformed input: %v", orUnknown(format), p)
		}
	}()
	cr := &cappedReader{r: r, n: l.maxBytes(), limit: l.maxBytes()}
	// The header bytes DecodeConfig consumes are kept and replayed to
	// Decode, so r need not be seekable.
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(cr, &head))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, "", fmt.Errorf("not an image in a known format (%s); it starts %s",
				strings.Join(Formats, ", "), describe(head.Bytes()))
		}
		return nil, format, fmt.Errorf("%s: reading the header: %w", orUnknown(format), err)
	}
	if !allowed(format) {
		return nil, format, fmt.Errorf("format %q is not allowed (only %s)", format, strings.Join(Formats, ", "))
	}
	w, h := int64(cfg.Width), int64(cfg.Height)
	if w <= 0 || h <= 0 {
		return nil, format, fmt.Errorf("%s: image is %dx%d, empty", format, w, h)
	}
	if limit := l.maxPixels(); w > limit || h > limit || w*h > limit {
		return nil, format, fmt.Errorf("%s: image is %dx%d = %s, over the limit of %s", format, w, h, mpx(w*h), mpx(limit))
	}
	var src io.Reader = io.MultiReader(&head, cr)
	var whole []byte
	if format == "gif" {
		// GIFs are small; their color table is needed again below.
		if whole, err = io.ReadAll(src); err != nil {
			return nil, format, fmt.Errorf("%s: %w", format, err)
		}
		src = bytes.NewReader(whole)
	}
	img, format2, err := image.Decode(src)
	if err != nil {
		return nil, format, fmt.Errorf("%s: %w", format, err)
	}
	if format2 != format {
		return nil, format, fmt.Errorf("%s: header read as %s, image as %s", format, format, format2)
	}
	switch format {
	case "webp":
		img = libwebpColors(img)
	case "gif":
		restoreGIFTransparent(img, whole)
	}
	// A GIF's first frame may be smaller than its screen; nothing may be
	// larger than the header said.
	if b := img.Bounds(); b.Empty() || !b.In(image.Rect(0, 0, cfg.Width, cfg.Height)) {
		return nil, format, fmt.Errorf("%s: decoded bounds %v, outside the header's %dx%d", format, b, w, h)
	}
	return img, format, nil
}

func allowed(format string) bool {
	for _, f := range Formats {
		if f == format {
			return true
		}
	}
	return false
}

func orUnknown(format string) string {
	if format == "" {
		return "image"
	}
	return format
}

// describe shows the first bytes of a refused file, which is usually
// enough to tell what it is.
func describe(b []byte) string {
	if len(b) == 0 {
		return "empty"
	}
	n := min(len(b), 8)
	s := fmt.Sprintf("% x", b[:n])
	if len(b) > n {
		s += " …"
	}
	return s
}

func mpx(n int64) string {
	if n < 1e6 {
		return fmt.Sprintf("%d px", n)
	}
	return fmt.Sprintf("%.1f Mpx", float64(n)/1e6)
}
