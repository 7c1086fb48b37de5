// Package plain56 is the trainer of CIFAR plain-56 (He et al. 2015 §4.2) on
// 1×28×28 inputs, for the degradation experiment (examples/degradation).
package plain56

//go:generate sh -c "go run github.com/resgen/resgen/cmd/resgen init cifar-plain56 --input 1x28x28 > spec.yaml"
//go:generate go run github.com/resgen/resgen/cmd/resgen build -train spec.yaml
