package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestImportErrors runs `resgen import` on each model of the ONNX error
// corpus (testdata/onnx/errors/NAME.onnx, written by
// reference/onnx_fixtures.py errors: a cycle, a dangling input, absurd dims,
// a truncated file, external data, unsupported ops and attributes, …) and
// compares stderr with NAME.stderr next to it (-update rewrites them). Each
// must exit 1 and write nothing.
func TestImportErrors(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "onnx", "errors")
	models, err := filepath.Glob(filepath.Join(dir, "*.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(models) < 10 {
		t.Fatalf("only %d models in %s", len(models), dir)
	}
	for _, m := range models {
		name := strings.TrimSuffix(filepath.Base(m), ".onnx")
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			code, stdout, stderr := run(t, "import", filepath.ToSlash(m), "-o", out)
			if code != exitError {
				t.Errorf("exit %d, want %d; stdout:\n%s", code, exitError, stdout)
			}
			if es, _ := os.ReadDir(out); len(es) != 0 {
				t.Errorf("wrote %d files on failure: %v", len(es), es)
			}
			golden := filepath.Join(dir, name+".stderr")
			if *update {
				if err := os.WriteFile(golden, []byte(stderr), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/resgen -update)", err)
			}
			if diff := cmp.Diff(string(want), stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

// TestImportBuild imports a fixture and builds the spec it wrote, as a user
// would: import, then build.
func TestImportBuild(t *testing.T) {
	out := t.TempDir()
	model := filepath.Join("..", "..", "testdata", "onnx", "allops", "model.onnx")
	code, stdout, stderr := run(t, "import", model, "-o", out, "-name", "allops")
	if code != exitOK {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "spec.yaml (28 layers)") {
		t.Errorf("stdout: %s", stdout)
	}
	for _, f := range []string{"spec.yaml", "weights.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if es, _ := os.ReadDir(out); len(es) != 2 {
		t.Errorf("wrote %d entries, want 2 (no temporary files left)", len(es))
	}
	code, _, stderr = run(t, "check", filepath.Join(out, "spec.yaml"))
	if code != exitOK {
		t.Fatalf("check of the imported spec: exit %d: %s", code, stderr)
	}
	code, _, stderr = run(t, "build", filepath.Join(out, "spec.yaml"), "-o", filepath.Join(out, "pkg"))
	if code != exitOK {
		t.Fatalf("build of the imported spec: exit %d: %s", code, stderr)
	}
}

// TestImportInput: -input gives the sizes a model leaves symbolic.
func TestImportInput(t *testing.T) {
	out := t.TempDir()
	model := filepath.Join("..", "..", "testdata", "onnx", "errors", "symbolic_hw.onnx")
	code, _, stderr := run(t, "import", model, "-o", out, "-input", "3x5x7")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "spec.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "name: symbolic_hw\ninput: {channels: 3, height: 5, width: 7}\n") {
		t.Errorf("spec.yaml:\n%s", b)
	}
}

// TestImportUsage covers the flags' errors.
func TestImportUsage(t *testing.T) {
	model := filepath.Join("..", "..", "testdata", "onnx", "allops", "model.onnx")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"import"}, exitUsage, "want one MODEL.onnx, got 0 arguments"},
		{[]string{"import", model, "-input", "3x12"}, exitError, `-input "3x12": want CxHxW`},
		{[]string{"import", model, "-input", "3x13x10"}, exitError, "-input 3x13x10 disagrees with the model's shape [batch, 3, 12, 10]"},
		{[]string{"import", model, "-name", "no-dash"}, exitError, "-name:"},
		{[]string{"import", "missing.onnx"}, exitError, "missing.onnx: no such file or directory"},
	} {
		code, _, stderr := run(t, append(tc.args, "-o", t.TempDir())...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}
