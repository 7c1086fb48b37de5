// Package confdata reads the ONNX conformance cases that Debian's
// libonnx-testdata installs: DIR/CASE/model.onnx and
// DIR/CASE/test_data_set_0/{input,output}_N.pb (TensorProto files).
//
// resgen imports a network whose weights are constants, while many node
// cases pass weights as extra graph inputs (Conv's W and B). Load binds
// every graph input after the first to its test data, as an initializer,
// so that those cases test the op rather than the calling convention.
package confdata

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/resgen/resgen/onnx"
)

// Root is where libonnx-testdata installs the cases.
const Root = "/usr/share/libonnx-testdata/data"

// Dirs are the suites covered.
var Dirs = []string{"node", "pytorch-converted"}

// Case is one conformance case.
type Case struct {
	Dir, Name string // "node", "test_conv_with_strides_padding"
	Path      string // its directory
}

// PkgName is the case's package directory under conf/.
func (c Case) PkgName() string {
	return strings.ReplaceAll(c.Dir, "-", "_") + "_" + strings.TrimPrefix(c.Name, "test_")
}

// Cases lists every case of Dirs under root, sorted.
func Cases(root string) ([]Case, error) {
	var cs []Case
	for _, d := range Dirs {
		es, err := os.ReadDir(filepath.Join(root, d))
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.IsDir() {
				cs = append(cs, Case{Dir: d, Name: e.Name(), Path: filepath.Join(root, d, e.Name())})
			}
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].PkgName() < cs[j].PkgName() })
	return cs, nil
}

// Data is a loaded case: the model with its extra inputs bound, and the
// first input and output of test_data_set_0.
type Data struct {
	Model  *onnx.Model
	Input  *onnx.Tensor
	Output *onnx.Tensor
}

// Load reads a case. An error here means the case itself could not be read
// (the importer is not involved).
func Load(c Case) (*Data, error) {
	b, err := os.ReadFile(filepath.Join(c.Path, "model.onnx"))
	if err != nil {
		return nil, err
	}
	m, err := onnx.ReadModel(b)
	if err != nil {
		return &Data{}, err
	}
	set := filepath.Join(c.Path, "test_data_set_0")
	d := &Data{Model: m}
	inits := map[string]bool{}
	for _, t := range m.Graph.Initializers {
		inits[t.Name] = true
	}
	k := 0
	for _, vi := range m.Graph.Inputs {
		if inits[vi.Name] {
			continue
		}
		t, err := readTensor(filepath.Join(set, fmt.Sprintf("input_%d.pb", k)))
		if err != nil {
			return nil, err
		}
		if k == 0 {
			d.Input = t
		} else {
			t.Name = vi.Name
			m.Graph.Initializers = append(m.Graph.Initializers, t)
		}
		k++
	}
	if d.Output, err = readTensor(filepath.Join(set, "output_0.pb")); err != nil {
		return nil, err
	}
	return d, nil
}

func readTensor(path string) (*onnx.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := onnx.ReadTensor(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return t, nil
}
