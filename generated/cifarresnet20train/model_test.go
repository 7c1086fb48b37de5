package cifarresnet20train

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

func TestForward(t *testing.T) { testmodel.TestForward(t, pkg) }

func BenchmarkForward(b *testing.B) { testmodel.BenchmarkForward(b, pkg, MACs) }
