// Package train64 is the float64 kernel set of a generated trainer built
// with codegen.TrainOptions{Float64: true}: every function and type the
// generated train.go calls from runtime, under the same name and signature
// with float64 in place of float32, computed by the scalar references of
// internal/trainref. Configs, activations and the pool stay runtime's types;
// the pool is accepted and unused (the references are serial, and their
// results depend on nothing but their inputs).
//
// It exists so the generated training code can be checked against PyTorch
// in float64 (internal/trainparity), where rounding is 1e-16 and no ReLU
// input lands within it of 0: differences then come from the generated
// program's semantics, not from float32 summation order. It is slow (one
// multiply-add at a time) and meant for tests only.
package train64

import (
	"fmt"
	"math"

	"github.com/resgen/resgen/internal/trainref"
	rt "github.com/resgen/resgen/runtime"
)

func relu(act rt.Act) bool { return act == rt.ActReLU }

// BatchNormTrain is runtime.BatchNormTrain in float64.
func BatchNormTrain(p *rt.Pool, dst, src []float64, n, hw, c int, gamma, beta, saveMean, saveInvStd, runMean, runVar []float64, momentum, eps float64, act rt.Act) {
	trainref.BatchNormTrain(dst, src, n, hw, c, gamma, beta, saveMean, saveInvStd, runMean, runVar, momentum, eps, relu(act))
}

// BatchNormTrainBackward is runtime.BatchNormTrainBackward in float64.
func BatchNormTrainBackward(p *rt.Pool, dx, dgamma, dbeta, dy, src, dst []float64, n, hw, c int, gamma, saveMean, saveInvStd []float64, act rt.Act, acc bool) {
	trainref.BatchNormTrainBackward(dx, dgamma, dbeta, dy, src, dst, n, hw, c, gamma, saveMean, saveInvStd, relu(act), acc)
}

// Affine is runtime.Affine in float64: dst = src·scale + shift per channel
// (BatchNorm in evaluation mode), then the activation.
func Affine(dst, src []float64, c int, scale, shift []float64, act rt.Act) {
	for i, v := range src {
		y := v*scale[i%c] + shift[i%c]
		if relu(act) {
			y = max(y, 0)
		}
		dst[i] = y
	}
}

// Add is runtime.Add in float64: dst = a + b, then the activation.
func Add(dst, a, b []float64, act rt.Act) {
	if len(b) != len(a) {
		panic(fmt.Sprintf("train64.Add: operand lengths %d and %d differ", len(a), len(b)))
	}
	for i, v := range a {
		y := v + b[i]
		if relu(act) {
			y = max(y, 0)
		}
		dst[i] = y
	}
}

// AddInto is runtime.AddInto in float64: dst += src.
func AddInto(dst, src []float64) {
	for i, v := range src {
		dst[i] += v
	}
}

// ReLU, Sigmoid, Softmax and their backward passes are runtime's in float64.
func ReLU(dst, src []float64)                       { trainref.ReLU(dst, src) }
func ReLUBackward(dx, dy, y []float64, acc bool)    { trainref.ReLUBackward(dx, dy, y, acc) }
func Sigmoid(dst, src []float64)                    { trainref.Sigmoid(dst, src) }
func SigmoidBackward(dx, dy, y []float64, acc bool) { trainref.SigmoidBackward(dx, dy, y, acc) }
func Softmax(dst, src []float64, c int)             { trainref.Softmax(dst, src, c) }
func SoftmaxBackward(dx, dy, y []float64, c int, acc bool) {
	trainref.SoftmaxBackward(dx, dy, y, c, acc)
}

// MaxPool2DP is runtime.MaxPool2DP (one item) in float64.
func MaxPool2DP(p *rt.Pool, dst, src []float64, cfg rt.PoolConfig) {
	trainref.MaxPool(dst, src, trainref.PoolConfig(cfg), 1)
}

// MaxPool2DBackward is runtime.MaxPool2DBackward in float64.
func MaxPool2DBackward(dx, dy, src []float64, cfg rt.PoolConfig, n int, acc bool) {
	trainref.MaxPoolBackward(dx, dy, src, trainref.PoolConfig(cfg), n, acc)
}

// AvgPool2D is runtime.AvgPool2D (one item) in float64.
func AvgPool2D(dst, src []float64, cfg rt.PoolConfig) {
	trainref.AvgPool(dst, src, trainref.PoolConfig(cfg), 1)
}

// AvgPool2DBackward is runtime.AvgPool2DBackward in float64.
func AvgPool2DBackward(dx, dy []float64, cfg rt.PoolConfig, n int, acc bool) {
	trainref.AvgPoolBackward(dx, dy, trainref.PoolConfig(cfg), n, acc)
}

// GlobalAvgPool is runtime.GlobalAvgPool (one item) in float64.
func GlobalAvgPool(dst, src []float64, hw, c int) { trainref.GlobalAvgPool(dst, src, 1, hw, c) }

// GlobalAvgPoolBackward is runtime.GlobalAvgPoolBackward in float64.
func GlobalAvgPoolBackward(dx, dy []float64, n, hw, c int, acc bool) {
	trainref.GlobalAvgPoolBackward(dx, dy, n, hw, c, acc)
}

// Flatten is runtime.Flatten (one item) in float64.
func Flatten(dst, src []float64, h, w, c int) { trainref.Flatten(dst, src, 1, h, w, c) }

// FlattenBackward is runtime.FlattenBackward in float64.
func FlattenBackward(dx, dy []float64, n, h, w, c int, acc bool) {
	trainref.FlattenBackward(dx, dy, n, h, w, c, acc)
}

// ConcatPart is runtime.ConcatPart over float64.
type ConcatPart struct {
	Src []float64
	C   int
}

func splitParts(parts []ConcatPart) (srcs [][]float64, cs []int) {
	for _, pt := range parts {
		srcs, cs = append(srcs, pt.Src), append(cs, pt.C)
	}
	return srcs, cs
}

// Concat is runtime.Concat in float64.
func Concat(dst []float64, hw int, parts ...ConcatPart) {
	srcs, cs := splitParts(parts)
	trainref.Concat(dst, hw, srcs, cs)
}

// ConcatBackward is runtime.ConcatBackward in float64.
func ConcatBackward(dy []float64, n, hw int, acc bool, parts ...ConcatPart) {
	dsts, cs := splitParts(parts)
	trainref.ConcatBackward(dsts, dy, n*hw, cs, acc)
}

// UpsampleNearest is runtime.UpsampleNearest (one item) in float64.
func UpsampleNearest(dst, src []float64, c, inH, inW, outH, outW int) {
	trainref.UpsampleNearest(dst, src, 1, c, inH, inW, outH, outW)
}

// UpsampleNearestBackward is runtime.UpsampleNearestBackward in float64.
func UpsampleNearestBackward(dx, dy []float64, n, c, inH, inW, outH, outW int, acc bool) {
	trainref.UpsampleNearestBackward(dx, dy, n, c, inH, inW, outH, outW, acc)
}

// UpsampleBilinear is runtime.UpsampleBilinear (one item) in float64, with
// runtime's float32 interpolation weights (trainref.LinearIndex).
func UpsampleBilinear(dst, src []float64, c, inH, inW, outH, outW int, alignCorners bool) {
	trainref.UpsampleBilinear(dst, src, 1, c, inH, inW, outH, outW, alignCorners)
}

// UpsampleBilinearBackward is runtime.UpsampleBilinearBackward in float64.
func UpsampleBilinearBackward(dx, dy []float64, n, c, inH, inW, outH, outW int, alignCorners, acc bool) {
	trainref.UpsampleBilinearBackward(dx, dy, n, c, inH, inW, outH, outW, alignCorners, acc)
}

// ShortcutA is runtime.ShortcutA (one item) in float64.
func ShortcutA(dst, src []float64, inC, inH, inW, outC, outH, outW, stride int) {
	trainref.ShortcutA(dst, src, 1, inC, inH, inW, outC, outH, outW, stride)
}

// ShortcutABackward is runtime.ShortcutABackward in float64.
func ShortcutABackward(dx, dy []float64, n, inC, inH, inW, outC, outH, outW, stride int, acc bool) {
	trainref.ShortcutABackward(dx, dy, n, inC, inH, inW, outC, outH, outW, stride, acc)
}

// SoftmaxCrossEntropy is runtime.SoftmaxCrossEntropy in float64: the mean
// cross-entropy over the n·hw positions and, unless dlogits is nil, its
// gradient. A label outside [0, c) is an error naming its item (and
// position), as runtime's.
func SoftmaxCrossEntropy(dlogits, logits []float64, labels []int32, n, hw, c int) (float64, error) {
	np := n * hw
	if len(labels) < np || len(logits) < np*c {
		panic(fmt.Sprintf("train64.SoftmaxCrossEntropy: %d labels and %d logits, want %d and %d", len(labels), len(logits), np, np*c))
	}
	labels = labels[:np]
	for i, l := range labels {
		if l < 0 || int(l) >= c {
			if hw == 1 {
				return 0, fmt.Errorf("label %d of item %d is outside [0, %d)", l, i, c)
			}
			return 0, fmt.Errorf("label %d of item %d, position %d is outside [0, %d)", l, i/hw, i%hw, c)
		}
	}
	if dlogits == nil {
		dlogits = make([]float64, np*c)
	}
	return trainref.SoftmaxCrossEntropy(dlogits, logits[:np*c], labels, c), nil
}

// SGD is runtime.SGD in float64 (torch.optim.SGD without dampening or
// Nesterov).
func SGD(w, g, buf []float64, lr, momentum, weightDecay float64, first bool) {
	trainref.SGD(w, g, buf, lr, momentum, weightDecay, first)
}

// FirstNonFinite returns the index of the first NaN or ±Inf in x, or -1.
func FirstNonFinite(x []float64) int {
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return i
		}
	}
	return -1
}

// NCHWToNHWCP is runtime.NCHWToNHWCP (one item) in float64.
func NCHWToNHWCP(p *rt.Pool, dst, src []float64, c, h, w int) {
	for ch := range c {
		for px := range h * w {
			dst[px*c+ch] = src[ch*h*w+px]
		}
	}
}

// NHWCToNCHW is runtime.NHWCToNCHW (one item) in float64.
func NHWCToNCHW(dst, src []float64, c, h, w int) {
	for ch := range c {
		for px := range h * w {
			dst[ch*h*w+px] = src[px*c+ch]
		}
	}
}
