package ir

// FoldBatchNorm merges a BatchNorm into the convolution (or linear layer)
// that feeds it when nothing else reads the convolution's raw output. The
// weights are folded when the generated code loads them; here the conv only
// learns which BatchNorm to fold.
func FoldBatchNorm(g *Graph) error {
	users := g.Users()
	dead := map[*Node]bool{}
	for _, n := range g.Nodes {
		bn, ok := n.Op.(*Affine)
		if !ok || bn.Act != ActNone {
			continue
		}
		src := n.Inputs[0]
		c, ok := src.Op.(*Conv)
		if !ok || c.BN != nil || c.Residual || c.Act != ActNone || len(users[src]) != 1 || g.Output == src {
			continue
		}
		b := bn.BN
		c.BN = &b
		src.Fused = append(src.Fused, n.Name)
		g.Replace(n, src)
		dead[n] = true
	}
	g.Remove(dead)
	return nil
}

// FuseResidualAdd turns add(conv(x), y) into conv(x) with y added in the
// epilogue, when the add has two inputs and nothing else reads the conv's
// output. The conv moves to the add's place in the schedule, where y is
// ready; its own inputs were ready earlier, so the order stays valid.
func FuseResidualAdd(g *Graph) error {
	users := g.Users()
	moved := map[*Node]*Node{} // add → conv taking its place
	for _, n := range g.Nodes {
		add, ok := n.Op.(*Add)
		if !ok || add.Act != ActNone || len(n.Inputs) != 2 || n.Inputs[0] == n.Inputs[1] {
			continue
		}
		for k := 0; k < 2; k++ {
			src, other := n.Inputs[k], n.Inputs[1-k]
			if !fusableEpilogue(g, src, users) {
				continue
			}
			switch c := src.Op.(type) {
			case *Conv:
				c.Residual = true
			case *ConvTranspose:
				c.Residual = true
			}
			src.Inputs = append(src.Inputs, other)
			src.Fused = append(src.Fused, n.Name)
			moved[n] = src
			break
		}
	}
	if len(moved) == 0 {
		return nil
	}
	taken := map[*Node]bool{}
	for _, c := range moved {
		taken[c] = true
	}
	sched := make([]*Node, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		if c, ok := moved[n]; ok {
			sched = append(sched, c)
			continue
		}
		if !taken[n] {
			sched = append(sched, n)
		}
	}
	g.Nodes = sched
	for add, c := range moved {
		g.Replace(add, c)
	}
	return nil
}

// fusableEpilogue reports whether n is a conv whose epilogue is still free
// and whose only reader is the node about to be fused into it.
func fusableEpilogue(g *Graph, n *Node, users map[*Node][]*Node) bool {
	if len(users[n]) != 1 || g.Output == n {
		return false
	}
	switch c := n.Op.(type) {
	case *Conv:
		return !c.Residual && c.Act == ActNone
	case *ConvTranspose:
		return !c.Residual && c.Act == ActNone
	}
	return false
}

// FuseActivation makes a ReLU the epilogue of the node feeding it (conv,
// transposed conv, BatchNorm affine or add) when nothing else reads that
// node's output.
func FuseActivation(g *Graph) error {
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
		case *Conv:
			act = &op.Act
		case *ConvTranspose:
			act = &op.Act
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

// DropIdentities removes nodes that compute nothing: identities, and
// flattens of a 1×1 map (NHWC and CHW order agree there). Then it removes
// every node the output does not depend on.
func DropIdentities(g *Graph) error {
	dead := map[*Node]bool{}
	for _, n := range g.Nodes {
		drop := false
		switch n.Op.(type) {
		case *Identity:
			drop = true
		case *Flatten:
			in := n.Inputs[0].Shape
			drop = in.H == 1 && in.W == 1
		}
		// An identity of the input that is also the output stays: the
		// output must be a buffer of its own.
		if drop && !(g.Output == n && n.Inputs[0] == g.Input) {
			g.Replace(n, n.Inputs[0])
			dead[n] = true
		}
	}
	g.Remove(dead)

	// Dead-code elimination: keep what the output reads, transitively.
	live := map[*Node]bool{g.Output: true, g.Input: true}
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		if !live[n] {
			continue
		}
		for _, in := range n.Inputs {
			live[in] = true
		}
	}
	for _, n := range g.Nodes {
		if !live[n] {
			dead[n] = true
		}
	}
	g.Remove(dead)
	return nil
}
