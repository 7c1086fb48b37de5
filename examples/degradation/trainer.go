package main

import "io"

// A trainer is what the experiment needs of a generated Trainer.
type trainer interface {
	Step(src []float32, labels []int32) (float64, error)
	SetLR(lr float64)
	Eval(dst, src []float32) error
	Save(w io.Writer) error
	Close()
	norms() []paramNorm
}

// paramNorm is the L2 norm of one parameter's gradient; its fields match
// every generated package's ParamNorm, so they convert.
type paramNorm struct {
	Name string
	Norm float64
}

// adapter gives a generated Trainer the norms method; gradNorms is its
// GradNorms, whose result type differs from package to package.
type adapter[P ~struct {
	Name string
	Norm float64
}] struct {
	generated
	gradNorms func() []P
}

// generated is the part of a Trainer's method set that has the same types in
// every generated package.
type generated interface {
	Step(src []float32, labels []int32) (float64, error)
	SetLR(lr float64)
	Eval(dst, src []float32) error
	Save(w io.Writer) error
	Close()
}

func (a adapter[P]) norms() []paramNorm {
	ps := a.gradNorms()
	out := make([]paramNorm, len(ps))
	for i, p := range ps {
		out[i] = paramNorm(p)
	}
	return out
}

// trainConfig is the optimizer and threading of a new Trainer.
type trainConfig struct {
	LR, Momentum, WeightDecay float64
	Threads                   int
	Seed                      uint64
}

// netInfo describes one network of the experiment.
type netInfo struct {
	Name     string // package and state file name: "plain56"
	Title    string // as the paper writes it: "plain-56"
	Depth    int
	Residual bool
	Params   int64
	New      func(weights []byte, c trainConfig) (trainer, error)
}

func netByName(name string) *netInfo {
	for _, n := range nets {
		if n.Name == name {
			return n
		}
	}
	return nil
}
