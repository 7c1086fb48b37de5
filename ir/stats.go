package ir

// Params lists the state_dict tensors an op reads, in load order. For a
// BatchNorm these are weight, bias, running_mean and running_var.
func Params(op Op) []Param {
	var ps []Param
	bn := func(b *BatchNorm) {
		for _, k := range b.Keys() {
			ps = append(ps, Param{Key: k, Shape: []int{b.C}})
		}
	}
	switch op := op.(type) {
	case *Conv:
		ps = append(ps, op.Weight)
		if op.Bias != nil {
			ps = append(ps, *op.Bias)
		}
		if op.BN != nil {
			bn(op.BN)
		}
	case *ConvTranspose:
		ps = append(ps, op.Weight)
		if op.Bias != nil {
			ps = append(ps, *op.Bias)
		}
	case *Affine:
		bn(&op.BN)
	}
	return ps
}

// TrainableParams counts what PyTorch's sum(p.numel() for p in
// model.parameters()) counts: weights and biases, and BatchNorm's weight and
// bias but not its running statistics.
func TrainableParams(op Op) int64 {
	var n int64
	for _, p := range Params(op) {
		if isRunningStat(p.Key) {
			continue
		}
		n += int64(p.Len())
	}
	return n
}

func isRunningStat(key string) bool {
	const m, v = ".running_mean", ".running_var"
	return len(key) > len(m) && key[len(key)-len(m):] == m || len(key) > len(v) && key[len(key)-len(v):] == v
}

// MACs is the number of multiply-accumulates of a node for one item:
// convolutions, transposed convolutions and linear layers only, as the
// papers and torchvision count them.
func MACs(n *Node) int64 {
	switch op := n.Op.(type) {
	case *Conv:
		in := n.Inputs[0].Shape
		return int64(n.Shape.Len()) * int64(in.C/op.Groups) * int64(op.KH) * int64(op.KW)
	case *ConvTranspose:
		in := n.Inputs[0].Shape
		return int64(in.Len()) * int64(op.Out/op.Groups) * int64(op.KH) * int64(op.KW)
	}
	return 0
}
