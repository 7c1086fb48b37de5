package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/resgen/resgen"
	"github.com/resgen/resgen/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

// run calls Run and returns its exit status and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// moduleRoot is the resgen module's directory (two levels up).
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// scratchDir is a fresh directory inside the module, so generated packages
// there resolve the runtime import; the go command's ./... skips it
// because its name starts with "_".
func scratchDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(moduleRoot(t), "_scratch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"build"},
		{"build", "a.yaml", "b.yaml"},
		{"build", "-nosuchflag", "a.yaml"},
		{"init"},
		{"summary"},
		{"weights"},
		{"weights", "init", "a.yaml"},
		{"presets", "extra"},
	} {
		code, _, stderr := run(t, args...)
		if code != exitUsage {
			t.Errorf("resgen %v: exit %d, want %d (stderr %q)", args, code, exitUsage, stderr)
		}
		if !strings.Contains(stderr, "usage") {
			t.Errorf("resgen %v: stderr %q lacks usage", args, stderr)
		}
	}
	if code, out, _ := run(t, "version"); code != 0 || out != "resgen "+resgen.Version+"\n" {
		t.Errorf("version: %d %q", code, out)
	}
}

// TestInitErrors: a preset option that makes no sense is a user error.
func TestInitErrors(t *testing.T) {
	for _, args := range [][]string{
		{"init", "resnet19"},
		{"init", "resnet18", "--classes", "0"},
		{"init", "resnet18", "--classes", "-3"},
		{"init", "resnet18", "--input", "3x224"},
		{"init", "resnet18", "--input", "3xAx224"},
		{"init", "unet", "--input", "3x100x100"},
		{"init", "unet", "--width", "0"},
		{"init", "cifar-resnet20", "--input", "3x2x2"},
	} {
		code, _, stderr := run(t, args...)
		if code != exitError || stderr == "" {
			t.Errorf("resgen %v: exit %d, stderr %q; want 1 and a message", args, code, stderr)
		}
		if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
			t.Errorf("resgen %v panicked: %s", args, stderr)
		}
	}
}

// TestSummaryParams checks the parameter counts against torchvision's
// (sum of p.numel() over model.parameters(), printed by
// reference/reference.py params) and ResNet-18's 1.814 GMACs.
func TestSummaryParams(t *testing.T) {
	tests := []struct {
		preset string
		args   []string
		params int64
	}{
		{"resnet18", nil, 11689512},
		{"resnet34", nil, 21797672},
		{"resnet50", nil, 25557032},
		{"resnet101", nil, 44549160},
		{"resnet152", nil, 60192808},
		{"cifar-resnet20", nil, 269722},
		{"unet", []string{"--width", "64", "--classes", "2", "--input", "3x256x256"}, 31037698},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		code, text, stderr := run(t, append([]string{"init", tt.preset}, tt.args...)...)
		if code != 0 {
			t.Fatalf("init %s: %s", tt.preset, stderr)
		}
		p := filepath.Join(dir, tt.preset+".yaml")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := run(t, "summary", "-json", p)
		if code != 0 {
			t.Fatalf("summary %s: %s", tt.preset, stderr)
		}
		var s struct {
			Params    int64             `json:"params"`
			MACs      int64             `json:"macs"`
			PeakBytes int64             `json:"peak_bytes"`
			Layers    []json.RawMessage `json:"layers"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatal(err)
		}
		if s.Params != tt.params {
			t.Errorf("%s: params %d, want %d", tt.preset, s.Params, tt.params)
		}
		if s.PeakBytes <= 0 || len(s.Layers) == 0 {
			t.Errorf("%s: peak_bytes %d, %d layers", tt.preset, s.PeakBytes, len(s.Layers))
		}
		if tt.preset == "resnet18" && (s.MACs < 1.813e9 || s.MACs > 1.815e9) {
			t.Errorf("resnet18: %d MACs, want ≈ 1.814e9", s.MACs)
		}
		t.Logf("%s: params %d, MACs %d, peak %d bytes", tt.preset, s.Params, s.MACs, s.PeakBytes)
	}
}

// TestEveryPresetCompiles builds every preset at its default options and
// has the go command type-check and vet all of the packages.
func TestEveryPresetCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every preset")
	}
	dir := scratchDir(t)
	start := time.Now()
	for _, p := range spec.Presets() {
		code, text, stderr := run(t, "init", p.Name)
		if code != 0 {
			t.Fatalf("init %s: %s", p.Name, stderr)
		}
		sp := filepath.Join(dir, p.Name+".yaml")
		if err := os.WriteFile(sp, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := run(t, "build", sp, "-o", filepath.Join(dir, p.Name)); code != 0 {
			t.Fatalf("build %s: %s", p.Name, stderr)
		}
	}
	t.Logf("resgen build of %d presets: %v", len(spec.Presets()), time.Since(start))
	start = time.Now()
	goCmd(t, dir, "vet", "./...")
	t.Logf("go vet of all generated packages: %v", time.Since(start))
}

func TestBuildWritesAndRefuses(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "net.yaml")
	if err := os.WriteFile(specPath, []byte(tinySpec), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")

	code, stdout, stderr := run(t, "build", specPath, "-o", out, "-pkg", "tiny")
	if code != 0 {
		t.Fatalf("build: %s", stderr)
	}
	if !strings.Contains(stdout, out) {
		t.Errorf("stdout %q does not say where the package went", stdout)
	}
	first, err := os.ReadFile(filepath.Join(out, "model.go"))
	if err != nil {
		t.Fatal(err)
	}

	// Rebuilding over our own output is fine and byte-identical.
	if code, _, stderr := run(t, "build", specPath, "-o", out, "-pkg", "tiny"); code != 0 {
		t.Fatalf("rebuild: %s", stderr)
	}
	again, _ := os.ReadFile(filepath.Join(out, "model.go"))
	if !bytes.Equal(first, again) {
		t.Error("rebuild changed model.go")
	}

	// A failed build leaves the directory exactly as it was.
	before := snapshot(t, out)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(tinySpec, "kernel: 3", "kernel: 0", 1)), 0o644)
	if code, _, stderr := run(t, "build", bad, "-o", out, "-pkg", "tiny"); code != exitError || !strings.Contains(stderr, "bad.yaml:") {
		t.Errorf("bad spec: exit %d, stderr %q", code, stderr)
	}
	if diff := cmp.Diff(before, snapshot(t, out)); diff != "" {
		t.Errorf("failed build changed the output directory (-before +after):\n%s", diff)
	}

	// A hand-written file is never overwritten, and nothing else is written.
	hand := filepath.Join(dir, "hand")
	os.MkdirAll(hand, 0o755)
	mine := []byte("package tiny\n\n// my own code\n")
	os.WriteFile(filepath.Join(hand, "model.go"), mine, 0o644)
	before = snapshot(t, hand)
	code, _, stderr = run(t, "build", specPath, "-o", hand, "-pkg", "tiny")
	if code != exitError || !strings.Contains(stderr, "not generated by resgen") {
		t.Errorf("overwrite: exit %d, stderr %q", code, stderr)
	}
	if diff := cmp.Diff(before, snapshot(t, hand)); diff != "" {
		t.Errorf("refused build changed the directory (-before +after):\n%s", diff)
	}

	// -pkg is validated.
	for _, pkg := range []string{"foo bar", "1x", "main", "x\"y", "func"} {
		if code, _, stderr := run(t, "build", specPath, "-o", out, "-pkg", pkg); code != exitError {
			t.Errorf("-pkg %q: exit %d, stderr %q", pkg, code, stderr)
		}
	}
}

// snapshot maps every file under dir to its contents.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if !info.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			m[rel] = string(b)
		}
		return nil
	})
	return m
}

const tinySpec = `resgen: 1
name: tiny
input: {channels: 3, height: 8, width: 8}
layers:
  - {name: conv1, op: conv2d, out: 4, kernel: 3, padding: 1, bias: false}
  - {name: bn1, op: batchnorm}
  - {name: relu, op: relu}
  - {name: pool, op: global_avgpool}
  - {name: flat, op: flatten}
  - {name: fc, op: linear, out: 3}
`

// TestHostileNames: layer names that are Go code in disguise are refused
// with a clear error (codegen also quotes and sanitises every name it emits;
// see codegen's TestHostileNames).
func TestHostileNames(t *testing.T) {
	dir := t.TempDir()
	hostile := strings.NewReplacer(
		"name: conv1", `name: 'x"); os.Exit(1); //'`,
		"name: fc", "name: 'fc"+"`"+"'",
	).Replace(tinySpec)
	sp := filepath.Join(dir, "spec.yaml")
	os.WriteFile(sp, []byte(hostile), 0o644)
	code, _, stderr := run(t, "build", sp, "-o", filepath.Join(dir, "out"))
	if code != exitError || !strings.Contains(stderr, "spec.yaml:5:") || !strings.Contains(stderr, "spec.yaml:10:") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("output directory created: %v", err)
	}
}

// TestEmbed builds with -embed and runs the package's NewEmbedded.
func TestEmbed(t *testing.T) {
	dir := scratchDir(t)
	sp := filepath.Join(dir, "spec.yaml")
	os.WriteFile(sp, []byte(tinySpec), 0o644)
	pkgDir := filepath.Join(dir, "tiny")
	os.MkdirAll(pkgDir, 0o755)
	if code, _, stderr := run(t, "weights", "init", sp, "-seed", "7", "-o", filepath.Join(pkgDir, "weights.safetensors")); code != 0 {
		t.Fatalf("weights init: %s", stderr)
	}
	if code, _, stderr := run(t, "build", sp, "-o", pkgDir, "-embed", "weights.safetensors"); code != 0 {
		t.Fatalf("build: %s", stderr)
	}
	test := `package tiny

import "testing"

func TestEmbedded(t *testing.T) {
	m, err := NewEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out := make([]float32, OutputLen)
	if err := m.Forward(out, make([]float32, InputLen)); err != nil {
		t.Fatal(err)
	}
}
`
	os.WriteFile(filepath.Join(pkgDir, "embed_test.go"), []byte(test), 0o644)
	goCmd(t, pkgDir, "vet", ".")
	goCmd(t, pkgDir, "test", ".")

	// Dropping -embed removes the stale embed.go resgen wrote.
	if code, _, stderr := run(t, "build", sp, "-o", pkgDir); code != 0 {
		t.Fatalf("build without -embed: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(pkgDir, "embed.go")); !os.IsNotExist(err) {
		t.Errorf("embed.go left behind: %v", err)
	}

	// -embed of a file outside the package directory is refused.
	if code, _, stderr := run(t, "build", sp, "-o", pkgDir, "-embed", "../spec.yaml"); code != exitError || !strings.Contains(stderr, "inside the output directory") {
		t.Errorf("-embed ../spec.yaml: exit %d, %q", code, stderr)
	}
}

// TestErrorCorpus runs `resgen check` on every testdata/errors/*.yaml and
// compares stderr with the .stderr file next to it; -update rewrites them.
// Every message must name a line and column (or a tensor) and the exit
// status must be 1.
func TestErrorCorpus(t *testing.T) {
	root := moduleRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "testdata", "errors", "*.yaml"))
	if len(files) == 0 {
		t.Skip("no error corpus yet")
	}
	t.Chdir(filepath.Join(root, "testdata", "errors"))
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			code, _, stderr := run(t, "check", name)
			if code != exitError {
				t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
				if !strings.HasPrefix(line, name+":") {
					t.Errorf("message does not start with %s:LINE:COL: %q", name, line)
				}
			}
			golden := strings.TrimSuffix(name, ".yaml") + ".stderr"
			if *update {
				os.WriteFile(golden, []byte(stderr), 0o644)
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), stderr); diff != "" {
				t.Errorf("stderr mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
