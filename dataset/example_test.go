package dataset_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/resgen/resgen/dataset"
)

// One epoch of shuffled, augmented training batches, as reference/fashion.py
// makes them.
func Example() {
	images, labels, err := dataset.LoadFashionMNIST(dataset.FashionMNISTDir, "train")
	if err != nil {
		log.Fatal(err)
	}
	const batch, seed, epoch = 128, 1, 0
	x := make([]float32, batch*images.H*images.W)
	r := rand.New(rand.NewPCG(seed, epoch))
	for idx := range dataset.Batches(dataset.Shuffle(images.N, seed, epoch), batch) {
		x := x[:len(idx)*images.H*images.W]
		if err := images.AugmentedBatch(x, idx, 0.2860, 0.3530, dataset.Augment{Pad: 2, Flip: true}, r); err != nil {
			log.Fatal(err)
		}
		// x is a len(idx)×1×28×28 NCHW batch; labels[idx[k]] is item k's class.
		_ = labels
	}
	fmt.Println(images.N, "training images")
}
