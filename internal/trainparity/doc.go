// Package trainparity checks that resgen-generated Trainers train as
// PyTorch does: the fixtures in testdata/train (reference/train.py) hold a
// batch, PyTorch's losses over three SGD steps from seeded weights and the
// resulting parameter and running-statistic changes; the packages under gen/
// are compiled with `resgen build -train` by `go generate` (gencases). A
// finite-difference test checks whole-network gradients of specs that have
// no fixture. Nothing here needs PyTorch.
package trainparity

//go:generate go run ./gencases
