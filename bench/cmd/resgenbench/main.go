// Command resgenbench times Forward of a resgen-generated model, for the
// side-by-side harness (bench/harness.mjs). It is pure Go (no cgo).
//
//	resgenbench -model resnet18 -threads 1 [-weights W.safetensors | -seed N] [-io IO.safetensors | -batch N] -iters 20
//	resgenbench -model resnet18 -threads 1 ... -serve
//	resgenbench -model resnet18 -threads 1 -layers
//	resgenbench peak [-seconds 0.5] [-repeats 5] [-threads 2] [-isa avx512|avx2|go]
//
// On start it loads the model, runs the input once and prints one JSON line
// (the "ready" record: load time, output, and max|resgen − reference| when
// -io holds the reference output). The input is -io's "input" (what
// `reference.py onnx --save-io` writes, the same one ORT gets), else the
// seeded input for -seed (-batch items). The batch is the input's first
// dimension: one Forward call runs all its items. Then either:
//
//   - with -iters N: it runs -warmup untimed and N timed iterations, one
//     {"ms": …} line each, and exits;
//   - with -serve: it reads commands from stdin, "run N" (N timed iterations,
//     one {"ms": …} line each, then {"done": N}) or "quit"; the harness
//     alternates these with ONNX Runtime's iterations. Between commands the
//     model's pool workers park (after spinning for at most 500 µs), so an
//     idle resgenbench takes no CPU from the other side.
//
// -layers times each convolution's kernel alone (layers.go); `peak` measures
// the FMA ceiling of one core with a register-only assembly loop (peak.go).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/resgen/resgen"
	"github.com/resgen/resgen/internal/seeded"
	"github.com/resgen/resgen/runtime"
	"github.com/resgen/resgen/spec"
)

type model interface {
	Forward(dst, src []float32) error
	Close()
}

// compiled is one entry of the registry in models.go.
type compiled struct {
	new                 func(weights []byte, threads int) (model, error)
	inputLen, outputLen int
	macs                int64 // per item
	// preset and opts give the spec the package was built from, for -layers
	// and the seeded defaults; preset "" means the model's name, default options.
	preset string
	opts   spec.PresetOptions
}

// presetSpec returns the spec text the package of model name was built from.
func presetSpec(name string) ([]byte, error) {
	c, ok := models[name]
	if !ok {
		return nil, fmt.Errorf("-model %q: want one of %s", name, strings.Join(names(), ", "))
	}
	if c.preset == "" {
		return spec.Preset(name, c.opts)
	}
	return spec.Preset(c.preset, c.opts)
}

// ready is the first line resgenbench prints.
type ready struct {
	Ready      bool      `json:"ready"`
	Model      string    `json:"model"`
	Threads    int       `json:"threads"`
	Batch      int       `json:"batch"` // items per Forward; macs is per item
	GOMAXPROCS int       `json:"gomaxprocs"`
	Go         string    `json:"go"`
	Version    string    `json:"resgen"`
	MACs       int64     `json:"macs"`
	LoadMS     float64   `json:"load_ms"`
	FirstMS    float64   `json:"first_ms"`
	MaxAbsRef  *float64  `json:"max_abs_vs_reference,omitempty"` // vs -io's "output" (PyTorch)
	MaxAbsOut  float64   `json:"max_abs_output"`
	Output     []float32 `json:"output"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "peak" {
		if err := runPeak(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "resgenbench peak:", err)
			os.Exit(2)
		}
		return
	}
	name := flag.String("model", "", "preset to run (one of "+strings.Join(names(), ", ")+")")
	threads := flag.Int("threads", 1, "threads for Forward (WithThreads)")
	weightsFile := flag.String("weights", "", "safetensors weights (`resgen weights init`); default: generate seeded weights for -seed in memory")
	seed := flag.Uint64("seed", 1, "seed of the weights (without -weights) and of the input (without -io)")
	ioFile := flag.String("io", "", "safetensors with \"input\" [N,C,H,W] and optionally the reference \"output\" (N items per Forward)")
	batch := flag.Int("batch", 1, "without -io: items of the seeded input per Forward")
	iters := flag.Int("iters", 0, "run this many timed iterations and exit")
	warmup := flag.Int("warmup", 3, "untimed iterations before -iters")
	serve := flag.Bool("serve", false, "read \"run N\" / \"quit\" commands from stdin")
	layers := flag.Bool("layers", false, "time each convolution's kernel alone and exit")
	layerMS := flag.Float64("layer-ms", 200, "with -layers: time each distinct convolution for about this long")
	flag.Parse()
	if *layers {
		if err := timeLayers(*name, *threads, *layerMS); err != nil {
			fmt.Fprintln(os.Stderr, "resgenbench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*name, *threads, *weightsFile, *seed, *ioFile, *batch, *iters, *warmup, *serve); err != nil {
		fmt.Fprintln(os.Stderr, "resgenbench:", err)
		os.Exit(1)
	}
}

func names() []string {
	var ns []string
	for n := range models {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func run(name string, threads int, weightsFile string, seed uint64, ioFile string, batch, iters, warmup int, serve bool) error {
	c, ok := models[name]
	if !ok {
		return fmt.Errorf("-model %q: want one of %s", name, strings.Join(names(), ", "))
	}
	if (iters > 0) == serve {
		return fmt.Errorf("give exactly one of -iters N and -serve")
	}
	weights, err := loadWeights(name, weightsFile, seed)
	if err != nil {
		return err
	}
	if batch < 1 {
		return fmt.Errorf("-batch %d: want at least 1", batch)
	}
	input, want, err := loadInput(name, ioFile, seed, batch, c)
	if err != nil {
		return err
	}
	batch = len(input) / c.inputLen

	t0 := time.Now()
	m, err := c.new(weights, threads)
	if err != nil {
		return err
	}
	defer m.Close()
	r := ready{Ready: true, Model: name, Threads: threads, Batch: batch, GOMAXPROCS: goruntime.GOMAXPROCS(0), Go: goruntime.Version(),
		Version: resgen.Version, MACs: c.macs, LoadMS: ms(time.Since(t0))}
	out := make([]float32, batch*c.outputLen)
	t0 = time.Now()
	if err := m.Forward(out, input); err != nil {
		return err
	}
	r.FirstMS = ms(time.Since(t0))
	r.Output = out
	for _, v := range out {
		r.MaxAbsOut = math.Max(r.MaxAbsOut, math.Abs(float64(v)))
	}
	if want != nil {
		d := maxAbsDiff(out, want)
		r.MaxAbsRef = &d
	}
	w := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(w)
	if err := enc.Encode(r); err != nil {
		return err
	}
	w.Flush()

	// timed runs n iterations, printing each as it completes so a reader
	// sees progress; nothing allocates between the clock reads.
	timed := func(n int) error {
		for i := 0; i < n; i++ {
			t := time.Now()
			if err := m.Forward(out, input); err != nil {
				return err
			}
			fmt.Fprintf(w, "{\"ms\":%s}\n", strconv.FormatFloat(ms(time.Since(t)), 'f', 4, 64))
		}
		return w.Flush()
	}
	if !serve {
		for i := 0; i < warmup; i++ {
			if err := m.Forward(out, input); err != nil {
				return err
			}
		}
		return timed(iters)
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0:
		case f[0] == "quit":
			return nil
		case f[0] == "run" && len(f) == 2:
			n, err := strconv.Atoi(f[1])
			if err != nil || n < 0 {
				return fmt.Errorf("bad command %q", sc.Text())
			}
			if err := timed(n); err != nil {
				return err
			}
			fmt.Fprintf(w, "{\"done\":%d}\n", n)
			w.Flush()
		default:
			return fmt.Errorf("bad command %q (want \"run N\" or \"quit\")", sc.Text())
		}
	}
	return sc.Err()
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func loadWeights(name, file string, seed uint64) ([]byte, error) {
	if file != "" {
		return os.ReadFile(file)
	}
	text, err := presetSpec(name)
	if err != nil {
		return nil, err
	}
	g, err := resgen.Parse(name+".yaml", text)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := seeded.Write(&b, seed, resgen.WeightEntries(g)); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// loadInput returns the input (the file's, or batch seeded items) and, if the
// file has it, the reference output for it.
func loadInput(name, file string, seed uint64, batch int, c compiled) (input, want []float32, err error) {
	if file == "" {
		text, err := presetSpec(name)
		if err != nil {
			return nil, nil, err
		}
		g, err := resgen.Parse(name+".yaml", text)
		if err != nil {
			return nil, nil, err
		}
		s := g.Input.Shape
		return seeded.Tensor(seed, "input", []int{batch, s.C, s.H, s.W}, seeded.Input), nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	st, err := runtime.ReadSafetensors(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", file, err)
	}
	w := runtime.NewWeights(st)
	shape, ok := st.Shape("input")
	if !ok {
		return nil, nil, fmt.Errorf("%s: no tensor \"input\"", file)
	}
	input = w.Tensor("input", shape...)
	if shape, ok := st.Shape("output"); ok {
		want = w.Tensor("output", shape...)
	}
	if err := w.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", file, err)
	}
	n := len(input) / c.inputLen
	if n == 0 || len(input) != n*c.inputLen || want != nil && len(want) != n*c.outputLen {
		return nil, nil, fmt.Errorf("%s: input has %d values and output %d; %s wants N×%d and N×%d (N items)", file, len(input), len(want), name, c.inputLen, c.outputLen)
	}
	return input, want, nil
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		x := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(x) {
			return math.Inf(1)
		}
		d = math.Max(d, x)
	}
	return d
}
