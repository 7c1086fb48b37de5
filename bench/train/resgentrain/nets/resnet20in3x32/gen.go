// Package resnet20in3x32 is the trainer of the preset cifar-resnet20 on 3x32x32 inputs with 10
// classes, for bench/train/resgentrain.
package resnet20in3x32

//go:generate sh -c "go run github.com/resgen/resgen/cmd/resgen init cifar-resnet20 --input 3x32x32 --classes 10 > spec.yaml"
//go:generate go run github.com/resgen/resgen/cmd/resgen build -train spec.yaml
