package codegen

import (
	"fmt"
	"reflect"

	"github.com/dave/jennifer/jen"
	"github.com/resgen/resgen/ir"
)

// The backward rules, one per IR op, in one table: like PyTorch's
// tools/autograd/derivatives.yaml, each entry says how the gradients of an
// op's inputs and parameters follow from the gradient of its output (dy) and
// the forward values it saved (x: the inputs, y: the output). The trainer
// generator walks the schedule backwards and asks this table for every node
// whose backward runs; it special-cases no op anywhere else. Every rule is
// checked numerically: the runtime tests each kernel's reference by finite
// differences, and internal/trainparity checks whole networks against
// PyTorch.
//
// Conventions of the emitted calls (docs/training.md): a rule asks b.dx(i)
// for the buffer of input i's gradient exactly once per contribution; the
// first contribution to a tensor overwrites it (acc false), later ones add.
// A rule may skip inputs whose gradient nobody needs (b.needs(i) false).
type backwardRule struct {
	// Formula is the rule in math, for the reader.
	Formula string
	Emit    func(b *bwNode) []jen.Code
}

func opType[T ir.Op]() reflect.Type { return reflect.TypeFor[T]() }

var backwardRules = map[reflect.Type]backwardRule{
	opType[*ir.Input](): {"none: the input has no gradient", func(*bwNode) []jen.Code { return nil }},
	opType[*ir.Conv](): {"dx = conv_transpose(dy, w); dw = Σ dy ⋆ x; db = Σ dy (linear: the same as a 1×1 conv)",
		convBackward},
	opType[*ir.ConvTranspose](): {"dx = conv(dy, w); dw = Σ x ⋆ dy; db = Σ dy",
		convTransposeBackward},
	opType[*ir.Affine](): {"batch norm: dx = γ·invstd·(dŷ − mean(dŷ) − x̂·mean(dŷ·x̂)), dγ = Σ dŷ·x̂, dβ = Σ dŷ; dŷ = dy masked by y > 0 when a ReLU is fused",
		batchNormBackward},
	opType[*ir.Add](): {"dxᵢ = dy for every input (masked by y > 0 when a ReLU is fused)", addBackward},
	opType[*ir.ReLU](): {"dx = dy where y > 0 (0 at 0)", func(b *bwNode) []jen.Code {
		return b.unary(func(dx jen.Code, acc bool) jen.Code {
			return b.e.kern("ReLUBackwardP").Call(b.pool(), dx, b.dy(), b.y(), jen.Lit(acc))
		})
	}},
	opType[*ir.Sigmoid](): {"dx = dy·(1−y)·y", func(b *bwNode) []jen.Code {
		return b.unary(func(dx jen.Code, acc bool) jen.Code {
			return b.e.kern("SigmoidBackward").Call(dx, b.dy(), b.y(), jen.Lit(acc))
		})
	}},
	opType[*ir.Softmax](): {"dx = y·(dy − Σc dy·y) per pixel", func(b *bwNode) []jen.Code {
		return b.unary(func(dx jen.Code, acc bool) jen.Code {
			return b.e.kern("SoftmaxBackward").Call(dx, b.dy(), b.y(), jen.Lit(b.n.Shape.C), jen.Lit(acc))
		})
	}},
	opType[*ir.Pool](): {"max: dy to the first maximum of each window; avg: dy/divisor to every pixel of the window",
		poolBackward},
	opType[*ir.GlobalAvgPool](): {"dx = dy/(H·W) at every pixel", func(b *bwNode) []jen.Code {
		x := b.n.Inputs[0].Shape
		return b.unary(func(dx jen.Code, acc bool) jen.Code {
			return b.e.kern("GlobalAvgPoolBackward").Call(dx, b.dy(), b.batch(), jen.Lit(x.H*x.W), jen.Lit(x.C), jen.Lit(acc))
		})
	}},
	opType[*ir.Concat](): {"dxᵢ = the channels of dy that came from xᵢ", concatBackward},
	opType[*ir.Flatten](): {"dx = dy from CHW order back to NHWC", func(b *bwNode) []jen.Code {
		x := b.n.Inputs[0].Shape
		return b.unary(func(dx jen.Code, acc bool) jen.Code {
			return b.e.kern("FlattenBackward").Call(dx, b.dy(), b.batch(), jen.Lit(x.H), jen.Lit(x.W), jen.Lit(x.C), jen.Lit(acc))
		})
	}},
	opType[*ir.Upsample](): {"nearest: each input pixel sums the gradients of its copies; bilinear: the same with the interpolation weights",
		upsampleBackward},
	opType[*ir.ShortcutA](): {"dx = the middle channels of dy at the sampled pixels, 0 elsewhere", func(b *bwNode) []jen.Code {
		x, s := b.n.Inputs[0].Shape, b.n.Shape
		stride := b.n.Op.(*ir.ShortcutA).Stride
		return b.unary(func(dx jen.Code, acc bool) jen.Code {
			return b.e.kern("ShortcutABackward").Call(dx, b.dy(), b.batch(),
				jen.Lit(x.C), jen.Lit(x.H), jen.Lit(x.W), jen.Lit(s.C), jen.Lit(s.H), jen.Lit(s.W), jen.Lit(stride), jen.Lit(acc))
		})
	}},
	opType[*ir.Identity](): {"dx = dy", func(b *bwNode) []jen.Code {
		return b.unary(func(dx jen.Code, acc bool) jen.Code { return b.passGradient(dx, b.dy(), acc) })
	}},
}

// ruleFor returns the backward rule of n's op, or an error naming the layer.
func ruleFor(n *ir.Node) (backwardRule, error) {
	r, ok := backwardRules[reflect.TypeOf(n.Op)]
	if !ok {
		return r, fmt.Errorf("%s: layer %q: op %s has no backward rule (codegen/backward.go), so the network cannot be trained", n.Pos, n.Name, n.Op.Kind())
	}
	return r, nil
}

// passGradient copies dy into dx, or adds it.
func (b *bwNode) passGradient(dx, dy jen.Code, acc bool) jen.Code {
	if acc {
		return b.e.kern("AddIntoP").Call(b.pool(), dx, dy)
	}
	return b.e.kern("CopyP").Call(b.pool(), dx, dy)
}

func convBackward(b *bwNode) []jen.Code {
	op := b.n.Op.(*ir.Conv)
	return b.convLike(op.Weight, op.Bias)
}

func convTransposeBackward(b *bwNode) []jen.Code {
	op := b.n.Op.(*ir.ConvTranspose)
	return b.convLike(op.Weight, op.Bias)
}

// convLike is the rule of both convolutions: the kernel object knows its
// own adjoint.
func (b *bwNode) convLike(w ir.Param, bias *ir.Param) []jen.Code {
	db := jen.Code(jen.Nil())
	if bias != nil {
		db = b.dparam(bias.Key)
	}
	out := []jen.Code{b.layer().Dot("BackwardWeight").Call(b.pool(), b.dparam(w.Key), db, b.x(0), b.dy(), b.batch())}
	if b.needs(0) {
		dx, acc := b.dx(0)
		out = append(out, b.layer().Dot("BackwardData").Call(b.pool(), dx, b.dy(), b.param(w.Key), b.batch(), jen.Lit(acc)))
	}
	return out
}

func batchNormBackward(b *bwNode) []jen.Code {
	op := b.n.Op.(*ir.Affine)
	k := op.BN.Keys()
	mean, invStd := b.saved()
	s := b.n.Shape
	// The kernel writes dx whether or not it is needed (a BatchNorm right
	// after the input); the plan gives the input a buffer for it.
	dx, acc := b.dx(0)
	return []jen.Code{b.e.kern("BatchNormTrainBackward").Call(b.pool(), dx, b.dparam(k[0]), b.dparam(k[1]), b.dy(), b.x(0), b.y(),
		b.batch(), jen.Lit(s.H*s.W), jen.Lit(s.C), b.param(k[0]), mean, invStd, actCode(op.Act), jen.Lit(acc))}
}

func addBackward(b *bwNode) []jen.Code {
	var out []jen.Code
	if b.n.Op.(*ir.Add).Act == ir.ActReLU {
		// Mask dy in place: nothing else reads this node's gradient.
		out = append(out, b.e.kern("ReLUBackwardP").Call(b.pool(), b.dy(), b.dy(), b.y(), jen.False()))
	}
	for i := range b.n.Inputs {
		if b.needs(i) {
			dx, acc := b.dx(i)
			out = append(out, b.passGradient(dx, b.dy(), acc))
		}
	}
	return out
}

func poolBackward(b *bwNode) []jen.Code {
	op := b.n.Op.(*ir.Pool)
	cfg := poolConfig(b.n, op)
	return b.unary(func(dx jen.Code, acc bool) jen.Code {
		if op.Max {
			return b.e.kern("MaxPool2DBackwardP").Call(b.pool(), dx, b.dy(), b.x(0), cfg, b.batch(), jen.Lit(acc))
		}
		return b.e.kern("AvgPool2DBackward").Call(dx, b.dy(), cfg, b.batch(), jen.Lit(acc))
	})
}

func concatBackward(b *bwNode) []jen.Code {
	// One kernel call fills every part; all parts share one acc flag, so
	// when some parts are first contributions and others are not, the
	// first ones are zeroed and everything is added.
	var parts []jen.Code
	var fresh []jen.Code
	mixed, anyAcc := false, false
	for i, in := range b.n.Inputs {
		dx, acc := b.dx(i)
		if i > 0 && acc != anyAcc {
			mixed = true
		}
		anyAcc = anyAcc || acc
		if !acc {
			fresh = append(fresh, dx)
		}
		parts = append(parts, b.e.kern("ConcatPart").Values(keyed("Src", dx, "C", in.Shape.C)...))
	}
	var out []jen.Code
	if mixed {
		for _, dx := range fresh {
			out = append(out, jen.Clear(dx))
		}
	}
	args := append([]jen.Code{b.dy(), b.batch(), jen.Lit(b.n.Shape.H * b.n.Shape.W), jen.Lit(anyAcc)}, parts...)
	return append(out, b.e.kern("ConcatBackward").Call(args...))
}

func upsampleBackward(b *bwNode) []jen.Code {
	op := b.n.Op.(*ir.Upsample)
	x, s := b.n.Inputs[0].Shape, b.n.Shape
	return b.unary(func(dx jen.Code, acc bool) jen.Code {
		args := []jen.Code{dx, b.dy(), b.batch(), jen.Lit(s.C), jen.Lit(x.H), jen.Lit(x.W), jen.Lit(s.H), jen.Lit(s.W)}
		if op.Bilinear {
			return b.e.kern("UpsampleBilinearBackward").Call(append(args, jen.Lit(op.AlignCorners), jen.Lit(acc))...)
		}
		return b.e.kern("UpsampleNearestBackward").Call(append(args, jen.Lit(acc))...)
	})
}

// poolConfig is the runtime's PoolConfig literal of a pooling node.
func poolConfig(n *ir.Node, op *ir.Pool) jen.Code {
	x, s := n.Inputs[0].Shape, n.Shape
	return jen.Qual(rtPath, "PoolConfig").Values(keyed(
		"C", s.C, "InH", x.H, "InW", x.W, "OutH", s.H, "OutW", s.W, "KH", op.KH, "KW", op.KW,
		"StrideH", op.StrideH, "StrideW", op.StrideW, "PadH", op.PadH, "PadW", op.PadW,
		"CountIncludePad", op.CountIncludePad)...)
}
