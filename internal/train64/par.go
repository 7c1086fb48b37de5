package train64

import rt "github.com/resgen/resgen/runtime"

// The pool variants runtime's trainer calls (runtime/train_par.go). The
// float64 build is serial: the pool only splits work, never changes a
// result, so these are the serial ops.

// SGDP is SGD; p is ignored.
func SGDP(p *rt.Pool, w, g, buf []float64, lr, momentum, weightDecay float64, first bool) {
	SGD(w, g, buf, lr, momentum, weightDecay, first)
}

// FirstNonFiniteP is FirstNonFinite; p is ignored.
func FirstNonFiniteP(p *rt.Pool, x []float64) int { return FirstNonFinite(x) }

// ReLUBackwardP is ReLUBackward; p is ignored.
func ReLUBackwardP(p *rt.Pool, dx, dy, y []float64, acc bool) { ReLUBackward(dx, dy, y, acc) }

// CopyP is copy(dst, src); p is ignored.
func CopyP(p *rt.Pool, dst, src []float64) { copy(dst, src) }

// AddP is Add; p is ignored.
func AddP(p *rt.Pool, dst, a, b []float64, act rt.Act) { Add(dst, a, b, act) }

// AddIntoP is AddInto; p is ignored.
func AddIntoP(p *rt.Pool, dst, src []float64) { AddInto(dst, src) }

// MaxPool2DBackwardP is MaxPool2DBackward; p is ignored.
func MaxPool2DBackwardP(p *rt.Pool, dx, dy, src []float64, cfg rt.PoolConfig, n int, acc bool) {
	MaxPool2DBackward(dx, dy, src, cfg, n, acc)
}
