package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resgen/resgen/dataset"
)

func needData(t *testing.T) {
	t.Helper()
	if _, _, err := dataset.LoadFashionMNIST(dataset.FashionMNISTDir, "test"); err != nil {
		t.Skipf("%v (apt-get install -y dataset-fashion-mnist)", err)
	}
}

// TestSmoke runs -smoke as CI does and checks the report it writes.
func TestSmoke(t *testing.T) {
	needData(t)
	dir := t.TempDir()
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-smoke", "-state", filepath.Join(dir, "state"), "-report", dir}, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	md, err := os.ReadFile(filepath.Join(dir, "degradation.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"**This is a smoke run**",
		"| plain-20 | 20 | 269434 | 2 of 2 |",
		"| plain-56 | 56 | 852730 | 2 of 2 |",
		"| ResNet-20 | 20 | 269434 | 2 of 2 |",
		"| ResNet-56 | 56 | 852730 | 2 of 2 |",
		"| ResNet-1202 | 19420986 | 3 of 3 |",
		"| plain-1202 | 19420986 | 3 of 3 |",
		"200 × 50000 × ",
		"## What this shows",
		"After all 2 epochs",
		"- Gradients after step 1: plain-56's first convolution",
	} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("degradation.md lacks %q", want)
		}
	}
	for _, name := range []string{errorPNG, normPNG, deepPNG} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width < 800 {
			t.Errorf("%s: %v, %d×%d", name, err, cfg.Width, cfg.Height)
		}
	}
	if t.Failed() {
		t.Logf("degradation.md:\n%s", md)
	}
}

// TestResume stops a run in the middle of an epoch and resumes it: the
// steps before the stop are those of an uninterrupted run, and the resumed
// run finishes the budget.
func TestResume(t *testing.T) {
	needData(t)
	args := func(dir string, extra ...string) []string {
		return append([]string{"-smoke", "-nets", "plain20,resnet20", "-every", "2", "-state", filepath.Join(dir, "state"), "-report", dir}, extra...)
	}
	whole, parts := t.TempDir(), t.TempDir()
	var stderr bytes.Buffer
	if code := run(context.Background(), args(whole), &stderr); code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s", code, stderr.String())
	}
	stderr.Reset()
	// plain20 finishes epoch 1 (6 steps), resnet20 stops after 3 of its own.
	if code := run(context.Background(), args(parts, "-stop-after", "9"), &stderr); code != 1 || !strings.Contains(stderr.String(), "stopped; rerun") {
		t.Fatalf("interrupted run: exit %d, want 1 and a stop message\n%s", code, stderr.String())
	}
	mid, err := loadStates(filepath.Join(parts, "state"))
	if err != nil {
		t.Fatal(err)
	}
	if s := mid["resnet20"]; s == nil || s.Epoch != 0 || s.Step != 3 {
		t.Fatalf("resnet20 stopped at %+v, want epoch 0 step 3", s)
	}
	stderr.Reset()
	if code := run(context.Background(), args(parts), &stderr); code != 0 {
		t.Fatalf("resumed run: exit %d\n%s", code, stderr.String())
	}
	a, err := loadStates(filepath.Join(whole, "state"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadStates(filepath.Join(parts, "state"))
	if err != nil {
		t.Fatal(err)
	}
	for _, net := range []string{"plain20", "resnet20"} {
		sa, sb := a[net], b[net]
		if !sa.done() || !sb.done() || sa.Steps != sb.Steps || len(sb.Epochs) != sa.Plan.Epochs {
			t.Errorf("%s: uninterrupted %d steps, resumed %d steps, %d epochs", net, sa.Steps, sb.Steps, len(sb.Epochs))
			continue
		}
		// Up to the stop the runs are the same computation (results do
		// not depend on scheduling); after it, momentum restarts.
		stop := mid[net].Steps
		for i := range stop {
			if sa.Losses[i] != sb.Losses[i] {
				t.Errorf("%s step %d: loss %v uninterrupted, %v before the stop", net, i+1, sa.Losses[i], sb.Losses[i])
			}
		}
		if want := 0; sa.Resumes != want {
			t.Errorf("%s: uninterrupted run counts %d resumes", net, sa.Resumes)
		}
		if sb.Resumes != 1 {
			t.Errorf("%s: resumed run counts %d resumes, want 1", net, sb.Resumes)
		}
	}
	// The first step after resuming draws the same batch as the
	// uninterrupted run, so its loss (before the update) is the same up
	// to the restarted momentum of the previous step: the forward pass
	// sees the same weights only if the checkpoint loaded them exactly.
	sa, sb := a["resnet20"], b["resnet20"]
	if i := mid["resnet20"].Steps; sa.Losses[i] != sb.Losses[i] {
		t.Errorf("resnet20 step %d, the first after resuming: loss %v uninterrupted, %v resumed", i+1, sa.Losses[i], sb.Losses[i])
	}
}

func TestMissingData(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"-smoke", "-data", filepath.Join(t.TempDir(), "none"), "-state", t.TempDir(), "-report", t.TempDir()}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "dataset-fashion-mnist") {
		t.Errorf("exit %d, want 1 and a message naming the package:\n%s", code, stderr.String())
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-epochs", "0"}, {"-nets", "resnet18"}, {"extra"}} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
}
