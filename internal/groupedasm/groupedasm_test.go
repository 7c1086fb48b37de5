package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedFilesCurrent fails when runtime's grouped-convolution
// kernels differ from what this generator writes; run `go generate ./runtime`.
func TestGeneratedFilesCurrent(t *testing.T) {
	files, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("..", "..", "runtime", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("runtime/%s is stale: run go generate ./runtime", name)
		}
	}
}

// TestPermImm: VPERMILPS's immediate gives lane l element (l/c)·c + i of
// its 128-bit lane.
func TestPermImm(t *testing.T) {
	for _, tc := range []struct{ c, i, want int }{
		{4, 0, 0x00}, {4, 1, 0x55}, {4, 2, 0xaa}, {4, 3, 0xff},
		{2, 0, 0b10_10_00_00}, {2, 1, 0b11_11_01_01},
	} {
		if got := permImm(tc.c, tc.i); got != tc.want {
			t.Errorf("permImm(%d, %d) = %#x, want %#x", tc.c, tc.i, got, tc.want)
		}
	}
}
