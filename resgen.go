// Package resgen compiles a residual network described in a YAML spec into a
// self-contained Go package.
//
// Compile runs the whole pipeline in memory and returns the generated files;
// it never touches the disk. The resgen command (cmd/resgen) writes them.
package resgen

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/resgen/resgen/codegen"
	"github.com/resgen/resgen/internal/seeded"
	"github.com/resgen/resgen/ir"
	"github.com/resgen/resgen/spec"
)

// Version is resgen's version, written into every generated header.
const Version = "0.1.0"

// Options controls Compile.
type Options struct {
	// Package is the generated package's name; "" derives it from the spec name.
	Package string
	// Source is the spec's path as shown in the generated header and in
	// errors; "" uses the filename given to Compile.
	Source string
	// Embed is a weights file, relative to the output directory, to embed.
	Embed string
	// Dump names a pass ("lower" or one of ir.Pipeline; with Train, one of
	// ir.TrainPipeline) whose graph text is returned in Result.Dump.
	Dump string
	// Train adds train.go: a Trainer compiled by ir.TrainPipeline and
	// codegen.GenerateTrain (docs/training.md).
	Train bool
	// Winograd, if not "", overrides the spec's `winograd:` (one of
	// spec.WinogradChoices): "off" forces direct convolution.
	Winograd string
}

// Result is what a compilation produced.
type Result struct {
	Files   map[string][]byte // generated files by name
	Dump    string            // the graph after Options.Dump, if asked
	Summary *Summary
	Graph   *ir.Graph // after every pass
}

// Parse parses and lowers a spec: the front half of Compile, for `check`,
// `summary` and `weights init`.
func Parse(filename string, src []byte) (*ir.Graph, error) {
	s, err := spec.Parse(filename, src)
	if err != nil {
		return nil, err
	}
	return ir.Lower(s)
}

// Compile compiles a spec into a Go package.
func Compile(filename string, src []byte, opt Options) (*Result, error) {
	dumps := ir.PassNames()
	if opt.Train {
		dumps = ir.TrainPassNames()
	}
	if opt.Dump != "" && !slices.Contains(dumps, opt.Dump) {
		return nil, fmt.Errorf("-dump %q: want one of %s", opt.Dump, strings.Join(dumps, ", "))
	}
	if opt.Embed != "" {
		if err := validEmbed(opt.Embed); err != nil {
			return nil, err
		}
	}
	if opt.Winograd != "" && !slices.Contains(spec.WinogradChoices, opt.Winograd) {
		return nil, fmt.Errorf("-winograd %q: want one of %s", opt.Winograd, strings.Join(spec.WinogradChoices, ", "))
	}
	g, err := Parse(filename, src)
	if err != nil {
		return nil, err
	}
	if opt.Winograd != "" {
		g.Winograd = opt.Winograd
	}
	sum := summarize(g)
	res := &Result{Summary: sum, Graph: g}
	err = ir.Run(g, true, func(pass string, g *ir.Graph) {
		if pass == opt.Dump && !opt.Train {
			res.Dump = ir.Format(g)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: internal compiler error: %v", filename, err)
	}
	sum.PeakBytes = g.Memory.PeakBytes()
	pkg := opt.Package
	if pkg == "" {
		pkg = codegen.PackageName(g.Name)
	}
	source := opt.Source
	if source == "" {
		source = filename
	}
	copt := codegen.Options{Package: pkg, Source: source, Version: Version, Embed: opt.Embed}
	res.Files, err = codegen.Generate(g, copt)
	if err != nil {
		return nil, err
	}
	if opt.Train {
		// The training graph is lowered afresh: the inference passes
		// rewrote g in ways backward cannot use (folded BatchNorm).
		tg, err := Parse(filename, src)
		if err != nil {
			return nil, err
		}
		err = ir.RunTrain(tg, true, func(pass string, g *ir.Graph) {
			if pass == opt.Dump {
				res.Dump = ir.Format(g)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("%s: internal compiler error: %v", filename, err)
		}
		res.Files["train.go"], err = codegen.GenerateTrain(tg, copt)
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// validEmbed checks that name can follow //go:embed: a clean relative path
// inside the package directory, without characters that need quoting.
func validEmbed(name string) error {
	if path.IsAbs(name) || strings.HasPrefix(path.Clean(name), "..") || path.Clean(name) != name {
		return fmt.Errorf("-embed %q: the file must be inside the output directory (go:embed cannot reach outside the package); copy it there", name)
	}
	for _, r := range name {
		if !(r == '.' || r == '-' || r == '_' || r == '/' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("-embed %q: use a file name of letters, digits, '.', '-', '_' and '/'", name)
		}
	}
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return fmt.Errorf("-embed %q: go:embed skips names starting with '.' or '_'", name)
	}
	return nil
}

// Summary describes a network: one row per spec layer and the totals.
type Summary struct {
	Name      string         `json:"name"`
	Input     []int          `json:"input"`
	Output    []int          `json:"output"`
	Params    int64          `json:"params"`
	MACs      int64          `json:"macs"`
	PeakBytes int            `json:"peak_bytes"`
	Layers    []LayerSummary `json:"layers"`
}

// LayerSummary is one layer of a Summary.
type LayerSummary struct {
	Name   string `json:"name"`
	Op     string `json:"op"`
	Shape  []int  `json:"shape"`
	Params int64  `json:"params"`
	MACs   int64  `json:"macs"`
}

func shapeOf(s ir.Shape) []int { return []int{s.C, s.H, s.W} }

// summarize reads the lowered graph (one node per spec layer). PeakBytes
// comes from the memory plan and is filled in by the caller.
func summarize(g *ir.Graph) *Summary {
	s := &Summary{Name: g.Name, Input: shapeOf(g.Input.Shape), Output: shapeOf(g.Output.Shape), Layers: []LayerSummary{}}
	for _, n := range g.Nodes[1:] {
		l := LayerSummary{Name: n.Name, Op: n.Op.Kind(), Shape: shapeOf(n.Shape), Params: ir.TrainableParams(n.Op), MACs: ir.MACs(n)}
		if c, ok := n.Op.(*ir.Conv); ok && c.Linear {
			l.Op = "linear"
		}
		s.Params += l.Params
		s.MACs += l.MACs
		s.Layers = append(s.Layers, l)
	}
	return s
}

// Summarize parses a spec and plans its memory to report the totals.
func Summarize(filename string, src []byte) (*Summary, error) {
	res, err := Compile(filename, src, Options{Package: "summary"})
	if err != nil {
		return nil, err
	}
	return res.Summary, nil
}

// WeightEntries lists every state_dict tensor the network reads, in schedule
// order, classified for the seeded weight generator.
func WeightEntries(g *ir.Graph) []seeded.Entry {
	var es []seeded.Entry
	for _, n := range g.Nodes {
		for _, p := range ir.Params(n.Op) {
			k := seeded.Weight
			switch {
			case strings.HasSuffix(p.Key, ".running_mean"):
				k = seeded.RunningMean
			case strings.HasSuffix(p.Key, ".running_var"):
				k = seeded.RunningVar
			case len(p.Shape) == 1 && isBN(n.Op) && strings.HasSuffix(p.Key, ".weight"):
				k = seeded.BNWeight
			case len(p.Shape) == 1 && isBN(n.Op) && strings.HasSuffix(p.Key, ".bias"):
				k = seeded.BNBias
			case len(p.Shape) == 1:
				k = seeded.Bias
			}
			es = append(es, seeded.Entry{Name: p.Key, Shape: p.Shape, Kind: k})
		}
	}
	return es
}

// isBN reports whether an op's one-dimensional params are BatchNorm's. A
// conv with a folded BatchNorm is not: it is lowered as two nodes, and this
// runs on the lowered graph.
func isBN(op ir.Op) bool {
	_, ok := op.(*ir.Affine)
	return ok
}
