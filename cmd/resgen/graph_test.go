package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/resgen/resgen/ir"
	"github.com/resgen/resgen/spec"
)

// graphDocs are the pictures in docs/, drawn from the presets as
// `resgen init NAME > NAME.yaml && resgen graph NAME.yaml` draws them.
var graphDocs = []string{"resnet18", "resnet50", "unet", "cifar-resnet20"}

// TestGraphDocs: docs/graph-NAME.svg is current (go test -update rewrites it).
func TestGraphDocs(t *testing.T) {
	names := ir.PassNames()
	for _, name := range graphDocs {
		t.Run(name, func(t *testing.T) {
			src, err := spec.Preset(name, spec.PresetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := graphSVG(name+".yaml", src, names[len(names)-1])
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(moduleRoot(t), "docs", "graph-"+name+".svg")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/resgen -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s is stale; run go test ./cmd/resgen -update (-want +got):\n%s", path, diff)
			}
		})
	}
}

func writeSpec(t *testing.T, dir, name string, src []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
	}
}

// TestGraphOutput: the default output is the spec's base name with .svg in
// the working directory; -o - is stdout; -after picks the pass.
func TestGraphOutput(t *testing.T) {
	dir := t.TempDir()
	src, err := spec.Preset("cifar-resnet20", spec.PresetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "specs")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeSpec(t, sub, "net.yaml", src)
	t.Chdir(dir)
	code, stdout, stderr := run(t, "graph", filepath.Join("specs", "net.yaml"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "net.svg"))
	if err != nil {
		t.Fatalf("default output: %v (stdout %q)", err, stdout)
	}
	wellFormed(t, b)
	if !strings.Contains(stdout, "net.svg") {
		t.Errorf("stdout %q does not name the file", stdout)
	}

	code, stdout, stderr = run(t, "graph", "-after", "lower", "-o", "-", filepath.Join("specs", "net.yaml"))
	if code != exitOK {
		t.Fatalf("-o -: exit %d: %s", code, stderr)
	}
	wellFormed(t, []byte(stdout))
	// After lowering every BatchNorm is its own box; after the passes none is.
	if !strings.Contains(stdout, "after pass lower") || !strings.Contains(stdout, ">layer1.0.bn1<") {
		t.Errorf("-after lower: not the lowered graph")
	}
	if strings.Contains(string(b), ">layer1.0.bn1<") || !strings.Contains(string(b), "after pass memplan") {
		t.Errorf("default: not the graph after the last pass")
	}

	out := filepath.Join(dir, "pics", "x.svg")
	if err := os.Mkdir(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "graph", "specs/net.yaml", "-o", out, "-after", "fuseadd"); code != exitOK {
		t.Fatalf("-o %s: exit %d: %s", out, code, stderr)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Contains(b, []byte("after pass fuseadd")) {
		t.Errorf("-o %s -after fuseadd: %v", out, err)
	}
}

// TestGraphErrors: a user's mistake is exit 1 (2 for usage), a message that
// says what and where, and no file written.
func TestGraphErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := spec.Preset("cifar-resnet20", spec.PresetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeSpec(t, dir, "good.yaml", good)
	bad, err := os.ReadFile(filepath.Join(moduleRoot(t), "testdata", "errors", "unknown_tensor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeSpec(t, dir, "bad.yaml", bad)
	wantBad, err := os.ReadFile(filepath.Join(moduleRoot(t), "testdata", "errors", "unknown_tensor.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	out := "out.svg"
	tests := []struct {
		args []string
		code int
		want []string // in stderr
	}{
		{[]string{"graph", "good.yaml", "-after", "fold", "-o", out}, exitError,
			[]string{`-after "fold": want one of lower, foldbn, fuseadd, fuseact, simplify, winograd, memplan`}},
		{[]string{"graph", "bad.yaml", "-o", out}, exitError,
			[]string{strings.ReplaceAll(strings.TrimSpace(string(wantBad)), "unknown_tensor.yaml", "bad.yaml")}},
		{[]string{"graph", "missing.yaml", "-o", out}, exitError, []string{"missing.yaml: no such file or directory"}},
		{[]string{"graph", "-o", out}, exitUsage, []string{"want one SPEC", "usage: resgen graph SPEC"}},
		{[]string{"graph", "good.yaml", "good.yaml"}, exitUsage, []string{"want one SPEC"}},
		{[]string{"graph", "good.yaml", "-frob"}, exitUsage, []string{"-frob"}},
		{[]string{"graph", "good.yaml", "-o", filepath.Join("no", "such", "dir.svg")}, exitError, []string{"-o " + filepath.Join("no", "such", "dir.svg") + ": the directory " + filepath.Join("no", "such") + " does not exist"}},
	}
	for _, tt := range tests {
		code, stdout, stderr := run(t, tt.args...)
		if code != tt.code {
			t.Errorf("resgen %v: exit %d, want %d (stderr %q)", tt.args, code, tt.code, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("resgen %v: stderr %q lacks %q", tt.args, stderr, w)
			}
		}
		if stdout != "" {
			t.Errorf("resgen %v: stdout %q", tt.args, stdout)
		}
		if strings.Contains(stderr, "panic") {
			t.Errorf("resgen %v panicked: %s", tt.args, stderr)
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".yaml") {
				t.Errorf("resgen %v left %s behind", tt.args, e.Name())
			}
		}
	}
}
