package runtime

import (
	"sync"
	"sync/atomic"
)

// Pool variants of the memory-bound ops that run between convolutions
// (ResNet's 112×112 max pool and its input transpose). Each output row (or
// run of pixels) is computed whole by one thread, exactly as the serial op
// computes it, so the results do not depend on the thread count.

// opsPar is the pool task of the ops below; Pool.opsMu guards the one in
// each Pool, so a call allocates nothing.
type opsPar struct {
	kind     int // opsParMaxPool or opsParRGB
	dst, src []float32
	cfg      PoolConfig
	lo, hi   int // MaxPool2D: output columns with unclipped windows
	n, step  int // items (rows or pixels), claimed step at a time
	next     atomic.Int64
}

const (
	opsParMaxPool = iota
	opsParRGB
)

type opsParState struct {
	mu sync.Mutex
	t  opsPar
}

func (t *opsPar) poolWork(int) {
	for {
		i0 := int(t.next.Add(int64(t.step))) - t.step
		if i0 >= t.n {
			return
		}
		i1 := min(i0+t.step, t.n)
		switch t.kind {
		case opsParMaxPool:
			maxPoolRows(t.dst, t.src, &t.cfg, t.lo, t.hi, i0, i1)
		case opsParRGB:
			rgbToNHWC(t.dst, t.src, t.n, i0, i1)
		}
	}
}

func (p *Pool) opsRun(t *opsPar) {
	t.next.Store(0)
	p.poolRun(t)
	t.dst, t.src = nil, nil
}

// MaxPool2DP is MaxPool2D with its output rows split over p's threads.
func MaxPool2DP(p *Pool, dst, src []float32, cfg PoolConfig) {
	if p.Threads() == 1 || cfg.OutH < 2 {
		MaxPool2D(dst, src, cfg)
		return
	}
	cfg.opsCheck("MaxPool2D", dst, src)
	lo, hi := maxPoolCols(&cfg)
	s := &p.ops
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	t.kind, t.dst, t.src, t.cfg, t.lo, t.hi = opsParMaxPool, dst, src[:cfg.InH*cfg.InW*cfg.C], cfg, lo, hi
	t.n, t.step = cfg.OutH, 2
	p.opsRun(t)
}

// NCHWToNHWCP is NCHWToNHWC with the work split over p's threads when the
// image has 3 channels (a network's RGB input); otherwise it is NCHWToNHWC.
func NCHWToNHWCP(p *Pool, dst, src []float32, c, h, w int) {
	hw := h * w
	if p.Threads() == 1 || c != 3 || hw < 4096 {
		NCHWToNHWC(dst, src, c, h, w)
		return
	}
	if len(src) < c*hw || len(dst) < c*hw {
		opsPanic("NCHWToNHWC", "sizes do not match")
	}
	s := &p.ops
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	t.kind, t.dst, t.src = opsParRGB, dst[:c*hw], src[:c*hw]
	t.n, t.step = hw, 2048
	p.opsRun(t)
}

// rgbToNHWC writes pixels [p0, p1) of the 3×n NCHW image src as NHWC.
func rgbToNHWC(dst, src []float32, n, p0, p1 int) {
	s0, s1, s2 := src[p0:p1], src[n+p0:n+p1], src[2*n+p0:2*n+p1]
	s1, s2 = s1[:len(s0)], s2[:len(s0)]
	d := dst[3*p0 : 3*p1]
	for i, v := range s0 {
		e := d[3*i : 3*i+3 : 3*i+3]
		e[0], e[1], e[2] = v, s1[i], s2[i]
	}
}
