package runtime

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
)

// WriteTo writes st as a safetensors file, tensors in name order, each in
// the dtype it has (F16 and BF16 stay 16-bit; I64 counters stay integers),
// so converting a .pth loses nothing. Unlike WriteSafetensors, whose
// tensors are float32 or int64 values, it copies raw bytes.
func (st *Safetensors) WriteTo(w io.Writer) (int64, error) {
	if _, ok := st.tensors["__metadata__"]; ok {
		return 0, errors.New(`safetensors: cannot write a tensor named "__metadata__" (the name of the format's metadata)`)
	}
	hdr := []byte{'{'}
	off := 0
	for i, n := range st.names {
		t := st.tensors[n]
		if i > 0 {
			hdr = append(hdr, ',')
		}
		hdr = stAppendEntry(hdr, n, t.dtype, t.shape, off, off+len(t.data))
		off += len(t.data)
	}
	hdr = append(hdr, '}')
	for len(hdr)%8 != 0 { // data 8-byte aligned, as the reference writer does
		hdr = append(hdr, ' ')
	}
	cw := &pthCountingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<16)
	var b8 [8]byte
	binary.LittleEndian.PutUint64(b8[:], uint64(len(hdr)))
	bw.Write(b8[:])
	bw.Write(hdr)
	for _, n := range st.names {
		bw.Write(st.tensors[n].data)
	}
	err := bw.Flush()
	return cw.n, err
}

type pthCountingWriter struct {
	w io.Writer
	n int64
}

func (c *pthCountingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
