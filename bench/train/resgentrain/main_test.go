package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
)

// TestRun: one small row prints one JSON line with the fields
// bench/train/README.md requires, and nothing else on stdout.
func TestRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"-model", "cifar-resnet20", "-input", "1x28x28", "-threads", "2", "-rounds", "3", "-batch", "2", "-steps", "1", "-warmup", "1"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "{") {
		t.Fatalf("stdout = %q, want one JSON line", stdout.String())
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"impl": "resgen", "model": "cifar-resnet20", "input": "1x28x28", "threads": 2.0, "batch": 2.0, "steps": 1.0}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %v, want %v", k, r[k], v)
		}
	}
	ms, _ := r["ms_per_image"].(float64)
	rounds, _ := r["rounds"].([]any)
	if len(rounds) != 3 || !(ms > 0) || math.IsInf(ms, 0) {
		t.Fatalf("ms_per_image %v, rounds %v", r["ms_per_image"], r["rounds"])
	}
	if ms != rounds[1] && ms != rounds[0] && ms != rounds[2] {
		t.Errorf("ms_per_image %v is none of the rounds %v", ms, rounds)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-model", "cifar-resnet20", "-input", "3x33x33"},
		{"-rounds", "0"},
		{"-threads", "-1"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 || stdout.Len() != 0 || stderr.Len() == 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

// TestRowsMatchTorchBench: every row's model and input is one of
// torch_bench.py's, so the two sides' lines pair up in report.py.
func TestRowsMatchTorchBench(t *testing.T) {
	src, err := os.ReadFile("../torch_bench.py")
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if code := run([]string{"-list"}, &stdout, os.Stderr); code != 0 {
		t.Fatal("-list failed")
	}
	if n := strings.Count(stdout.String(), "\n"); n != 10 {
		t.Errorf("-list printed %d rows, want 10", n)
	}
	for _, n := range nets {
		for _, s := range []string{n.model, n.input} {
			if !bytes.Contains(src, []byte(`"`+s+`"`)) {
				t.Errorf("torch_bench.py does not name %q", s)
			}
		}
	}
}

// TestStepAllocs: after a first Step, Step and Eval allocate nothing at 1
// and 2 threads, on every row's trainer. Mallocs are counted exactly (not
// rounded down per call as testing.AllocsPerRun does), in up to eight
// rounds of two Steps and Evals, one of which must allocate nothing: when
// a worker runs late (a loaded machine), the pool's caller parks on a
// channel, which allocates a sudog now and then (see runtime/pool.go). An
// allocation of Step or Eval itself would show in every round. (Three
// rounds were too few under CI's load once: 1, 1 and 6 mallocs.)
func TestStepAllocs(t *testing.T) {
	for _, n := range nets {
		for _, threads := range threadCounts {
			tr, err := n.new(threads)
			if err != nil {
				t.Fatal(err)
			}
			src, labels := batchOf(n.inputLen, 2)
			out := make([]float32, 2*classes)
			if _, err := tr.Step(src, labels); err != nil {
				t.Fatal(err)
			}
			if err := tr.Eval(out, src); err != nil {
				t.Fatal(err)
			}
			var allocs []uint64
			for range 8 {
				var before, after goruntime.MemStats
				goruntime.ReadMemStats(&before)
				for range 2 {
					tr.Step(src, labels)
					tr.Eval(out, src)
				}
				goruntime.ReadMemStats(&after)
				m := after.Mallocs - before.Mallocs
				allocs = append(allocs, m)
				if m == 0 {
					break
				}
			}
			tr.Close()
			if allocs[len(allocs)-1] != 0 {
				t.Errorf("%s %s threads=%d: rounds of 2 Steps and Evals allocated %v times", n.model, n.input, threads, allocs)
			}
		}
	}
}

// BenchmarkStep times one training step at batch 128 on every row; allocs/op
// must be 0.
func BenchmarkStep(b *testing.B) {
	for _, n := range nets {
		for _, threads := range threadCounts {
			b.Run(fmt.Sprintf("%s/%s/threads=%d", n.model, n.input, threads), func(b *testing.B) {
				tr, err := n.new(threads)
				if err != nil {
					b.Fatal(err)
				}
				defer tr.Close()
				src, labels := batchOf(n.inputLen, 128)
				tr.Step(src, labels)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := tr.Step(src, labels); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(128*b.N), "ms/image")
			})
		}
	}
}
