// Command classify labels a picture with CIFAR ResNet-20, compiled to Go by
// resgen through go generate (see cifar/gen.go). It needs the network's
// PyTorch weights as a safetensors file.
//
//	go generate ./...
//	go run . -weights weights.safetensors picture.png
package main

import (
	"flag"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"log"
	"math"
	"os"
	"sort"

	"example.com/classify/cifar"
)

var labels = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

func main() {
	log.SetFlags(0)
	weights := flag.String("weights", "weights.safetensors", "PyTorch state_dict of the network, as safetensors")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: classify -weights FILE picture.png")
	}
	m, err := cifar.Load(*weights)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	img, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		log.Fatalf("%s: %v", flag.Arg(0), err)
	}
	probs, err := classify(m, img)
	if err != nil {
		log.Fatal(err)
	}
	order := make([]int, len(probs))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
	for _, i := range order[:3] {
		fmt.Printf("%-10s %.3f\n", labels[i], probs[i])
	}
}

// classify scales img to the network's input (nearest neighbour),
// normalises it with the CIFAR-10 channel statistics and returns the class
// probabilities.
func classify(m *cifar.Model, img image.Image) ([]float64, error) {
	c, h, w := cifar.InputShape[0], cifar.InputShape[1], cifar.InputShape[2]
	mean := []float32{0.4914, 0.4822, 0.4465}
	std := []float32{0.2470, 0.2435, 0.2616}
	src := make([]float32, cifar.InputLen)
	b := img.Bounds()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, _ := img.At(b.Min.X+x*b.Dx()/w, b.Min.Y+y*b.Dy()/h).RGBA()
			rgb := [3]uint32{r, g, bl}
			for ch := 0; ch < c; ch++ {
				v := float32(rgb[ch]) / 0xffff
				src[(ch*h+y)*w+x] = (v - mean[ch]) / std[ch]
			}
		}
	}
	logits := make([]float32, cifar.OutputLen)
	if err := m.Forward(logits, src); err != nil {
		return nil, err
	}
	max := math.Inf(-1)
	for _, v := range logits {
		max = math.Max(max, float64(v))
	}
	probs := make([]float64, len(logits))
	var sum float64
	for i, v := range logits {
		probs[i] = math.Exp(float64(v) - max)
		sum += probs[i]
	}
	for i := range probs {
		probs[i] /= sum
	}
	return probs, nil
}
