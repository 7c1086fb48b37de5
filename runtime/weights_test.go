package runtime

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// weightsTestF16Ref decodes a half-precision value from its definition in
// float64: (-1)^s × 2^(e-15) × (1 + m/1024), or 2^-14 × m/1024 when e = 0.
func weightsTestF16Ref(h uint16) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e, m := int(h>>10)&0x1f, float64(h&0x3ff)
	switch e {
	case 0:
		return s * math.Ldexp(m/1024, -14)
	case 0x1f:
		if m != 0 {
			return math.NaN()
		}
		return math.Inf(int(s))
	}
	return s * math.Ldexp(1+m/1024, e-15)
}

func TestF16ToFloat32(t *testing.T) {
	known := []struct {
		bits uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x7bff, 65504},                 // largest finite
		{0x0400, 6.103515625e-05},       // smallest normal, 2^-14
		{0x03ff, 6.097555160522461e-05}, // largest subnormal, 1023 × 2^-24
		{0x0001, 5.960464477539063e-08}, // smallest subnormal, 2^-24
		{0x8001, -5.960464477539063e-08},
		{0x3555, 0.333251953125},
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	}
	for _, k := range known {
		if got := weightsF16ToFloat32(k.bits); got != k.want {
			t.Errorf("F16 %#04x = %v, want %v", k.bits, got, k.want)
		}
	}
	if got := weightsF16ToFloat32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("F16 0x8000 = %v, want -0", got)
	}
	for _, nan := range []uint16{0x7e00, 0x7c01, 0xfe00} {
		if got := weightsF16ToFloat32(nan); !math.IsNaN(float64(got)) {
			t.Errorf("F16 %#04x = %v, want NaN", nan, got)
		}
	}
	for h := 0; h < 1<<16; h++ {
		got, want := float64(weightsF16ToFloat32(uint16(h))), weightsTestF16Ref(uint16(h))
		if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("F16 %#04x = %v, want %v", h, got, want)
		}
	}
}

func TestBF16ToFloat32(t *testing.T) {
	known := []struct {
		bits uint16
		want float32
	}{
		{0x0000, 0},
		{0x3f80, 1},
		{0xc000, -2},
		{0x4049, 3.140625},
		{0x0001, 9.183549615799121e-41}, // smallest subnormal, 2^-133
		{0x7f7f, 3.3895313892515355e+38},
		{0x7f80, float32(math.Inf(1))},
		{0xff80, float32(math.Inf(-1))},
	}
	for _, k := range known {
		if got := weightsBF16ToFloat32(k.bits); got != k.want {
			t.Errorf("BF16 %#04x = %v, want %v", k.bits, got, k.want)
		}
	}
	if got := weightsBF16ToFloat32(0x7fc0); !math.IsNaN(float64(got)) {
		t.Errorf("BF16 0x7fc0 = %v, want NaN", got)
	}
}

func weightsTestFile(t *testing.T) *Safetensors {
	t.Helper()
	st, err := ReadSafetensors(stTestWrite(
		stTestTensor{"f32", "F32", []int{2, 2}, stTestF32(1, -2, 3.5, 1e-40)},
		stTestTensor{"f16", "F16", []int{3}, stTestU16(0x3c00, 0x0001, 0xfbff)},
		stTestTensor{"bf16", "BF16", []int{2}, stTestU16(0x4049, 0x8001)},
		stTestTensor{"f64", "F64", []int{2}, stTestF64(0.1, -1e-50)},
		stTestTensor{"scalar", "F32", nil, stTestF32(7)},
		stTestTensor{"bn.num_batches_tracked", "I64", nil, make([]byte, 8)},
		stTestTensor{"nan", "F32", []int{3}, stTestF32(0, 1, float32(math.NaN()))},
		stTestTensor{"inf16", "F16", []int{2}, stTestU16(0, 0xfc00)},
		stTestTensor{"big64", "F64", []int{1}, stTestF64(1e300)},
		stTestTensor{"inf64", "F64", []int{1}, stTestF64(math.Inf(1))},
	))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestWeightsTensor(t *testing.T) {
	w := NewWeights(weightsTestFile(t))
	check := func(name string, shape []int, want []float32) {
		t.Helper()
		got := w.Tensor(name, shape...)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Tensor(%q) = %v, want %v", name, got, want)
		}
	}
	check("f32", []int{2, 2}, []float32{1, -2, 3.5, 1e-40})
	check("f16", []int{3}, []float32{1, 5.960464477539063e-08, -65504})
	check("bf16", []int{2}, []float32{3.140625, -9.183549615799121e-41})
	check("f64", []int{2}, []float32{0.1, -0}) // rounded to nearest; -1e-50 underflows
	check("scalar", nil, []float32{7})
	if err := w.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	if got, want := w.Unused(), []string{"big64", "bn.num_batches_tracked", "inf16", "inf64", "nan"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Unused() = %q, want %q", got, want)
	}
}

func TestWeightsErrors(t *testing.T) {
	w := NewWeights(weightsTestFile(t))
	// Every problem gives back zeros of the expected size.
	for _, req := range []struct {
		name  string
		shape []int
	}{
		{"missing", []int{4, 2}},
		{"f32", []int{4}},
		{"f32", []int{2, 2, 1}},
		{"bn.num_batches_tracked", nil},
		{"nan", []int{3}},
		{"inf16", []int{2}},
		{"big64", []int{1}},
		{"inf64", []int{1}},
	} {
		got := w.Tensor(req.name, req.shape...)
		n := 1
		for _, d := range req.shape {
			n *= d
		}
		if len(got) != n {
			t.Errorf("Tensor(%q, %v) has %d values, want %d", req.name, req.shape, len(got), n)
		}
		for _, v := range got {
			if v != 0 {
				t.Errorf("Tensor(%q, %v) = %v, want zeros", req.name, req.shape, got)
				break
			}
		}
	}
	if got := w.Tensor("bad request", 2, -1); got != nil {
		t.Errorf("Tensor with a negative dimension = %v, want nil", got)
	}
	err := w.Err()
	if err == nil {
		t.Fatal("Err() = nil")
	}
	want := []string{
		`weights: tensor "missing": missing (want shape [4 2])`,
		`weights: tensor "f32": shape [2 2], want [4]`,
		`weights: tensor "f32": shape [2 2], want [2 2 1]`,
		`weights: tensor "bn.num_batches_tracked": dtype I64 is not a floating-point type`,
		`weights: tensor "nan": value NaN at index 2 (of 3)`,
		`weights: tensor "inf16": value -Inf at index 1 (of 2)`,
		`weights: tensor "big64": value 1e+300 at index 0 overflows float32`,
		`weights: tensor "inf64": value +Inf at index 0 (of 1)`,
		`weights: tensor "bad request": requested shape [2 -1] is invalid`,
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("Err() =\n%s\nwant\n%s", err, strings.Join(want, "\n"))
	}
}

func TestWeightsNil(t *testing.T) {
	w := NewWeights(nil)
	if got := w.Tensor("x", 2); len(got) != 2 {
		t.Errorf("Tensor = %v", got)
	}
	if w.Err() == nil || !strings.Contains(w.Err().Error(), `"x": missing`) {
		t.Errorf("Err() = %v", w.Err())
	}
	if w.Unused() != nil {
		t.Errorf("Unused() = %v", w.Unused())
	}
}
