package trainparity

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/resgen/resgen"
	"github.com/resgen/resgen/internal/seeded"
	"github.com/resgen/resgen/runtime"
)

var (
	writeTable = flag.Bool("update", false, "rewrite docs/train-parity.md from this run")
	fixtures   = flag.String("fixtures", filepath.Join("..", "..", "testdata", "train"), "fixture `directory` (reference/train.py writes testdata/train)")
)

// Tolerances of the fixture comparison (docs/training.md): every stored
// change within changeTol·max|change| + changeAbs, losses within lossTol
// relative.
const (
	changeTol = 1e-3
	changeAbs = 1e-6
	lossTol   = 1e-5
)

type trainer interface {
	Step(src []float32, labels []int32) (float64, error)
	Eval(dst, src []float32) error
	Save(w io.Writer) error
	Close()
}

type compiled struct {
	new                                    func(weights []byte, threads int, lr, momentum, weightDecay float64) (trainer, error)
	inputLen, outputLen, labelLen, classes int
}

type caseFile struct {
	Preset      string    `json:"preset"`
	Seed        uint64    `json:"seed"`
	Init        string    `json:"init"` // seeded.Init; "" is "seeded"
	Batch       int       `json:"batch"`
	LR          float64   `json:"lr"`
	Momentum    float64   `json:"momentum"`
	WeightDecay float64   `json:"weight_decay"`
	Steps       int       `json:"steps"`
	Losses      []float64 `json:"losses"`
	PerPixel    bool      `json:"per_pixel"`
	Sample      int       `json:"sample"`
	Torch       string    `json:"torch"`
	// Tolerance, when present, raises the default tolerances where
	// PyTorch's own variants drift further (reference/train.py).
	Tolerance map[string]json.RawMessage `json:"tolerance"`
}

// tolerances returns the change coefficient of each snapshot step and the
// loss tolerance of each step: the defaults, or the fixture's if larger.
func (cf *caseFile) tolerances(t *testing.T) (coef map[int]float64, loss []float64) {
	coef = map[int]float64{}
	for s := 1; s <= cf.Steps; s++ {
		coef[s] = changeTol
		if raw, ok := cf.Tolerance[fmt.Sprintf("step%d", s)]; ok {
			var v float64
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatalf("case.json tolerance step%d: %v", s, err)
			}
			coef[s] = max(coef[s], v)
		}
		loss = append(loss, lossTol)
	}
	if raw, ok := cf.Tolerance["losses"]; ok {
		var v []float64
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("case.json tolerance losses: %v", err)
		}
		for i := range min(len(v), len(loss)) {
			loss[i] = max(loss[i], v[i])
		}
	}
	return coef, loss
}

type result struct {
	name             string
	changeErr        map[int]float64 // by step: max over stored values of |got−want| / max|change| of the tensor
	worstKey         map[int]string
	lossErr          float64 // max relative loss error
	losses           []float64
	tensors, checked int
}

var (
	resultsMu sync.Mutex
	results   []result
)

func fixtureDir(name string) string { return filepath.Join(*fixtures, name) }

func TestTrainParity(t *testing.T) {
	dirs, err := os.ReadDir(*fixtures)
	if os.IsNotExist(err) {
		t.Skip("no fixtures in testdata/train (reference/train.py writes them)")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if d.IsDir() {
			name := d.Name()
			t.Run(name, func(t *testing.T) { runCase(t, name) })
		}
	}
}

// TestMain writes docs/train-parity.md with -update once every test has
// passed and both tables have their rows.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if *writeTable && code == 0 {
		if len(results) == 0 || len(results64) == 0 || len(float32vs64) == 0 {
			fmt.Fprintln(os.Stderr, "-update: docs/train-parity.md needs TestTrainParity, TestTrainParity64 and TestTrainParityFloat32vs64 (run -run TestTrainParity)")
			os.Exit(1)
		}
		if err := writeParityTable(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(code)
}

func runCase(t *testing.T, name string) {
	c, ok := generated[name]
	if !ok {
		t.Fatalf("no generated package for fixture %s: run go generate ./internal/trainparity", name)
	}
	dir := fixtureDir(name)
	var cf caseFile
	b, err := os.ReadFile(filepath.Join(dir, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		t.Fatal(err)
	}
	data := readST(t, filepath.Join(dir, "data.safetensors"))
	input := f32(t, data, "input")
	labels := labelsOf(t, data)
	if len(input) != cf.Batch*c.inputLen || len(labels) != cf.Batch*c.labelLen {
		t.Fatalf("fixture holds %d inputs and %d labels; the package wants %d×%d and %d×%d", len(input), len(labels), cf.Batch, c.inputLen, cf.Batch, c.labelLen)
	}
	deltas := readST(t, filepath.Join(dir, "deltas.safetensors"))
	coef, lossTols := cf.tolerances(t)
	if cf.Sample == 0 {
		cf.Sample = 1024
	}
	weights := seededWeights(t, filepath.Join("gen", name, "spec.yaml"), cf.Seed, cf.Init)
	initial := readSTBytes(t, weights)

	var first [][]byte // threads=1 snapshots, to compare other thread counts bit for bit
	for _, threads := range []int{1, 2} {
		tr, err := c.new(weights, threads, cf.LR, cf.Momentum, cf.WeightDecay)
		if err != nil {
			t.Fatal(err)
		}
		res := result{name: name, changeErr: map[int]float64{}, worstKey: map[int]string{}}
		var snaps [][]byte
		for step := 1; step <= cf.Steps; step++ {
			loss, err := tr.Step(input, labels)
			if err != nil {
				t.Fatal(err)
			}
			res.losses = append(res.losses, loss)
			if step <= len(cf.Losses) {
				e := math.Abs(loss-cf.Losses[step-1]) / math.Abs(cf.Losses[step-1])
				res.lossErr = math.Max(res.lossErr, e)
				if !(e <= lossTols[step-1]) {
					t.Errorf("threads=%d step %d: loss %.8g, PyTorch %.8g (rel error %.2g > %g)", threads, step, loss, cf.Losses[step-1], e, lossTols[step-1])
				}
			}
			if _, ok := deltas.Shape(fmt.Sprintf("step%d/%s", step, firstKey(initial))); !ok {
				continue
			}
			var buf bytes.Buffer
			if err := tr.Save(&buf); err != nil {
				t.Fatal(err)
			}
			snaps = append(snaps, buf.Bytes())
			compareChanges(t, &res, fmt.Sprintf("threads=%d step %d", threads, step), step, coef[step], initial, readSTBytes(t, buf.Bytes()), deltas, cf.Sample)
		}
		tr.Close()
		if threads == 1 {
			first = snaps
			resultsMu.Lock()
			results = append(results, res)
			resultsMu.Unlock()
			t.Logf("losses %v (PyTorch %v); max change error after step 1 %.3g of max|change| (%s), after step 3 %.3g (%s); %d tensors, %d values checked",
				res.losses, cf.Losses, res.changeErr[1], res.worstKey[1], res.changeErr[3], res.worstKey[3], res.tensors, res.checked)
			continue
		}
		for i := range snaps {
			if !bytes.Equal(snaps[i], first[i]) {
				t.Errorf("threads=%d: state after snapshot %d differs from threads=1", threads, i+1)
			}
		}
	}
}

// seededWeights is testmodel.SeededWeights under the fixture's init.
func seededWeights(t *testing.T, specPath string, seed uint64, init string) []byte {
	t.Helper()
	in, err := seeded.ParseInit(init)
	if err != nil {
		t.Fatalf("case.json init: %v", err)
	}
	src, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	g, err := resgen.Parse(specPath, src)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := seeded.WriteInit(&buf, seed, in, resgen.WeightEntries(g)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func firstKey(st *runtime.Safetensors) string { return st.Names()[0] }

// compareChanges checks every stored change of the fixture against the
// trainer's (after − initial).
func compareChanges(t *testing.T, res *result, what string, step int, coef float64, initial, after, deltas *runtime.Safetensors, sample int) {
	t.Helper()
	for _, key := range initial.Names() {
		name := fmt.Sprintf("step%d/%s", step, key)
		if _, ok := deltas.Shape(name); !ok {
			t.Errorf("%s: fixture has no %s", what, name)
			continue
		}
		if dt, _ := initial.DType(key); dt == "I64" {
			got := i64(t, after, key)[0] - i64(t, initial, key)[0]
			if want := i64(t, deltas, name)[0]; got != want {
				t.Errorf("%s: %s changed by %d, PyTorch by %d", what, key, got, want)
			}
			continue
		}
		shape, _ := initial.Shape(key)
		w0, w1 := f32Shape(t, initial, key, shape), f32Shape(t, after, key, shape)
		want := f32(t, deltas, name)
		maxabs := float64(f32(t, deltas, name+":maxabs")[0])
		numel := len(w0)
		idx := func(i int) int { return i }
		if numel > sample {
			idx = func(i int) int { return int(int64(i) * int64(numel) / int64(sample)) }
		}
		if len(want) != min(numel, sample) {
			t.Errorf("%s: %s: fixture stores %d changes of %d values", what, name, len(want), numel)
			continue
		}
		res.tensors++
		worst, at := 0.0, -1
		for i, wv := range want {
			j := idx(i)
			got := float64(w1[j]) - float64(w0[j])
			d := math.Abs(got - float64(wv))
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			res.checked++
			if d > worst {
				worst, at = d, j
			}
		}
		if maxabs > 0 {
			if rel := worst / maxabs; rel > res.changeErr[step] {
				res.changeErr[step], res.worstKey[step] = rel, key
			}
		}
		if !(worst <= coef*maxabs+changeAbs) {
			t.Errorf("%s: %s[%d]: change %.6g, PyTorch %.6g (error %.3g, allowed %.3g of max|change| %.3g)",
				what, key, at, float64(w1[at])-float64(w0[at]), want[indexOf(at, numel, sample)], worst, coef, maxabs)
		}
	}
}

// indexOf maps a flat index back to its sample position (for messages).
func indexOf(j, numel, sample int) int {
	if numel <= sample {
		return j
	}
	for i := 0; i < sample; i++ {
		if int(int64(i)*int64(numel)/int64(sample)) == j {
			return i
		}
	}
	return 0
}

func readST(t *testing.T, path string) *runtime.Safetensors {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return readSTBytes(t, b)
}

func readSTBytes(t *testing.T, b []byte) *runtime.Safetensors {
	t.Helper()
	st, err := runtime.ReadSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func f32(t *testing.T, st *runtime.Safetensors, name string) []float32 {
	t.Helper()
	shape, ok := st.Shape(name)
	if !ok {
		t.Fatalf("no tensor %q", name)
	}
	return f32Shape(t, st, name, shape)
}

func f32Shape(t *testing.T, st *runtime.Safetensors, name string, shape []int) []float32 {
	t.Helper()
	w := runtime.NewWeights(st)
	v := w.Tensor(name, shape...)
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

func i64(t *testing.T, st *runtime.Safetensors, name string) []int64 {
	t.Helper()
	b, ok := st.Bytes(name)
	if dt, _ := st.DType(name); !ok || dt != "I64" {
		t.Fatalf("tensor %q: want I64, have %q", name, dt)
	}
	v := make([]int64, len(b)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v
}

func labelsOf(t *testing.T, st *runtime.Safetensors) []int32 {
	t.Helper()
	v := i64(t, st, "labels")
	out := make([]int32, len(v))
	for i, l := range v {
		out[i] = int32(l)
	}
	return out
}

func writeParityTable() error {
	sort.Slice(results, func(i, j int) bool { return results[i].name < results[j].name })
	var b strings.Builder
	b.WriteString("# Training parity with PyTorch\n\n")
	b.WriteString("Written by `go test ./internal/trainparity -run TestTrainParity -update` from the\n")
	b.WriteString("run's own measurements (1 thread; 2 threads must match bit for bit). Each case\n")
	b.WriteString("runs 3 SGD steps (lr 0.1, momentum 0.9, weight decay 1e-4, BatchNorm in\n")
	b.WriteString("training mode) on a batch of 8 Fashion-MNIST images from seeded weights (each\n")
	b.WriteString("case's init, seeded or PyTorch's default) and\n")
	b.WriteString("compares with PyTorch 1.13 (reference/train.py): the loss of every step, and\n")
	b.WriteString("the change of every parameter and running statistic after steps 1 and 3\n")
	b.WriteString("(up to 1024 sampled values per tensor). The change error is relative to the\n")
	b.WriteString("tensor's max|change|; the test fails above the case's tolerance (plus 1e-6):\n")
	b.WriteString("the issue's 1e-3, or 1e-5 for a loss, raised where PyTorch's own variants\n")
	b.WriteString("drift further (testdata/train/*/case.json, reference/README.md).\n\n")
	b.WriteString("| case | tensors | values | change error, step 1 | worst tensor | change error, step 3 | worst tensor | max loss error | losses |\n|---|---:|---:|---:|---|---:|---|---:|---|\n")
	for _, r := range results {
		ls := make([]string, len(r.losses))
		for i, l := range r.losses {
			ls[i] = fmt.Sprintf("%.5f", l)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.2e | %s | %.2e | %s | %.2e | %s |\n", r.name, r.tensors, r.checked,
			r.changeErr[1], r.worstKey[1], r.changeErr[3], r.worstKey[3], r.lossErr, strings.Join(ls, ", "))
	}
	b.WriteString(float64Section)
	b.WriteString(table64())
	return os.WriteFile(filepath.Join("..", "..", "docs", "train-parity.md"), []byte(b.String()), 0o644)
}
