// Package seeded generates deterministic pseudo-random weights and inputs that
// the Python reference (reference/seeded.py) reproduces bit for bit, so parity
// tests can run large models (ResNet-50 has 25M parameters) without committing
// their weights: both sides derive every value from a seed and a tensor name.
//
// # The generator
//
// All arithmetic is on uint64 with wraparound. For a tensor called name, with
// shape S, seed s and flat row-major index i (0 ≤ i < prod(S)):
//
//	fnv1a64(name)  = FNV-1a over the UTF-8 bytes of name:
//	                 h = 0xcbf29ce484222325; for each byte b: h ^= b; h *= 0x100000001b3
//	splitmix64(x)  = z := x + 0x9e3779b97f4a7c15
//	                 z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
//	                 z = (z ^ (z >> 27)) * 0x94d049bb133111eb
//	                 return z ^ (z >> 31)
//	h = splitmix64((s ^ fnv1a64(name)) + i)     // xor first, then add i
//	u = float64(h >> 40) / 2^24                  // in [0, 1), exact
//	r = 2*u - 1                                  // in [-1, 1), exact
//	value = float32(float64(r*scale) + offset)   // float64, rounded to float32 once
//
// The product r*scale is rounded to float64 before the offset is added (no
// fused multiply-add), and the final conversion rounds to nearest even.
//
// Scale and offset depend on the tensor's Kind:
//
//	Weight       conv / linear / conv-transpose weight (ndim ≥ 2):
//	             scale = sqrt(6 / fan_in), fan_in = prod(shape[1:]), offset 0
//	             (Kaiming-uniform; the sqrt is computed in float64)
//	Bias         conv / linear / conv-transpose bias: scale 0.1, offset 0
//	BNWeight     BatchNorm gamma: scale 0.25, offset 1
//	BNBias       BatchNorm beta: scale 0.1, offset 0
//	RunningMean  BatchNorm running_mean: scale 0.1, offset 0
//	RunningVar   BatchNorm running_var: scale 0.5, offset 1
//	Input        network input (tensor name "input"): scale 1, offset 0
//
// A BatchNorm's num_batches_tracked is the int64 scalar (shape []) 100.
//
// # Inits
//
// The table above is InitSeeded, the default, which the inference parity
// fixtures use: its random BatchNorm statistics exercise every term of the
// folded affine. InitPyTorch changes only the scales and offsets, to
// PyTorch's default initialization (the one every user starts from, and the
// one the training parity fixtures use, because from it float32 training
// agrees with float64 closely enough to test against):
//
//	Weight       scale = 1/sqrt(fan_in), offset 0 (kaiming_uniform_(a=√5))
//	Bias         scale = 1/sqrt(fan_in of the sibling X.weight), offset 0
//	BNWeight     scale 0, offset 1 (γ = 1)
//	BNBias       scale 0, offset 0 (β = 0)
//	RunningMean  scale 0, offset 0
//	RunningVar   scale 0, offset 1
//	Input        scale 1, offset 0
//
// r*0 + offset is exactly the offset (−0 + 0 rounds to +0).
//
// KindOf decides a kind from a state_dict name and its siblings: X.weight is a
// BatchNorm gamma when X.running_mean exists, X.bias a BatchNorm beta likewise.
package seeded

import (
	"fmt"
	"math"
	"strings"
)

// Kind selects the scale and offset of a generated tensor.
type Kind uint8

const (
	Weight      Kind = iota // conv, linear or conv-transpose weight: Kaiming-uniform
	Bias                    // conv, linear or conv-transpose bias
	BNWeight                // BatchNorm gamma
	BNBias                  // BatchNorm beta
	RunningMean             // BatchNorm running_mean
	RunningVar              // BatchNorm running_var
	Input                   // network input
)

var kindNames = [...]string{
	Weight:      "weight",
	Bias:        "bias",
	BNWeight:    "bn_weight",
	BNBias:      "bn_bias",
	RunningMean: "running_mean",
	RunningVar:  "running_var",
	Input:       "input",
}

// String returns the kind's name as the Python reference spells it.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if n == s {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("seeded: unknown kind %q", s)
}

// NumBatchesTracked is the value written for every BatchNorm's
// num_batches_tracked.
const NumBatchesTracked int64 = 100

// KindOf returns the kind of the state_dict tensor name with ndim dimensions;
// has reports whether a sibling name exists in the same state_dict. The name
// "input" is the network input. It fails for names it cannot classify (such
// as num_batches_tracked, which is not a float tensor).
func KindOf(name string, ndim int, has func(name string) bool) (Kind, error) {
	if name == "input" {
		return Input, nil
	}
	prefix, leaf := "", name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		prefix, leaf = name[:i+1], name[i+1:]
	}
	bn := has(prefix + "running_mean")
	switch {
	case leaf == "running_mean":
		return RunningMean, nil
	case leaf == "running_var":
		return RunningVar, nil
	case leaf == "weight" && bn && ndim == 1:
		return BNWeight, nil
	case leaf == "bias" && bn:
		return BNBias, nil
	case leaf == "weight" && ndim >= 2:
		return Weight, nil
	case leaf == "bias":
		return Bias, nil
	}
	return 0, fmt.Errorf("seeded: cannot classify tensor %q (ndim %d)", name, ndim)
}

// Init selects the scales and offsets of the kinds; the stream of random
// values is the same under every init.
type Init uint8

const (
	InitSeeded  Init = iota // the default: Kaiming-uniform weights, random BatchNorm state
	InitPyTorch             // PyTorch's default initialization
)

var initNames = [...]string{InitSeeded: "seeded", InitPyTorch: "pytorch"}

// String returns the init's name as the Python reference spells it.
func (in Init) String() string {
	if int(in) < len(initNames) {
		return initNames[in]
	}
	return fmt.Sprintf("Init(%d)", in)
}

// ParseInit is the inverse of Init.String; "" is InitSeeded.
func ParseInit(s string) (Init, error) {
	if s == "" {
		return InitSeeded, nil
	}
	for in, n := range initNames {
		if n == s {
			return Init(in), nil
		}
	}
	return 0, fmt.Errorf("seeded: unknown init %q (have seeded, pytorch)", s)
}

func fanIn(shape []int) (int, error) {
	if len(shape) < 2 {
		return 0, fmt.Errorf("seeded: weight needs ndim >= 2, have shape %v", shape)
	}
	n := 1
	for _, d := range shape[1:] {
		n *= d
	}
	if n <= 0 {
		return 0, fmt.Errorf("seeded: weight with fan_in %d (shape %v)", n, shape)
	}
	return n, nil
}

// scaleOffsetInit returns the generator's parameters for a tensor of this
// kind under init; weightShape is the sibling X.weight's shape, which
// InitPyTorch needs for a Bias (nil otherwise).
func scaleOffsetInit(init Init, kind Kind, shape, weightShape []int) (scale, offset float64, err error) {
	switch init {
	case InitSeeded:
		return scaleOffset(kind, shape)
	case InitPyTorch:
	default:
		return 0, 0, fmt.Errorf("seeded: unknown init %v", init)
	}
	switch kind {
	case Weight:
		n, err := fanIn(shape)
		if err != nil {
			return 0, 0, err
		}
		return 1 / math.Sqrt(float64(n)), 0, nil
	case Bias:
		if weightShape == nil {
			return 0, 0, fmt.Errorf("seeded: bias needs a sibling weight under init pytorch")
		}
		n, err := fanIn(weightShape)
		if err != nil {
			return 0, 0, err
		}
		return 1 / math.Sqrt(float64(n)), 0, nil
	case BNWeight, RunningVar:
		return 0, 1, nil
	case BNBias, RunningMean:
		return 0, 0, nil
	case Input:
		return 1, 0, nil
	}
	return 0, 0, fmt.Errorf("seeded: unknown kind %v", kind)
}

// scaleOffset returns the generator's parameters for a tensor of this kind
// under InitSeeded.
func scaleOffset(kind Kind, shape []int) (scale, offset float64, err error) {
	switch kind {
	case Weight:
		n, err := fanIn(shape)
		if err != nil {
			return 0, 0, err
		}
		return math.Sqrt(6 / float64(n)), 0, nil
	case Bias, BNBias, RunningMean:
		return 0.1, 0, nil
	case BNWeight:
		return 0.25, 1, nil
	case RunningVar:
		return 0.5, 1, nil
	case Input:
		return 1, 0, nil
	}
	return 0, 0, fmt.Errorf("seeded: unknown kind %v", kind)
}

func fnv1a64(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return h
}

func splitmix64(x uint64) uint64 {
	z := x + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Tensor returns the tensor's values in row-major order. It panics if the
// kind does not fit the shape (a Weight with fewer than two dimensions or an
// unknown kind): callers choose kinds, so that is a bug, never bad input.
func Tensor(seed uint64, name string, shape []int, kind Kind) []float32 {
	scale, offset, err := scaleOffset(kind, shape)
	if err != nil {
		panic(fmt.Sprintf("%v (tensor %q)", err, name))
	}
	return generate(seed, name, shape, scale, offset)
}

func generate(seed uint64, name string, shape []int, scale, offset float64) []float32 {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("seeded: negative dimension in shape %v (tensor %q)", shape, name))
		}
		n *= d
	}
	key := seed ^ fnv1a64(name)
	out := make([]float32, n)
	for i := range out {
		h := splitmix64(key + uint64(i))
		r := 2*(float64(h>>40)/(1<<24)) - 1
		// The float64 conversion forbids fusing r*scale+offset into an FMA,
		// which numpy does not do either.
		out[i] = float32(float64(r*scale) + offset)
	}
	return out
}
