package ir

import "fmt"

// TrainPipeline is the pass list of the training compiler (resgen build
// -train), in the order the passes run. It differs from Pipeline where
// backward needs more than inference does:
//
//   - no foldbn: BatchNorm runs in training mode on batch statistics, and
//     its input is saved for the backward;
//   - no fuseadd: the sum feeds the ReLU mask and the adds' inputs each get
//     the gradient, which a conv epilogue would hide;
//   - fuseact only onto BatchNorm and add, whose backward kernels take the
//     fused output as the ReLU mask (a conv's does not);
//   - trainmem instead of memplan: forward values the backward reads stay
//     alive, and gradients get buffers of their own.
var TrainPipeline = []Pass{
	{"fuseact", FuseTrainActivation, "make a ReLU the epilogue of the BatchNorm or add feeding it"},
	{"simplify", DropIdentities, "drop identities, no-op flattens and dead nodes"},
	{"trainmem", PlanTrainMemory, "give every forward value its own buffer and plan the gradient buffers by liveness"},
}

// trainOrder says which training pass must run before which.
var trainOrder = [][2]string{
	{"fuseact", "simplify"},  // fusion leaves dead nodes behind
	{"simplify", "trainmem"}, // plan only what is scheduled
}

func init() {
	if err := checkPassOrder(TrainPipeline, trainOrder); err != nil {
		panic(err)
	}
}

func checkPassOrder(p []Pass, order [][2]string) error {
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

// TrainPassNames is "lower" followed by every training pass name.
func TrainPassNames() []string {
	names := []string{"lower"}
	for _, p := range TrainPipeline {
		names = append(names, p.Name)
	}
	return names
}

// RunTrain runs TrainPipeline like Run runs Pipeline.
func RunTrain(g *Graph, verify bool, after func(pass string, g *Graph)) error {
	if err := Verify(g); err != nil {
		return fmt.Errorf("pass %q: %v", "lower", err)
	}
	if after != nil {
		after("lower", g)
	}
	for _, p := range TrainPipeline {
		if err := p.Run(g); err != nil {
			return fmt.Errorf("pass %q: %v", p.Name, err)
		}
		if verify {
			if err := Verify(g); err != nil {
				return fmt.Errorf("pass %q: %v", p.Name, err)
			}
			if g.Train != nil {
				if err := verifyTrainPlan(g); err != nil {
					return fmt.Errorf("pass %q: %v", p.Name, err)
				}
			}
		}
		if after != nil {
			after(p.Name, g)
		}
	}
	return nil
}

// FuseTrainActivation makes a ReLU the epilogue of the BatchNorm or add
// feeding it when nothing else reads that node's output. The fused output is
// all the ReLU's backward needs (its mask), and BatchNorm's and add's
// backward rules apply that mask first.
func FuseTrainActivation(g *Graph) error {
	users := g.Users()
	dead := map[*Node]bool{}
	for _, n := range g.Nodes {
		if _, ok := n.Op.(*ReLU); !ok {
			continue
		}
		src := n.Inputs[0]
		if len(users[src]) != 1 || g.Output == src {
			continue
		}
		var act *Act
		switch op := src.Op.(type) {
		case *Affine:
			act = &op.Act
		case *Add:
			act = &op.Act
		}
		if act == nil || *act != ActNone {
			continue
		}
		*act = ActReLU
		src.Fused = append(src.Fused, n.Name)
		g.Replace(n, src)
		dead[n] = true
	}
	g.Remove(dead)
	return nil
}

// TrainPlan is the gradient memory of a training step, per batch item (the
// generated code multiplies offsets and lengths by the batch size).
type TrainPlan struct {
	// Grad places the gradient buffers in one arena of their own.
	Grad MemoryPlan
	// GradBuf is the gradient buffer of a node's output; a node without an
	// entry has no gradient (no node that needs one reads it).
	GradBuf map[*Node]int
	// NeedsGrad reports whether backward must run for a node: it has
	// parameters, or one of its inputs (transitively) has.
	NeedsGrad map[*Node]bool
}

// PlanTrainMemory plans the memory of a training step. Every forward value
// gets a buffer of its own (g.Memory), because the backward reads most of
// them (conv and BatchNorm inputs, ReLU masks, pooling inputs) in reverse
// order. Gradients live in a second arena: the gradient of a node is
// written first by the backward of its last reader and read last by its
// own backward; buffers are reused by liveness in between, best-fit as in
// PlanMemory.
//
// A node gets a gradient buffer when a node that needs a gradient reads it,
// even if it needs none itself: some kernels (BatchNorm, concat) write every
// input's gradient at once. The output always has one (the loss gradient).
func PlanTrainMemory(g *Graph) error {
	act := &MemoryPlan{}
	for i, n := range g.Nodes {
		n.Buf, n.BufOff, n.Pitch = i, 0, 0
		act.Buffers = append(act.Buffers, Buffer{Offset: act.ArenaLen, Len: n.Shape.Len()})
		act.ArenaLen += n.Shape.Len()
	}
	g.Memory = act

	tp := &TrainPlan{GradBuf: map[*Node]int{}, NeedsGrad: map[*Node]bool{}}
	for _, n := range g.Nodes {
		need := len(Params(n.Op)) > 0
		for _, in := range n.Inputs {
			need = need || tp.NeedsGrad[in]
		}
		tp.NeedsGrad[n] = need
	}
	born := map[*Node][]*Node{} // backward of a node → gradients it writes first
	last := map[*Node]*Node{}   // each node's last reader that runs a backward
	for _, n := range g.Nodes {
		if !tp.NeedsGrad[n] {
			continue
		}
		for _, in := range n.Inputs {
			last[in] = n
		}
	}
	for _, n := range g.Nodes {
		if r, ok := last[n]; ok && n != g.Output {
			born[r] = append(born[r], n)
		}
	}

	var slots []slot
	take := func(n *Node) {
		tp.GradBuf[n] = takeSlot(&slots, n.Shape.Len())
	}
	take(g.Output)
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		// The gradients n's backward writes first must not share its own
		// gradient's buffer, which the same backward reads: take them
		// before freeing it.
		for _, in := range born[n] {
			if _, ok := tp.GradBuf[in]; !ok {
				take(in)
			}
		}
		if b, ok := tp.GradBuf[n]; ok {
			slots[b].free = true
		}
	}
	for _, s := range slots {
		tp.Grad.Buffers = append(tp.Grad.Buffers, Buffer{Offset: tp.Grad.ArenaLen, Len: s.len})
		tp.Grad.ArenaLen += s.len
	}
	g.Train = tp
	return nil
}

type slot struct {
	len  int
	free bool
}

// takeSlot returns a free slot of at least need values (the smallest such),
// else grows the largest free one, else adds a slot.
func takeSlot(slots *[]slot, need int) int {
	s := *slots
	best, largest := -1, -1
	for i := range s {
		if !s[i].free {
			continue
		}
		if s[i].len >= need && (best < 0 || s[i].len < s[best].len) {
			best = i
		}
		if largest < 0 || s[i].len > s[largest].len {
			largest = i
		}
	}
	switch {
	case best >= 0:
	case largest >= 0:
		best = largest
		s[best].len = need
	default:
		best = len(s)
		s = append(s, slot{len: need})
	}
	s[best].free = false
	*slots = s
	return best
}

// verifyTrainPlan checks that no two gradients whose lifetimes overlap
// share a buffer. The gradient of n is live from the backward of its last
// reader (the output's from the start) to its own backward, inclusive.
func verifyTrainPlan(g *Graph) error {
	tp := g.Train
	idx := g.Index()
	L := len(g.Nodes)
	born := map[*Node]int{}
	for _, n := range g.Nodes {
		if !tp.NeedsGrad[n] {
			continue
		}
		for _, in := range n.Inputs {
			born[in] = L - 1 - idx[n] // backward time of the reader; the last reader is the earliest
		}
	}
	born[g.Output] = -1
	type span struct {
		n        *Node
		from, to int
	}
	byBuf := map[int][]span{}
	for n, b := range tp.GradBuf {
		if b < 0 || b >= len(tp.Grad.Buffers) || tp.Grad.Buffers[b].Len < n.Shape.Len() {
			return fmt.Errorf("verify: gradient of %q: bad buffer %d", n.Name, b)
		}
		byBuf[b] = append(byBuf[b], span{n, born[n], L - 1 - idx[n]})
	}
	for _, spans := range byBuf {
		for i := range spans {
			for j := i + 1; j < len(spans); j++ {
				a, b := spans[i], spans[j]
				if a.from <= b.to && b.from <= a.to {
					return fmt.Errorf("verify: gradients of %q and %q share a buffer while both are live", a.n.Name, b.n.Name)
				}
			}
		}
	}
	return nil
}
