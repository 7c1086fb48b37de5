// Package resnet56in1x28 is the trainer of the preset cifar-resnet56 on 1x28x28 inputs with 10
// classes, for bench/train/resgentrain.
package resnet56in1x28

//go:generate sh -c "go run github.com/resgen/resgen/cmd/resgen init cifar-resnet56 --input 1x28x28 --classes 10 > spec.yaml"
//go:generate go run github.com/resgen/resgen/cmd/resgen build -train spec.yaml
