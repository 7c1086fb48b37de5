package trainparity

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resgen/resgen/internal/testmodel"
	"github.com/resgen/resgen/runtime"
)

// TestGradcheck checks the gradient of a whole generated Step against loss
// differences, for every case (fixture or not): the test reads the gradient
// g back from one SGD step with lr 1 and no momentum (w' = w − g), then for
// each parameter tensor moves it along ±eps·g/|g| and compares the measured
// loss change with the one g predicts, Σ g·Δw over the float32 values
// actually used. BatchNorm is in training mode throughout, which is a
// smooth function of the weights for a fixed batch.
func TestGradcheck(t *testing.T) {
	for name := range gradcheckCases() {
		t.Run(name, func(t *testing.T) { gradcheck(t, name) })
	}
}

// gradcheckCases are the packages gencases compiled for this test. Deep
// networks are left to the PyTorch fixtures: with hundreds of ReLUs near 0
// on a small batch, some flip within any usable eps, and their kinks put
// percent-level errors into the differences (the step-1 changes of the
// fixtures agree with PyTorch to 1e-4 where these differ by 2%).
func gradcheckCases() map[string]compiled {
	return map[string]compiled{"allops": generated["allops"]}
}

const (
	gcBatch = 4
	gcEps   = 2e-3 // small enough that few ReLU and max-pool switches flip
)

func gradcheck(t *testing.T, name string) {
	c := generated[name]
	w0 := testmodel.SeededWeights(t, filepath.Join("gen", name, "spec.yaml"), 3)
	input := testmodel.Input(gcBatch, c.inputLen)
	labels := make([]int32, gcBatch*c.labelLen)
	for i := range labels {
		labels[i] = int32((i*7 + i/5) % c.classes)
	}
	lossAt := func(weights []byte) float64 {
		tr, err := c.new(weights, 1, 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		loss, err := tr.Step(input, labels)
		if err != nil {
			t.Fatal(err)
		}
		return loss
	}

	tr, err := c.new(w0, 1, 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	loss0, err := tr.Step(input, labels)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tr.Save(&buf); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if l := lossAt(w0); l != loss0 {
		t.Fatalf("the same Step from the same weights gave losses %v and %v", loss0, l)
	}
	st0, st1 := readSTBytes(t, w0), readSTBytes(t, buf.Bytes())

	checked, worst := 0, 0.0
	for _, key := range st0.Names() {
		if strings.HasSuffix(key, "running_mean") || strings.HasSuffix(key, "running_var") || strings.HasSuffix(key, "num_batches_tracked") {
			continue
		}
		shape, _ := st0.Shape(key)
		p0, p1 := f32Shape(t, st0, key, shape), f32Shape(t, st1, key, shape)
		g := make([]float64, len(p0))
		norm := 0.0
		for i := range g {
			g[i] = float64(p0[i]) - float64(p1[i])
			norm += g[i] * g[i]
		}
		norm = math.Sqrt(norm)
		if norm == 0 {
			t.Errorf("%s: gradient is zero", key)
			continue
		}
		plus, minus := make([]float32, len(p0)), make([]float32, len(p0))
		predicted := 0.0
		for i := range g {
			plus[i] = p0[i] + float32(gcEps*g[i]/norm)
			minus[i] = p0[i] - float32(gcEps*g[i]/norm)
			predicted += g[i] * (float64(plus[i]) - float64(minus[i]))
		}
		measured := lossAt(replaced(t, st0, key, plus)) - lossAt(replaced(t, st0, key, minus))
		// Central differences are exact to O(eps²) for the loss; the rest is
		// float32 noise in the loss (about 1e-6 of it) and in g.
		err := math.Abs(measured - predicted)
		tol := 1e-2*math.Abs(predicted) + 1e-6
		checked++
		if testing.Verbose() {
			t.Logf("%-22s |g| %-10.4g predicted %-12.6g measured %-12.6g", key, norm, predicted, measured)
		}
		if rel := err / math.Abs(predicted); rel > worst && math.Abs(predicted) > 1e-5 {
			worst = rel
		}
		if !(err <= tol) {
			t.Errorf("%s: loss change %.6g along the gradient, the gradient predicts %.6g (|g| %.4g; error %.3g > %.3g)", key, measured, predicted, norm, err, tol)
		}
	}
	t.Logf("loss %.6f; %d parameter tensors checked, worst relative error %.3g (of changes above 1e-5)", loss0, checked, worst)
}

// replaced returns st as safetensors bytes with tensor key replaced by v.
func replaced(t *testing.T, st *runtime.Safetensors, key string, v []float32) []byte {
	t.Helper()
	var ts []runtime.OutTensor
	for _, name := range st.Names() {
		shape, _ := st.Shape(name)
		o := runtime.OutTensor{Name: name, Shape: shape}
		switch dt, _ := st.DType(name); {
		case name == key:
			o.F32 = v
		case dt == "I64":
			o.I64 = i64(t, st, name)
		default:
			o.F32 = f32Shape(t, st, name, shape)
		}
		ts = append(ts, o)
	}
	var buf bytes.Buffer
	if err := runtime.WriteSafetensors(&buf, ts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
