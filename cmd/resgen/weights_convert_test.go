package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/resgen/resgen/runtime"
)

// pthDir holds the torch.save fixtures of reference/pth_fixtures.py.
func pthDir(t *testing.T) string {
	return filepath.Join(moduleRoot(t), "runtime", "testdata", "pth")
}

func readST(t *testing.T, path string) *runtime.Safetensors {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := runtime.ReadSafetensors(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return st
}

// sameST compares names, dtypes, shapes and bytes.
func sameST(t *testing.T, want, got *runtime.Safetensors) {
	t.Helper()
	if diff := cmp.Diff(want.Names(), got.Names()); diff != "" {
		t.Fatalf("names (-want +got):\n%s", diff)
	}
	for _, n := range want.Names() {
		wd, _ := want.DType(n)
		gd, _ := got.DType(n)
		ws, _ := want.Shape(n)
		gs, _ := got.Shape(n)
		wb, _ := want.Bytes(n)
		gb, _ := got.Bytes(n)
		if wd != gd || !slices.Equal(ws, gs) || !bytes.Equal(wb, gb) {
			t.Errorf("%s: %s %v (%d bytes), want %s %v (%d bytes), or the data differs", n, gd, gs, len(gb), wd, ws, len(wb))
		}
	}
}

// Each fixture converts to exactly the tensors torch.load reads from it
// (its .want.safetensors): dtypes kept, views made contiguous, DataParallel's
// module. dropped, the state_dict found in checkpoint dicts.
func TestWeightsConvertMatchesPyTorch(t *testing.T) {
	dir := pthDir(t)
	for _, c := range []struct {
		name string
		args []string
		out  string // what stdout says
	}{
		{"plain", nil, "8 tensors: 7 F32, 1 I64; 1096 bytes"},
		{"dataparallel", nil, "prefix module. stripped"},
		{"dataparallel", []string{"-strip-prefix", "module."}, "prefix module. stripped"},
		{"checkpoint", nil, "8 tensors"},
		{"checkpoint", []string{"-key", "state_dict"}, "key state_dict"},
		{"model_key", []string{"-key", "model"}, "key model, prefix module. stripped"},
		{"dtypes", nil, "15 tensors: 1 BF16, 1 BOOL, 2 F16, 7 F32, 1 F64, 1 I32, 1 I64, 1 U8"},
		{"legacy", nil, "8 tensors"},
		{"legacy_dtypes", nil, "15 tensors"},
		{"protocol4", nil, "15 tensors"},
	} {
		t.Run(c.name+strings.Join(c.args, ""), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.safetensors")
			code, stdout, stderr := run(t, append([]string{"weights", "convert", filepath.Join(dir, c.name+".pth"), "-o", out}, c.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, c.out) {
				t.Errorf("stdout %q does not say %q", stdout, c.out)
			}
			sameST(t, readST(t, filepath.Join(dir, c.name+".want.safetensors")), readST(t, out))
		})
	}
}

// fashion_dp.pth is testdata/fashion's weights as DataParallel saves them;
// converting gives back the very same file's tensors.
func TestWeightsConvertFashion(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fashion.safetensors")
	code, _, stderr := run(t, "weights", "convert", filepath.Join(pthDir(t), "fashion_dp.pth"), "-o", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameST(t, readST(t, filepath.Join(moduleRoot(t), "testdata", "fashion", "weights.safetensors")), readST(t, out))
}

func TestWeightsConvertStripPrefix(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.safetensors")
	code, _, stderr := run(t, "weights", "convert", filepath.Join(pthDir(t), "plain.pth"), "-o", out, "-strip-prefix", "bn1.")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := []string{"conv1.weight", "fc.bias", "fc.weight", "num_batches_tracked", "running_mean", "running_var", "weight", "bias"}
	slices.Sort(want)
	if diff := cmp.Diff(want, readST(t, out).Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

func TestWeightsConvertUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"in.pth"}, exitUsage, "want one IN file and -o OUT.safetensors"},
		{[]string{"-o", "x"}, exitUsage, "want one IN file"},
		{[]string{"a", "b", "-o", "x"}, exitUsage, "want one IN file"},
		{[]string{"-bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{filepath.Join(dir, "missing.pth"), "-o", "x"}, exitError, "missing.pth: no such file or directory"},
		{[]string{filepath.Join(moduleRoot(t), "testdata", "fashion", "weights.safetensors"), "-o", filepath.Join(dir, "x")}, exitError, "weights.safetensors: already a safetensors file"},
		{[]string{filepath.Join(moduleRoot(t), "go.mod"), "-o", filepath.Join(dir, "x")}, exitError, "go.mod: not a torch.save file"},
		{[]string{filepath.Join(pthDir(t), "plain.pth"), "-o", filepath.Join(dir, "x"), "-strip-prefix", "module."}, exitError,
			`plain.pth: -strip-prefix: prefix "module.": no tensor name starts with it (names such as "bn1.bias")`},
		{[]string{filepath.Join(pthDir(t), "checkpoint.pth"), "-o", filepath.Join(dir, "x"), "-key", "optimizer"}, exitError,
			`checkpoint.pth: key "optimizer": "state" holds a dict, not a tensor`},
	} {
		code, _, stderr := run(t, append([]string{"weights", "convert"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.err) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Errorf("a failed convert wrote its output: %v", err)
	}
}

// TestWeightsConvertErrorCorpus converts every hostile or broken file under
// runtime/testdata/pth/errors and compares stderr with the .stderr golden
// next to it (-update rewrites them). Each must exit 1 with a message that
// starts with the file's name, leave an existing output untouched, and run
// nothing: the os.system pickles would create /tmp/pwned.
func TestWeightsConvertErrorCorpus(t *testing.T) {
	dir := filepath.Join(pthDir(t), "errors")
	files, _ := filepath.Glob(filepath.Join(dir, "*.pth"))
	if len(files) == 0 {
		t.Fatal("no error corpus")
	}
	os.Remove("/tmp/pwned")
	out := filepath.Join(t.TempDir(), "out.safetensors")
	t.Chdir(dir)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".pth"), func(t *testing.T) {
			os.WriteFile(out, []byte("before"), 0o644)
			code, _, stderr := run(t, "weights", "convert", name, "-o", out)
			if code != exitError {
				t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			if !strings.HasPrefix(stderr, name+": ") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr is not one line starting with %s: %q", name, stderr)
			}
			if b, _ := os.ReadFile(out); string(b) != "before" {
				t.Errorf("the output was overwritten")
			}
			golden := strings.TrimSuffix(name, ".pth") + ".stderr"
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
	if _, err := os.Stat("/tmp/pwned"); !os.IsNotExist(err) {
		t.Errorf("/tmp/pwned exists: a hostile pickle ran")
	}
}
