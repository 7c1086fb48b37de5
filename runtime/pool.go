package runtime

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is a fixed set of persistent worker goroutines that kernels split
// their work over. A nil *Pool is valid everywhere and means "run on the
// calling goroutine only".
//
// Kernels hand the pool a poolTask (a pointer to a struct that holds the
// call's arguments), so running a task allocates nothing. Between tasks the
// workers spin for a short while before they park: a network runs its layers
// back to back, and waking a parked goroutine costs more than a small layer.
//
// A worker parks by ending its goroutine, and the next task starts a new one
// for it (see poolWorker).
type Pool struct {
	threads int
	mu      sync.Mutex // serializes poolRun and Close
	task    poolTask   // published by the gen increment
	gen     atomic.Uint64
	pending atomic.Int64 // workers still running the current task
	closed  atomic.Bool
	workers []poolWorkerState
	ops     opsParState  // the task of MaxPool2DP and NCHWToNHWCP
	train   bnParState   // the task and scratch of the BatchNorm training kernels
	elem    elemParState // the task of the element-wise training ops (train_par.go)
	wino    winoTask     // the task of a Winograd convolution (winograd.go)
	scratch [][]float32  // per worker, shared by the layers that run on the pool

}

type poolWorkerState struct {
	// sleeping is 1 while the worker has no goroutine (or its goroutine is
	// about to end); whoever flips it back to 0 owns the worker from then on.
	sleeping atomic.Int32
	seen     uint64   // the last generation the worker ran, for its next goroutine
	start    func()   // runs the worker; go start() allocates nothing
	_        [40]byte // keep workers' flags on separate cache lines
}

// poolSpin is how long an idle worker polls for the next task before parking.
// It outlasts the single-threaded ops between two convolutions (ResNet's
// 112×112 max pool takes ~120 µs): waking a parked worker took as long again.
const poolSpin = 500 * time.Microsecond

// poolCallerSpin is how long poolRun polls for its workers to finish before
// it naps. The last chunks usually end within microseconds of each other;
// a much longer wait means a worker's thread was descheduled (the machine
// is busy), and spinning would only take CPU time from it.
const poolCallerSpin = 100 * time.Microsecond

// poolCallerNap is how long poolAwait sleeps between checks once it has
// stopped spinning.
const poolCallerNap = 20 * time.Microsecond

// poolTask is implemented by kernels. poolWork is called once on every
// thread of the pool (worker 0 is the caller); the implementation claims
// pieces of work itself, e.g. with an atomic counter, so the split of the
// work never depends on how many threads took part.
type poolTask interface {
	poolWork(worker int)
}

// NewPool starts threads-1 worker goroutines (the goroutine calling a kernel
// is the remaining thread). threads <= 0 means runtime.GOMAXPROCS(0).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = goruntime.GOMAXPROCS(0)
	}
	p := &Pool{threads: threads, workers: make([]poolWorkerState, threads-1), scratch: make([][]float32, threads)}
	if threads > 1 {
		poolReserveOnce.Do(poolReserve)
	}
	for i := range p.workers {
		id := i + 1
		p.workers[i].start = func() { p.poolWorker(id) }
		go p.workers[i].start()
	}
	return p
}

// workerScratch returns at least n floats of worker's scratch, 64-byte
// aligned. The layers of a network run one after another on their pool, so
// they share it; it grows on first use only.
func (p *Pool) workerScratch(worker, n int) []float32 {
	if len(p.scratch[worker]) < n {
		p.scratch[worker] = convAligned(n)
	}
	return p.scratch[worker][:n]
}

// Threads reports how many threads run a kernel (1 for a nil Pool).
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.threads
}

// Close stops the workers. It is idempotent; kernels given a closed Pool run
// single-threaded.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return
	}
	p.closed.Store(true)
	p.poolPublish(nil)
}

// poolPublish starts a new generation: workers run t (or exit when the pool
// is closed).
func (p *Pool) poolPublish(t poolTask) {
	p.task = t
	p.gen.Add(1)
	for i := range p.workers {
		w := &p.workers[i]
		if w.sleeping.CompareAndSwap(1, 0) {
			go w.start()
		}
	}
}

var poolReserveOnce sync.Once

// poolReserve has 64 goroutines per P exist at once and end, so that the
// runtime's free lists of finished goroutines hold from the start what the
// pool's parks and wake-ups use (see poolWorker): a g freed on one P is
// reused on another only once that P's list has 64 to share. Without it
// the first few dozen wake-ups in a process allocated a g each.
func poolReserve() {
	n := 64 * goruntime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	wg.Add(n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			wg.Done()
		}()
	}
	close(start)
	wg.Wait()
}

// poolWorker runs worker id's tasks until it has been idle for poolSpin, then
// parks: it ends its goroutine, and poolPublish starts a new one for it.
//
// Parking on a channel, as the pool did, allocates: a goroutine blocked on a
// channel takes a sudog from its P's cache and, once woken, returns it to the
// cache of the P it then runs on. The pool's goroutines park on one P and
// wake on the other, so the sudogs drift from one cache to the other, and
// every garbage collection drops the shared cache that evens the drift out:
// a trainer whose Steps allocated nothing still allocated sudogs after each
// GC (16-21 per Step in its benchmark, which collects before it times).
// Other ways to park without a sudog woke too slowly: a pipe read through
// the network poller is not seen while the P are busy (a wake-up took up to
// poolSpin), a thread asleep in a futex call keeps its P until the
// scheduler's monitor takes it back (100-600 µs), timers fire on a
// millisecond grid. A finished goroutine's g goes to a free list that GC
// keeps, so starting one allocates nothing once the lists hold enough g
// (a one-time cost per process), and it wakes an idle P as a channel send
// does (BenchmarkPoolWake: a few µs either way).
//
// poolAwait still parks the caller on a channel, and so may allocate a sudog
// now and then after a GC; it parks only when a worker runs 100 µs late,
// which on a quiet machine is rare. (A futex there resumed the caller
// sooner at the median, 1-2 µs against 10, but 500 µs late one time in ten.)
func (p *Pool) poolWorker(id int) {
	w := &p.workers[id-1]
	seen := w.seen
	for {
		g := p.gen.Load()
		if g == seen {
			g = p.poolSpinWait(seen)
		}
		if g == seen {
			// Park. The publisher starts a new goroutine for us only
			// if it flips sleeping back to 0; if we flip it ourselves,
			// we carry on. Once sleeping is 1, this goroutine touches
			// w again only after winning that flip.
			w.seen = seen
			w.sleeping.Store(1)
			if p.gen.Load() == seen || !w.sleeping.CompareAndSwap(1, 0) {
				return
			}
			g = p.gen.Load()
		}
		seen = g
		if p.closed.Load() {
			return
		}
		p.task.poolWork(id)
		p.pending.Add(-1)
	}
}

// poolSpinWait polls gen for up to poolSpin and returns its last value.
func (p *Pool) poolSpinWait(seen uint64) uint64 {
	var start time.Time
	for i := 1; ; i++ {
		if g := p.gen.Load(); g != seen {
			return g
		}
		if i%256 == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > poolSpin {
				return seen
			}
			goruntime.Gosched()
		}
	}
}

// poolRun runs t on every thread of p and returns when all are done.
func (p *Pool) poolRun(t poolTask) {
	if p == nil || p.threads <= 1 {
		t.poolWork(0)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		t.poolWork(0)
		return
	}
	p.pending.Store(int64(len(p.workers)))
	p.poolPublish(t)
	t.poolWork(0)
	p.poolAwait()
	p.task = nil
}

// poolAwait returns when every worker has finished the current task:
// it polls for up to poolCallerSpin, then sleeps in short naps until the
// last worker is done. It does not park on a channel or a lock: a blocked
// goroutine holds a sudog, and when it parks on one P and wakes on the
// other the per-P sudog caches drift apart until one allocates (seen as
// one allocation per training Step at 2 threads on a loaded machine).
// time.Sleep reuses the goroutine's own timer. A worker this late has
// been descheduled by the OS, so a nap's latency costs nothing extra.
func (p *Pool) poolAwait() {
	var start time.Time
	for i := 1; p.pending.Load() != 0; i++ {
		if i%256 != 0 {
			continue
		}
		// A woken worker goroutine may be queued on this P: let it run.
		goruntime.Gosched()
		if start.IsZero() {
			start = time.Now()
			continue
		}
		if time.Since(start) < poolCallerSpin {
			continue
		}
		for p.pending.Load() != 0 {
			time.Sleep(poolCallerNap)
		}
		return
	}
}
