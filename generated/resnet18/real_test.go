package resnet18

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/resgen/resgen/runtime"
)

// realDir holds torchvision's own resnet18() state_dict (random init,
// randomised BatchNorm statistics, num_batches_tracked included) and
// PyTorch's logits for two inputs, written by
//
//	/usr/bin/python3 reference/reference.py real-resnet18 out/real-resnet18
//
// The weights are 47 MB, too big to commit, so the test skips without them.
const realDir = "../../out/real-resnet18"

// TestRealTorchvisionCheckpoint: torchvision state_dict → Load → the same
// logits as torchvision.
func TestRealTorchvisionCheckpoint(t *testing.T) {
	weights := filepath.Join(realDir, "weights.safetensors")
	if _, err := os.Stat(weights); err != nil {
		t.Skipf("%v; see the comment on realDir to create it", err)
	}
	m, err := Load(weights)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, err := os.ReadFile(filepath.Join(realDir, "io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := runtime.ReadSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	io := runtime.NewWeights(st)
	in := io.Tensor("input", 2, 3, 224, 224)
	want := io.Tensor("output", 2, 1000)
	if err := io.Err(); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(want))
	if err := m.Forward(got, in); err != nil {
		t.Fatal(err)
	}
	var maxAbs, refMax float64
	for i := range want {
		refMax = math.Max(refMax, math.Abs(float64(want[i])))
		maxAbs = math.Max(maxAbs, math.Abs(float64(got[i]-want[i])))
	}
	t.Logf("max abs error %.3g, max rel error %.3g (max|ref| %.4g)", maxAbs, maxAbs/refMax, refMax)
	if !(maxAbs/refMax <= 1e-4) {
		t.Errorf("max rel error %.3g > 1e-4", maxAbs/refMax)
	}
}
