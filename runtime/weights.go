package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Weights hands tensors from a safetensors file to a generated package's New,
// which asks for each tensor in a straight line. Tensor never fails: a
// problem is recorded and a zero-filled tensor of the expected size comes
// back so New can carry on, and Err reports every problem at the end, each
// naming its tensor.
type Weights struct {
	st   *Safetensors
	used map[string]bool
	errs []error
}

// NewWeights returns a Weights reading from st. A nil st has no tensors.
func NewWeights(st *Safetensors) *Weights {
	return &Weights{st: st, used: make(map[string]bool)}
}

func (w *Weights) errorf(name, format string, args ...any) {
	w.errs = append(w.errs, fmt.Errorf("weights: tensor %q: %s", name, fmt.Sprintf(format, args...)))
}

// Tensor returns the named tensor as float32 after checking that it exists,
// has exactly the given shape, has a floating-point dtype (F32, F16, BF16 or
// F64; F16 and BF16 convert exactly, F64 rounds to nearest) and holds only
// finite values. The result is a new slice the caller owns.
func (w *Weights) Tensor(name string, shape ...int) []float32 {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			w.errorf(name, "requested shape %v is invalid", shape)
			return nil
		}
		n *= d
	}
	out := make([]float32, n)
	w.used[name] = true
	var t *stTensor
	if w.st != nil {
		t = w.st.tensors[name]
	}
	if t == nil {
		w.errorf(name, "missing (want shape %v)", shape)
		return out
	}
	if !weightsSameShape(t.shape, shape) {
		w.errorf(name, "shape %v, want %v", t.shape, shape)
		return out
	}
	bad := -1 // index of the first non-finite value
	switch t.dtype {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.data[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = weightsF16ToFloat32(binary.LittleEndian.Uint16(t.data[2*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = weightsBF16ToFloat32(binary.LittleEndian.Uint16(t.data[2*i:]))
		}
	case "F64":
		for i := range out {
			v := math.Float64frombits(binary.LittleEndian.Uint64(t.data[8*i:]))
			if !math.IsNaN(v) && !math.IsInf(v, 0) && math.IsInf(float64(float32(v)), 0) {
				w.errorf(name, "value %v at index %d overflows float32", v, i)
				clear(out)
				return out
			}
			out[i] = float32(v)
		}
	default:
		w.errorf(name, "dtype %s is not a floating-point type", t.dtype)
		return out
	}
	for i, v := range out {
		if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
			bad = i
			break
		}
	}
	if bad >= 0 {
		w.errorf(name, "value %s at index %d (of %d)", weightsFormat(out[bad]), bad, n)
		clear(out)
	}
	return out
}

func weightsFormat(v float32) string {
	return strconv.FormatFloat(float64(v), 'g', -1, 32)
}

func weightsSameShape(got, want []int) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// Err returns every problem Tensor found, one per line, or nil.
func (w *Weights) Err() error {
	return errors.Join(w.errs...)
}

// Unused returns, sorted, the names of tensors in the file that were never
// asked for (num_batches_tracked, say), for diagnostics.
func (w *Weights) Unused() []string {
	if w.st == nil {
		return nil
	}
	var names []string
	for _, name := range w.st.names {
		if !w.used[name] {
			names = append(names, name)
		}
	}
	return names
}

// weightsF16ToFloat32 converts an IEEE 754 half-precision value to float32. Every
// half value, subnormals, infinities and NaN payloads included, is exactly
// representable.
func weightsF16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0:
		// Zero or subnormal: mant × 2^-24, exact in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(v) | sign)
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// weightsBF16ToFloat32 converts a bfloat16 value, the top half of a float32.
func weightsBF16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}
