package runtime_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/resgen/resgen/generated/fashion"
)

// A generated package's Load takes a .pth as it takes a safetensors file:
// testdata/pth/fashion_dp.pth is the trained Fashion-MNIST weights
// (testdata/fashion/weights.safetensors, which generated/fashion's tests
// check against PyTorch's predictions) saved by torch.save with
// DataParallel's "module." prefix on every key. Both files must give the
// same model, bit for bit.
func TestLoadPthGeneratedPackage(t *testing.T) {
	fromPth, err := fashion.Load(filepath.Join("testdata", "pth", "fashion_dp.pth"), fashion.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer fromPth.Close()
	fromST, err := fashion.Load(filepath.Join("..", "testdata", "fashion", "weights.safetensors"), fashion.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer fromST.Close()

	r := rand.New(rand.NewPCG(1, 2))
	const n = 4
	src := make([]float32, n*fashion.InputLen)
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	a := make([]float32, n*fashion.OutputLen)
	b := make([]float32, n*fashion.OutputLen)
	if err := fromPth.Forward(a, src); err != nil {
		t.Fatal(err)
	}
	if err := fromST.Forward(b, src); err != nil {
		t.Fatal(err)
	}
	nonzero := false
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("output %d: %v from the .pth, %v from the safetensors", i, a[i], b[i])
		}
		nonzero = nonzero || a[i] != 0
	}
	if !nonzero {
		t.Fatal("all outputs are zero")
	}
}

// Load names the file and the refused global, and nothing runs.
func TestLoadPthHostile(t *testing.T) {
	_, err := fashion.Load(filepath.Join("testdata", "pth", "errors", "os_system.pth"))
	want := "testdata/pth/errors/os_system.pth: data.pkl: global posix.system is not allowed (a state_dict holds only tensors and containers)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
}
