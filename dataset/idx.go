// Package dataset reads image-classification data sets stored as IDX files
// (MNIST, Fashion-MNIST) and turns them into normalized NCHW float32 batches,
// in the same arithmetic as PyTorch, for resgen's examples, tests and
// training.
//
// The files are untrusted input: every size is checked against the bytes
// present and against MaxIDXBytes before anything is allocated, and every
// error names the file.
package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// MaxIDXBytes caps the element data of one IDX file (and what a gzip file
// may decompress to). Fashion-MNIST's largest file holds 47 million bytes.
const MaxIDXBytes = 1 << 28

// maxIDXDims caps the number of dimensions; real files have 1 (labels) or 3
// (images).
const maxIDXDims = 8

// An IDX is a decoded IDX file of unsigned bytes (element type 0x08), the
// only type the MNIST family uses.
type IDX struct {
	Dims []int  // the sizes, outermost first
	Data []byte // the elements, row-major; len is the product of Dims
}

// idxTypes names the element types of the IDX format, for error messages.
var idxTypes = map[byte]string{
	0x08: "unsigned byte",
	0x09: "signed byte",
	0x0B: "int16",
	0x0C: "int32",
	0x0D: "float32",
	0x0E: "float64",
}

// ReadIDXFile reads an IDX file, gzip-compressed or plain.
func ReadIDXFile(path string) (*IDX, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseIDX(path, b)
}

// ParseIDX decodes the IDX file b, decompressing it first if it starts with
// the gzip magic number. name is used in errors only. Data may share b's
// memory.
func ParseIDX(name string, b []byte) (*IDX, error) {
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		var err error
		if b, err = gunzip(b, MaxIDXBytes+4+4*maxIDXDims); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	x, err := parseIDX(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return x, nil
}

// gunzip decompresses b, refusing output beyond limit bytes (what the
// largest valid file could need), so a small file cannot claim unbounded
// memory.
func gunzip(b []byte, limit int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("gzip: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %v", err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("decompresses to more than %d bytes", limit)
	}
	return out, nil
}

func parseIDX(b []byte) (*IDX, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("truncated header: %d bytes, need at least 4", len(b))
	}
	if b[0] != 0 || b[1] != 0 {
		return nil, fmt.Errorf("not an IDX file: magic %02x %02x, want 00 00", b[0], b[1])
	}
	if t := b[2]; t != 0x08 {
		if n, ok := idxTypes[t]; ok {
			return nil, fmt.Errorf("unsupported element type 0x%02x (%s); only 0x08 (unsigned byte) is supported", t, n)
		}
		return nil, fmt.Errorf("unknown element type 0x%02x; only 0x08 (unsigned byte) is supported", t)
	}
	ndim := int(b[3])
	if ndim == 0 || ndim > maxIDXDims {
		return nil, fmt.Errorf("%d dimensions, want 1 to %d", ndim, maxIDXDims)
	}
	hdr := 4 + 4*ndim
	if len(b) < hdr {
		return nil, fmt.Errorf("truncated header: %d bytes, need %d for %d dimensions", len(b), hdr, ndim)
	}
	dims := make([]int, ndim)
	n := 1
	for i := range dims {
		d := binary.BigEndian.Uint32(b[4+4*i:])
		// Checked one factor at a time, so the product never overflows.
		if d > MaxIDXBytes || (d > 0 && n > MaxIDXBytes/int(d)) {
			return nil, fmt.Errorf("dimensions %v… hold more than %d elements", append(dims[:i:i], int(d)), MaxIDXBytes)
		}
		dims[i] = int(d)
		n *= int(d)
	}
	data := b[hdr:]
	switch {
	case len(data) < n:
		return nil, fmt.Errorf("truncated data: dimensions %v need %d bytes, have %d", dims, n, len(data))
	case len(data) > n:
		return nil, fmt.Errorf("%d trailing bytes after the %d of dimensions %v", len(data)-n, n, dims)
	}
	return &IDX{Dims: dims, Data: data}, nil
}
