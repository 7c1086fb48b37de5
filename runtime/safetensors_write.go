package runtime

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
)

// OutTensor is one tensor for WriteSafetensors: F32 or I64 data (exactly
// one of them set, even when empty) in row-major order. An empty Shape is a
// scalar of one value, as PyTorch's num_batches_tracked.
type OutTensor struct {
	Name  string
	Shape []int
	F32   []float32
	I64   []int64
}

// WriteSafetensors writes tensors as a safetensors file, in the order
// given, that ReadSafetensors and Python's safetensors read back. It checks
// every tensor before writing anything and names the one that is wrong.
func WriteSafetensors(w io.Writer, tensors []OutTensor) error {
	seen := make(map[string]bool, len(tensors))
	hdr := []byte{'{'}
	off := 0
	for i, t := range tensors {
		if t.Name == "" || t.Name == "__metadata__" {
			return fmt.Errorf("safetensors: cannot write a tensor named %q", t.Name)
		}
		if seen[t.Name] {
			return stErrorf(t.Name, "written twice")
		}
		seen[t.Name] = true
		dtype, size, n := "F32", 4, len(t.F32)
		if t.I64 != nil {
			dtype, size, n = "I64", 8, len(t.I64)
		}
		if t.I64 != nil && t.F32 != nil {
			return stErrorf(t.Name, "has both F32 and I64 data")
		}
		want := 1
		for _, d := range t.Shape {
			if d < 0 {
				return stErrorf(t.Name, "negative dimension in shape %v", t.Shape)
			}
			want *= d
		}
		if n != want {
			return stErrorf(t.Name, "shape %v holds %d values, data has %d", t.Shape, want, n)
		}
		if i > 0 {
			hdr = append(hdr, ',')
		}
		name, _ := json.Marshal(t.Name) // a string always marshals
		hdr = append(hdr, name...)
		hdr = append(hdr, `:{"dtype":"`+dtype+`","shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				hdr = append(hdr, ',')
			}
			hdr = strconv.AppendInt(hdr, int64(d), 10)
		}
		hdr = append(hdr, `],"data_offsets":[`...)
		hdr = strconv.AppendInt(hdr, int64(off), 10)
		hdr = append(hdr, ',')
		off += size * n
		hdr = strconv.AppendInt(hdr, int64(off), 10)
		hdr = append(hdr, "]}"...)
	}
	hdr = append(hdr, '}')
	// Pad so the data starts 8-byte aligned, as the reference writer does.
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var b8 [8]byte
	binary.LittleEndian.PutUint64(b8[:], uint64(len(hdr)))
	bw.Write(b8[:])
	bw.Write(hdr)
	for _, t := range tensors {
		for _, v := range t.F32 {
			binary.LittleEndian.PutUint32(b8[:4], math.Float32bits(v))
			bw.Write(b8[:4])
		}
		for _, v := range t.I64 {
			binary.LittleEndian.PutUint64(b8[:], uint64(v))
			bw.Write(b8[:])
		}
	}
	return bw.Flush()
}
