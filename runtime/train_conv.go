package runtime

import (
	"fmt"
	"sync/atomic"
)

// Training convolutions. Tensors are batched NHWC, n items one after
// another; weights are in PyTorch layout and may change between calls (the
// optimizer updates them in place), so every call repacks the weights it
// reads. All three products run on the inference engine's micro-kernels:
//
//   - Forward repacks w into a Conv2D (or ConvTranspose2D) and runs it over
//     the batch (see ConvTrain.batch): item by item on large maps (whole
//     items per thread on a pool), on item tiles on small maps, as one tall
//     image when rows stack (linear layers).
//   - BackwardData is the adjoint product. A convolution's OIHW weight is
//     the [In][Out/G][KH][KW] weight of the transposed convolution with the
//     same geometry and the roles of input and output swapped, and the
//     other way round, so the backward of a Conv2D is a ConvTranspose2D
//     (run as stride phases, no zeros inserted) over dy with the same
//     weight tensor, and the backward of a ConvTranspose2D is a Conv2D.
//     acc adds into dx through the engines' residual epilogue.
//   - BackwardWeight is one GEMM per kernel tap over all the batch's
//     pixels (convWeightGrad).
//
// Results do not depend on the pool's thread count: the engines and
// convWeightGrad split work into fixed tiles and sum in a fixed order.

// ConvTrain is a convolution, or a linear layer (a 1×1 convolution over a
// 1×1 map), for training. Like Conv2D it owns scratch memory, so one
// ConvTrain must not run two calls at the same time.
type ConvTrain struct {
	cfg       ConvConfig
	fwd       *Conv2D
	bwd       *ConvTranspose2D
	fwdItems  convTrainItems
	bwdItems  convTrainItems
	batches   map[int]*convTrainBatch // by n; nil: item by item
	wg        convWeightGrad
	bias      convBiasGrad
	inLen     int // floats of one input item
	outLen    int // floats of one output item
	weightLen int
}

// NewConvTrain validates cfg (cfg.Act must be ActNone: the activation is a
// separate node in training) and allocates the packed weights.
func NewConvTrain(cfg ConvConfig) (*ConvTrain, error) {
	if cfg.Act != ActNone {
		return nil, fmt.Errorf("conv2d: training needs activation none, not %v", cfg.Act)
	}
	c := &ConvTrain{cfg: cfg}
	if cfg.Groups > 0 && cfg.InC%cfg.Groups == 0 {
		c.weightLen = cfg.OutC * cfg.InC / cfg.Groups * cfg.KH * cfg.KW
	}
	zeros := make([]float32, max(0, c.weightLen))
	var err error
	if c.fwd, err = NewConv2D(cfg, zeros, nil); err != nil {
		return nil, err
	}
	// The remainder the output size formula drops is less than the
	// stride, so the adjoint is a valid transposed convolution.
	if c.bwd, err = NewConvTranspose2D(convTrainAdjoint(cfg), zeros, nil); err != nil {
		return nil, fmt.Errorf("conv2d: backward: %w", err)
	}
	c.wg.init(cfg)
	c.inLen = cfg.InH * cfg.InW * cfg.InC
	c.outLen = cfg.OutH * cfg.OutW * cfg.OutC
	return c, nil
}

// Forward computes dst = conv(src, w) + bias for n items; bias may be nil.
// dst must not overlap src.
func (c *ConvTrain) Forward(p *Pool, dst, src, w, bias []float32, n int) {
	const op = "ConvTrain.Forward"
	convTrainCheck(op, "dst", dst, n*c.outLen)
	convTrainCheck(op, "src", src, n*c.inLen)
	convTrainCheck(op, "w", w, c.weightLen)
	if bias != nil {
		convTrainCheck(op, "bias", bias, c.cfg.OutC)
	}
	if b := c.batch(n); b != nil {
		b.fwd.run(p, w, bias, dst[:n*c.outLen], src[:n*c.inLen], false)
		return
	}
	c.fwd.setWeights(w, bias)
	c.fwdItems.run(p, &c.fwd.e, c.fwd.clone, dst, src, c.outLen, c.inLen, n, false)
}

// batch returns the engines that run all n items at once, made on the
// first call at n, or nil when the layer runs item by item.
//
// When each output row reads one input row (KH = 1, no vertical padding)
// and the rows of an item are a whole number of strides, stacking the
// items' rows is the same convolution: a linear layer's batch becomes one
// GEMM of n pixels, reading its weights once rather than n times.
// Otherwise, small maps run on item tiles (convItemTiles).
func (c *ConvTrain) batch(n int) *convTrainBatch {
	if b, ok := c.batches[n]; ok {
		return b
	}
	var b *convTrainBatch
	cfg := c.cfg
	if n >= 2 && cfg.KH == 1 && cfg.PadH == 0 && cfg.InH == cfg.OutH*cfg.StrideH {
		tall := cfg
		tall.InH, tall.OutH = n*cfg.InH, n*cfg.OutH
		zeros := make([]float32, c.weightLen)
		fwd, err1 := NewConv2D(tall, zeros, nil)
		bwd, err2 := NewConvTranspose2D(convTrainAdjoint(tall), zeros, nil)
		// Too large, or a skewed copy of the whole batch (channels a
		// multiple of 512) over 16 MB: item by item.
		if err1 == nil && err2 == nil && len(fwd.e.padded) <= 1<<22 && len(bwd.e.padded) <= 1<<22 {
			b = &convTrainBatch{&convBatch{e: &fwd.e, pack: fwd}, &convBatch{e: &bwd.e, pack: bwd}}
		}
	} else if n >= 2 && convItemTilesPay(&c.fwd.e) {
		b = &convTrainBatch{convItemTiles(&c.fwd.e, c.fwd, n), convItemTiles(&c.bwd.e, c.bwd, n)}
	}
	if c.batches == nil {
		c.batches = make(map[int]*convTrainBatch)
	}
	c.batches[n] = b
	return b
}

// convTrainAdjoint is the transposed convolution that computes cfg's
// backward-data.
func convTrainAdjoint(cfg ConvConfig) ConvTransposeConfig {
	return ConvTransposeConfig{
		InC: cfg.OutC, InH: cfg.OutH, InW: cfg.OutW, OutC: cfg.InC, OutH: cfg.InH, OutW: cfg.InW,
		KH: cfg.KH, KW: cfg.KW, StrideH: cfg.StrideH, StrideW: cfg.StrideW,
		PadH: cfg.PadH, PadW: cfg.PadW, DilH: cfg.DilH, DilW: cfg.DilW, Groups: cfg.Groups,
	}
}

// BackwardData computes the gradient of the input from dy: dx = it when acc
// is false, dx += it when acc is true. dx must not overlap dy.
func (c *ConvTrain) BackwardData(p *Pool, dx, dy, w []float32, n int, acc bool) {
	const op = "ConvTrain.BackwardData"
	convTrainCheck(op, "dx", dx, n*c.inLen)
	convTrainCheck(op, "dy", dy, n*c.outLen)
	convTrainCheck(op, "w", w, c.weightLen)
	if b := c.batch(n); b != nil {
		b.bwd.run(p, w, nil, dx[:n*c.inLen], dy[:n*c.outLen], acc)
		return
	}
	c.bwd.setWeights(w, nil)
	c.bwdItems.run(p, &c.bwd.e, c.bwd.clone, dx, dy, c.inLen, c.outLen, n, acc)
}

// BackwardWeight computes the gradients of the weight (OIHW) and, unless
// dbias is nil, of the bias, from the forward input src and dy. Both are
// overwritten.
func (c *ConvTrain) BackwardWeight(p *Pool, dw, dbias, src, dy []float32, n int) {
	const op = "ConvTrain.BackwardWeight"
	convTrainCheck(op, "dw", dw, c.weightLen)
	convTrainCheck(op, "src", src, n*c.inLen)
	convTrainCheck(op, "dy", dy, n*c.outLen)
	if dbias != nil {
		convTrainCheck(op, "dbias", dbias, c.cfg.OutC)
	}
	c.wg.run(p, dw[:c.weightLen], src, dy, n)
	if dbias != nil {
		c.bias.run(p, dbias, dy, n, c.cfg.OutH*c.cfg.OutW, c.cfg.OutC)
	}
}

// ConvTransposeTrain is a transposed convolution for training. Like
// ConvTranspose2D it owns scratch memory, so one ConvTransposeTrain must
// not run two calls at the same time.
type ConvTransposeTrain struct {
	cfg       ConvTransposeConfig
	fwd       *ConvTranspose2D
	bwd       *Conv2D // nil when the output padding is not smaller than the stride
	fwdItems  convTrainItems
	bwdItems  convTrainItems
	batches   map[int]*convTrainBatch // by n; nil: item by item
	wg        convWeightGrad
	bias      convBiasGrad
	inLen     int
	outLen    int
	weightLen int
}

// NewConvTransposeTrain validates cfg (cfg.Act must be ActNone) and
// allocates the packed weights.
func NewConvTransposeTrain(cfg ConvTransposeConfig) (*ConvTransposeTrain, error) {
	if cfg.Act != ActNone {
		return nil, fmt.Errorf("convtranspose2d: training needs activation none, not %v", cfg.Act)
	}
	c := &ConvTransposeTrain{cfg: cfg}
	if cfg.Groups > 0 && cfg.OutC%cfg.Groups == 0 {
		c.weightLen = cfg.InC * cfg.OutC / cfg.Groups * cfg.KH * cfg.KW
	}
	zeros := make([]float32, max(0, c.weightLen))
	var err error
	if c.fwd, err = NewConvTranspose2D(cfg, zeros, nil); err != nil {
		return nil, err
	}
	// The adjoint convolution exists unless the output padding is as large
	// as the stride (PyTorch allows that when the dilation is larger): a
	// convolution over dy would then produce more rows than the input has.
	// That rare shape runs BackwardData on the scalar reference.
	adj := convTransposeAsConv(cfg)
	if convOutLen(adj.InH, adj.KH, adj.StrideH, adj.PadH, adj.DilH) == adj.OutH &&
		convOutLen(adj.InW, adj.KW, adj.StrideW, adj.PadW, adj.DilW) == adj.OutW {
		if c.bwd, err = NewConv2D(adj, zeros, nil); err != nil {
			return nil, fmt.Errorf("convtranspose2d: backward: %w", err)
		}
	}
	c.wg.init(adj)
	c.inLen = cfg.InH * cfg.InW * cfg.InC
	c.outLen = cfg.OutH * cfg.OutW * cfg.OutC
	return c, nil
}

// convOutLen is the output size of a convolution along one axis.
func convOutLen(in, k, s, p, d int) int { return (in+2*p-d*(k-1)-1)/s + 1 }

// Forward computes dst = convtranspose(src, w) + bias for n items; bias may
// be nil. dst must not overlap src.
func (c *ConvTransposeTrain) Forward(p *Pool, dst, src, w, bias []float32, n int) {
	const op = "ConvTransposeTrain.Forward"
	convTrainCheck(op, "dst", dst, n*c.outLen)
	convTrainCheck(op, "src", src, n*c.inLen)
	convTrainCheck(op, "w", w, c.weightLen)
	if bias != nil {
		convTrainCheck(op, "bias", bias, c.cfg.OutC)
	}
	if b := c.batch(n); b != nil {
		b.fwd.run(p, w, bias, dst[:n*c.outLen], src[:n*c.inLen], false)
		return
	}
	c.fwd.setWeights(w, bias)
	c.fwdItems.run(p, &c.fwd.e, c.fwd.clone, dst, src, c.outLen, c.inLen, n, false)
}

// batch returns the item-tile engines for n items (convItemTiles), made on
// the first call at n, or nil when the layer runs item by item.
func (c *ConvTransposeTrain) batch(n int) *convTrainBatch {
	if b, ok := c.batches[n]; ok {
		return b
	}
	var b *convTrainBatch
	if n >= 2 && c.bwd != nil && convItemTilesPay(&c.fwd.e) {
		b = &convTrainBatch{convItemTiles(&c.fwd.e, c.fwd, n), convItemTiles(&c.bwd.e, c.bwd, n)}
	}
	if c.batches == nil {
		c.batches = make(map[int]*convTrainBatch)
	}
	c.batches[n] = b
	return b
}

// BackwardData computes the gradient of the input from dy (= or +=, by
// acc). dx must not overlap dy.
func (c *ConvTransposeTrain) BackwardData(p *Pool, dx, dy, w []float32, n int, acc bool) {
	const op = "ConvTransposeTrain.BackwardData"
	convTrainCheck(op, "dx", dx, n*c.inLen)
	convTrainCheck(op, "dy", dy, n*c.outLen)
	convTrainCheck(op, "w", w, c.weightLen)
	if c.bwd == nil {
		convTransposeBackwardDataRef(c.cfg, dx, dy, w, n, acc)
		return
	}
	if b := c.batch(n); b != nil {
		b.bwd.run(p, w, nil, dx[:n*c.inLen], dy[:n*c.outLen], acc)
		return
	}
	c.bwd.setWeights(w, nil)
	c.bwdItems.run(p, &c.bwd.e, c.bwd.clone, dx, dy, c.inLen, c.outLen, n, acc)
}

// BackwardWeight computes the gradients of the weight ([In][Out/G][KH][KW])
// and, unless dbias is nil, of the bias, from the forward input src and
// dy. Both are overwritten.
func (c *ConvTransposeTrain) BackwardWeight(p *Pool, dw, dbias, src, dy []float32, n int) {
	const op = "ConvTransposeTrain.BackwardWeight"
	convTrainCheck(op, "dw", dw, c.weightLen)
	convTrainCheck(op, "src", src, n*c.inLen)
	convTrainCheck(op, "dy", dy, n*c.outLen)
	if dbias != nil {
		convTrainCheck(op, "dbias", dbias, c.cfg.OutC)
	}
	// The weight gradient of the adjoint convolution, whose input is dy
	// and whose output gradient is src, in the same weight layout.
	c.wg.run(p, dw[:c.weightLen], dy, src, n)
	if dbias != nil {
		c.bias.run(p, dbias, dy, n, c.cfg.OutH*c.cfg.OutW, c.cfg.OutC)
	}
}

// setWeights repacks w (OIHW) and bias (nil for zeros) in place.
func (c *Conv2D) setWeights(w, bias []float32) {
	khw := c.cfg.KH * c.cfg.KW
	for i := range c.e.phases {
		c.e.packPhase(&c.e.phases[i], w, c.e.cinG*khw, khw, khw)
	}
	c.e.setBias(bias)
	if c.wino != nil {
		c.wino.setWeights(w, bias)
	}
}

// setWeights repacks w ([In][Out/G][KH][KW]) and bias (nil for zeros) in
// place.
func (c *ConvTranspose2D) setWeights(w, bias []float32) {
	khw := c.cfg.KH * c.cfg.KW
	for i := range c.e.phases {
		c.e.packPhase(&c.e.phases[i], w, khw, c.e.coutG*khw, khw)
	}
	c.e.setBias(bias)
}

// convTrainItems runs an engine over the items of a batch. On a pool with
// a batch of at least two items per thread, each thread runs whole items on
// its own copy of the engine (sharing the packed weights, owning the
// scratch), one claim per item, rather than splitting every item's tiles
// over the threads: a CIFAR item is tens of microseconds of work. An
// item's tiles and sums are the same either way, so results do not depend
// on the thread count.
type convTrainItems struct {
	engines        []*convEngine // per worker; engines[0] is the base
	dst, src       []float32
	dstLen, srcLen int
	n              int
	acc            bool
	next           atomic.Int64
}

// run computes item i of dst from item i of src, adding into dst when acc,
// for i < n. clone makes another engine of base's shape.
func (t *convTrainItems) run(p *Pool, base *convEngine, clone func() *convEngine, dst, src []float32, dstLen, srcLen, n int, acc bool) {
	threads := p.Threads()
	if threads == 1 || n < 2*threads {
		for i := range n {
			d := dst[i*dstLen : (i+1)*dstLen]
			var res []float32
			if acc {
				res = d
			}
			base.forward(p, d, src[i*srcLen:(i+1)*srcLen], res)
		}
		return
	}
	if len(t.engines) == 0 {
		t.engines = append(t.engines, base)
	}
	for len(t.engines) < threads {
		e := clone()
		e.shareWeights(base) // packed in place by every setWeights
		t.engines = append(t.engines, e)
	}
	t.dst, t.src, t.dstLen, t.srcLen, t.n, t.acc = dst, src, dstLen, srcLen, n, acc
	t.next.Store(0)
	p.poolRun(t)
	t.dst, t.src = nil, nil
}

func (t *convTrainItems) poolWork(worker int) {
	e := t.engines[worker]
	for {
		i := int(t.next.Add(1)) - 1
		if i >= t.n {
			return
		}
		d := t.dst[i*t.dstLen : (i+1)*t.dstLen]
		var res []float32
		if t.acc {
			res = d
		}
		e.forward(nil, d, t.src[i*t.srcLen:(i+1)*t.srcLen], res)
	}
}

// shareWeights points e's packed weights and bias at base's.
func (e *convEngine) shareWeights(base *convEngine) {
	for i := range e.phases {
		e.phases[i].packed = base.phases[i].packed
	}
	e.bias = base.bias
}

// clone returns a Conv2D of c's shape (its weights to be shared).
func (c *Conv2D) clone() *convEngine {
	cinG := c.cfg.InC / c.cfg.Groups
	d, err := NewConv2D(c.cfg, make([]float32, c.cfg.OutC*cinG*c.cfg.KH*c.cfg.KW), nil)
	if err != nil {
		panic("runtime: cloning a valid Conv2D: " + err.Error())
	}
	return &d.e
}

// clone returns a ConvTranspose2D of c's shape (its weights to be shared).
func (c *ConvTranspose2D) clone() *convEngine {
	coutG := c.cfg.OutC / c.cfg.Groups
	d, err := NewConvTranspose2D(c.cfg, make([]float32, c.cfg.InC*coutG*c.cfg.KH*c.cfg.KW), nil)
	if err != nil {
		panic("runtime: cloning a valid ConvTranspose2D: " + err.Error())
	}
	return &d.e
}

// convTrainBatch holds a layer's engines for one batch size.
type convTrainBatch struct{ fwd, bwd *convBatch }

// convPacker is a Conv2D or ConvTranspose2D: it packs the weights an
// engine reads.
type convPacker interface{ setWeights(w, bias []float32) }

// convBatch runs one engine over a whole batch.
type convBatch struct {
	e      *convEngine
	pack   convPacker  // packs the weights e reads
	layout *convEngine // non-nil: items are copied into in, laid out like layout's padded image
	in     []float32
	n      int
	src    []float32 // while copying in
	next   atomic.Int64
}

// run repacks w and bias and computes dst (+= when acc) from src.
func (b *convBatch) run(p *Pool, w, bias, dst, src []float32, acc bool) {
	b.pack.setWeights(w, bias)
	in := src
	if b.layout != nil {
		b.src = src
		b.next.Store(0)
		p.poolRun(b) // copy the items in
		b.src = nil
		in = b.in
	}
	var res []float32
	if acc {
		res = dst
	}
	b.e.forward(p, dst, in, res)
}

// poolWork copies items of src into in, each laid out like layout's padded
// image (whose zero borders in keeps: only the items' pixels are written).
func (b *convBatch) poolWork(worker int) {
	l := b.layout
	itemIn, srcItem := len(l.padded), l.inH*l.inW*l.inC
	rowIn, rowP := l.inW*l.inC, l.wp*l.pitch
	for {
		i := int(b.next.Add(1)) - 1
		if i >= b.n {
			return
		}
		d, s := b.in[i*itemIn:(i+1)*itemIn], b.src[i*srcItem:(i+1)*srcItem]
		for y := range l.inH {
			o := (y+l.padTop)*rowP + l.padLeft*l.pitch
			if l.pitch == l.inC {
				copy(d[o:o+rowIn], s[y*rowIn:])
				continue
			}
			for x := range l.inW {
				copy(d[o+x*l.pitch:o+x*l.pitch+l.inC], s[(y*l.inW+x)*l.inC:])
			}
		}
	}
}

// convItemTilesPay reports whether a layer whose one-image engine is base
// runs faster on item tiles: when its rows are shorter than a tile, or its
// weights are too large for L2 (a 512-channel 3×3 layer's are 9 MB), which
// an item-by-item batch would stream once per item.
func convItemTilesPay(base *convEngine) bool {
	if base.panelsOuter {
		return true
	}
	for _, ph := range base.phases {
		if ph.cols >= base.mr {
			return false
		}
	}
	return true
}

// convItemTiles derives from base, an engine over one image, an engine
// over n items whose tiles are the same output pixel of up to mr items:
// in a batch of padded images (or unpadded items), one after another, the
// items' input origins are equally spaced, and so are their outputs, so
// every (phase, output row) of base becomes a phase whose rows are the
// row's pixels and whose columns are the items. A tile is a full register
// block however small the map, and panels-outer layers stream their
// weights once per output row rather than once per item. The phases share
// base's packed weights and bias. Which engine a layer uses depends on its
// shape and n only, never on the thread count.
func convItemTiles(base *convEngine, pack convPacker, n int) *convBatch {
	itemIn := base.inH * base.inW * base.inC
	var layout *convEngine
	if base.padded != nil {
		itemIn, layout = len(base.padded), base
	}
	outItem := base.outH * base.outW * base.outC
	e := &convEngine{
		op: base.op,
		// The input is the batch of padded items, checked as one vector.
		inC: 1, inH: 1, inW: n * itemIn,
		outC: base.outC, outH: n * base.outH, outW: base.outW,
		groups: base.groups, cinG: base.cinG, coutG: base.coutG,
		panels: base.panels, relu: base.relu, nr: base.nr, mr: base.mr,
		bias: base.bias, pitch: base.pitch,
	}
	for _, ph := range base.phases {
		for t := range ph.rows {
			q := convPhase{
				rows: ph.cols, cols: n,
				aRow: ph.aCol, aCol: itemIn,
				cBase: ph.cBase + t*ph.cRow, cRow: ph.cCol, cCol: outItem,
				kc: ph.kc, packed: ph.packed, wtaps: ph.wtaps,
			}
			for _, o := range ph.koff {
				q.koff = append(q.koff, o+t*ph.aRow)
			}
			e.addPhase(q)
		}
	}
	b := &convBatch{e: e, pack: pack, layout: layout, n: n}
	if layout != nil {
		b.in = convAligned(n * itemIn)
	}
	return b
}
