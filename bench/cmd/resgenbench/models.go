package main

import (
	"github.com/resgen/resgen/generated/cifarresnet20"
	"github.com/resgen/resgen/generated/resnet18"
	"github.com/resgen/resgen/generated/resnet50"
	resnext5032x4d "github.com/resgen/resgen/generated/resnext50_32x4d"
	wideresnet502 "github.com/resgen/resgen/generated/wide_resnet50_2"

	"github.com/resgen/resgen/bench/gen/unet32"
	"github.com/resgen/resgen/spec"
)

// models maps each model the harness compares with ONNX Runtime to its
// package: under generated/ the presets at their default inputs, under
// bench/gen/ other configurations (preset and opts say which); CI keeps them
// current with go generate. Keep in step with MODELS in bench/run.sh.
var models = map[string]compiled{
	"cifar-resnet20": {
		new: func(w []byte, threads int) (model, error) {
			return cifarresnet20.New(w, cifarresnet20.WithThreads(threads))
		},
		inputLen: cifarresnet20.InputLen, outputLen: cifarresnet20.OutputLen, macs: cifarresnet20.MACs,
	},
	"resnet18": {
		new:      func(w []byte, threads int) (model, error) { return resnet18.New(w, resnet18.WithThreads(threads)) },
		inputLen: resnet18.InputLen, outputLen: resnet18.OutputLen, macs: resnet18.MACs,
	},
	"resnet50": {
		new:      func(w []byte, threads int) (model, error) { return resnet50.New(w, resnet50.WithThreads(threads)) },
		inputLen: resnet50.InputLen, outputLen: resnet50.OutputLen, macs: resnet50.MACs,
	},
	// Grouped 3×3 convs (32 groups of 4 to 32 channels) and wide ones.
	"resnext50_32x4d": {
		new: func(w []byte, threads int) (model, error) {
			return resnext5032x4d.New(w, resnext5032x4d.WithThreads(threads))
		},
		inputLen: resnext5032x4d.InputLen, outputLen: resnext5032x4d.OutputLen, macs: resnext5032x4d.MACs,
	},
	"wide_resnet50_2": {
		new: func(w []byte, threads int) (model, error) {
			return wideresnet502.New(w, wideresnet502.WithThreads(threads))
		},
		inputLen: wideresnet502.InputLen, outputLen: wideresnet502.OutputLen, macs: wideresnet502.MACs,
	},
	// The U-Net at width 32, 3×256×256: transposed convs, concats, and full
	// 256×256 maps at 32 channels.
	"unet32": {
		new:      func(w []byte, threads int) (model, error) { return unet32.New(w, unet32.WithThreads(threads)) },
		inputLen: unet32.InputLen, outputLen: unet32.OutputLen, macs: unet32.MACs,
		preset: "unet", opts: spec.PresetOptions{Width: 32, Input: [3]int{3, 256, 256}},
	},
}
