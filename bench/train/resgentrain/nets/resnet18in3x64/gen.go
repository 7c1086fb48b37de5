// Package resnet18in3x64 is the trainer of the preset resnet18 on 3x64x64 inputs with 10
// classes, for bench/train/resgentrain.
package resnet18in3x64

//go:generate sh -c "go run github.com/resgen/resgen/cmd/resgen init resnet18 --input 3x64x64 --classes 10 > spec.yaml"
//go:generate go run github.com/resgen/resgen/cmd/resgen build -train spec.yaml
