package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/resgen/resgen"
	"github.com/resgen/resgen/codegen"
	"github.com/resgen/resgen/internal/seeded"
	"github.com/resgen/resgen/ir"
	"github.com/resgen/resgen/spec"
)

const usage = `usage: resgen <command> [arguments]

commands:
  build SPEC [-o DIR] [-pkg NAME] [-embed FILE] [-train] [-dump PASS]
                      compile SPEC into a Go package in DIR
                      (-train adds train.go: a Trainer with SGD)
  check SPEC          report every error in SPEC, or nothing
  graph SPEC [-o FILE.svg] [-after PASS]
                      draw the network as an SVG picture
  import MODEL.onnx [-o DIR] [-name NAME] [-input CxHxW]
                      write DIR/spec.yaml and DIR/weights.safetensors from ONNX
  init PRESET [--classes N] [--input CxHxW] [--width N]
                      print an editable spec of a preset network
  presets             list the presets
  summary SPEC [-json]
                      layers, parameters, MACs and activation memory
  weights init SPEC [-seed N] -o FILE
                      write deterministic seeded weights (safetensors) for SPEC
  weights convert IN.pth -o OUT.safetensors [-key PATH] [-strip-prefix P]
                      convert a torch.save file to safetensors, safely
  version             print resgen's version
`

// exit statuses
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Run is the whole command, testable: it reads nothing but its arguments
// and the files they name, and writes only to stdout, stderr and the output
// files.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	c := &cli{stdout: stdout, stderr: stderr}
	switch args[0] {
	case "build":
		return c.build(args[1:])
	case "check":
		return c.check(args[1:])
	case "graph":
		return c.graph(args[1:])
	case "import":
		return c.importONNX(args[1:])
	case "init":
		return c.init(args[1:])
	case "presets":
		return c.presets(args[1:])
	case "summary":
		return c.summary(args[1:])
	case "weights":
		return c.weights(args[1:])
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "resgen %s\n", resgen.Version)
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "resgen: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

type cli struct {
	stdout, stderr io.Writer
}

// fail prints err (every line of an error list) and returns exitError.
func (c *cli) fail(err error) int {
	fmt.Fprintln(c.stderr, err)
	return exitError
}

func (c *cli) usageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "resgen %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.SetOutput(c.stderr)
	fs.Usage()
	return exitUsage
}

// parseInterspersed parses flags that may come before or after positional
// arguments, as in `resgen build spec.yaml -o out`.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: resgen %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// specArg parses a command's flags around its one SPEC argument and reads
// the file. A status >= 0 means the command is over and should return it.
func (c *cli) specArg(fs *flag.FlagSet, args []string) (path string, src []byte, status int) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", nil, c.usageError(fs, "%v", err)
	}
	if len(pos) != 1 {
		return "", nil, c.usageError(fs, "want one SPEC, got %d arguments", len(pos))
	}
	src, err = readSpec(pos[0])
	if err != nil {
		return "", nil, c.fail(err)
	}
	return pos[0], src, -1
}

// readSpec reads a spec file; the path is kept as given so that error
// positions are relative to the working directory when it was.
func readSpec(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %v", path, pe.Err)
		}
		return nil, err
	}
	return b, nil
}

func (c *cli) build(args []string) int {
	fs := newFlags("build", "build SPEC [-o DIR] [-pkg NAME] [-embed FILE] [-train] [-winograd auto|off|2|4|6] [-dump PASS]")
	out := fs.String("o", "", "output `directory` (default: . under go generate, else ./PKG)")
	pkg := fs.String("pkg", "", "Go package `name` (default: $GOPACKAGE under go generate, else from the spec name)")
	embed := fs.String("embed", "", "weights `file` (safetensors, inside the output directory) to embed; adds NewEmbedded")
	train := fs.Bool("train", false, "also write train.go: a Trainer (forward, backward, SGD) for the network")
	dump := fs.String("dump", "", "print the graph after `PASS` ("+strings.Join(ir.PassNames(), ", ")+"; with -train: "+strings.Join(ir.TrainPassNames(), ", ")+") instead of writing files")
	winograd := fs.String("winograd", "", "how 3x3 stride-1 convolutions run, overriding the spec's winograd: (`MODE` auto: the compiler's cost model\nchooses per layer; off: direct convolution; 2, 4 or 6: Winograd F(m,3) wherever it applies)")
	path, src, status := c.specArg(fs, args)
	if status >= 0 {
		return status
	}
	name := *pkg
	if name == "" {
		name = os.Getenv("GOPACKAGE")
	}
	if name != "" {
		if err := codegen.ValidPackageName(name); err != nil {
			return c.fail(fmt.Errorf("-pkg: %v", err))
		}
	}
	res, err := resgen.Compile(path, src, resgen.Options{Package: name, Source: filepath.ToSlash(filepath.Base(path)), Embed: *embed, Dump: *dump, Train: *train, Winograd: *winograd})
	if err != nil {
		return c.fail(err)
	}
	if *dump != "" {
		fmt.Fprint(c.stdout, res.Dump)
		return exitOK
	}
	dir := *out
	if dir == "" {
		dir = "."
		if os.Getenv("GOPACKAGE") == "" {
			dir = codegen.PackageName(res.Graph.Name)
			if name != "" {
				dir = name
			}
		}
	}
	if *embed != "" {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(*embed))); err != nil {
			return c.fail(fmt.Errorf("-embed %s: %v (the file must be in the output directory %s)", *embed, errors.Unwrap(err), dir))
		}
	}
	if err := writeFiles(dir, res.Files); err != nil {
		return c.fail(err)
	}
	var size int
	for _, b := range res.Files {
		size += len(b)
	}
	fmt.Fprintf(c.stdout, "resgen: wrote package %s to %s (%s; %d bytes of Go)\n", pkgName(res.Files), dir, strings.Join(codegen.SortedNames(res.Files), ", "), size)
	return exitOK
}

// pkgName reads the package clause back from the generated model.go.
func pkgName(files map[string][]byte) string {
	for _, line := range bytes.Split(files["model.go"], []byte("\n")) {
		if p, ok := bytes.CutPrefix(line, []byte("package ")); ok {
			return string(p)
		}
	}
	return "?"
}

func (c *cli) check(args []string) int {
	fs := newFlags("check", "check SPEC")
	path, src, status := c.specArg(fs, args)
	if status >= 0 {
		return status
	}
	res, err := resgen.Compile(path, src, resgen.Options{Package: "check"})
	if err != nil {
		return c.fail(err)
	}
	s := res.Summary
	fmt.Fprintf(c.stdout, "%s: ok: %d layers, %d parameters, %d MACs, %d bytes of activations\n", path, len(s.Layers), s.Params, s.MACs, s.PeakBytes)
	return exitOK
}

func (c *cli) init(args []string) int {
	fs := newFlags("init", "init PRESET [--classes N] [--input CxHxW] [--width N]")
	classes := fs.Int("classes", 0, "number of output classes (default: the preset's)")
	input := fs.String("input", "", "input shape `CxHxW` (default: the preset's)")
	width := fs.Int("width", 0, "base width (channels of the first stage; default: the preset's)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return c.usageError(fs, "%v", err)
	}
	if len(pos) != 1 {
		return c.usageError(fs, "want one PRESET (see resgen presets), got %d arguments", len(pos))
	}
	opt := spec.PresetOptions{Classes: *classes, Width: *width}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["classes"] && *classes < 1 {
		return c.fail(fmt.Errorf("--classes %d: want at least 1", *classes))
	}
	if set["width"] && *width < 1 {
		return c.fail(fmt.Errorf("--width %d: want at least 1", *width))
	}
	if *input != "" {
		parts := strings.Split(strings.ToLower(*input), "x")
		if len(parts) != 3 {
			return c.fail(fmt.Errorf("--input %q: want CxHxW, such as 3x224x224", *input))
		}
		for i, p := range parts {
			v, err := strconv.Atoi(p)
			if err != nil || v < 1 {
				return c.fail(fmt.Errorf("--input %q: %q is not a positive integer", *input, p))
			}
			opt.Input[i] = v
		}
	}
	text, err := spec.Preset(pos[0], opt)
	if err != nil {
		return c.fail(err)
	}
	c.stdout.Write(text)
	return exitOK
}

func (c *cli) presets(args []string) int {
	if len(args) != 0 {
		fmt.Fprintln(c.stderr, "usage: resgen presets")
		return exitUsage
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	for _, p := range spec.Presets() {
		fmt.Fprintf(tw, "%s\t%s\n", p.Name, p.Description)
	}
	tw.Flush()
	return exitOK
}

func (c *cli) summary(args []string) int {
	fs := newFlags("summary", "summary SPEC [-json]")
	asJSON := fs.Bool("json", false, "print JSON (keys params, macs, peak_bytes, layers)")
	path, src, status := c.specArg(fs, args)
	if status >= 0 {
		return status
	}
	s, err := resgen.Summarize(path, src)
	if err != nil {
		return c.fail(err)
	}
	if *asJSON {
		b, _ := json.MarshalIndent(s, "", "  ")
		c.stdout.Write(append(b, '\n'))
		return exitOK
	}
	rows := [][]string{{"layer", "op", "shape", "params", "MACs"}}
	for _, l := range s.Layers {
		rows = append(rows, []string{l.Name, l.Op, dims(l.Shape), strconv.FormatInt(l.Params, 10), strconv.FormatInt(l.MACs, 10)})
	}
	width := make([]int, 5)
	for _, r := range rows {
		for i, v := range r {
			width[i] = max(width[i], len(v))
		}
	}
	for _, r := range rows {
		// Names and ops read left to right; numbers line up on the right.
		fmt.Fprintf(c.stdout, "%-*s  %-*s  %-*s  %*s  %*s\n", width[0], r[0], width[1], r[1], width[2], r[2], width[3], r[3], width[4], r[4])
	}
	fmt.Fprintf(c.stdout, "\n%s: input %s, output %s\nparams      %d\nMACs        %d (%.3f G)\npeak bytes  %d (activations of one item)\n",
		s.Name, dims(s.Input), dims(s.Output), s.Params, s.MACs, float64(s.MACs)/1e9, s.PeakBytes)
	return exitOK
}

// dims prints a shape as CxHxW, or just C for a vector.
func dims(d []int) string {
	if len(d) == 3 && d[1] == 1 && d[2] == 1 {
		return strconv.Itoa(d[0])
	}
	parts := make([]string, len(d))
	for i, v := range d {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, "x")
}

func (c *cli) weights(args []string) int {
	if len(args) > 0 && args[0] == "convert" {
		return c.weightsConvert(args[1:])
	}
	if len(args) == 0 || args[0] != "init" {
		fmt.Fprintln(c.stderr, "usage: resgen weights init SPEC [-seed N] -o FILE\n       resgen weights convert IN.pth -o OUT.safetensors [-key PATH] [-strip-prefix P]")
		return exitUsage
	}
	fs := newFlags("weights init", "weights init SPEC [-seed N] -o FILE")
	seed := fs.Uint64("seed", 1, "generator seed")
	out := fs.String("o", "", "output safetensors `file`")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return c.usageError(fs, "%v", err)
	}
	if len(pos) != 1 || *out == "" {
		return c.usageError(fs, "want one SPEC and -o FILE")
	}
	src, err := readSpec(pos[0])
	if err != nil {
		return c.fail(err)
	}
	g, err := resgen.Parse(pos[0], src)
	if err != nil {
		return c.fail(err)
	}
	var buf bytes.Buffer
	if err := seeded.Write(&buf, *seed, resgen.WeightEntries(g)); err != nil {
		return c.fail(err)
	}
	if err := writeFileAtomic(*out, buf.Bytes()); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "resgen: wrote %s (%d bytes, seed %d)\n", *out, buf.Len(), *seed)
	return exitOK
}
