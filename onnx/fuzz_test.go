package onnx_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/resgen/resgen/importer"
	"github.com/resgen/resgen/onnx"
)

// FuzzReadModel feeds arbitrary bytes to the reader and, when they decode,
// to the importer: neither may panic, and an import that succeeds must
// produce a spec and weights. Seeds: onnx/testdata/tiny.onnx and the error corpus;
// the corpus found by fuzzing is committed under testdata/fuzz/FuzzReadModel.
func FuzzReadModel(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("..", "testdata", "onnx", "errors", "*.onnx"))
	if err != nil {
		f.Fatal(err)
	}
	// Small seeds keep the fuzzer fast: a tiny valid network that uses most
	// converters, and the hostile models of the error corpus.
	seeds = append(seeds, filepath.Join("testdata", "tiny.onnx"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := onnx.ReadModel(b)
		if err != nil {
			if m != nil {
				t.Fatalf("ReadModel returned a model and an error")
			}
			return
		}
		res, err := importer.Import(m, importer.Options{File: "fuzz.onnx"})
		if err == nil && (len(res.Spec) == 0 || len(res.Weights) < 8) {
			t.Fatalf("import succeeded with an empty result")
		}
	})
}

// FuzzReadTensor covers TensorProto decoding on its own (the format of the
// ONNX test data's inputs and outputs).
func FuzzReadTensor(f *testing.F) {
	f.Add([]byte{0x08, 0x02, 0x08, 0x02, 0x10, 0x01, 0x4a, 0x10, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := onnx.ReadTensor(b)
		if err != nil {
			return
		}
		if x.DataType.IsFloat() && len(x.Floats) != x.Len() && x.HasData {
			t.Fatalf("%d floats for dims %v", len(x.Floats), x.Dims)
		}
		if x.DataType.IsInt() && len(x.Ints) != x.Len() && x.HasData {
			t.Fatalf("%d ints for dims %v", len(x.Ints), x.Dims)
		}
	})
}
