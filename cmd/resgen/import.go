package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/resgen/resgen/codegen"
	"github.com/resgen/resgen/importer"
	"github.com/resgen/resgen/onnx"
)

// maxONNXSize caps the model file read into memory.
const maxONNXSize = 2 << 30

// importONNX is "resgen import MODEL.onnx [-o DIR] [-name NAME] [-input CxHxW]":
// it writes DIR/spec.yaml and DIR/weights.safetensors, both or neither.
func (c *cli) importONNX(args []string) int {
	fs := newFlags("import", "import MODEL.onnx [-o DIR] [-name NAME] [-input CxHxW]")
	out := fs.String("o", ".", "output `directory` for spec.yaml and weights.safetensors")
	name := fs.String("name", "", "the spec's `name` (Go package name; default from the file name)")
	input := fs.String("input", "", "input item shape `CxHxW`, for models whose C, H or W are symbolic")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return c.usageError(fs, "%v", err)
	}
	if len(pos) != 1 {
		return c.usageError(fs, "want one MODEL.onnx, got %d arguments", len(pos))
	}
	path := pos[0]
	opt := importer.Options{File: path, Name: *name}
	if *name != "" {
		if err := codegen.ValidPackageName(*name); err != nil {
			return c.fail(fmt.Errorf("-name: %v", err))
		}
	}
	if *input != "" {
		parts := strings.Split(strings.ToLower(*input), "x")
		if len(parts) != 3 {
			return c.fail(fmt.Errorf("-input %q: want CxHxW, such as 3x224x224", *input))
		}
		for i, p := range parts {
			v, err := strconv.Atoi(p)
			if err != nil || v < 1 || v > 1<<20 {
				return c.fail(fmt.Errorf("-input %q: %q is not an integer from 1 to %d", *input, p, 1<<20))
			}
			opt.Input[i] = v
		}
	}
	b, err := readModel(path)
	if err != nil {
		return c.fail(err)
	}
	m, err := onnx.ReadModel(b)
	if err != nil {
		return c.fail(fmt.Errorf("%s: %v", path, err))
	}
	res, err := importer.Import(m, opt)
	if err != nil {
		return c.fail(err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return c.fail(err)
	}
	specPath := filepath.Join(*out, "spec.yaml")
	weightsPath := filepath.Join(*out, "weights.safetensors")
	// Both files go to temporary names first; they are renamed only when
	// both are written, so a failure leaves the directory as it was.
	ts, err := writeTemp(*out, "spec.yaml", res.Spec)
	if err != nil {
		return c.fail(err)
	}
	defer os.Remove(ts)
	tw, err := writeTemp(*out, "weights.safetensors", res.Weights)
	if err != nil {
		return c.fail(err)
	}
	defer os.Remove(tw)
	if err := os.Rename(tw, weightsPath); err != nil {
		return c.fail(err)
	}
	if err := os.Rename(ts, specPath); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "resgen: wrote %s (%d layers) and %s (%d parameters, %d bytes)\n", specPath, res.Layers, weightsPath, res.Params, len(res.Weights))
	return exitOK
}

func readModel(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %v", path, pe.Err)
		}
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory; want an .onnx file", path)
	}
	if st.Size() > maxONNXSize {
		return nil, fmt.Errorf("%s: %d bytes; models over %d bytes are not supported", path, st.Size(), int64(maxONNXSize))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %v", path, pe.Err)
		}
		return nil, err
	}
	return b, nil
}
