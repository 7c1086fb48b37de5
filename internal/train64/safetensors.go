package train64

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	rt "github.com/resgen/resgen/runtime"
)

// Weights reads float64 tensors from a safetensors file: runtime.Weights'
// checks (present, exact shape, a floating-point dtype, finite values), then
// the values widened exactly from F32, F16 or BF16, as PyTorch's .double()
// does, or read as they are from F64.
type Weights struct {
	st *rt.Safetensors
	w  *rt.Weights
}

// NewWeights returns a Weights reading from st.
func NewWeights(st *rt.Safetensors) *Weights { return &Weights{st, rt.NewWeights(st)} }

// Tensor returns the named tensor as float64; errors go to Err, as with
// runtime.Weights.Tensor.
func (w *Weights) Tensor(name string, shape ...int) []float64 {
	v := w.w.Tensor(name, shape...)
	out := make([]float64, len(v))
	if dt, _ := w.st.DType(name); dt == "F64" {
		if b, _ := w.st.Bytes(name); len(b) == 8*len(out) {
			for i := range out {
				out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
			}
			return out
		}
	}
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// Err returns every error of the Tensor calls so far, or nil.
func (w *Weights) Err() error { return w.w.Err() }

// OutTensor is runtime.OutTensor with float64 data: F64 or I64 (exactly one
// of them set).
type OutTensor struct {
	Name  string
	Shape []int
	F64   []float64
	I64   []int64
}

// WriteSafetensors writes tensors as a safetensors file of F64 and I64
// tensors, in the order given (runtime.WriteSafetensors writes F32 only).
// It checks every tensor before writing anything.
func WriteSafetensors(w io.Writer, tensors []OutTensor) error {
	hdr := []byte{'{'}
	seen := map[string]bool{}
	off := 0
	for i, t := range tensors {
		if t.Name == "" || t.Name == "__metadata__" || seen[t.Name] {
			return fmt.Errorf("safetensors: cannot write tensor %q (empty, reserved or written twice)", t.Name)
		}
		seen[t.Name] = true
		dtype, n := "F64", len(t.F64)
		if t.I64 != nil {
			dtype, n = "I64", len(t.I64)
		}
		if t.I64 != nil && t.F64 != nil {
			return fmt.Errorf("safetensors: tensor %q has both F64 and I64 data", t.Name)
		}
		want := 1
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
			want *= d
		}
		if n != want {
			return fmt.Errorf("safetensors: tensor %q: shape %v holds %d values, data has %d", t.Name, t.Shape, want, n)
		}
		if i > 0 {
			hdr = append(hdr, ',')
		}
		name, _ := json.Marshal(t.Name)
		shape, _ := json.Marshal(append([]int{}, t.Shape...))
		hdr = append(hdr, name...)
		hdr = append(hdr, `:{"dtype":"`+dtype+`","shape":`...)
		hdr = append(hdr, shape...)
		hdr = append(hdr, `,"data_offsets":[`+strconv.Itoa(off)+","+strconv.Itoa(off+8*n)+"]}"...)
		off += 8 * n
	}
	hdr = append(hdr, '}')
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	bw := bufio.NewWriter(w)
	var b8 [8]byte
	binary.LittleEndian.PutUint64(b8[:], uint64(len(hdr)))
	bw.Write(b8[:])
	bw.Write(hdr)
	for _, t := range tensors {
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
