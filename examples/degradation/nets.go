package main

// One entry per generated trainer package: each has its own Trainer and
// option types, so each gets a constructor that returns the common trainer.

import (
	"github.com/resgen/resgen/examples/degradation/nets/plain1202"
	"github.com/resgen/resgen/examples/degradation/nets/plain20"
	"github.com/resgen/resgen/examples/degradation/nets/plain56"
	"github.com/resgen/resgen/examples/degradation/nets/resnet1202"
	"github.com/resgen/resgen/examples/degradation/nets/resnet20"
	"github.com/resgen/resgen/examples/degradation/nets/resnet56"
)

// nets lists every network of the experiment, in the order of the report.
var nets = []*netInfo{
	{
		Name: "plain20", Title: "plain-20", Depth: 20, Residual: false, Params: plain20.Params,
		New: func(weights []byte, o trainConfig) (trainer, error) {
			t, err := plain20.NewTrainer(weights, plain20.WithSGD(o.LR, o.Momentum, o.WeightDecay), plain20.WithTrainThreads(o.Threads), plain20.WithInitSeed(o.Seed))
			if err != nil {
				return nil, err
			}
			return adapter[plain20.ParamNorm]{t, t.GradNorms}, nil
		},
	},
	{
		Name: "plain56", Title: "plain-56", Depth: 56, Residual: false, Params: plain56.Params,
		New: func(weights []byte, o trainConfig) (trainer, error) {
			t, err := plain56.NewTrainer(weights, plain56.WithSGD(o.LR, o.Momentum, o.WeightDecay), plain56.WithTrainThreads(o.Threads), plain56.WithInitSeed(o.Seed))
			if err != nil {
				return nil, err
			}
			return adapter[plain56.ParamNorm]{t, t.GradNorms}, nil
		},
	},
	{
		Name: "resnet20", Title: "ResNet-20", Depth: 20, Residual: true, Params: resnet20.Params,
		New: func(weights []byte, o trainConfig) (trainer, error) {
			t, err := resnet20.NewTrainer(weights, resnet20.WithSGD(o.LR, o.Momentum, o.WeightDecay), resnet20.WithTrainThreads(o.Threads), resnet20.WithInitSeed(o.Seed))
			if err != nil {
				return nil, err
			}
			return adapter[resnet20.ParamNorm]{t, t.GradNorms}, nil
		},
	},
	{
		Name: "resnet56", Title: "ResNet-56", Depth: 56, Residual: true, Params: resnet56.Params,
		New: func(weights []byte, o trainConfig) (trainer, error) {
			t, err := resnet56.NewTrainer(weights, resnet56.WithSGD(o.LR, o.Momentum, o.WeightDecay), resnet56.WithTrainThreads(o.Threads), resnet56.WithInitSeed(o.Seed))
			if err != nil {
				return nil, err
			}
			return adapter[resnet56.ParamNorm]{t, t.GradNorms}, nil
		},
	},
	{
		Name: "resnet1202", Title: "ResNet-1202", Depth: 1202, Residual: true, Params: resnet1202.Params,
		New: func(weights []byte, o trainConfig) (trainer, error) {
			t, err := resnet1202.NewTrainer(weights, resnet1202.WithSGD(o.LR, o.Momentum, o.WeightDecay), resnet1202.WithTrainThreads(o.Threads), resnet1202.WithInitSeed(o.Seed))
			if err != nil {
				return nil, err
			}
			return adapter[resnet1202.ParamNorm]{t, t.GradNorms}, nil
		},
	},
	{
		Name: "plain1202", Title: "plain-1202", Depth: 1202, Residual: false, Params: plain1202.Params,
		New: func(weights []byte, o trainConfig) (trainer, error) {
			t, err := plain1202.NewTrainer(weights, plain1202.WithSGD(o.LR, o.Momentum, o.WeightDecay), plain1202.WithTrainThreads(o.Threads), plain1202.WithInitSeed(o.Seed))
			if err != nil {
				return nil, err
			}
			return adapter[plain1202.ParamNorm]{t, t.GradNorms}, nil
		},
	},
}
