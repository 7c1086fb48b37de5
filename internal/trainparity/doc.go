// Package trainparity checks that resgen-generated Trainers train as
// PyTorch does: the fixtures in testdata/train (reference/train.py) hold a
// batch, PyTorch's losses over three SGD steps from seeded weights and the
// resulting parameter and running-statistic changes; the packages under gen/
// are compiled with `resgen build -train` by `go generate` (gencases). The
// packages under gen64/ are the same trainers in float64
// (codegen.TrainOptions{Float64: true}), compared with PyTorch's float64 run
// of the same steps (deltas64.safetensors) to a bound a million times inside
// the issue's, and with the float32 builds after one step. A
// finite-difference test checks whole-network gradients of specs that have
// no fixture. Nothing here needs PyTorch.
package trainparity

//go:generate go run ./gencases
