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
	n, step  int // items (rows, pixels or channel blocks), claimed step at a time
	next     atomic.Int64

	// Concat's parts, GlobalAvgPool's pixels and channels.
	parts        [opsParMaxParts]ConcatPart
	nparts       int
	hw, c, total int
}

// opsParMaxParts is the most inputs ConcatP splits over threads.
const opsParMaxParts = 4

const (
	opsParMaxPool = iota
	opsParRGB
	opsParConcat
	opsParGAP
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
		case opsParConcat:
			concatPixels(t.dst, t.hw, t.total, t.parts[:t.nparts], i0, i1)
		case opsParGAP:
			globalAvgPoolBlocks(t.dst, t.src, t.hw, t.c, i0, i1)
		}
	}
}

func (p *Pool) opsRun(t *opsPar) {
	t.next.Store(0)
	p.poolRun(t)
	t.dst, t.src = nil, nil
	t.parts = [opsParMaxParts]ConcatPart{}
}

// ConcatP is Concat with the pixels split over p's threads (U-Net's
// concatenations copy tens of megabytes).
func ConcatP(p *Pool, dst []float32, hw int, parts ...ConcatPart) {
	if p.Threads() == 1 || len(parts) > opsParMaxParts || hw < 1024 {
		Concat(dst, hw, parts...)
		return
	}
	total := concatCheck(dst, hw, parts)
	s := &p.ops
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	t.kind, t.dst, t.hw, t.total = opsParConcat, dst, hw, total
	t.nparts = copy(t.parts[:], parts)
	t.n, t.step = hw, 512
	p.opsRun(t)
}

// GlobalAvgPoolP is GlobalAvgPool with its channel blocks split over p's
// threads.
func GlobalAvgPoolP(p *Pool, dst, src []float32, hw, c int) {
	blocks := (c + gapBlock - 1) / gapBlock
	if p.Threads() == 1 || blocks < 2 || hw*c < 1<<14 {
		GlobalAvgPool(dst, src, hw, c)
		return
	}
	if hw <= 0 || c <= 0 || len(src) < hw*c || len(dst) < c {
		opsPanic("GlobalAvgPool", "sizes do not match")
	}
	s := &p.ops
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	t.kind, t.dst, t.src, t.hw, t.c = opsParGAP, dst, src, hw, c
	t.n, t.step = blocks, 1
	p.opsRun(t)
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
	t.kind, t.dst, t.src, t.cfg, t.lo, t.hi = opsParMaxPool, dst, src[:cfg.inLen()], cfg, lo, hi
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
