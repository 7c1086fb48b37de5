package runtime

import (
	goruntime "runtime"
	"sync"
)

// Pool is a fixed set of persistent worker goroutines that kernels split
// their work over. A nil *Pool is valid everywhere and means "run on the
// calling goroutine only".
//
// Kernels hand the pool a poolTask (a pointer to a struct that holds the
// call's arguments), so running a task sends one pointer per worker and
// allocates nothing.
type Pool struct {
	threads int
	mu      sync.Mutex // serializes run: the workers serve one task at a time
	work    []chan poolTask
	wg      sync.WaitGroup
	once    sync.Once
	closed  bool // guarded by mu
}

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
	p := &Pool{threads: threads, work: make([]chan poolTask, threads-1)}
	for i := range p.work {
		ch := make(chan poolTask, 1)
		p.work[i] = ch
		go p.poolWorker(i+1, ch)
	}
	return p
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
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		for _, ch := range p.work {
			close(ch)
		}
		p.mu.Unlock()
	})
}

func (p *Pool) poolWorker(id int, ch chan poolTask) {
	for t := range ch {
		t.poolWork(id)
		p.wg.Done()
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
	if p.closed {
		t.poolWork(0)
		return
	}
	p.wg.Add(len(p.work))
	for _, ch := range p.work {
		ch <- t
	}
	t.poolWork(0)
	p.wg.Wait()
}
