package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/resgen/resgen"
	"github.com/resgen/resgen/internal/seeded"
	"github.com/resgen/resgen/ir"
	"github.com/resgen/resgen/runtime"
)

// layerTime is one line of -layers output.
type layerTime struct {
	Layer   string  `json:"layer"`
	Type    string  `json:"type"`  // conv3x3/s1, conv1x1/s2, convT2x2/s2, linear, …
	Shape   string  `json:"shape"` // in → out, CxHxW
	MACs    int64   `json:"macs"`
	MS      float64 `json:"ms"`     // median
	MinMS   float64 `json:"min_ms"` // fastest iteration
	Iters   int     `json:"iters"`
	Threads int     `json:"threads"`
	SameAs  string  `json:"same_as,omitempty"` // an earlier layer of identical shape whose times these are
}

// timeLayers compiles the preset, builds every convolution's and transposed
// convolution's kernel as the generated code does (the same config, Winograd
// form included; weights seeded rather than folded from a BatchNorm, which
// does not change the work) and times its Forward alone, with a residual
// input where the layer has one fused.
func timeLayers(name string, threads int, budgetMS float64) error {
	text, err := presetSpec(name)
	if err != nil {
		return err
	}
	res, err := resgen.Compile(name+".yaml", text, resgen.Options{Package: "layers"})
	if err != nil {
		return err
	}
	pool := runtime.NewPool(threads)
	defer pool.Close()
	enc := json.NewEncoder(os.Stdout)
	seen := map[string]layerTime{}
	for _, n := range res.Graph.Nodes {
		k, err := newLayerKernel(n)
		if err != nil {
			return fmt.Errorf("layer %s: %v", n.Name, err)
		}
		if k.forward == nil {
			continue
		}
		in := n.Inputs[0].Shape
		lt := layerTime{Layer: n.Name, Type: k.typ, Shape: in.String() + "→" + n.Shape.String(), MACs: ir.MACs(n), Threads: threads}
		if prev, ok := seen[k.key]; ok {
			lt.MS, lt.MinMS, lt.Iters, lt.SameAs = prev.MS, prev.MinMS, prev.Iters, prev.Layer
			if err := enc.Encode(lt); err != nil {
				return err
			}
			continue
		}
		src := seeded.Tensor(1, "input", []int{1, in.C, in.H, in.W}, seeded.Input)
		dst := make([]float32, n.Shape.Len())
		var residual []float32
		if k.residual {
			residual = seeded.Tensor(2, "input", []int{1, n.Shape.C, n.Shape.H, n.Shape.W}, seeded.Input)
		}
		var ms []float64
		k.forward(pool, dst, src, residual) // warm: caches, pool workers
		start := time.Now()
		for len(ms) < 5 || float64(time.Since(start).Microseconds())/1e3 < budgetMS && len(ms) < 100000 {
			t := time.Now()
			k.forward(pool, dst, src, residual)
			ms = append(ms, float64(time.Since(t).Nanoseconds())/1e6)
		}
		sort.Float64s(ms)
		lt.MS, lt.MinMS, lt.Iters = ms[len(ms)/2], ms[0], len(ms)
		seen[k.key] = lt
		if err := enc.Encode(lt); err != nil {
			return err
		}
	}
	return nil
}

// layerKernel is one node's runtime kernel, ready to time; forward is nil
// for nodes -layers does not time.
type layerKernel struct {
	typ, key string // key: identical keys have identical work
	residual bool
	forward  func(p *runtime.Pool, dst, src, residual []float32)
}

func newLayerKernel(n *ir.Node) (layerKernel, error) {
	act := func(a ir.Act) runtime.Act {
		if a == ir.ActReLU {
			return runtime.ActReLU
		}
		return runtime.ActNone
	}
	switch op := n.Op.(type) {
	case *ir.Conv:
		in := n.Inputs[0].Shape
		cfg := runtime.ConvConfig{InC: in.C, InH: in.H, InW: in.W, OutC: n.Shape.C, OutH: n.Shape.H, OutW: n.Shape.W,
			KH: op.KH, KW: op.KW, StrideH: op.StrideH, StrideW: op.StrideW, PadH: op.PadH, PadW: op.PadW,
			DilH: op.DilH, DilW: op.DilW, Groups: op.Groups, Act: act(op.Act), Winograd: op.Winograd}
		groups := max(op.Groups, 1)
		w := seeded.Tensor(1, n.Name+".weight", []int{cfg.OutC, cfg.InC / groups, cfg.KH, cfg.KW}, seeded.Weight)
		b := seeded.Tensor(1, n.Name+".bias", []int{cfg.OutC}, seeded.Bias)
		conv, err := runtime.NewConv2D(cfg, w, b)
		if err != nil {
			return layerKernel{}, err
		}
		return layerKernel{typ: layerType(op), key: fmt.Sprintf("conv %+v %v", cfg, op.Residual), residual: op.Residual, forward: conv.Forward}, nil
	case *ir.ConvTranspose:
		in := n.Inputs[0].Shape
		cfg := runtime.ConvTransposeConfig{InC: in.C, InH: in.H, InW: in.W, OutC: n.Shape.C, OutH: n.Shape.H, OutW: n.Shape.W,
			KH: op.KH, KW: op.KW, StrideH: op.StrideH, StrideW: op.StrideW, PadH: op.PadH, PadW: op.PadW,
			DilH: op.DilH, DilW: op.DilW, Groups: op.Groups, Act: act(op.Act)}
		groups := max(op.Groups, 1)
		w := seeded.Tensor(1, n.Name+".weight", []int{cfg.InC, cfg.OutC / groups, cfg.KH, cfg.KW}, seeded.Weight)
		b := seeded.Tensor(1, n.Name+".bias", []int{cfg.OutC}, seeded.Bias)
		conv, err := runtime.NewConvTranspose2D(cfg, w, b)
		if err != nil {
			return layerKernel{}, err
		}
		t := fmt.Sprintf("convT%dx%d/s%d", op.KH, op.KW, op.StrideH)
		if op.Groups > 1 {
			t += fmt.Sprintf("/g%d", op.Groups)
		}
		return layerKernel{typ: t, key: fmt.Sprintf("convT %+v %v", cfg, op.Residual), residual: op.Residual, forward: conv.Forward}, nil
	}
	return layerKernel{}, nil
}

func layerType(op *ir.Conv) string {
	if op.Linear {
		return "linear"
	}
	t := fmt.Sprintf("conv%dx%d/s%d", op.KH, op.KW, op.StrideH)
	if op.Groups > 1 {
		t += fmt.Sprintf("/g%d", op.Groups)
	}
	return t
}
