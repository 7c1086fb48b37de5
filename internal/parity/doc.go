// Package parity checks that resgen-generated code computes what PyTorch
// computes, for every preset. The fixtures (inputs and PyTorch's outputs,
// and seeds for the weights both sides generate) live in testdata/parity and
// come from reference/reference.py; the packages under gen/ are compiled
// from the presets by `go generate` (gencases). Nothing here needs PyTorch.
package parity

//go:generate go run ./gencases
