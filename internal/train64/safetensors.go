package train64

import (
	"encoding/binary"
	"io"
	"math"

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

// OutTensor and WriteSafetensors are runtime's: its writer takes F64 data
// too, so the float64 build saves through the same code as the float32 one.
type OutTensor = rt.OutTensor

// WriteSafetensors is runtime.WriteSafetensors.
func WriteSafetensors(w io.Writer, tensors []OutTensor) error { return rt.WriteSafetensors(w, tensors) }
