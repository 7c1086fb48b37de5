package runtime

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// poolCountTask records which workers ran it.
type poolCountTask struct {
	calls atomic.Int64
	seen  [8]atomic.Int64
}

func (t *poolCountTask) poolWork(w int) {
	t.calls.Add(1)
	t.seen[w].Add(1)
}

func TestPool(t *testing.T) {
	var nilPool *Pool
	if nilPool.Threads() != 1 {
		t.Errorf("nil pool: Threads() = %d, want 1", nilPool.Threads())
	}
	nilPool.Close()
	var task poolCountTask
	nilPool.poolRun(&task)
	if task.calls.Load() != 1 {
		t.Errorf("nil pool ran the task %d times, want 1", task.calls.Load())
	}

	if n := NewPool(0).Threads(); n < 1 {
		t.Errorf("NewPool(0).Threads() = %d", n)
	}
	p := NewPool(3)
	if p.Threads() != 3 {
		t.Fatalf("Threads() = %d, want 3", p.Threads())
	}
	for i := range 200 {
		var task poolCountTask
		p.poolRun(&task)
		if task.calls.Load() != 3 {
			t.Fatalf("run %d: %d calls, want 3", i, task.calls.Load())
		}
		for w := range 3 {
			if task.seen[w].Load() != 1 {
				t.Fatalf("run %d: worker %d ran %d times", i, w, task.seen[w].Load())
			}
		}
		if i%50 == 0 {
			time.Sleep(2 * poolSpin) // let the workers park
		}
	}

	// Concurrent callers are serialized.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				var task poolCountTask
				p.poolRun(&task)
				if task.calls.Load() != 3 {
					t.Errorf("concurrent run: %d calls, want 3", task.calls.Load())
				}
			}
		}()
	}
	wg.Wait()

	p.Close()
	p.Close()
	task = poolCountTask{}
	p.poolRun(&task)
	if task.calls.Load() != 1 || task.seen[0].Load() != 1 {
		t.Errorf("closed pool: %d calls, want 1 on the caller", task.calls.Load())
	}
}

// poolSlowTask keeps the workers (not the caller) busy long enough that
// poolRun stops spinning and naps.
type poolSlowTask struct{ calls atomic.Int64 }

func (t *poolSlowTask) poolWork(w int) {
	if w != 0 {
		// Busy, not asleep: a sleeping worker's fresh goroutine would
		// allocate its timer and hide what the caller allocates.
		for start := time.Now(); time.Since(start) < time.Duration(w)*10*poolCallerSpin; {
		}
	}
	t.calls.Add(1)
}

// TestPoolCallerNaps: a caller that waits past poolCallerSpin returns only
// after every worker is done, and its wait allocates nothing, even right
// after a garbage collection (parking on a channel allocated a sudog now
// and then). One round of five without allocations passes: the first
// nap of a goroutine allocates its timer, and in a fresh process the
// workers' goroutines may allocate a g or two (see TestPoolParkAllocs).
func TestPoolCallerNaps(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	var task poolSlowTask // one task: a new one per run would escape to the heap
	var allocs []uint64
	for round := range 5 {
		goruntime.GC()
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		for i := range 30 {
			task.calls.Store(0)
			p.poolRun(&task)
			if n := task.calls.Load(); n != 3 {
				t.Fatalf("round %d run %d: poolRun returned after %d of 3 calls", round, i, n)
			}
		}
		goruntime.ReadMemStats(&after)
		n := after.Mallocs - before.Mallocs
		if n == 0 {
			return
		}
		allocs = append(allocs, n)
	}
	t.Errorf("30 slow runs after a GC: %v allocations in five rounds, want 0 in one", allocs)
}

// TestPoolParkAllocs: a worker that parks and is woken again allocates
// nothing, even right after a garbage collection (see poolWorker). Each
// round collects garbage, then parks the worker 100 times. The first rounds
// may allocate for good (the g free lists fill up to what the pool's
// goroutines need, the P's timer heaps grow), so one round of five without
// allocations passes. Parking on a channel failed every round in a fresh
// process.
func TestPoolParkAllocs(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	var task poolCountTask
	var allocs []uint64
	for range 5 {
		goruntime.GC()
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		for range 100 {
			p.poolRun(&task)
			// The worker parks. This goroutine parks too, as a
			// trainer's does between layers: a busy wait here would
			// keep it on one P and the worker on the other, and
			// channels would not drift either.
			time.Sleep(2 * poolSpin)
		}
		goruntime.ReadMemStats(&after)
		n := after.Mallocs - before.Mallocs
		if n == 0 {
			return
		}
		allocs = append(allocs, n)
	}
	t.Errorf("100 runs with a park after each, after a GC: %v allocations in five rounds, want 0 in one", allocs)
}

// BenchmarkPoolWake times a poolRun that has to wake a parked worker.
func BenchmarkPoolWake(b *testing.B) {
	p := NewPool(2)
	defer p.Close()
	var task poolCountTask
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		time.Sleep(2 * poolSpin)
		b.StartTimer()
		p.poolRun(&task)
	}
}
