//go:build !amd64 || purego

package main

// fmaKernels lists the FMA loops this build can run: on other architectures
// (and with -tags purego) only the scalar Go loop, so "% peak" there is of a
// scalar ceiling, far below what vector kernels can reach.
func fmaKernels() []fmaKernel { return []fmaKernel{goKernel} }
