package runtime

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFoldBatchNormHand(t *testing.T) {
	// Channel 0: gamma 4, var 3, eps 1 → scale 4/sqrt(4) = 2;
	//   w [1 2 3] → [2 4 6]; b = (1 - 0.5)*2 + (-1) = 0.
	// Channel 1: gamma 1, var 3, eps 1 → scale 1/sqrt(4) = 0.5;
	//   w [2 -4 8] → [1 -2 4]; b = (0 - 2)*0.5 + 3 = 2.
	w2, b2 := FoldBatchNorm(
		[]float32{1, 2, 3, 2, -4, 8}, []float32{1, 0},
		[]float32{4, 1}, []float32{-1, 3}, []float32{0.5, 2}, []float32{3, 3}, 1)
	opsTestClose(t, "w2", w2, []float32{2, 4, 6, 1, -2, 4}, 0)
	opsTestClose(t, "b2", b2, []float32{0, 2}, 0)
	// No bias is a zero bias.
	_, b2 = FoldBatchNorm([]float32{1, 2}, nil, []float32{4, 1}, []float32{-1, 3}, []float32{0.5, 2}, []float32{3, 3}, 1)
	opsTestClose(t, "b2 without bias", b2, []float32{-2, 2}, 0)

	scale, shift := BatchNormAffine([]float32{4, 1}, []float32{-1, 3}, []float32{0.5, 2}, []float32{3, 3}, 1)
	opsTestClose(t, "scale", scale, []float32{2, 0.5}, 0)
	opsTestClose(t, "shift", shift, []float32{-2, 2}, 0)
}

// Folding must round once: each result is the float64 formula rounded to
// float32, bit for bit, and the inputs are left alone.
func TestFoldBatchNormRoundsOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	const c, per, eps = 7, 3 * 3 * 5, 1e-5
	weight, bias := opsTestRand(r, c*per), opsTestRand(r, c)
	gamma, beta, mean := opsTestRand(r, c), opsTestRand(r, c), opsTestRand(r, c)
	variance := make([]float32, c)
	for i := range variance {
		variance[i] = float32(r.Float64() * 2)
	}
	weight0 := append([]float32(nil), weight...)
	w2, b2 := FoldBatchNorm(weight, bias, gamma, beta, mean, variance, eps)
	scale, shift := BatchNormAffine(gamma, beta, mean, variance, eps)
	for o := 0; o < c; o++ {
		s := float64(gamma[o]) / math.Sqrt(float64(variance[o])+eps)
		for i := 0; i < per; i++ {
			if want := float32(float64(weight[o*per+i]) * s); w2[o*per+i] != want {
				t.Fatalf("w2[%d] = %v, want %v", o*per+i, w2[o*per+i], want)
			}
		}
		if want := float32((float64(bias[o])-float64(mean[o]))*s + float64(beta[o])); b2[o] != want {
			t.Fatalf("b2[%d] = %v, want %v", o, b2[o], want)
		}
		if scale[o] != float32(s) || shift[o] != float32(float64(beta[o])-float64(mean[o])*s) {
			t.Fatalf("BatchNormAffine channel %d = %v, %v", o, scale[o], shift[o])
		}
	}
	for i := range weight {
		if weight[i] != weight0[i] {
			t.Fatal("FoldBatchNorm modified its weight argument")
		}
	}
}
