// Command classify labels a picture with CIFAR ResNet-20, compiled to Go by
// resgen through go generate (see cifar/gen.go). It needs the network's
// PyTorch weights as a safetensors file.
//
//	go generate ./...
//	go run . -weights weights.safetensors picture.png
//
// The picture goes through the transform in cifar/spec.yaml's preprocess:
// (torchvision's Resize, CenterCrop, ToTensor, Normalize), generated into
// the package as cifar.Preprocess, so it is the one used in training.
package main

import (
	"flag"
	"fmt"
	"image"
	"log"
	"os"

	"example.com/classify/cifar" // registers PNG and JPEG for image.Decode
)

func main() {
	log.SetFlags(0)
	weights := flag.String("weights", "weights.safetensors", "PyTorch state_dict of the network, as safetensors")
	top := flag.Int("top", 3, "how many classes to print")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: classify [-weights FILE] [-top N] picture.png")
	}
	m, err := cifar.Load(*weights)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	img, err := decode(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	preds, err := m.Classify(img, *top)
	if err != nil {
		log.Fatalf("%s: %v", flag.Arg(0), err)
	}
	for _, p := range preds {
		fmt.Printf("%-10s %.3f\n", p.Label, p.Prob)
	}
}

func decode(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return img, nil
}
