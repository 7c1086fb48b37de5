package dataset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Images is a set of N single-channel H×W images of bytes.
type Images struct {
	N, H, W int
	Pix     []uint8 // N×H×W, row-major
}

// Image returns image i's H×W pixels, sharing Pix.
func (d *Images) Image(i int) []uint8 {
	n := d.H * d.W
	return d.Pix[i*n : (i+1)*n : (i+1)*n]
}

// Slice returns images [i, j), sharing Pix.
func (d *Images) Slice(i, j int) *Images {
	n := d.H * d.W
	return &Images{N: j - i, H: d.H, W: d.W, Pix: d.Pix[i*n : j*n : j*n]}
}

// NewImages checks that x is an N×H×W IDX file and returns it as Images.
func NewImages(name string, x *IDX) (*Images, error) {
	if len(x.Dims) != 3 {
		return nil, fmt.Errorf("%s: dimensions %v, want 3 (images × height × width)", name, x.Dims)
	}
	if x.Dims[1] == 0 || x.Dims[2] == 0 {
		return nil, fmt.Errorf("%s: images of %d×%d pixels", name, x.Dims[1], x.Dims[2])
	}
	return &Images{N: x.Dims[0], H: x.Dims[1], W: x.Dims[2], Pix: x.Data}, nil
}

// NewLabels checks that x is a 1-dimensional IDX file of values below
// classes and returns its labels.
func NewLabels(name string, x *IDX, classes int) ([]uint8, error) {
	if len(x.Dims) != 1 {
		return nil, fmt.Errorf("%s: dimensions %v, want 1 (labels)", name, x.Dims)
	}
	for i, l := range x.Data {
		if int(l) >= classes {
			return nil, fmt.Errorf("%s: label %d of item %d is out of range [0, %d)", name, l, i, classes)
		}
	}
	return x.Data, nil
}

// ParseLabeled decodes an images file and its labels file (each gzip or
// plain) and checks that they describe the same number of items.
func ParseLabeled(imagesName string, images []byte, labelsName string, labels []byte, classes int) (*Images, []uint8, error) {
	xi, err := ParseIDX(imagesName, images)
	if err != nil {
		return nil, nil, err
	}
	im, err := NewImages(imagesName, xi)
	if err != nil {
		return nil, nil, err
	}
	xl, err := ParseIDX(labelsName, labels)
	if err != nil {
		return nil, nil, err
	}
	lb, err := NewLabels(labelsName, xl, classes)
	if err != nil {
		return nil, nil, err
	}
	if len(lb) != im.N {
		return nil, nil, fmt.Errorf("%s has %d images but %s has %d labels", imagesName, im.N, labelsName, len(lb))
	}
	return im, lb, nil
}

// FashionMNISTClasses are Fashion-MNIST's class names, by label.
var FashionMNISTClasses = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs
// the files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// LoadFashionMNIST reads split "train" (60,000 images) or "test" (10,000)
// of Fashion-MNIST from dir, under the original file names
// (train-images-idx3-ubyte, …), plain or with .gz appended. It returns the
// 28×28 images and their labels (indices into FashionMNISTClasses). A missing
// file is an error that matches fs.ErrNotExist.
func LoadFashionMNIST(dir, split string) (*Images, []uint8, error) {
	var prefix string
	switch split {
	case "train":
		prefix = "train"
	case "test":
		prefix = "t10k"
	default:
		return nil, nil, fmt.Errorf("Fashion-MNIST split %q, want \"train\" or \"test\"", split)
	}
	imPath, im, err := readEither(filepath.Join(dir, prefix+"-images-idx3-ubyte"))
	if err != nil {
		return nil, nil, err
	}
	lbPath, lb, err := readEither(filepath.Join(dir, prefix+"-labels-idx1-ubyte"))
	if err != nil {
		return nil, nil, err
	}
	images, labels, err := ParseLabeled(imPath, im, lbPath, lb, len(FashionMNISTClasses))
	if err != nil {
		return nil, nil, err
	}
	if images.H != 28 || images.W != 28 {
		return nil, nil, fmt.Errorf("%s: images of %d×%d pixels, want 28×28", imPath, images.H, images.W)
	}
	return images, labels, nil
}

// readEither reads path, or path+".gz" if path does not exist.
func readEither(path string) (string, []byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return path, b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return path, nil, err
	}
	b, err = os.ReadFile(path + ".gz")
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil, fmt.Errorf("%s(.gz): %w", path, fs.ErrNotExist)
	}
	return path + ".gz", b, err
}
