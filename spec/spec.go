// Package spec reads a resgen network spec (YAML) and expands it into a flat,
// ordered list of layers, each with the source position it came from.
//
// A spec describes a network as a list of layers, some of which invoke
// reusable blocks (optionally repeated); `if:` expressions switch layers on and
// off. Parse expands all of that, resolves every `from:` reference to the full
// dotted name of a tensor, validates every field, and reports every problem it
// finds with its file:line:col. Shapes are not inferred here; that is ir's job.
//
// # Syntax
//
//	resgen: 1                       # format version, required, must be 1
//	name: resnet18                  # Go package name for the generated code
//	input: {channels: 3, height: 224, width: 224}
//	vars: {residual: true}          # globals, visible everywhere as $residual
//	blocks:
//	  basic:
//	    args: {planes: 64, stride: 1}   # parameters with defaults (int, bool, float, string)
//	    inputs: [x, skip]               # optional; default one input named `in`
//	    layers: [...]                   # same form as the top-level layers
//	    output: relu2                   # optional; default the last active layer
//	layers:
//	  - {name: conv1, op: conv2d, out: 64, kernel: 7, stride: 2, padding: 3, bias: false}
//	  - {name: layer1, block: basic, repeat: 2, args: {planes: 64}, first: {stride: 2}}
//	output: fc                      # optional; default the last active layer
//	preprocess:                     # optional: how a picture becomes an input item
//	  color: rgb                    # rgb | gray (PIL convert("L")); default from input channels
//	  resize: 256                   # shorter side (torchvision Resize(int)), or [H, W]; default none
//	  interpolation: bilinear       # nearest | bilinear | bicubic (default bilinear, as torchvision)
//	  crop: 224                     # center crop, int or [H, W]; default none
//	  mean: [0.485, 0.456, 0.406]   # Normalize, after ToTensor's /255; default 0
//	  std: [0.229, 0.224, 0.225]    # default 1
//	labels: [tench, goldfish, …]    # optional class names, or a file next to the spec, one per line
//
// A layer is either an op (`op:` plus the op's fields) or a block invocation
// (`block:`, `args:`, `repeat:`, `first:`). Every layer may have `name:`,
// `from:`, `if:` and `key:`. A block invocation `layer1` with `repeat: 2`
// creates instances `layer1.0` and `layer1.1`, each fed by the previous one;
// without `repeat:` the single instance is `layer1`. Layers inside an instance
// are named `layer1.0.conv1`; that full name is also the state_dict key prefix
// unless `key:` replaces its last component.
//
// from: names a tensor or lists several; the default is the previous active
// layer of the same scope, or the scope's single input for its first layer.
// Names resolve to earlier layers of the scope, its inputs (`in`, or the
// block's inputs:), and at top level `input`, the network input. A block
// invocation's name (`layer1`, or `layer1.0` for one instance) means its
// output. Unnamed layers are named `_N` (N: index in their list); ops with
// parameters (conv2d, conv_transpose2d, batchnorm, linear) and block
// invocations must be named. Layers switched off by if: vanish; only active
// layers of one scope must have distinct names.
//
// Any scalar containing `$` is an expression: integers, true/false, $var,
// + - * / % (integer; / truncates toward zero), == != < <= > >=, and or not,
// and parentheses. `and` and `or` short-circuit. Block args shadow vars;
// invocation args: (and first:, for instance 0 of a repeat) are evaluated in
// the caller's scope and must have the type of the arg's default. YAML aliases
// are rejected.
//
// preprocess: is torchvision's Resize → CenterCrop → ToTensor → Normalize as
// used in training; the generated package turns a picture into an input item
// with it. Its values are literals (no $expressions). The transform must end
// at the input's size: with crop:, crop is the input's H×W; without, resize is
// [H, W] equal to it (resize: N alone depends on the picture, an error); with
// neither, pictures must already have the input's size. color: must give the
// input's channels, and mean: and std: have one number per channel, std > 0.
//
// labels: names the output classes (or channels, for per-pixel outputs), in
// order; their count must be the output's channels (ir checks it). A string is
// a file path relative to the spec's directory, inside it; its lines are
// trimmed and trailing blank lines ignored. Labels are non-empty, distinct,
// printable and at most MaxLabels.
//
// # Limits
//
// Every integer in a spec, literal or computed, lies in [-MaxInt, MaxInt], so a
// product of three spec integers (such as C·H·W) fits in an int64. Shapes are
// not bounded here: ir must bound the sizes it infers (a conv weight is a
// product of four, and chained upsampling grows without limit). A block is repeated at most MaxRepeat times,
// and a spec expands to at most MaxLayers layers and block instances in total
// (layers switched off by if: included, as they too take time to expand).
package spec

import (
	"fmt"
	"strings"
)

// Limits that keep later size arithmetic exact and expansion cheap. See the
// package documentation.
const (
	MaxInt    = 1 << 20
	MaxRepeat = 10000
	MaxLayers = 200000
	// MaxErrors is how many errors Parse reports before "too many errors".
	MaxErrors = 20
)

// Pos is a position in a spec file. Line and Col are 1-based.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

func (p Pos) before(q Pos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	if p.Line != q.Line {
		return p.Line < q.Line
	}
	return p.Col < q.Col
}

// Spec is a parsed and fully expanded network.
type Spec struct {
	Name      string   // spec `name:` (used as the default Go package name)
	Input     Input    // C, H, W and Pos
	Layers    []*Layer // flat, in definition order, blocks expanded
	Output    string   // full name of the output tensor (default: last layer)
	OutputPos Pos

	Preprocess *Preprocess // `preprocess:`, or nil
	Labels     []string    // `labels:` (class names), or nil; ir checks the count
	LabelsPos  Pos

	// Winograd is `winograd:`, one of WinogradChoices, or "" (auto): how
	// 3×3 stride-1 convolutions are computed (ir's winograd pass).
	Winograd    string
	WinogradPos Pos
}

// WinogradChoices are the values of `winograd:`: "auto" lets the compiler
// choose per layer, "off" forces direct convolution, and "2", "4" or "6"
// force Winograd F(m×m, 3×3) on every layer that can use it.
var WinogradChoices = []string{"auto", "off", "2", "4", "6"}

// Input is the network input, one batch item of C×H×W.
type Input struct {
	C, H, W int
	Pos     Pos // the `input:` mapping
}

// InputName is the tensor name of the network input in Layer.Inputs.
const InputName = "input"

// Layer is one op of the expanded network.
type Layer struct {
	Name   string         // full dotted name, e.g. "layer1.0.conv1"
	Key    string         // state_dict prefix, default Name (spec `key:` overrides)
	Op     Op             // one of the typed op structs below
	Inputs []string       // full names of input tensors; "input" is the network input
	Pos    Pos            // the layer's mapping
	Fields map[string]Pos // position of each field's value, by YAML key ("from", "kernel", …)
}

// Op is the typed operation of a layer. Its dynamic type is one of the
// non-pointer structs below (spec.Conv2D, spec.ReLU, …).
type Op interface {
	// Kind is the op's name in the spec language, e.g. "conv2d".
	Kind() string
}

// Conv2D is a 2-D convolution (PyTorch nn.Conv2d).
type Conv2D struct {
	Out, KernelH, KernelW, StrideH, StrideW, PadH, PadW, DilH, DilW, Groups int
	Bias                                                                    bool
}

// ConvTranspose2D is a transposed 2-D convolution (PyTorch nn.ConvTranspose2d).
type ConvTranspose2D struct {
	Out, KernelH, KernelW, StrideH, StrideW, PadH, PadW, OutPadH, OutPadW, DilH, DilW, Groups int
	Bias                                                                                      bool
}

// BatchNorm is inference-mode batch normalisation over channels.
type BatchNorm struct{ Eps float64 }

// ReLU is max(x, 0).
type ReLU struct{}

// Sigmoid is 1/(1+exp(-x)).
type Sigmoid struct{}

// Softmax is taken over the channel axis.
type Softmax struct{}

// Add sums two or more tensors of the same shape.
type Add struct{}

// Concat joins two or more tensors along the channel axis, in `from:` order.
type Concat struct{}

// Flatten reshapes C×H×W to C·H·W in PyTorch (CHW) order.
type Flatten struct{}

// Linear is a fully connected layer (PyTorch nn.Linear).
type Linear struct {
	Out  int
	Bias bool
}

// MaxPool is 2-D max pooling.
type MaxPool struct {
	KernelH, KernelW, StrideH, StrideW, PadH, PadW int
	CeilMode                                       bool
}

// AvgPool is 2-D average pooling.
type AvgPool struct {
	KernelH, KernelW, StrideH, StrideW, PadH, PadW int
	CeilMode, CountIncludePad                      bool
}

// GlobalAvgPool averages each channel to 1×1.
type GlobalAvgPool struct{}

// Upsample scales H and W by integer factors.
type Upsample struct {
	ScaleH, ScaleW int
	Mode           string // nearest|bilinear
	AlignCorners   bool
}

// ShortcutA is the CIFAR "option A" shortcut: x[:, :, ::s, ::s] zero-padded in
// channels by (Out-In)/2 on each side.
type ShortcutA struct{ Out, Stride int }

// Identity passes its input through.
type Identity struct{}

func (Conv2D) Kind() string          { return "conv2d" }
func (ConvTranspose2D) Kind() string { return "conv_transpose2d" }
func (BatchNorm) Kind() string       { return "batchnorm" }
func (ReLU) Kind() string            { return "relu" }
func (Sigmoid) Kind() string         { return "sigmoid" }
func (Softmax) Kind() string         { return "softmax" }
func (Add) Kind() string             { return "add" }
func (Concat) Kind() string          { return "concat" }
func (Flatten) Kind() string         { return "flatten" }
func (Linear) Kind() string          { return "linear" }
func (MaxPool) Kind() string         { return "maxpool" }
func (AvgPool) Kind() string         { return "avgpool" }
func (GlobalAvgPool) Kind() string   { return "global_avgpool" }
func (Upsample) Kind() string        { return "upsample" }
func (ShortcutA) Kind() string       { return "shortcut_a" }
func (Identity) Kind() string        { return "identity" }

// Error is one problem in a spec, at a position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every problem Parse found, sorted by position, at most
// MaxErrors of them (then a final "too many errors").
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}
