package ir

// PlanMemory gives every node an activation buffer in one arena. A buffer is
// reused as soon as the value in it is dead; elementwise nodes write over an
// input that dies at them, and a conv writes over the residual it adds.
// Buffers of different sizes share a slot sized for the largest value it
// ever holds, chosen best-fit, so the arena stays close to the peak of live
// activations.
//
// Convolutions whose values a concat joins write straight into the
// concat's buffer, their channels in place (BufOff, Pitch; see
// concatInPlace), so the concat copies only its other inputs: U-Net's
// skip connections and up-sampled halves are each written once.
func PlanMemory(g *Graph) error {
	last := lastUse(g)
	into := concatInPlace(g)
	catBuf := map[*Node]int{} // a concat's buffer, once one of its parts has it
	type slot struct {
		len  int
		free bool
	}
	var slots []slot
	for i, n := range g.Nodes {
		n.BufOff, n.Pitch = 0, 0
		need := n.Shape.Len()
		buf := -1
		cat := into[n]
		if cat != nil {
			need = cat.Shape.Len()
			if b, ok := catBuf[cat]; ok {
				buf = b // another part is already in it
			}
		}
		if b, ok := catBuf[n]; ok {
			buf = b // the buffer n's parts were written into
		}
		for _, in := range n.Inputs {
			if buf >= 0 {
				break
			}
			if last[in] == i && inPlaceOK(n, in) && in.Shape.Len() == need {
				buf = in.Buf
				break
			}
		}
		if buf < 0 {
			best, largest := -1, -1
			for s := range slots {
				if !slots[s].free {
					continue
				}
				if slots[s].len >= need && (best < 0 || slots[s].len < slots[best].len) {
					best = s
				}
				if largest < 0 || slots[s].len > slots[largest].len {
					largest = s
				}
			}
			switch {
			case best >= 0:
				buf = best
			case largest >= 0:
				buf = largest
				slots[buf].len = need
			default:
				buf = len(slots)
				slots = append(slots, slot{len: need})
			}
			slots[buf].free = false
		}
		n.Buf = buf
		if cat != nil {
			catBuf[cat] = buf
			for _, x := range cat.Inputs {
				if x == n {
					break
				}
				n.BufOff += x.Shape.C
			}
			n.Pitch = cat.Shape.C
		}
		for _, in := range n.Inputs {
			if last[in] == i && in.Buf != buf {
				slots[in.Buf].free = true
			}
		}
	}
	m := &MemoryPlan{}
	for _, s := range slots {
		m.Buffers = append(m.Buffers, Buffer{Offset: m.ArenaLen, Len: s.len})
		m.ArenaLen += s.len
	}
	g.Memory = m
	return nil
}

// lastUse is the schedule index of each node's last reader; the output lives
// past the end.
func lastUse(g *Graph) map[*Node]int {
	last := make(map[*Node]int, len(g.Nodes))
	for i, n := range g.Nodes {
		last[n] = i
		for _, in := range n.Inputs {
			last[in] = i
		}
	}
	last[g.Output] = len(g.Nodes)
	return last
}

// inPlaceOK reports whether n may write its result over input in's buffer
// while reading it: true for elementwise ops and for a conv's residual, whose
// kernels read each value before writing the same place.
func inPlaceOK(n, in *Node) bool {
	switch op := n.Op.(type) {
	case *Affine, *ReLU, *Sigmoid, *Softmax:
		return true
	case *Add:
		// A sum of more than two inputs is emitted as a chain of pairwise
		// adds into the result, so only the first pair may be overwritten.
		for _, x := range n.Inputs[2:] {
			if x == in {
				return false
			}
		}
		return true
	case *Conv:
		return op.Residual && n.Inputs[1] == in && n.Inputs[0] != in
	case *ConvTranspose:
		return op.Residual && n.Inputs[1] == in && n.Inputs[0] != in
	}
	return false
}

// concatInPlace picks the values PlanMemory writes into the concat that
// reads them, each to its concat: values read by that concat once and by
// nothing else but max pools (which read any pixel pitch), not the output,
// with the concat's map size, produced by a kernel that writes any pixel
// pitch: a transposed convolution or a (non-linear) convolution, without
// a residual to read in the same layout.
func concatInPlace(g *Graph) map[*Node]*Node {
	readers := map[*Node][]*Node{}
	for _, n := range g.Nodes {
		for _, x := range n.Inputs {
			readers[x] = append(readers[x], n)
		}
	}
	into := map[*Node]*Node{}
	for _, n := range g.Nodes {
		if _, ok := n.Op.(*Concat); !ok {
			continue
		}
		for _, x := range n.Inputs {
			switch op := x.Op.(type) {
			case *ConvTranspose:
				if op.Residual {
					continue
				}
			case *Conv:
				if op.Residual || op.Linear {
					continue
				}
			default:
				continue
			}
			if x == g.Output || x.Shape.H != n.Shape.H || x.Shape.W != n.Shape.W || into[x] != nil {
				continue
			}
			ok, once := true, 0
			for _, r := range readers[x] {
				if r == n {
					once++
					continue
				}
				if p, isPool := r.Op.(*Pool); !isPool || !p.Max {
					ok = false
				}
			}
			if ok && once == 1 {
				into[x] = n
			}
		}
	}
	return into
}
