package wideresnet502

import (
	"testing"

	"github.com/resgen/resgen/internal/testmodel"
)

var pkg = testmodel.Package{
	Spec:      "spec.yaml",
	New:       func(w []byte, threads int) (testmodel.Model, error) { return New(w, WithThreads(threads)) },
	InputLen:  InputLen,
	OutputLen: OutputLen,
}

func TestForward(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full-size ImageNet network (CI's portable-kernel run)")
	}
	testmodel.TestForward(t, pkg)
}

func BenchmarkForward(b *testing.B) { testmodel.BenchmarkForward(b, pkg, MACs) }
