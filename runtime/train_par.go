package runtime

import (
	"sync"
	"sync/atomic"
)

// Pool variants of the element-wise training ops: the optimizer step, the
// non-finite check before it, and the memory-bound ops between the
// convolutions (a residual sum, a ReLU's gradient, a gradient copied to
// both branches of a sum, the max pool's gradient). At one thread they
// were a fifth of resnet18's 2-thread step, run on one core while the
// other waited. Each splits its range into fixed chunks and each chunk is
// computed exactly as the serial op computes it, so the result does not
// depend on the thread count.

// elemChunk is the number of values a worker claims at a time: large
// enough that claiming costs nothing, small enough to balance two threads
// on the smallest tensors worth splitting.
const elemChunk = 1 << 14

// elemParMin is the number of values below which the ops run serially:
// waking the pool costs more than the work.
const elemParMin = 1 << 15

const (
	elemSGD = iota
	elemNonFinite
	elemReLUBackward
	elemCopy
	elemAdd
	elemAddInto
	elemMaxPoolBackward
)

// elemPar is the pool task of the ops below; Pool.elem.mu guards the one in
// each Pool, so a call allocates nothing.
type elemPar struct {
	kind           int
	dst, a, b, c   []float32
	lr, mom, wd    float32
	first, acc     bool
	act            Act
	cfg            PoolConfig
	n, step        int // items (values, or pool items), claimed step at a time
	next           atomic.Int64
	firstNonFinite atomic.Int64 // elemNonFinite: the smallest index found
}

type elemParState struct {
	mu sync.Mutex
	t  elemPar
}

func (t *elemPar) poolWork(int) {
	for {
		i0 := int(t.next.Add(int64(t.step))) - t.step
		if i0 >= t.n {
			return
		}
		i1 := min(i0+t.step, t.n)
		switch t.kind {
		case elemSGD:
			var buf []float32
			if t.c != nil {
				buf = t.c[i0:i1]
			}
			SGD(t.dst[i0:i1], t.a[i0:i1], buf, t.lr, t.mom, t.wd, t.first)
		case elemNonFinite:
			// Chunks are claimed in order, so one that starts past a bad
			// value already found has nothing to add.
			if f := t.firstNonFinite.Load(); f >= 0 && f < int64(i0) {
				return
			}
			if j := FirstNonFinite(t.a[i0:i1]); j >= 0 {
				casMin(&t.firstNonFinite, int64(i0+j))
			}
		case elemReLUBackward:
			reluBackward(t.dst[i0:i1], t.a[i0:i1], t.b[i0:i1], t.acc)
		case elemCopy:
			copy(t.dst[i0:i1], t.a[i0:i1])
		case elemAdd:
			Add(t.dst[i0:i1], t.a[i0:i1], t.b[i0:i1], t.act)
		case elemAddInto:
			AddInto(t.dst[i0:i1], t.a[i0:i1])
		case elemMaxPoolBackward:
			in, out := t.cfg.InH*t.cfg.InW*t.cfg.C, t.cfg.OutH*t.cfg.OutW*t.cfg.C
			MaxPool2DBackward(t.dst[i0*in:i1*in], t.a[i0*out:i1*out], t.b[i0*in:i1*in], t.cfg, i1-i0, t.acc)
		}
	}
}

// casMin lowers *v to x unless it holds a smaller non-negative value.
func casMin(v *atomic.Int64, x int64) {
	for {
		old := v.Load()
		if old >= 0 && old <= x {
			return
		}
		if v.CompareAndSwap(old, x) {
			return
		}
	}
}

// elemRun runs t over n values (or items) of step; it returns with t's
// slices cleared so that the Pool keeps no tensor alive.
func (p *Pool) elemRun(t *elemPar, n, step int) {
	t.n, t.step = n, step
	t.next.Store(0)
	p.poolRun(t)
	t.dst, t.a, t.b, t.c = nil, nil, nil, nil
}

// elemSerial reports whether n values are better done by the caller alone.
func (p *Pool) elemSerial(n int) bool { return p.Threads() == 1 || n < elemParMin }

// SGDP is SGD with its values split over p's threads.
func SGDP(p *Pool, w, g, buf []float32, lr, momentum, weightDecay float32, first bool) {
	n := len(w)
	if p.elemSerial(n) {
		SGD(w, g, buf, lr, momentum, weightDecay, first)
		return
	}
	trainLen("SGD", n, g)
	if momentum == 0 {
		buf = nil
	} else {
		trainLen("SGD", n, buf)
	}
	s := &p.elem
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	t.kind, t.dst, t.a, t.c = elemSGD, w, g, buf
	t.lr, t.mom, t.wd, t.first = lr, momentum, weightDecay, first
	p.elemRun(t, n, elemChunk)
}

// FirstNonFiniteP is FirstNonFinite with x split over p's threads: the
// index of the first NaN or ±Inf in x, or -1.
func FirstNonFiniteP(p *Pool, x []float32) int {
	if p.elemSerial(len(x)) {
		return FirstNonFinite(x)
	}
	s := &p.elem
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	t.kind, t.a = elemNonFinite, x
	t.firstNonFinite.Store(-1)
	p.elemRun(t, len(x), elemChunk)
	return int(t.firstNonFinite.Load())
}

// ReLUBackwardP is ReLUBackward with its values split over p's threads.
func ReLUBackwardP(p *Pool, dx, dy, y []float32, acc bool) {
	n := len(dy)
	if p.elemSerial(n) {
		ReLUBackward(dx, dy, y, acc)
		return
	}
	trainLen("ReLUBackward", n, dx, y)
	s := &p.elem
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	t.kind, t.dst, t.a, t.b, t.acc = elemReLUBackward, dx, dy, y, acc
	p.elemRun(t, n, elemChunk)
}

// CopyP is copy(dst, src) with the values split over p's threads; dst
// must hold len(src) values.
func CopyP(p *Pool, dst, src []float32) {
	n := len(src)
	if p.elemSerial(n) {
		copy(dst, src)
		return
	}
	trainLen("Copy", n, dst)
	s := &p.elem
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	t.kind, t.dst, t.a = elemCopy, dst, src
	p.elemRun(t, n, elemChunk)
}

// AddP is Add with its values split over p's threads.
func AddP(p *Pool, dst, a, b []float32, act Act) {
	n := len(a)
	if p.elemSerial(n) {
		Add(dst, a, b, act)
		return
	}
	if len(b) != n || len(dst) < n {
		opsPanic("Add", "operand lengths differ")
	}
	s := &p.elem
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	t.kind, t.dst, t.a, t.b, t.act = elemAdd, dst, a, b, act
	p.elemRun(t, n, elemChunk)
}

// AddIntoP is AddInto with its values split over p's threads.
func AddIntoP(p *Pool, dst, src []float32) {
	n := len(src)
	if p.elemSerial(n) {
		AddInto(dst, src)
		return
	}
	trainLen("AddInto", n, dst)
	s := &p.elem
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	t.kind, t.dst, t.a = elemAddInto, dst, src
	p.elemRun(t, n, elemChunk)
}

// MaxPool2DBackwardP is MaxPool2DBackward with the n items split over p's
// threads (an item's gradients are added in the serial op's order).
func MaxPool2DBackwardP(p *Pool, dx, dy, src []float32, cfg PoolConfig, n int, acc bool) {
	in, out := cfg.InH*cfg.InW*cfg.C, cfg.OutH*cfg.OutW*cfg.C
	if n < 2 || p.elemSerial(n*in) {
		MaxPool2DBackward(dx, dy, src, cfg, n, acc)
		return
	}
	cfg.opsCheck("MaxPool2DBackward", dy, src)
	trainLen("MaxPool2DBackward", n*in, dx, src)
	trainLen("MaxPool2DBackward", n*out, dy)
	s := &p.elem
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	t.kind, t.dst, t.a, t.b, t.cfg, t.acc = elemMaxPoolBackward, dx, dy, src, cfg, acc
	p.elemRun(t, n, max(1, elemChunk/in))
}
