package ir

import (
	"strings"
	"testing"

	"github.com/resgen/resgen/spec"
)

func TestTrainPassOrder(t *testing.T) {
	if err := checkPassOrder(TrainPipeline, trainOrder); err != nil {
		t.Fatal(err)
	}
	rev := make([]Pass, len(TrainPipeline))
	for i, p := range TrainPipeline {
		rev[len(rev)-1-i] = p
	}
	if err := checkPassOrder(rev, trainOrder); err == nil {
		t.Fatal("reversed training pipeline passed the order check")
	}
}

// TestTrainPresets runs every preset through the training pipeline,
// verifying the plans after each pass, and checks what the training passes
// promise: convs keep a plain epilogue (their backward needs the raw
// output), BatchNorm is never folded, and every node whose backward runs
// has a gradient buffer.
func TestTrainPresets(t *testing.T) {
	for _, p := range spec.Presets() {
		if strings.HasSuffix(p.Name, "1202") {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			text, err := spec.Preset(p.Name, spec.PresetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			g := lower(t, string(text))
			bns := 0
			for _, n := range g.Nodes {
				if _, ok := n.Op.(*Affine); ok {
					bns++
				}
			}
			if err := RunTrain(g, true, nil); err != nil {
				t.Fatal(err)
			}
			for _, n := range g.Nodes {
				switch op := n.Op.(type) {
				case *Conv:
					if op.Act != ActNone || op.Residual || op.BN != nil {
						t.Errorf("%s: conv epilogue %s in the training graph", n.Name, op.Attrs())
					}
				case *Affine:
					bns--
				}
				if g.Train.NeedsGrad[n] {
					if _, ok := g.Train.GradBuf[n]; !ok {
						t.Errorf("%s: needs a gradient but has no buffer", n.Name)
					}
				}
			}
			if bns != 0 {
				t.Errorf("%d BatchNorms lost by the training pipeline", bns)
			}
			if g.Train.NeedsGrad[g.Input] {
				t.Error("the input needs a gradient")
			}
		})
	}
}

// TestTrainGradReuse: in a deep plain chain the gradient arena holds a few
// gradients, not one per layer.
func TestTrainGradReuse(t *testing.T) {
	text, err := spec.Preset("cifar-resnet56", spec.PresetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g := lower(t, string(text))
	if err := RunTrain(g, true, nil); err != nil {
		t.Fatal(err)
	}
	largest := 0
	for _, n := range g.Nodes {
		largest = max(largest, n.Shape.Len())
	}
	if got := g.Train.Grad.ArenaLen; got > 4*largest {
		t.Errorf("gradient arena %d floats, more than 4× the largest activation (%d)", got, largest)
	}
}
