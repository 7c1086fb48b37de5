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

// OutTensor is one tensor for WriteSafetensors: F32, F64 or I64 data
// (exactly one of them set, even when empty) in row-major order. An empty
// Shape is a scalar of one value, as PyTorch's num_batches_tracked. (F64 is
// for the float64 build of the trainer, internal/train64.)
type OutTensor struct {
	Name  string
	Shape []int
	F32   []float32
	F64   []float64
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
		dtype, size, n, kinds := "F32", 4, len(t.F32), 0
		if t.F32 != nil {
			kinds++
		}
		if t.F64 != nil {
			dtype, size, n = "F64", 8, len(t.F64)
			kinds++
		}
		if t.I64 != nil {
			dtype, size, n = "I64", 8, len(t.I64)
			kinds++
		}
		if kinds > 1 {
			return stErrorf(t.Name, "has both kinds of data set (set one of F32, F64 and I64)")
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
		hdr = stAppendEntry(hdr, t.Name, dtype, t.Shape, off, off+size*n)
		off += size * n
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
		for _, v := range t.F64 {
			binary.LittleEndian.PutUint64(b8[:], math.Float64bits(v))
			bw.Write(b8[:])
		}
		for _, v := range t.I64 {
			binary.LittleEndian.PutUint64(b8[:], uint64(v))
			bw.Write(b8[:])
		}
	}
	return bw.Flush()
}

// stAppendEntry appends one tensor's header entry,
// "name":{"dtype":"D","shape":[...],"data_offsets":[begin,end]}.
func stAppendEntry(hdr []byte, name, dtype string, shape []int, begin, end int) []byte {
	q, _ := json.Marshal(name) // a string always marshals
	hdr = append(hdr, q...)
	hdr = append(hdr, `:{"dtype":"`+dtype+`","shape":[`...)
	for j, d := range shape {
		if j > 0 {
			hdr = append(hdr, ',')
		}
		hdr = strconv.AppendInt(hdr, int64(d), 10)
	}
	hdr = append(hdr, `],"data_offsets":[`...)
	hdr = strconv.AppendInt(hdr, int64(begin), 10)
	hdr = append(hdr, ',')
	hdr = strconv.AppendInt(hdr, int64(end), 10)
	return append(hdr, "]}"...)
}
