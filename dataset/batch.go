package dataset

import (
	"fmt"
	"iter"
	"math/rand/v2"
)

// normTable maps each byte value v to (v/255 − mean)/std, each operation
// rounded to float32 in this order, which is what PyTorch computes for
// ToTensor and Normalize (and reference/fashion.py's normalize): dividing by
// the float32 std, not multiplying by its reciprocal, which differs in the
// last bit for about half the bytes.
func normTable(mean, std float32) *[256]float32 {
	var t [256]float32
	for v := range t {
		x := float32(v) / 255
		t[v] = float32(x-mean) / std
	}
	return &t
}

// Batch writes images idx[0], idx[1], … into dst as a normalized NCHW batch
// of len(idx) items of 1×H×W float32: each byte v becomes (v/255 − mean)/std,
// bit for bit as PyTorch computes it.
func (d *Images) Batch(dst []float32, idx []int, mean, std float32) error {
	if err := d.checkBatch(dst, idx); err != nil {
		return err
	}
	t := normTable(mean, std)
	n := d.H * d.W
	for k, i := range idx {
		out := dst[k*n : (k+1)*n]
		for j, v := range d.Image(i) {
			out[j] = t[v]
		}
	}
	return nil
}

// Augment is the training-time augmentation of AugmentedBatch.
type Augment struct {
	// Pad > 0 crops each image at a random offset in [−Pad, Pad] in both
	// directions, as if it were zero-padded by Pad pixels on every side
	// (torchvision's RandomCrop(size, padding=Pad)).
	Pad int
	// Flip mirrors each image left to right with probability 1/2.
	Flip bool
}

// AugmentedBatch is Batch with each image shifted and flipped as a says,
// drawing from r, per image in order: the vertical offset, the horizontal
// offset (when a.Pad > 0), then the flip (when a.Flip). The same r state
// gives the same batch.
func (d *Images) AugmentedBatch(dst []float32, idx []int, mean, std float32, a Augment, r *rand.Rand) error {
	if err := d.checkBatch(dst, idx); err != nil {
		return err
	}
	if a.Pad < 0 || a.Pad >= d.H || a.Pad >= d.W {
		return fmt.Errorf("augmentation padding %d, want 0 to %d", a.Pad, min(d.H, d.W)-1)
	}
	t := normTable(mean, std)
	zero := t[0]
	h, w := d.H, d.W
	for k, i := range idx {
		var dy, dx int
		if a.Pad > 0 {
			dy = r.IntN(2*a.Pad+1) - a.Pad
			dx = r.IntN(2*a.Pad+1) - a.Pad
		}
		flip := a.Flip && r.IntN(2) == 1
		src := d.Image(i)
		out := dst[k*h*w : (k+1)*h*w]
		for y := range h {
			sy := y + dy
			row := out[y*w : (y+1)*w]
			if sy < 0 || sy >= h {
				for x := range row {
					row[x] = zero
				}
				continue
			}
			for x := range row {
				sx := x + dx
				if flip {
					// Flipping the crop: output column x shows crop column w−1−x.
					sx = w - 1 - x + dx
				}
				if sx < 0 || sx >= w {
					row[x] = zero
				} else {
					row[x] = t[src[sy*w+sx]]
				}
			}
		}
	}
	return nil
}

func (d *Images) checkBatch(dst []float32, idx []int) error {
	n := d.H * d.W
	if len(dst) != len(idx)*n {
		return fmt.Errorf("batch of %d images of %d×%d needs %d float32s, have %d", len(idx), d.H, d.W, len(idx)*n, len(dst))
	}
	for k, i := range idx {
		if i < 0 || i >= d.N {
			return fmt.Errorf("batch item %d: image %d out of range [0, %d)", k, i, d.N)
		}
	}
	return nil
}

// Shuffle returns a permutation of 0, …, n−1 that depends only on seed and
// epoch, so a training run can be repeated or resumed at any epoch.
func Shuffle(n int, seed uint64, epoch int) []int {
	return rand.New(rand.NewPCG(seed, uint64(epoch))).Perm(n)
}

// Batches yields order in consecutive batches of size items; the last one
// is shorter if size does not divide len(order). The batches share order.
// Batches panics if size < 1, a bug in the caller.
func Batches(order []int, size int) iter.Seq[[]int] {
	if size < 1 {
		panic(fmt.Sprintf("dataset.Batches: size %d", size))
	}
	return func(yield func([]int) bool) {
		for i := 0; i < len(order); i += size {
			if !yield(order[i:min(i+size, len(order)):min(i+size, len(order))]) {
				return
			}
		}
	}
}
