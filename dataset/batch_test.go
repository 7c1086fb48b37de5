package dataset

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/resgen/resgen/runtime"
)

// Fashion-MNIST's normalization, as in reference/fashion.py.
const mean, std = 0.2860, 0.3530

// TestNormalizeByHand checks Batch against values worked out from the
// formula: float32(0.2860) = 0x3e926e98, float32(0.3530) = 0x3eb4bc6a, and
// for byte v, x = v/255, a = x − mean, y = a/std, each rounded to float32.
// Bytes 0 and 255 are where dividing by std and multiplying by float32(1/std)
// part ways (0xbf4f692a and 0x40017350).
func TestNormalizeByHand(t *testing.T) {
	im := &Images{N: 1, H: 2, W: 2, Pix: []uint8{0, 1, 128, 255}}
	want := []uint32{
		0xbf4f6929, // 0: x 0, a 0xbe926e98
		0xbf4c911b, // 1: x 0x3b808081, a 0xbe906c96
		0x3f1c9e13, // 128: x 0x3f008081, a 0x3e5d24d4
		0x4001734f, // 255: x 1, a 0x3f36c8b4
	}
	got := make([]float32, 4)
	if err := im.Batch(got, []int{0}, mean, std); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if b := math.Float32bits(got[i]); b != w {
			t.Errorf("byte %d: %#08x (%g), want %#08x (%g)", im.Pix[i], b, got[i], w, math.Float32frombits(w))
		}
	}
}

// TestBatchMatchesPyTorch: testdata/normalize.safetensors holds what
// reference/fashion.py's normalize makes of images [2, 0, 1] of
// testdata/normalize-idx3-ubyte (every byte value occurs), written by
// testdata/normalize.py.
func TestBatchMatchesPyTorch(t *testing.T) {
	x, err := ReadIDXFile("testdata/normalize-idx3-ubyte")
	if err != nil {
		t.Fatal(err)
	}
	im, err := NewImages("normalize-idx3-ubyte", x)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/normalize.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	st, err := runtime.ReadSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	w := runtime.NewWeights(st)
	want := w.Tensor("x", 3, 1, 28, 28)
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(want))
	if err := im.Batch(got, []int{2, 0, 1}, mean, std); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			if bad++; bad <= 5 {
				t.Errorf("element %d: got %g, PyTorch %g", i, got[i], want[i])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d elements differ from PyTorch", bad, len(want))
	}
}

func TestBatchErrors(t *testing.T) {
	im := &Images{N: 2, H: 2, W: 2, Pix: make([]uint8, 8)}
	for _, tc := range []struct {
		dst  int
		idx  []int
		want string
	}{
		{7, []int{0, 1}, "batch of 2 images of 2×2 needs 8 float32s, have 7"},
		{8, []int{0, 2}, "batch item 1: image 2 out of range [0, 2)"},
		{4, []int{-1}, "batch item 0: image -1 out of range [0, 2)"},
	} {
		err := im.Batch(make([]float32, tc.dst), tc.idx, mean, std)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Batch(%d, %v): %v, want %s", tc.dst, tc.idx, err, tc.want)
		}
		err = im.AugmentedBatch(make([]float32, tc.dst), tc.idx, mean, std, Augment{}, nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("AugmentedBatch(%d, %v): %v, want %s", tc.dst, tc.idx, err, tc.want)
		}
	}
	err := im.AugmentedBatch(make([]float32, 4), []int{0}, mean, std, Augment{Pad: 2}, rand.New(rand.NewPCG(1, 2)))
	if err == nil || err.Error() != "augmentation padding 2, want 0 to 1" {
		t.Errorf("Pad 2 on 2×2: %v", err)
	}
}

// augmentRef is the augmentation spelled out as reference/fashion.py does
// it: pad with zeros, take the H×W window at (Pad+dy, Pad+dx), mirror it.
func augmentRef(src []uint8, h, w, pad, dy, dx int, flip bool) []uint8 {
	pw := w + 2*pad
	padded := make([]uint8, (h+2*pad)*pw)
	for y := range h {
		copy(padded[(y+pad)*pw+pad:], src[y*w:(y+1)*w])
	}
	out := make([]uint8, h*w)
	for y := range h {
		for x := range w {
			out[y*w+x] = padded[(y+pad+dy)*pw+x+pad+dx]
		}
		if flip {
			slices.Reverse(out[y*w : (y+1)*w])
		}
	}
	return out
}

func TestAugmentedBatch(t *testing.T) {
	const h, w, n = 5, 6, 40
	im := &Images{N: n, H: h, W: w, Pix: make([]uint8, n*h*w)}
	for i := range im.Pix {
		im.Pix[i] = uint8(1 + i%251) // no zeros, so padding shows
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = n - 1 - i
	}
	for _, a := range []Augment{{}, {Pad: 2}, {Flip: true}, {Pad: 4, Flip: true}} {
		got := make([]float32, n*h*w)
		if err := im.AugmentedBatch(got, idx, mean, std, a, rand.New(rand.NewPCG(7, 0))); err != nil {
			t.Fatal(err)
		}
		// Replay the draws in the documented order.
		r := rand.New(rand.NewPCG(7, 0))
		seen := map[[3]int]bool{}
		for k, i := range idx {
			var dy, dx int
			if a.Pad > 0 {
				dy = r.IntN(2*a.Pad+1) - a.Pad
				dx = r.IntN(2*a.Pad+1) - a.Pad
			}
			flip := a.Flip && r.IntN(2) == 1
			seen[[3]int{dy, dx, map[bool]int{false: 0, true: 1}[flip]}] = true
			ref := &Images{N: 1, H: h, W: w, Pix: augmentRef(im.Image(i), h, w, a.Pad, dy, dx, flip)}
			want := make([]float32, h*w)
			ref.Batch(want, []int{0}, mean, std)
			if !slices.Equal(got[k*h*w:(k+1)*h*w], want) {
				t.Errorf("%+v item %d (dy %d dx %d flip %v): got %v, want %v", a, k, dy, dx, flip, got[k*h*w:(k+1)*h*w], want)
			}
		}
		if a == (Augment{}) {
			plain := make([]float32, n*h*w)
			im.Batch(plain, idx, mean, std)
			if !slices.Equal(got, plain) {
				t.Errorf("Augment{} differs from Batch")
			}
		}
		// 40 draws should show several different crops and both flips.
		if len(seen) < min(4, (2*a.Pad+1)*(2*a.Pad+1)*map[bool]int{false: 1, true: 2}[a.Flip]) {
			t.Errorf("%+v: only %d distinct augmentations in %d images", a, len(seen), n)
		}
	}
}

func TestShuffle(t *testing.T) {
	p := Shuffle(1000, 1, 0)
	if !slices.Equal(p, Shuffle(1000, 1, 0)) {
		t.Error("Shuffle is not deterministic")
	}
	if slices.Equal(p, Shuffle(1000, 1, 1)) || slices.Equal(p, Shuffle(1000, 2, 0)) {
		t.Error("another epoch or seed gives the same order")
	}
	s := slices.Clone(p)
	slices.Sort(s)
	for i, v := range s {
		if v != i {
			t.Fatalf("not a permutation: sorted[%d] = %d", i, v)
		}
	}
}

func TestBatches(t *testing.T) {
	order := []int{5, 4, 3, 2, 1, 0, 9}
	var got [][]int
	for b := range Batches(order, 3) {
		got = append(got, b)
	}
	want := [][]int{{5, 4, 3}, {2, 1, 0}, {9}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) || cap(got[i]) != len(got[i]) {
			t.Errorf("batch %d: %v (cap %d), want %v", i, got[i], cap(got[i]), want[i])
		}
	}
	for b := range Batches(order, 2) {
		if len(b) != 2 {
			t.Errorf("batch %v", b)
		}
		break // stopping early must not panic
	}
}
