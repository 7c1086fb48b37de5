package train64

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	rt "github.com/resgen/resgen/runtime"
)

func rand32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func widen(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

// close64 fails unless got (float64 kernel) and want (runtime's float32
// kernel on the same values) agree to float32 rounding.
func close64(t *testing.T, what string, got []float64, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		if d := math.Abs(got[i] - float64(w)); !(d <= 1e-6*(1+math.Abs(float64(w)))) {
			t.Fatalf("%s: [%d] = %.9g, runtime %.9g", what, i, got[i], w)
		}
	}
}

// TestMirrorsRuntime runs every per-item and elementwise wrapper next to the
// runtime kernel it stands for, on the same values: a wrapper that passes
// an argument in the wrong place (h for w, one item for n) differs.
func TestMirrorsRuntime(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const c, h, w = 3, 5, 4
	x32 := rand32(r, c*h*w)
	y32 := rand32(r, c*h*w)
	x, y := widen(x32), widen(y32)
	scale32, shift32 := rand32(r, c), rand32(r, c)
	pool := rt.PoolConfig{C: c, InH: h, InW: w, OutH: 3, OutW: 2, KH: 3, KW: 2, StrideH: 2, StrideW: 2, PadH: 1, PadW: 0}
	type run struct {
		name  string
		n     int
		rt32  func(dst []float32)
		own64 func(dst []float64)
	}
	for _, k := range []run{
		{"Affine", c * h * w, func(d []float32) { rt.Affine(d, x32, c, scale32, shift32, rt.ActReLU) },
			func(d []float64) { Affine(d, x, c, widen(scale32), widen(shift32), rt.ActReLU) }},
		{"Add", c * h * w, func(d []float32) { rt.Add(d, x32, y32, rt.ActNone) }, func(d []float64) { Add(d, x, y, rt.ActNone) }},
		{"AddReLU", c * h * w, func(d []float32) { rt.Add(d, x32, y32, rt.ActReLU) }, func(d []float64) { Add(d, x, y, rt.ActReLU) }},
		{"ReLU", c * h * w, func(d []float32) { rt.ReLU(d, x32) }, func(d []float64) { ReLU(d, x) }},
		{"Sigmoid", c * h * w, func(d []float32) { rt.Sigmoid(d, x32) }, func(d []float64) { Sigmoid(d, x) }},
		{"Softmax", c * h * w, func(d []float32) { rt.Softmax(d, x32, c) }, func(d []float64) { Softmax(d, x, c) }},
		{"MaxPool2DP", c * 3 * 2, func(d []float32) { rt.MaxPool2DP(nil, d, x32, pool) }, func(d []float64) { MaxPool2DP(nil, d, x, pool) }},
		{"AvgPool2D", c * 3 * 2, func(d []float32) { rt.AvgPool2D(d, x32, pool) }, func(d []float64) { AvgPool2D(d, x, pool) }},
		{"GlobalAvgPool", c, func(d []float32) { rt.GlobalAvgPool(d, x32, h*w, c) }, func(d []float64) { GlobalAvgPool(d, x, h*w, c) }},
		{"Flatten", c * h * w, func(d []float32) { rt.Flatten(d, x32, h, w, c) }, func(d []float64) { Flatten(d, x, h, w, c) }},
		{"UpsampleNearest", c * 10 * 8, func(d []float32) { rt.UpsampleNearest(d, x32, c, h, w, 10, 8) },
			func(d []float64) { UpsampleNearest(d, x, c, h, w, 10, 8) }},
		{"UpsampleBilinear", c * 10 * 8, func(d []float32) { rt.UpsampleBilinear(d, x32, c, h, w, 10, 8, false) },
			func(d []float64) { UpsampleBilinear(d, x, c, h, w, 10, 8, false) }},
		{"UpsampleBilinearAlign", c * 10 * 8, func(d []float32) { rt.UpsampleBilinear(d, x32, c, h, w, 10, 8, true) },
			func(d []float64) { UpsampleBilinear(d, x, c, h, w, 10, 8, true) }},
		{"ShortcutA", 7 * 3 * 2, func(d []float32) { rt.ShortcutA(d, x32, c, h, w, 7, 3, 2, 2) },
			func(d []float64) { ShortcutA(d, x, c, h, w, 7, 3, 2, 2) }},
		{"Concat", 2 * c * h * w, func(d []float32) { rt.Concat(d, h*w, rt.ConcatPart{Src: x32, C: c}, rt.ConcatPart{Src: y32, C: c}) },
			func(d []float64) { Concat(d, h*w, ConcatPart{Src: x, C: c}, ConcatPart{Src: y, C: c}) }},
		{"NCHWToNHWCP", c * h * w, func(d []float32) { rt.NCHWToNHWCP(nil, d, x32, c, h, w) }, func(d []float64) { NCHWToNHWCP(nil, d, x, c, h, w) }},
		{"NHWCToNCHW", c * h * w, func(d []float32) { rt.NHWCToNCHW(d, x32, c, h, w) }, func(d []float64) { NHWCToNCHW(d, x, c, h, w) }},
	} {
		want, got := make([]float32, k.n), make([]float64, k.n)
		k.rt32(want)
		k.own64(got)
		close64(t, k.name, got, want)
	}
}

// TestSoftmaxCrossEntropyLabels: a bad label is the same error as
// runtime's, and nil dlogits computes the loss alone.
func TestSoftmaxCrossEntropyLabels(t *testing.T) {
	logits32 := rand32(rand.New(rand.NewPCG(3, 4)), 2*6*3)
	for _, hw := range []int{1, 6} {
		labels := make([]int32, 2*hw)
		labels[len(labels)-1] = 3
		_, want := rt.SoftmaxCrossEntropy(nil, logits32[:2*hw*3], labels, 2, hw, 3)
		_, got := SoftmaxCrossEntropy(nil, widen(logits32[:2*hw*3]), labels, 2, hw, 3)
		if want == nil || got == nil || got.Error() != want.Error() {
			t.Errorf("hw=%d: error %v, runtime's %v", hw, got, want)
		}
		labels[len(labels)-1] = 2
		lw, _ := rt.SoftmaxCrossEntropy(nil, logits32[:2*hw*3], labels, 2, hw, 3)
		lg, err := SoftmaxCrossEntropy(nil, widen(logits32[:2*hw*3]), labels, 2, hw, 3)
		if err != nil || math.Abs(lg-lw) > 1e-6*lw {
			t.Errorf("hw=%d: loss %v (%v), runtime's %v", hw, lg, err, lw)
		}
	}
}

// TestSafetensorsRoundTrip: Save's F64 and I64 tensors read back exactly
// through runtime's reader and Weights (F64 not rounded to float32), and
// F32 tensors widen exactly.
func TestSafetensorsRoundTrip(t *testing.T) {
	third := 1.0 / 3
	var buf bytes.Buffer
	err := WriteSafetensors(&buf, []OutTensor{
		{Name: "w", Shape: []int{2, 2}, F64: []float64{third, -2, 1e-300, 4}},
		{Name: "n", Shape: []int{}, I64: []int64{103}},
		{Name: "empty", Shape: []int{0}, F64: []float64{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := rt.ReadSafetensors(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if dt, _ := st.DType("w"); dt != "F64" {
		t.Errorf("dtype %q, want F64", dt)
	}
	if n, err := st.Count("n"); err != nil || n != 103 {
		t.Errorf("count %d (%v), want 103", n, err)
	}
	wt := NewWeights(st)
	if got := wt.Tensor("w", 2, 2); got[0] != third || got[2] != 1e-300 {
		t.Errorf("w = %v, want the values written", got)
	}
	if err := wt.Err(); err != nil {
		t.Fatal(err)
	}
	wt.Tensor("missing", 1)
	if err := wt.Err(); err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("missing tensor: error %v", err)
	}

	// F32 widens exactly (PyTorch's .double()).
	var b32 bytes.Buffer
	if err := rt.WriteSafetensors(&b32, []rt.OutTensor{{Name: "v", Shape: []int{1}, F32: []float32{0.1}}}); err != nil {
		t.Fatal(err)
	}
	st32, err := rt.ReadSafetensors(b32.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := NewWeights(st32).Tensor("v", 1)[0]; got != float64(float32(0.1)) {
		t.Errorf("F32 0.1 read as %.17g, want %.17g", got, float64(float32(0.1)))
	}

	for name, ts := range map[string][]OutTensor{
		"twice":    {{Name: "a", F64: []float64{1}}, {Name: "a", F64: []float64{1}}},
		"both":     {{Name: "a", F64: []float64{1}, I64: []int64{1}}},
		"shape":    {{Name: "a", Shape: []int{3}, F64: []float64{1}}},
		"negative": {{Name: "a", Shape: []int{-1}, F64: []float64{}}},
		"reserved": {{Name: "__metadata__", F64: []float64{1}}},
	} {
		var b bytes.Buffer
		if err := WriteSafetensors(&b, ts); err == nil || b.Len() != 0 {
			t.Errorf("%s: error %v, %d bytes written", name, err, b.Len())
		}
	}
	// The header is padded so the data starts 8-byte aligned.
	if n := binary.LittleEndian.Uint64(buf.Bytes()); n%8 != 0 {
		t.Errorf("header length %d", n)
	}
}
