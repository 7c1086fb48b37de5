package main

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"example.com/classify/cifar"
)

// want.json and picture.png are written by the resgen repository's
// reference/classify_example.py: torchvision's transform of the spec
// (Resize(32), CenterCrop(32), ToTensor(), Normalize) on the PIL-decoded
// picture, then CIFAR ResNet-20 with the real fixture weights and a
// float64 softmax.
type want struct {
	Labels []string  `json:"labels"`
	Probs  []float64 `json:"probs"`
}

// TestClassify: decode, the generated Preprocess and Classify give
// PyTorch's probabilities for a 64×48 picture.
func TestClassify(t *testing.T) {
	m, err := cifar.Load("../../testdata/parity/cifar-resnet20-real/weights.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, err := os.ReadFile("testdata/want.json")
	if err != nil {
		t.Fatal(err)
	}
	var w want
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	img, err := decode("testdata/picture.png")
	if err != nil {
		t.Fatal(err)
	}
	preds, err := m.Classify(img, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != len(w.Probs) {
		t.Fatalf("%d predictions, want %d", len(preds), len(w.Probs))
	}
	var maxDiff, sum float64
	for i, p := range preds {
		sum += float64(p.Prob)
		if p.Label != w.Labels[p.Index] {
			t.Errorf("class %d is %q, want %q", p.Index, p.Label, w.Labels[p.Index])
		}
		d := math.Abs(float64(p.Prob) - w.Probs[p.Index])
		maxDiff = math.Max(maxDiff, d)
		if d > 1e-4 {
			t.Errorf("%s: probability %.6f, PyTorch %.6f", p.Label, p.Prob, w.Probs[p.Index])
		}
		if i > 0 && p.Prob > preds[i-1].Prob {
			t.Errorf("prediction %d (%.6f) above prediction %d (%.6f)", i, p.Prob, i-1, preds[i-1].Prob)
		}
	}
	if math.Abs(sum-1) > 1e-5 {
		t.Errorf("probabilities sum to %v", sum)
	}
	t.Logf("top: %s %.4f; max |Δp| vs PyTorch %.2g", preds[0].Label, preds[0].Prob, maxDiff)
}
