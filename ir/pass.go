package ir

import "fmt"

// A Pass rewrites the graph in place.
type Pass struct {
	Name string
	Run  func(*Graph) error
	// About says in a few words what the pass does, for `resgen build -dump`.
	About string
}

// Pipeline is every pass, in the order they run. The graph after Lower is
// dumped as "lower"; after each pass under the pass's name.
var Pipeline = []Pass{
	{"foldbn", FoldBatchNorm, "fold BatchNorm into the preceding conv's weights and bias"},
	{"fuseadd", FuseResidualAdd, "make a residual add the epilogue of the conv feeding it"},
	{"fuseact", FuseActivation, "make a ReLU the epilogue of the node feeding it"},
	{"simplify", DropIdentities, "drop identities, no-op flattens and dead nodes"},
	{"winograd", ChooseWinograd, "choose Winograd F(m,3) or direct per 3x3 stride-1 conv (cost model)"},
	{"memplan", PlanMemory, "assign activation buffers by liveness"},
}

// order says which pass must run before which; checked by init and tests.
var order = [][2]string{
	{"foldbn", "fuseadd"},   // conv→bn→add must see conv→add
	{"fuseadd", "fuseact"},  // add→relu fuses into the conv that took the add
	{"fuseact", "simplify"}, // fusion leaves dead nodes behind
	{"simplify", "memplan"}, // plan only what is scheduled
	{"fuseact", "winograd"}, // the cost model sees the fused epilogues
}

func init() {
	if err := checkOrder(Pipeline); err != nil {
		panic(err)
	}
}

func checkOrder(p []Pass) error {
	at := map[string]int{}
	for i, ps := range p {
		at[ps.Name] = i
	}
	for _, o := range order {
		a, okA := at[o[0]]
		b, okB := at[o[1]]
		if !okA || !okB || a >= b {
			return fmt.Errorf("ir: pass %q must run before %q", o[0], o[1])
		}
	}
	return nil
}

// PassNames is "lower" followed by every pass name: the valid -dump values.
func PassNames() []string {
	names := []string{"lower"}
	for _, p := range Pipeline {
		names = append(names, p.Name)
	}
	return names
}

// Run runs the pipeline. If after is not nil it is called with the graph
// after lowering ("lower") and after every pass; verify checks the graph
// after every pass (tests turn it on; it is cheap enough to leave on).
func Run(g *Graph, verify bool, after func(pass string, g *Graph)) error {
	if err := Verify(g); err != nil {
		return fmt.Errorf("pass %q: %v", "lower", err)
	}
	if after != nil {
		after("lower", g)
	}
	for _, p := range Pipeline {
		if err := p.Run(g); err != nil {
			return fmt.Errorf("pass %q: %v", p.Name, err)
		}
		if verify {
			if err := Verify(g); err != nil {
				return fmt.Errorf("pass %q: %v", p.Name, err)
			}
		}
		if after != nil {
			after(p.Name, g)
		}
	}
	return nil
}
