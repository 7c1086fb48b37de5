package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fmaKernel is one register-only FMA loop: run(n) performs n iterations of
// Accs independent FMAs on Lanes float32 lanes each, acc += 1·1 from zero,
// and returns every lane of every accumulator (each must equal n).
type fmaKernel struct {
	ISA   string `json:"isa"`
	Instr string `json:"instruction"`
	Lanes int    `json:"lanes"`
	Accs  int    `json:"accumulators"`
	run   func(n uint64) []float32
}

// flops is the floating-point work of n iterations: an FMA is 2 flops per lane.
func (k fmaKernel) flops(n uint64) float64 {
	return 2 * float64(k.Lanes) * float64(k.Accs) * float64(n)
}

// goOne is a variable, not a constant, so the compiler cannot fold the loop.
var goOne float32 = 1

// goKernel is the pure-Go fallback: 8 scalar chains of acc = acc*1 + 1 (the
// same count as acc += 1·1, with nothing loop-invariant to hoist), which the
// compiler fuses into FMA instructions where the architecture has them
// (arm64, ppc64le, s390x, riscv64); on amd64 (purego) they stay mul+add.
var goKernel = fmaKernel{ISA: "go", Instr: "scalar float32 acc = acc*x + y", Lanes: 1, Accs: 8, run: goFMALoop}

func goFMALoop(n uint64) []float32 {
	x := goOne
	var a0, a1, a2, a3, a4, a5, a6, a7 float32
	for i := uint64(0); i < n; i++ {
		a0 = a0*x + x
		a1 = a1*x + x
		a2 = a2*x + x
		a3 = a3*x + x
		a4 = a4*x + x
		a5 = a5*x + x
		a6 = a6*x + x
		a7 = a7*x + x
	}
	return []float32{a0, a1, a2, a3, a4, a5, a6, a7}
}

// peakResult is what `resgenbench peak` prints: the best single-thread
// GFLOP/s of the widest loop, every repeat, and the same loop on several
// threads at once (to show whether the logical CPUs are separate cores).
type peakResult struct {
	fmaKernel
	GFLOPS    float64       `json:"gflops"` // best repeat, one thread
	Repeats   []float64     `json:"repeats_gflops"`
	Seconds   float64       `json:"seconds_per_repeat"`
	Iters     uint64        `json:"iterations_per_repeat"`
	Threads   []threadsPeak `json:"threads,omitempty"`
	GOARCH    string        `json:"goarch"`
	Available []string      `json:"available"` // every loop this build and CPU can run
}

type threadsPeak struct {
	Threads int     `json:"threads"`
	GFLOPS  float64 `json:"gflops"` // all threads together, best repeat
}

// calibrate returns an iteration count that takes about seconds on one thread.
func calibrate(k fmaKernel, seconds float64) uint64 {
	n := uint64(1 << 14)
	for {
		t := time.Now()
		k.run(n)
		el := time.Since(t).Seconds()
		if el > 0.02 || n > 1<<40 {
			return max(1, uint64(float64(n)*seconds/el))
		}
		n *= 4
	}
}

// timeThreads runs n iterations on each of threads locked OS threads, started
// together, and returns the GFLOP/s of all of them over the wall time.
func timeThreads(k fmaKernel, threads int, n uint64) float64 {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(threads)
	done.Add(threads)
	for range threads {
		go func() {
			goruntime.LockOSThread()
			defer goruntime.UnlockOSThread()
			ready.Done()
			<-start
			k.run(n)
			done.Done()
		}()
	}
	ready.Wait()
	t := time.Now()
	close(start)
	done.Wait()
	return float64(threads) * k.flops(n) / time.Since(t).Seconds() / 1e9
}

// measurePeak times k on one thread for about seconds, repeats times, and
// then on each of threads (values above 1) at once.
func measurePeak(k fmaKernel, seconds float64, repeats int, threads []int) peakResult {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	n := calibrate(k, seconds)
	r := peakResult{fmaKernel: k, Seconds: seconds, Iters: n, GOARCH: goruntime.GOARCH}
	for range repeats {
		t := time.Now()
		k.run(n)
		g := k.flops(n) / time.Since(t).Seconds() / 1e9
		r.Repeats = append(r.Repeats, g)
		r.GFLOPS = max(r.GFLOPS, g)
	}
	for _, th := range threads {
		if th <= 1 {
			continue
		}
		best := 0.0
		for range max(1, repeats/2) {
			best = max(best, timeThreads(k, th, n))
		}
		r.Threads = append(r.Threads, threadsPeak{Threads: th, GFLOPS: best})
	}
	return r
}

// runPeak is `resgenbench peak`: one JSON object with the measured FMA peak.
func runPeak(args []string) error {
	fs := flag.NewFlagSet("resgenbench peak", flag.ContinueOnError)
	seconds := fs.Float64("seconds", 0.5, "length of one repeat")
	repeats := fs.Int("repeats", 5, "repeats on one thread (the best counts)")
	threadList := fs.String("threads", "2", "also run the loop on this many threads at once (comma-separated; empty: none)")
	isa := fs.String("isa", "", "loop to time (default: the widest this CPU runs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ks := fmaKernels()
	var names []string
	for _, k := range ks {
		names = append(names, k.ISA)
	}
	k := ks[0]
	if *isa != "" {
		i := indexOf(names, *isa)
		if i < 0 {
			return fmt.Errorf("-isa %q: this CPU and build run %s", *isa, strings.Join(names, ", "))
		}
		k = ks[i]
	}
	var threads []int
	for _, s := range strings.Split(*threadList, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		t, err := strconv.Atoi(s)
		if err != nil || t < 1 {
			return fmt.Errorf("-threads: bad count %q", s)
		}
		threads = append(threads, t)
	}
	r := measurePeak(k, *seconds, max(1, *repeats), threads)
	r.Available = names
	return json.NewEncoder(os.Stdout).Encode(r)
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}
