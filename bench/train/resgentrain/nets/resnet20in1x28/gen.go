// Package resnet20in1x28 is the trainer of the preset cifar-resnet20 on 1x28x28 inputs with 10
// classes, for bench/train/resgentrain.
package resnet20in1x28

//go:generate sh -c "go run github.com/resgen/resgen/cmd/resgen init cifar-resnet20 --input 1x28x28 --classes 10 > spec.yaml"
//go:generate go run github.com/resgen/resgen/cmd/resgen build -train spec.yaml
