package fashion

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/resgen/resgen/dataset"
	"github.com/resgen/resgen/internal/testmodel"
	"github.com/resgen/resgen/runtime"
)

var pkg = testmodel.Package{
	Spec:      "spec.yaml",
	New:       func(w []byte, threads int) (testmodel.Model, error) { return New(w, WithThreads(threads)) },
	InputLen:  InputLen,
	OutputLen: OutputLen,
}

func TestForward(t *testing.T) { testmodel.TestForward(t, pkg) }

func BenchmarkForward(b *testing.B) { testmodel.BenchmarkForward(b, pkg, MACs) }

// refDir is what reference/fashion.py wrote after training the embedded
// weights: PyTorch's predictions on the Fashion-MNIST test set, and its first
// 1,000 images.
const refDir = "../../testdata/fashion"

// The normalization the model was trained with (spec.yaml's preprocess:).
const mean, std = 0.2860, 0.3530

// tieRel: an image whose PyTorch top-1 logit beats the top-2 by at most
// tieRel·max|logit| is a tie that float32 rounding may decide either way.
const tieRel = 1e-5

// reference holds predictions.safetensors: PyTorch's label, top-1 − top-2
// margin and max |logit| for each of the 10,000 test images, and the logits
// of the first 1,000.
type reference struct {
	pred          []int
	margin, scale []float32
	logits        []float32
}

func loadReference(t *testing.T) *reference {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(refDir, "predictions.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := runtime.ReadSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	w := runtime.NewWeights(st)
	r := &reference{
		margin: w.Tensor("margin", 10000),
		scale:  w.Tensor("scale", 10000),
		logits: w.Tensor("logits", 1000, 10),
	}
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	dt, _ := st.DType("pred")
	shape, _ := st.Shape("pred")
	raw, _ := st.Bytes("pred")
	if dt != "I64" || !slices.Equal(shape, []int{10000}) {
		t.Fatalf("pred: %s %v, want I64 [10000]", dt, shape)
	}
	for i := range 10000 {
		r.pred = append(r.pred, int(int64(binary.LittleEndian.Uint64(raw[8*i:]))))
	}
	return r
}

// predict runs m on every image and returns the logits.
func predict(t *testing.T, m *Model, im *dataset.Images) []float32 {
	t.Helper()
	const batch = 100
	in := make([]float32, batch*InputLen)
	out := make([]float32, im.N*OutputLen)
	idx := make([]int, 0, batch)
	for i := 0; i < im.N; i += batch {
		idx = idx[:0]
		for j := i; j < min(i+batch, im.N); j++ {
			idx = append(idx, j)
		}
		x := in[:len(idx)*InputLen]
		if err := im.Batch(x, idx, mean, std); err != nil {
			t.Fatal(err)
		}
		if err := m.Forward(out[i*OutputLen:(i+len(idx))*OutputLen], x); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// compare checks the generated model's labels against PyTorch's for the
// first len(labels) images: equal except near-ties, and the same accuracy.
func compare(t *testing.T, ref *reference, logits []float32, labels []uint8) {
	t.Helper()
	var ties, tieDiffs, goCorrect, ptCorrect int
	for i, l := range labels {
		got := argmax(logits[i*OutputLen : (i+1)*OutputLen])
		want := ref.pred[i]
		tie := ref.margin[i] <= tieRel*ref.scale[i]
		if tie {
			ties++
		}
		if got != want {
			if tie {
				tieDiffs++
			} else {
				t.Errorf("image %d: label %d (%s), PyTorch %d (%s) with margin %.3g of %.3g",
					i, got, dataset.FashionMNISTClasses[got], want, dataset.FashionMNISTClasses[want], ref.margin[i], ref.scale[i])
			}
		}
		if got == int(l) {
			goCorrect++
		}
		if want == int(l) {
			ptCorrect++
		}
	}
	n := float64(len(labels))
	t.Logf("%d images: accuracy %.4f (PyTorch %.4f); %d near-ties (margin <= %g·max|logit|) excused, %d of them labelled differently",
		len(labels), float64(goCorrect)/n, float64(ptCorrect)/n, ties, tieRel, tieDiffs)
	// A differently labelled tie may move the count by one, nothing else may.
	if d := goCorrect - ptCorrect; d != 0 && (tieDiffs == 0 || abs(d) > tieDiffs) {
		t.Errorf("%d correct, PyTorch %d", goCorrect, ptCorrect)
	}
}

func abs(x int) int { return max(x, -x) }

// TestBundledImages runs the embedded model on the first 1,000 test images,
// committed in testdata, so it needs no data set installed: logits as
// PyTorch's, labels equal except near-ties.
func TestBundledImages(t *testing.T) {
	ref := loadReference(t)
	images, labels, err := readBundled()
	if err != nil {
		t.Fatal(err)
	}
	if images.N != 1000 {
		t.Fatalf("%d bundled images, want 1000", images.N)
	}
	m, err := NewEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	logits := predict(t, m, images)

	var maxErr, refMax float64
	for i, want := range ref.logits {
		refMax = max(refMax, math.Abs(float64(want)))
		maxErr = max(maxErr, math.Abs(float64(logits[i]-want)))
	}
	t.Logf("logits: max abs error %.3g, max |PyTorch| %.4g", maxErr, refMax)
	if !(maxErr <= 1e-4*refMax) {
		t.Errorf("logits: max abs error %.3g > 1e-4 · %.4g", maxErr, refMax)
	}
	compare(t, ref, logits, labels)
}

func readBundled() (*dataset.Images, []uint8, error) {
	imPath := filepath.Join(refDir, "t10k-1000-images-idx3-ubyte.gz")
	lbPath := filepath.Join(refDir, "t10k-1000-labels-idx1-ubyte.gz")
	im, err := os.ReadFile(imPath)
	if err != nil {
		return nil, nil, err
	}
	lb, err := os.ReadFile(lbPath)
	if err != nil {
		return nil, nil, err
	}
	return dataset.ParseLabeled(imPath, im, lbPath, lb, len(dataset.FashionMNISTClasses))
}

// TestFashionMNIST runs the embedded model on all 10,000 Fashion-MNIST test
// images (Debian's dataset-fashion-mnist) and compares it with PyTorch. It
// skips when the data set is not installed, unless RESGEN_REQUIRE_DATA=1.
func TestFashionMNIST(t *testing.T) {
	images, labels, err := dataset.LoadFashionMNIST(dataset.FashionMNISTDir, "test")
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("RESGEN_REQUIRE_DATA") != "1" {
		t.Skipf("%v (apt-get install -y dataset-fashion-mnist)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if testing.Short() {
		t.Skip("10,000 images; skipped in -short mode")
	}
	ref := loadReference(t)

	// The bundled images must be the data set's first 1,000.
	bundled, bundledLabels, err := readBundled()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bundled.Pix, images.Slice(0, 1000).Pix) || !slices.Equal(bundledLabels, labels[:1000]) {
		t.Errorf("testdata's 1,000 images are not the test set's first 1,000")
	}

	m, err := NewEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	compare(t, ref, predict(t, m, images), labels)

	// train.json's accuracy is PyTorch's on the labels Python read; the
	// same number from ours shows both read the same labels.
	b, err := os.ReadFile(filepath.Join(refDir, "train.json"))
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		TestAccuracy float64 `json:"test_accuracy"`
	}
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	var ptCorrect int
	for i, l := range labels {
		if ref.pred[i] == int(l) {
			ptCorrect++
		}
	}
	if got := float64(ptCorrect) / float64(len(labels)); got != info.TestAccuracy {
		t.Errorf("PyTorch's predictions against our labels: accuracy %v, train.json says %v", got, info.TestAccuracy)
	}
}

// TestLabels: the spec's labels: are Fashion-MNIST's classes, in order.
func TestLabels(t *testing.T) {
	if !slices.Equal(Labels, dataset.FashionMNISTClasses) {
		t.Errorf("Labels = %q, want %q", Labels, dataset.FashionMNISTClasses)
	}
}

// TestPreprocess: the generated Preprocess of a 28×28 gray picture gives
// the same bits as dataset's Batch, which the dataset tests hold to
// PyTorch's normalize, for every byte value.
func TestPreprocess(t *testing.T) {
	im := &dataset.Images{N: 1, H: 28, W: 28, Pix: make([]uint8, 28*28)}
	for i := range im.Pix {
		im.Pix[i] = uint8(i * 7)
	}
	want := make([]float32, InputLen)
	if err := im.Batch(want, []int{0}, mean, std); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, InputLen)
	pic := &image.Gray{Pix: im.Pix, Stride: 28, Rect: image.Rect(0, 0, 28, 28)}
	if err := Preprocess(got, pic); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("pixel %d (byte %d): Preprocess %g, Batch %g", i, im.Pix[i], got[i], want[i])
		}
	}
}

// TestEmbeddedWeights: the embedded weights are the ones
// reference/fashion.py trained (go:embed cannot reach testdata, so the
// package holds a copy; git stores the two as one blob).
func TestEmbeddedWeights(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(refDir, "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(embeddedWeights, want) {
		t.Errorf("weights.safetensors differs from %s/weights.safetensors; copy it and run go generate", refDir)
	}
}
