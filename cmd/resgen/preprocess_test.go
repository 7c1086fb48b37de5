package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPreprocessFileLifecycle: preprocess.go appears with preprocess: or
// labels:, is removed when both go, and a labels file is found next to
// the spec wherever the command runs.
func TestPreprocessFileLifecycle(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "net.yaml")
	out := filepath.Join(dir, "out")
	if err := os.WriteFile(filepath.Join(dir, "classes.txt"), []byte("cat\ndog\nbird\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := func(spec string) {
		t.Helper()
		if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := run(t, "build", specPath, "-o", out, "-pkg", "tiny"); code != 0 {
			t.Fatalf("build: %s", stderr)
		}
	}
	exists := func() bool {
		_, err := os.Stat(filepath.Join(out, "preprocess.go"))
		return err == nil
	}
	build(tinySpec + "preprocess: {resize: [8, 8]}\nlabels: classes.txt\n")
	if !exists() {
		t.Fatal("no preprocess.go")
	}
	build(tinySpec)
	if exists() {
		t.Error("preprocess.go left behind after dropping preprocess: and labels:")
	}
	if _, err := os.Stat(filepath.Join(out, "model.go")); err != nil {
		t.Error(err)
	}
}
