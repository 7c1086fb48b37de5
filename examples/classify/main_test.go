package main

import (
	"image"
	"image/color"
	"math"
	"testing"

	"example.com/classify/cifar"
)

// TestClassify runs the generated network with a real PyTorch state_dict
// (the resgen repository's CIFAR ResNet-20 fixture) on a synthetic picture.
func TestClassify(t *testing.T) {
	m, err := cifar.Load("../../testdata/parity/cifar-resnet20-real/weights.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{uint8(4 * x), uint8(5 * y), 128, 255})
		}
	}
	probs, err := classify(m, img)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, p := range probs {
		sum += p
	}
	if len(probs) != 10 || math.Abs(sum-1) > 1e-9 {
		t.Fatalf("probabilities %v sum to %v", probs, sum)
	}
}
