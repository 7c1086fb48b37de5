// Command fashion runs the bundled Fashion-MNIST classifier, a ResNet-20
// trained in PyTorch and compiled to Go by resgen (generated/fashion), on
// 1,000 real test images embedded in the binary. It prints the accuracy next
// to PyTorch's on the same images, a confusion matrix and the time per
// image, and draws the first images with their predicted labels into a PNG
// contact sheet.
//
//	go run ./examples/fashion [-n N] [-o FILE]
package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/resgen/resgen/dataset"
	"github.com/resgen/resgen/generated/fashion"
)

// The first 1,000 Fashion-MNIST test images and labels, and PyTorch's
// predicted label for each (an IDX labels file too), copied from
// testdata/fashion by `go test ./examples/fashion -update`.
var (
	//go:embed data/t10k-1000-images-idx3-ubyte.gz
	imagesGz []byte
	//go:embed data/t10k-1000-labels-idx1-ubyte.gz
	labelsGz []byte
	//go:embed data/pytorch-1000-labels-idx1-ubyte
	pytorchIDX []byte
)

// sheetMax is the most images the contact sheet shows.
const sheetMax = 100

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fashion", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1000, "classify the first `N` of the 1,000 bundled test images")
	out := fs.String("o", "fashion-contact-sheet.png", "write the contact sheet (the first 100 images) to `FILE`")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fashion [-n N] [-o FILE]\n\n"+
			"Classifies real Fashion-MNIST test images with the bundled ResNet-20\n"+
			"(trained in PyTorch, compiled to Go by resgen) and draws a contact sheet.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fashion: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *n < 1 || *n > 1000 {
		fmt.Fprintf(stderr, "fashion: -n %d: want 1 to 1000\n", *n)
		return 2
	}
	if err := demo(stdout, *n, *out); err != nil {
		fmt.Fprintf(stderr, "fashion: %v\n", err)
		return 1
	}
	return 0
}

// result is what classifying the images gave.
type result struct {
	labels, pred, pytorch []uint8
	perImage              time.Duration
}

func demo(w io.Writer, n int, sheetPath string) error {
	images, labels, err := dataset.ParseLabeled("t10k-1000-images-idx3-ubyte.gz", imagesGz,
		"t10k-1000-labels-idx1-ubyte.gz", labelsGz, len(dataset.FashionMNISTClasses))
	if err != nil {
		return err
	}
	x, err := dataset.ParseIDX("pytorch-1000-labels-idx1-ubyte", pytorchIDX)
	if err != nil {
		return err
	}
	pytorch, err := dataset.NewLabels("pytorch-1000-labels-idx1-ubyte", x, len(dataset.FashionMNISTClasses))
	if err != nil {
		return err
	}
	if images.N < n || len(pytorch) < n {
		return fmt.Errorf("%d bundled images and %d PyTorch labels, need %d", images.N, len(pytorch), n)
	}
	images = images.Slice(0, n)
	r := result{labels: labels[:n], pytorch: pytorch[:n]}

	m, err := fashion.NewEmbedded()
	if err != nil {
		return err
	}
	defer m.Close()
	if r.pred, r.perImage, err = classify(m, images); err != nil {
		return err
	}

	fmt.Fprintf(w, "Fashion-MNIST with the bundled ResNet-20 (%d parameters, %.1f M multiply-adds per image),\n",
		fashion.Params, float64(fashion.MACs)/1e6)
	fmt.Fprintf(w, "trained in PyTorch, compiled to Go by resgen, weights embedded.\n\n")
	threads := "1 thread"
	if t := runtime.GOMAXPROCS(0); t > 1 {
		threads = fmt.Sprintf("%d threads", t)
	}
	fmt.Fprintf(w, "%d test images in %v: %v per image (%s)\n", n,
		(r.perImage * time.Duration(n)).Round(time.Millisecond), r.perImage.Round(time.Microsecond), threads)
	goOK, ptOK, agree := 0, 0, 0
	for i, l := range r.labels {
		goOK += b2i(r.pred[i] == l)
		ptOK += b2i(r.pytorch[i] == l)
		agree += b2i(r.pred[i] == r.pytorch[i])
	}
	fmt.Fprintf(w, "accuracy %s (%d/%d); PyTorch on the same images %s; same label as PyTorch for %d/%d\n\n",
		percent(goOK, n), goOK, n, percent(ptOK, n), agree, n)
	writeConfusion(w, r.labels, r.pred)

	png, err := contactSheet(images, r.labels, r.pred, min(n, sheetMax))
	if err != nil {
		return err
	}
	if err := os.WriteFile(sheetPath, png, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ncontact sheet of the first %d images (wrong ones in red): %s\n", min(n, sheetMax), sheetPath)
	return nil
}

// classify runs the model on every image, in batches, and returns the
// predicted labels and the mean wall time per image. Each image goes through
// the generated package's Preprocess, the transform the model was trained
// with, as any picture would.
func classify(m *fashion.Model, images *dataset.Images) ([]uint8, time.Duration, error) {
	const batch = 100
	in := make([]float32, batch*fashion.InputLen)
	logits := make([]float32, batch*fashion.OutputLen)
	pred := make([]uint8, 0, images.N)
	var spent time.Duration
	for i := 0; i < images.N; i += batch {
		k := min(batch, images.N-i)
		for j := range k {
			if err := fashion.Preprocess(in[j*fashion.InputLen:(j+1)*fashion.InputLen], grayImage(images, i+j)); err != nil {
				return nil, 0, err
			}
		}
		x, y := in[:k*fashion.InputLen], logits[:k*fashion.OutputLen]
		start := time.Now()
		if err := m.Forward(y, x); err != nil {
			return nil, 0, err
		}
		spent += time.Since(start)
		for j := range k {
			pred = append(pred, uint8(argmax(y[j*fashion.OutputLen:(j+1)*fashion.OutputLen])))
		}
	}
	return pred, spent / time.Duration(images.N), nil
}

// grayImage is image i as an image.Gray, sharing its pixels.
func grayImage(images *dataset.Images, i int) *image.Gray {
	return &image.Gray{Pix: images.Image(i), Stride: images.W, Rect: image.Rect(0, 0, images.W, images.H)}
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

// writeConfusion prints the confusion matrix: one row per true class, one
// column per predicted class, and each class's recall.
func writeConfusion(w io.Writer, labels, pred []uint8) {
	classes := fashion.Labels
	k := len(classes)
	count := make([][]int, k)
	for i := range count {
		count[i] = make([]int, k)
	}
	for i, l := range labels {
		count[l][pred[i]]++
	}
	nameW := 0
	for _, c := range classes {
		nameW = max(nameW, len(c))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "confusion matrix (rows: true class, columns: predicted):\n")
	fmt.Fprintf(&b, "%*s", nameW+3, "")
	for j := range k {
		fmt.Fprintf(&b, "%5d", j)
	}
	fmt.Fprintf(&b, "   recall\n")
	for i, row := range count {
		fmt.Fprintf(&b, "%d %-*s ", i, nameW, classes[i])
		total := 0
		for j, c := range row {
			total += c
			if c == 0 && i != j {
				fmt.Fprintf(&b, "%5s", ".")
			} else {
				fmt.Fprintf(&b, "%5d", c)
			}
		}
		fmt.Fprintf(&b, "   %6s\n", percent(row[i], total))
	}
	io.WriteString(w, b.String())
}

func percent(a, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(n))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
