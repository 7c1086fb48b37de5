package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedFilesCurrent fails when runtime's generated kernels differ
// from what this generator writes; run `go generate ./runtime` to fix.
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
