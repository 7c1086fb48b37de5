package cifarresnet20train

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/resgen/resgen/internal/testmodel"
)

func batchOf(n int) ([]float32, []int32) {
	labels := make([]int32, n*LabelLen)
	for i := range labels {
		labels[i] = int32(i % OutputShape[0])
	}
	return testmodel.Input(n, InputLen), labels
}

func save(t testing.TB, tr *Trainer) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tr.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestStepThreads: two Steps with momentum give bit-identical losses and
// state for 1, 2 and 3 threads, and the loss goes down on a repeated batch.
func TestStepThreads(t *testing.T) {
	w := testmodel.SeededWeights(t, "spec.yaml", 1)
	src, labels := batchOf(4)
	var first []byte
	var firstLoss [2]float64
	for _, threads := range []int{1, 2, 3} {
		tr, err := NewTrainer(w, WithTrainThreads(threads), WithSGD(0.05, 0.9, 1e-4))
		if err != nil {
			t.Fatal(err)
		}
		var loss [2]float64
		for i := range loss {
			if loss[i], err = tr.Step(src, labels); err != nil {
				t.Fatal(err)
			}
		}
		state := save(t, tr)
		tr.Close()
		if first == nil {
			first, firstLoss = state, loss
			if !(loss[1] < loss[0]) {
				t.Errorf("loss did not decrease on a repeated batch: %v", loss)
			}
			continue
		}
		if loss != firstLoss || !bytes.Equal(state, first) {
			t.Errorf("threads=%d: losses %v and state differ from threads=1 (%v)", threads, loss, firstLoss)
		}
	}
}

// TestStepAllocs: after the first Step at a batch size, Steps at that size
// or a smaller one allocate nothing, and neither does Eval.
func TestStepAllocs(t *testing.T) {
	tr, err := NewTrainer(nil, WithTrainThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	src, labels := batchOf(3)
	if _, err := tr.Step(src, labels); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(3, func() { tr.Step(src, labels) }); allocs != 0 {
		t.Errorf("Step allocates %v times per call", allocs)
	}
	if allocs := testing.AllocsPerRun(3, func() { tr.Step(src[:2*InputLen], labels[:2*LabelLen]) }); allocs != 0 {
		t.Errorf("Step at a smaller batch allocates %v times per call", allocs)
	}
	out := make([]float32, 3*OutputLen)
	if allocs := testing.AllocsPerRun(3, func() { tr.Eval(out, src) }); allocs != 0 {
		t.Errorf("Eval allocates %v times per call", allocs)
	}
}

// TestSaveLoadsInNew: Save writes every tensor New reads, and Eval (BatchNorm
// on running statistics) agrees with the inference Model on those weights.
func TestSaveLoadsInNew(t *testing.T) {
	tr, err := NewTrainer(nil, WithInitSeed(7), WithSGD(0.1, 0.9, 5e-4))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	src, labels := batchOf(4)
	for range 3 {
		if _, err := tr.Step(src, labels); err != nil {
			t.Fatal(err)
		}
	}
	state := save(t, tr)
	m, err := New(state)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want := make([]float32, 4*OutputLen)
	if err := m.Forward(want, src); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 4*OutputLen)
	if err := tr.Eval(got, src); err != nil {
		t.Fatal(err)
	}
	maxRef, maxErr := 0.0, 0.0
	for i := range want {
		maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
		maxErr = math.Max(maxErr, math.Abs(float64(got[i]-want[i])))
	}
	if !(maxErr <= 1e-4*maxRef) {
		t.Errorf("Eval differs from Forward by %.3g (max|Forward| %.3g)", maxErr, maxRef)
	}
	// The saved state restores the trainer: the next Step is the same.
	again, err := NewTrainer(state, WithSGD(0.1, 0.9, 5e-4))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	l1, _ := again.Step(src, labels)
	fresh, _ := NewTrainer(state, WithSGD(0.1, 0.9, 5e-4))
	defer fresh.Close()
	l2, _ := fresh.Step(src, labels)
	if l1 != l2 || math.IsNaN(l1) {
		t.Errorf("two trainers from one saved state: losses %v and %v", l1, l2)
	}
}

// TestStepErrors: bad input is an error naming what is wrong, and a NaN loss
// leaves the parameters unchanged.
func TestStepErrors(t *testing.T) {
	tr, err := NewTrainer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	src, labels := batchOf(2)
	before := save(t, tr)
	for _, tc := range []struct {
		src    []float32
		labels []int32
		want   string
	}{
		{src[:InputLen+1], labels, "len(src)"},
		{src, labels[:1], "len(labels) = 1, want 2"},
		{src, []int32{0, int32(OutputShape[0])}, fmt.Sprintf("labels[1] = %d", OutputShape[0])},
		{src, []int32{-1, 0}, "labels[0] = -1"},
	} {
		if _, err := tr.Step(tc.src, tc.labels); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Step error %v, want %q", err, tc.want)
		}
	}
	nan := append([]float32(nil), src...)
	nan[5] = float32(math.NaN())
	if _, err := tr.Step(nan, labels); err == nil || !strings.Contains(err.Error(), "Step 5:") || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("Step on a NaN input: error %v, want one naming step 5 and NaN", err)
	}
	if !bytes.Equal(save(t, tr), before) {
		t.Error("a failed Step changed the state")
	}
	if _, err := NewTrainer(nil, WithSGD(-1, 0, 0)); err == nil {
		t.Error("NewTrainer accepted a negative learning rate")
	}
	if _, err := NewTrainer([]byte("junk")); err == nil {
		t.Error("NewTrainer accepted junk weights")
	}
}

func TestGradNorms(t *testing.T) {
	tr, err := NewTrainer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	src, labels := batchOf(2)
	if _, err := tr.Step(src, labels); err != nil {
		t.Fatal(err)
	}
	norms := tr.GradNorms()
	if len(norms) == 0 || norms[0].Name != "conv1.weight" || norms[len(norms)-1].Name != "fc.bias" {
		t.Fatalf("GradNorms = %v", norms)
	}
	for _, n := range norms {
		if !(n.Norm > 0) || math.IsInf(n.Norm, 0) {
			t.Errorf("%s: gradient norm %v", n.Name, n.Norm)
		}
	}
}

// BenchmarkStep times one training step at batch 128.
func BenchmarkStep(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			tr, err := NewTrainer(nil, WithTrainThreads(threads), WithSGD(0.1, 0.9, 1e-4))
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			src, labels := batchOf(128)
			tr.Step(src, labels)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := tr.Step(src, labels); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(128*float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
