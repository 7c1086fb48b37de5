package trainparity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/resgen/resgen/internal/train64"
	"github.com/resgen/resgen/runtime"
)

// The float64 build of every fixture case (gen64/, codegen.TrainOptions
// {Float64: true}) is the same generated program as gen/ in float64, on the
// scalar references. PyTorch's float64 run of the same steps (the fixture's
// deltas64.safetensors) rounds at 1e-16, and no ReLU input of these
// forwards is anywhere near that close to 0, so whatever the two disagree
// on beyond rounding is the generated code's semantics: wiring, a backward
// rule, BatchNorm's statistics, SGD's order.

// tight64 is the bound the float64 comparison must also meet, far inside
// the criterion: every change within tight64·max|change| +
// tight64Abs of PyTorch's, every loss within tight64 relative. Measured
// (the float64 table of docs/train-parity.md): at most 2.3e-12 of
// max|change| (cifar-preact-resnet110 after step 3) and 1.6e-12 for a loss
// (resnet18's third, 0.038), so 1e-9 leaves a factor 400 for another
// summation order or FMA. Semantic slips as small as one constant rounded
// to float32 fail it while they pass the 1e-3 (cifar-resnet20: SGD
// momentum 0.9 as float32, 6.4e-7 after step 3 and 1.3e-8 on loss 3;
// BatchNorm momentum 0.1 as float32, 1.2e-7 on a running variance); BN's
// eps as float32 moves changes by only 3e-11 to 7e-11 and passes.
const (
	tight64    = 1e-9
	tight64Abs = 1e-15
)

// sample64 is how many changes per tensor deltas64.safetensors stores at
// most (SAMPLE64 in reference/train.py), at indices i·numel/sample64.
const sample64 = 64

type trainer64 interface {
	Step(src []float64, labels []int32) (float64, error)
	Save(w io.Writer) error
	Close()
}

type compiled64 struct {
	new                func(weights []byte, lr, momentum, weightDecay float64) (trainer64, error)
	inputLen, labelLen int
}

// run64 is the float64 build's run of a case: the losses of every step and
// the state after each step (F64 safetensors), computed once per test
// binary for the tests that need it.
type run64 struct {
	once   sync.Once
	losses []float64
	states map[int]*runtime.Safetensors
	err    error
}

var runs64 sync.Map // case name → *run64

// fixture is what a case's test reads: case.json, the batch and the
// initial weights.
type fixture struct {
	cf      caseFile
	input   []float32
	labels  []int32
	weights []byte
	initial *runtime.Safetensors
}

func readFixture(t *testing.T, name string, inputLen, labelLen int) *fixture {
	t.Helper()
	dir := fixtureDir(name)
	fx := &fixture{}
	b, err := os.ReadFile(filepath.Join(dir, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fx.cf); err != nil {
		t.Fatal(err)
	}
	data := readST(t, filepath.Join(dir, "data.safetensors"))
	fx.input, fx.labels = f32(t, data, "input"), labelsOf(t, data)
	if len(fx.input) != fx.cf.Batch*inputLen || len(fx.labels) != fx.cf.Batch*labelLen {
		t.Fatalf("fixture holds %d inputs and %d labels; the package wants %d×%d and %d×%d", len(fx.input), len(fx.labels), fx.cf.Batch, inputLen, fx.cf.Batch, labelLen)
	}
	fx.weights = seededWeights(t, filepath.Join("gen", name, "spec.yaml"), fx.cf.Seed, fx.cf.Init)
	fx.initial = readSTBytes(t, fx.weights)
	return fx
}

// float64Run runs (once) the float64 build of case name on its fixture for
// cf.Steps steps.
func float64Run(t *testing.T, name string, fx *fixture) *run64 {
	t.Helper()
	c, ok := generated64[name]
	if !ok {
		t.Fatalf("no float64 package for fixture %s: run go generate ./internal/trainparity", name)
	}
	v, _ := runs64.LoadOrStore(name, &run64{})
	r := v.(*run64)
	r.once.Do(func() {
		r.states = map[int]*runtime.Safetensors{}
		tr, err := c.new(fx.weights, fx.cf.LR, fx.cf.Momentum, fx.cf.WeightDecay)
		if err != nil {
			r.err = err
			return
		}
		defer tr.Close()
		input := make([]float64, len(fx.input))
		for i, v := range fx.input {
			input[i] = float64(v) // as PyTorch's x.double()
		}
		for step := 1; step <= fx.cf.Steps; step++ {
			loss, err := tr.Step(input, fx.labels)
			if err != nil {
				r.err = fmt.Errorf("step %d: %w", step, err)
				return
			}
			r.losses = append(r.losses, loss)
			var buf bytes.Buffer
			if err := tr.Save(&buf); err != nil {
				r.err = err
				return
			}
			if r.states[step], err = runtime.ReadSafetensors(buf.Bytes()); err != nil {
				r.err = fmt.Errorf("step %d: reading Save's output: %w", step, err)
				return
			}
		}
	})
	if r.err != nil {
		t.Fatalf("float64 build: %v", r.err)
	}
	return r
}

// f64Of reads a float tensor of any floating dtype as float64 (F32 widened).
func f64Of(t *testing.T, st *runtime.Safetensors, name string) []float64 {
	t.Helper()
	shape, ok := st.Shape(name)
	if !ok {
		t.Fatalf("no tensor %q", name)
	}
	w := train64.NewWeights(st)
	v := w.Tensor(name, shape...)
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

// change is after − initial of a float tensor.
func change(t *testing.T, initial, after *runtime.Safetensors, key string) []float64 {
	t.Helper()
	w0, w1 := f64Of(t, initial, key), f64Of(t, after, key)
	if len(w0) != len(w1) {
		t.Fatalf("%s: %d values after the step, %d before", key, len(w1), len(w0))
	}
	d := make([]float64, len(w0))
	for i := range d {
		d[i] = w1[i] - w0[i]
	}
	return d
}

type result64 struct {
	name             string
	changeErr        map[int]float64 // by step: max |got−want| / max|change|, over stored values and the norms
	worstKey         map[int]string
	lossErr          float64
	losses           []float64
	tensors, checked int
}

var results64 []result64

func TestTrainParity64(t *testing.T) {
	names := fixtureNames(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runCase64(t, name)
		})
	}
}

func fixtureNames(t *testing.T) []string {
	dirs, err := os.ReadDir(*fixtures)
	if os.IsNotExist(err) {
		t.Skip("no fixtures in testdata/train (reference/train.py writes them)")
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		if d.IsDir() {
			names = append(names, d.Name())
		}
	}
	return names
}

func runCase64(t *testing.T, name string) {
	c, ok := generated64[name]
	if !ok {
		t.Fatalf("no float64 package for fixture %s: run go generate ./internal/trainparity", name)
	}
	fx := readFixture(t, name, c.inputLen, c.labelLen)
	deltas := readST(t, filepath.Join(fixtureDir(name), "deltas64.safetensors"))
	want := f64Of(t, deltas, "losses")
	run := float64Run(t, name, fx)
	if len(want) != len(run.losses) {
		t.Fatalf("fixture has %d losses, the run %d steps", len(want), len(run.losses))
	}
	res := result64{name: name, changeErr: map[int]float64{}, worstKey: map[int]string{}, losses: run.losses}
	for i, l := range run.losses {
		e := math.Abs(l-want[i]) / math.Abs(want[i])
		res.lossErr = max(res.lossErr, e)
		if !(e <= lossTol) || !(e <= tight64) {
			t.Errorf("step %d: loss %.17g, PyTorch float64 %.17g (rel error %.2g > %g)", i+1, l, want[i], e, min(lossTol, tight64))
		}
	}
	for step := 1; step <= fx.cf.Steps; step++ {
		if _, ok := deltas.Shape(fmt.Sprintf("step%d/%s", step, firstKey(fx.initial))); ok {
			compare64(t, &res, step, fx.initial, run.states[step], deltas)
		}
	}
	t.Logf("losses %v; max change error after step 1 %.3g of max|change| (%s), after step 3 %.3g (%s); max loss error %.2g; %d tensors, %d values",
		res.losses, res.changeErr[1], res.worstKey[1], res.changeErr[3], res.worstKey[3], res.lossErr, res.tensors, res.checked)
	resultsMu.Lock()
	results64 = append(results64, res)
	resultsMu.Unlock()
}

// compare64 checks every stored change of the float64 fixture, and each
// tensor's max |change| and L2 norm of the change, against the run's state
// after step: within the criterion and within tight64.
func compare64(t *testing.T, res *result64, step int, initial, after, deltas *runtime.Safetensors) {
	t.Helper()
	for _, key := range initial.Names() {
		name := fmt.Sprintf("step%d/%s", step, key)
		if dt, _ := initial.DType(key); dt == "I64" {
			got := i64(t, after, key)[0] - i64(t, initial, key)[0]
			if want := i64(t, deltas, name)[0]; got != want {
				t.Errorf("step %d: %s changed by %d, PyTorch by %d", step, key, got, want)
			}
			continue
		}
		d := change(t, initial, after, key)
		want := f64Of(t, deltas, name)
		norms := f64Of(t, deltas, name+":norms")
		maxabs := norms[0]
		var gotMax, gotL2 float64
		for _, v := range d {
			gotMax, gotL2 = max(gotMax, math.Abs(v)), gotL2+v*v
		}
		gotL2 = math.Sqrt(gotL2)
		n, k := len(d), len(want)
		if k != min(n, sample64) {
			t.Errorf("step %d: %s: fixture stores %d changes of %d values, want %d", step, key, k, n, min(n, sample64))
			continue
		}
		res.tensors++
		worst, at := 0.0, -1
		for i, wv := range want {
			j := i
			if n > k {
				j = int(int64(i) * int64(n) / int64(k))
			}
			e := math.Abs(d[j] - wv)
			if math.IsNaN(e) {
				e = math.Inf(1)
			}
			if e > worst || at < 0 {
				worst, at = e, j
			}
			res.checked++
		}
		// The norms see every value, sampled or not.
		worst = max(worst, math.Abs(gotMax-maxabs), math.Abs(gotL2-norms[1]))
		if maxabs > 0 && worst/maxabs > res.changeErr[step] {
			res.changeErr[step], res.worstKey[step] = worst/maxabs, key
		}
		if !(worst <= changeTol*maxabs+changeAbs) || !(worst <= tight64*maxabs+tight64Abs) {
			t.Errorf("step %d: %s: change error %.3g (worst at [%d]: %.17g; max|change| %.17g vs PyTorch %.17g, L2 %.17g vs %.17g): allowed %.3g",
				step, key, worst, at, d[at], gotMax, maxabs, gotL2, norms[1], min(changeTol*maxabs+changeAbs, tight64*maxabs+tight64Abs))
		}
	}
}

// float32vs64 is TestTrainParityFloat32vs64's measured max change error of
// each case, relative to max|change|, and its tensor, for the table.
var float32vs64 = map[string]struct {
	rel float64
	key string
}{}

// TestTrainParityFloat32vs64 checks that the float32 build (runtime's SIMD
// kernels) and the float64 build (the references) of each case agree after
// one step to the case's float32 tolerance, over every value: they are one
// generated program in two precisions, so this catches a float32 kernel
// that a check of the generator's semantics in float64 cannot.
func TestTrainParityFloat32vs64(t *testing.T) {
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, ok := generated[name]
			if !ok {
				t.Fatalf("no generated package for fixture %s", name)
			}
			fx := readFixture(t, name, c.inputLen, c.labelLen)
			coef, lossTols := fx.cf.tolerances(t)
			run := float64Run(t, name, fx)
			tr, err := c.new(fx.weights, 1, fx.cf.LR, fx.cf.Momentum, fx.cf.WeightDecay)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			loss, err := tr.Step(fx.input, fx.labels)
			if err != nil {
				t.Fatal(err)
			}
			if e := math.Abs(loss-run.losses[0]) / math.Abs(run.losses[0]); !(e <= lossTols[0]) {
				t.Errorf("loss %.9g, float64 build %.17g (rel error %.2g > %g)", loss, run.losses[0], e, lossTols[0])
			}
			var buf bytes.Buffer
			if err := tr.Save(&buf); err != nil {
				t.Fatal(err)
			}
			after := readSTBytes(t, buf.Bytes())
			worstRel, worstKey, values := 0.0, "", 0
			for _, key := range fx.initial.Names() {
				if dt, _ := fx.initial.DType(key); dt == "I64" {
					continue
				}
				got, want := change(t, fx.initial, after, key), change(t, fx.initial, run.states[1], key)
				var maxabs, worst float64
				at := 0
				for i, w := range want {
					maxabs = max(maxabs, math.Abs(w))
					if e := math.Abs(got[i] - w); e > worst || math.IsNaN(e) {
						worst, at = e, i
					}
				}
				values += len(want)
				if maxabs > 0 && worst/maxabs > worstRel {
					worstRel, worstKey = worst/maxabs, key
				}
				if !(worst <= coef[1]*maxabs+changeAbs) {
					t.Errorf("%s[%d]: float32 change %.9g, float64 %.17g (error %.3g, allowed %.3g of max|change| %.3g)", key, at, got[at], want[at], worst, coef[1], maxabs)
				}
			}
			t.Logf("float32 vs float64 after step 1: loss %.9g vs %.17g; max change error %.3g of max|change| (%s) over %d values", loss, run.losses[0], worstRel, worstKey, values)
			resultsMu.Lock()
			float32vs64[name] = struct {
				rel float64
				key string
			}{worstRel, worstKey}
			resultsMu.Unlock()
		})
	}
}

// table64 is the float64 part of docs/train-parity.md.
func table64() string {
	sort.Slice(results64, func(i, j int) bool { return results64[i].name < results64[j].name })
	var b strings.Builder
	b.WriteString("| case | tensors | values | change error, step 1 | worst tensor | change error, step 3 | worst tensor | max loss error | losses | float32 build vs float64, step 1 | worst tensor |\n|---|---:|---:|---:|---|---:|---|---:|---|---:|---|\n")
	for _, r := range results64 {
		ls := make([]string, len(r.losses))
		for i, l := range r.losses {
			ls[i] = fmt.Sprintf("%.5f", l)
		}
		f := float32vs64[r.name]
		fmt.Fprintf(&b, "| %s | %d | %d | %.1e | %s | %.1e | %s | %.1e | %s | %.1e | %s |\n", r.name, r.tensors, r.checked,
			r.changeErr[1], r.worstKey[1], r.changeErr[3], r.worstKey[3], r.lossErr, strings.Join(ls, ", "), f.rel, f.key)
	}
	return b.String()
}

// float64Section introduces the float64 table of docs/train-parity.md.
const float64Section = `
## The float64 build

The same generated trainers, emitted in float64 (codegen.TrainOptions{Float64:
true}, internal/trainparity/gen64: every buffer float64, the kernels the
scalar references of internal/trainref), against PyTorch computing the same
steps in float64 (model.double() and input.double() from the same float32
weights and batch; testdata/train/*/deltas64.safetensors: up to 64 sampled
changes per tensor, and its max|change| and the L2 norm of its change, which
every value enters). The change error is relative to the tensor's
max|change| after the step; the test fails above the issue's criterion
(1e-3·max|change| + 1e-6, losses 1e-5 relative) and above a bound a million
times tighter (1e-9·max|change| + 1e-15, losses 1e-9). The last column is
TestTrainParityFloat32vs64: the float32 build (the trainer above, runtime's
SIMD kernels) against the float64 build after step 1, over every value of
every tensor; it must stay within the case's float32 tolerance·max|change|
plus 1e-6, so a tensor whose whole change is small (a BatchNorm weight of
the U-Net's 2×2 bottleneck) may show more than the coefficient.

Why both. The float32 table is the trainer people run, against PyTorch's
float32; after a few steps it can only be as close as two correct float32
implementations are to each other, and with a million ReLU inputs per
forward some input always lies within rounding of 0 and flips (see the
tolerances). In float64 the rounding is 1e-16 and no input is that close, so
the same generator's output agrees with PyTorch to about 1e-12 of
max|change| after step 3 as well as step 1, on every case: the graph wiring,
every backward rule, BatchNorm's batch and running statistics, SGD's
momentum and weight-decay order, option-A shortcuts, concat, transposed
convolution and max-pool routing are PyTorch's, not merely close. Rounding a
single constant to float32 (SGD's momentum, BatchNorm's momentum) fails the
tight bound while it passes the issue's 1e-3. The float32-vs-float64 column
closes the loop: the two builds are one program in two precisions, so a
float32 kernel bug that the float64 check cannot see shows there.

`
