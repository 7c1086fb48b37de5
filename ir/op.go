package ir

import (
	"fmt"
	"strings"
)

// Op is the operation of a node. Every op is a pointer to one of the structs
// below; passes change ops in place only on nodes they own.
type Op interface {
	// Kind is the op's name in dumps and summaries.
	Kind() string
	// Attrs is the op's attributes as stable text for dumps.
	Attrs() string
}

// Input is the network input, converted to NHWC.
type Input struct{}

// Conv is a 2-D convolution; linear layers are 1×1 convolutions over a 1×1
// map (Linear set). After FoldBatchNorm it may carry a BatchNorm to fold into
// its weights at load time; after FuseResidualAdd, Inputs[1] is added before
// the activation.
type Conv struct {
	Out, KH, KW, StrideH, StrideW, PadH, PadW, DilH, DilW, Groups int
	Linear                                                        bool
	Weight                                                        Param
	Bias                                                          *Param
	BN                                                            *BatchNorm
	Residual                                                      bool
	Act                                                           Act

	// Winograd is m when the conv runs as Winograd F(m×m, 3×3), else 0
	// (set by the winograd pass).
	Winograd int
}

// ConvTranspose is a 2-D transposed convolution.
type ConvTranspose struct {
	Out, KH, KW, StrideH, StrideW, PadH, PadW, OutPadH, OutPadW, DilH, DilW, Groups int
	Weight                                                                          Param
	Bias                                                                            *Param
	Residual                                                                        bool
	Act                                                                             Act
}

// Affine is a BatchNorm that could not be folded into a convolution (for
// example the pre-activation BatchNorm after a residual add).
type Affine struct {
	BN  BatchNorm
	Act Act
}

// Add sums its inputs elementwise.
type Add struct{ Act Act }

// ReLU, Sigmoid and Softmax are standalone activations.
type (
	ReLU    struct{}
	Sigmoid struct{}
	Softmax struct{} // over channels
)

// Pool is max or average pooling.
type Pool struct {
	Max                                  bool
	KH, KW, StrideH, StrideW, PadH, PadW int
	CeilMode, CountIncludePad            bool
}

// GlobalAvgPool averages each channel over the map.
type GlobalAvgPool struct{}

// Concat joins its inputs along channels.
type Concat struct{}

// Flatten turns a C×H×W map into a vector in PyTorch (CHW) order.
type Flatten struct{}

// Upsample scales a map by integer factors.
type Upsample struct {
	ScaleH, ScaleW int
	Bilinear       bool
	AlignCorners   bool
}

// ShortcutA is the CIFAR option-A shortcut: subsample by Stride and zero-pad
// channels equally on both sides.
type ShortcutA struct{ Stride int }

// Identity passes its input through; DropIdentities removes it.
type Identity struct{}

func (*Input) Kind() string         { return "input" }
func (*Conv) Kind() string          { return "conv2d" }
func (*ConvTranspose) Kind() string { return "conv_transpose2d" }
func (*Affine) Kind() string        { return "batchnorm" }
func (*Add) Kind() string           { return "add" }
func (*ReLU) Kind() string          { return "relu" }
func (*Sigmoid) Kind() string       { return "sigmoid" }
func (*Softmax) Kind() string       { return "softmax" }
func (*GlobalAvgPool) Kind() string { return "global_avgpool" }
func (*Concat) Kind() string        { return "concat" }
func (*Flatten) Kind() string       { return "flatten" }
func (*Upsample) Kind() string      { return "upsample" }
func (*ShortcutA) Kind() string     { return "shortcut_a" }
func (*Identity) Kind() string      { return "identity" }

func (p *Pool) Kind() string {
	if p.Max {
		return "maxpool"
	}
	return "avgpool"
}

func (*Input) Attrs() string         { return "" }
func (*ReLU) Attrs() string          { return "" }
func (*Sigmoid) Attrs() string       { return "" }
func (*Softmax) Attrs() string       { return "" }
func (*GlobalAvgPool) Attrs() string { return "" }
func (*Concat) Attrs() string        { return "" }
func (*Flatten) Attrs() string       { return "" }
func (*Identity) Attrs() string      { return "" }

func (c *Conv) Attrs() string {
	var b attrs
	if c.Linear {
		b.add("linear")
	} else {
		b.window(c.KH, c.KW, c.StrideH, c.StrideW, c.PadH, c.PadW)
		b.pair("d", c.DilH, c.DilW, 1)
		b.groups(c.Groups)
	}
	b.params(c.Weight, c.Bias)
	if c.BN != nil {
		b.addf("bn=%s", c.BN.Prefix)
	}
	b.epilogue(c.Residual, c.Act)
	if c.Winograd != 0 {
		b.addf("winograd=F%d", c.Winograd)
	}
	return b.String()
}

func (c *ConvTranspose) Attrs() string {
	var b attrs
	b.window(c.KH, c.KW, c.StrideH, c.StrideW, c.PadH, c.PadW)
	b.pair("op", c.OutPadH, c.OutPadW, 0)
	b.pair("d", c.DilH, c.DilW, 1)
	b.groups(c.Groups)
	b.params(c.Weight, c.Bias)
	b.epilogue(c.Residual, c.Act)
	return b.String()
}

func (a *Affine) Attrs() string {
	var b attrs
	b.addf("bn=%s", a.BN.Prefix)
	b.addf("eps=%g", a.BN.Eps)
	b.act(a.Act)
	return b.String()
}

func (a *Add) Attrs() string {
	var b attrs
	b.act(a.Act)
	return b.String()
}

func (p *Pool) Attrs() string {
	var b attrs
	b.window(p.KH, p.KW, p.StrideH, p.StrideW, p.PadH, p.PadW)
	if p.CeilMode {
		b.add("ceil")
	}
	if !p.Max && !p.CountIncludePad {
		b.add("exclude_pad")
	}
	return b.String()
}

func (u *Upsample) Attrs() string {
	var b attrs
	b.addf("x%dx%d", u.ScaleH, u.ScaleW)
	if u.Bilinear {
		b.add("bilinear")
		if u.AlignCorners {
			b.add("align_corners")
		}
	} else {
		b.add("nearest")
	}
	return b.String()
}

func (s *ShortcutA) Attrs() string { return fmt.Sprintf("s=%d", s.Stride) }

type attrs struct{ parts []string }

func (b *attrs) add(s string)            { b.parts = append(b.parts, s) }
func (b *attrs) addf(f string, a ...any) { b.add(fmt.Sprintf(f, a...)) }
func (b *attrs) act(a Act) {
	if a != ActNone {
		b.add(a.String())
	}
}
func (b *attrs) String() string { return strings.Join(b.parts, " ") }

// window adds kernel size, and stride and padding where not the default.
func (b *attrs) window(kh, kw, sh, sw, ph, pw int) {
	b.addf("k=%dx%d", kh, kw)
	b.pair("s", sh, sw, 1)
	b.pair("p", ph, pw, 0)
}

func (b *attrs) groups(g int) {
	if g != 1 {
		b.addf("g=%d", g)
	}
}

func (b *attrs) params(w Param, bias *Param) {
	b.addf("w=%s", w.Key)
	if bias != nil {
		b.addf("b=%s", bias.Key)
	}
}

func (b *attrs) epilogue(residual bool, a Act) {
	if residual {
		b.add("+residual")
	}
	b.act(a)
}

func (b *attrs) pair(name string, h, w, def int) {
	if h != def || w != def {
		b.addf("%s=%dx%d", name, h, w)
	}
}
