package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// idxFile builds an IDX file of unsigned bytes with the given dimensions
// and data.
func idxFile(dims []uint32, data []byte) []byte {
	b := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestParseIDX(t *testing.T) {
	data := []byte{1, 2, 3, 4, 5, 6}
	want := &IDX{Dims: []int{2, 3}, Data: data}
	for name, b := range map[string][]byte{
		"plain": idxFile([]uint32{2, 3}, data),
		"gzip":  gz(idxFile([]uint32{2, 3}, data)),
	} {
		got, err := ParseIDX(name, b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", name, diff)
		}
	}
	// A zero dimension is an empty file, not an error.
	got, err := ParseIDX("empty", idxFile([]uint32{0, 28, 28}, nil))
	if err != nil || got.Dims[0] != 0 || len(got.Data) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
}

func TestParseIDXErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short", []byte{0, 0, 8}, "f: truncated header: 3 bytes, need at least 4"},
		{"magic", []byte{'P', 'K', 3, 4}, "f: not an IDX file: magic 50 4b, want 00 00"},
		{"float", []byte{0, 0, 0x0D, 1, 0, 0, 0, 0}, "f: unsupported element type 0x0d (float32); only 0x08 (unsigned byte) is supported"},
		{"type", []byte{0, 0, 0x42, 1, 0, 0, 0, 0}, "f: unknown element type 0x42; only 0x08 (unsigned byte) is supported"},
		{"ndim0", []byte{0, 0, 8, 0}, "f: 0 dimensions, want 1 to 8"},
		{"ndim9", []byte{0, 0, 8, 9}, "f: 9 dimensions, want 1 to 8"},
		{"dims", []byte{0, 0, 8, 3, 0, 0, 0, 1, 0, 0}, "f: truncated header: 10 bytes, need 16 for 3 dimensions"},
		{"huge", idxFile([]uint32{1 << 31}, nil), "f: dimensions [2147483648]… hold more than 268435456 elements"},
		{"overflow", idxFile([]uint32{1 << 16, 1 << 16, 1 << 16}, nil), "f: dimensions [65536 65536]… hold more than 268435456 elements"},
		{"truncated", idxFile([]uint32{2, 3}, []byte{1, 2, 3, 4, 5}), "f: truncated data: dimensions [2 3] need 6 bytes, have 5"},
		{"trailing", idxFile([]uint32{2, 3}, make([]byte, 8)), "f: 2 trailing bytes after the 6 of dimensions [2 3]"},
		{"gzip", []byte{0x1f, 0x8b, 0}, "f: gzip: unexpected EOF"},
		{"gzip-truncated", gz(idxFile([]uint32{2, 3}, make([]byte, 6)))[:20], "f: gzip: unexpected EOF"},
		{"gzip-content", gz(idxFile([]uint32{2, 3}, make([]byte, 5))), "f: truncated data: dimensions [2 3] need 6 bytes, have 5"},
	} {
		_, err := ParseIDX("f", tc.b)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

// TestGunzipLimit: a gzip file cannot decompress to more than the cap.
// (A real 256 MiB bomb would be a slow test; the check is the same.)
func TestGunzipLimit(t *testing.T) {
	b := gz(make([]byte, 1001))
	if _, err := gunzip(b, 1001); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	_, err := gunzip(b, 1000)
	if err == nil || err.Error() != "decompresses to more than 1000 bytes" {
		t.Errorf("over the limit: %v", err)
	}
}

func TestParseLabeledErrors(t *testing.T) {
	images := idxFile([]uint32{2, 2, 2}, make([]byte, 8))
	labels := idxFile([]uint32{2}, []byte{3, 9})
	for _, tc := range []struct {
		name           string
		images, labels []byte
		want           string
	}{
		{"count", images, idxFile([]uint32{3}, []byte{1, 2, 3}), "im has 2 images but lb has 3 labels"},
		{"range", images, idxFile([]uint32{2}, []byte{3, 10}), "lb: label 10 of item 1 is out of range [0, 10)"},
		{"imdims", idxFile([]uint32{2, 4}, make([]byte, 8)), labels, "im: dimensions [2 4], want 3 (images × height × width)"},
		{"lbdims", images, idxFile([]uint32{2, 1}, []byte{1, 2}), "lb: dimensions [2 1], want 1 (labels)"},
		{"zerosize", idxFile([]uint32{2, 0, 2}, nil), labels, "im: images of 0×2 pixels"},
		{"imbad", []byte{1}, labels, "im: truncated header: 1 bytes, need at least 4"},
		{"lbbad", images, []byte{1}, "lb: truncated header: 1 bytes, need at least 4"},
	} {
		_, _, err := ParseLabeled("im", tc.images, "lb", tc.labels, 10)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v\nwant %s", tc.name, err, tc.want)
		}
	}
	im, lb, err := ParseLabeled("im", images, "lb", labels, 10)
	if err != nil {
		t.Fatal(err)
	}
	if im.N != 2 || im.H != 2 || im.W != 2 || !bytes.Equal(lb, []byte{3, 9}) {
		t.Errorf("got %+v, %v", im, lb)
	}
}

func TestLoadFashionMNIST(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pix := make([]byte, 3*28*28)
	for i := range pix {
		pix[i] = byte(i)
	}
	// The test split compressed, the training split plain.
	write("t10k-images-idx3-ubyte.gz", gz(idxFile([]uint32{3, 28, 28}, pix)))
	write("t10k-labels-idx1-ubyte.gz", gz(idxFile([]uint32{3}, []byte{0, 9, 4})))
	write("train-images-idx3-ubyte", idxFile([]uint32{1, 28, 28}, pix[:784]))
	write("train-labels-idx1-ubyte", idxFile([]uint32{1}, []byte{7}))

	im, lb, err := LoadFashionMNIST(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if im.N != 3 || !bytes.Equal(im.Pix, pix) || !bytes.Equal(lb, []byte{0, 9, 4}) {
		t.Errorf("test split: %d images, labels %v", im.N, lb)
	}
	if got, want := im.Image(2)[0], byte(2*784%256); got != want {
		t.Errorf("Image(2)[0] = %d, want %d", got, want)
	}
	im, lb, err = LoadFashionMNIST(dir, "train")
	if err != nil || im.N != 1 || lb[0] != 7 {
		t.Errorf("train split: %v, %v, %v", im, lb, err)
	}

	if _, _, err := LoadFashionMNIST(dir, "val"); err == nil || err.Error() != `Fashion-MNIST split "val", want "train" or "test"` {
		t.Errorf("split val: %v", err)
	}
	_, _, err = LoadFashionMNIST(t.TempDir(), "test")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "t10k-images-idx3-ubyte(.gz)") {
		t.Errorf("empty dir: %v", err)
	}
	write("t10k-images-idx3-ubyte.gz", gz(idxFile([]uint32{1, 32, 32}, make([]byte, 1024))))
	write("t10k-labels-idx1-ubyte.gz", gz(idxFile([]uint32{1}, []byte{0})))
	_, _, err = LoadFashionMNIST(dir, "test")
	if err == nil || !strings.HasSuffix(err.Error(), "t10k-images-idx3-ubyte.gz: images of 32×32 pixels, want 28×28") {
		t.Errorf("32×32: %v", err)
	}
}

// TestRealFashionMNIST reads the installed data set, if there is one.
func TestRealFashionMNIST(t *testing.T) {
	im, lb, err := LoadFashionMNIST(FashionMNISTDir, "test")
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("RESGEN_REQUIRE_DATA") != "1" {
		t.Skipf("%v (apt-get install -y dataset-fashion-mnist)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if im.N != 10000 || len(lb) != 10000 {
		t.Fatalf("%d images, %d labels", im.N, len(lb))
	}
	var count [10]int
	for _, l := range lb {
		count[l]++
	}
	// The test split is balanced: 1,000 images per class.
	for c, n := range count {
		if n != 1000 {
			t.Errorf("class %d (%s): %d images, want 1000", c, FashionMNISTClasses[c], n)
		}
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(idxFile([]uint32{2, 3}, []byte{1, 2, 3, 4, 5, 6}))
	f.Add(gz(idxFile([]uint32{1, 2, 2}, []byte{1, 2, 3, 4})))
	f.Add(idxFile([]uint32{1 << 16, 1 << 16}, nil))
	f.Add([]byte{0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ParseIDX("fuzz", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		n := 1
		for _, d := range x.Dims {
			n *= d
		}
		if n != len(x.Data) {
			t.Errorf("dims %v but %d bytes", x.Dims, len(x.Data))
		}
		if len(x.Dims) == 3 {
			if im, err := NewImages("fuzz", x); err == nil && im.N > 0 {
				im.Image(im.N - 1)
			}
		}
	})
}
