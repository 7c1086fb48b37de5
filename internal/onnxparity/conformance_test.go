package onnxparity

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/resgen/resgen/codegen"
	"github.com/resgen/resgen/importer"
	"github.com/resgen/resgen/internal/onnxparity/confdata"
	"github.com/resgen/resgen/onnx"
)

// confTolerance is the largest error allowed on a conformance case,
// relative to max|expected| (the expected outputs come from ONNX's
// reference implementation in float32, and some cases are long sums).
const confTolerance = 1e-5

// The counts of libonnx-testdata 1.12 (Debian): a change in what imports
// must update them, deliberately.
const (
	wantConfCases  = 1014
	wantConfPassed = 57
)

// TestConformance runs every case of ONNX's node and pytorch-converted
// suites: each must be imported and match its expected output ("passed"),
// or be refused with an import error ("refused"); a panic, an error that is
// not an import or decoding error, or a wrong output is "failed", and none
// may fail. The counts are logged and pinned, so a change in scope shows.
func TestConformance(t *testing.T) {
	if _, err := os.Stat(confdata.Root); err != nil {
		if os.Getenv("RESGEN_REQUIRE_DATA") == "1" {
			t.Fatalf("%s: %v (apt-get install libonnx-testdata)", confdata.Root, err)
		}
		t.Skipf("%s not installed (apt-get install libonnx-testdata)", confdata.Root)
	}
	cases, err := confdata.Cases(confdata.Root)
	if err != nil {
		t.Fatal(err)
	}
	var passed, refused, failed []string
	for _, c := range cases {
		name := c.PkgName()
		outcome, detail := conformanceCase(t, c)
		switch outcome {
		case "passed":
			passed = append(passed, name)
		case "refused":
			refused = append(refused, name)
		default:
			failed = append(failed, name)
			t.Errorf("%s: %s", name, detail)
		}
	}
	for name := range conformance {
		found := false
		for _, p := range passed {
			found = found || p == name
		}
		if !found {
			t.Errorf("%s: has a package under conf/ but did not pass (run go generate ./internal/onnxparity)", name)
		}
	}
	t.Logf("ONNX conformance (%s): %d cases: %d passed, %d refused cleanly, %d failed", strings.Join(confdata.Dirs, ", "), len(cases), len(passed), len(refused), len(failed))
	t.Logf("passed: %s", strings.Join(passed, " "))
	if len(cases) == wantConfCases && len(passed) != wantConfPassed {
		t.Errorf("%d cases passed; want %d (update wantConfPassed if the importer's scope changed on purpose)", len(passed), wantConfPassed)
	}
}

// conformanceCase classifies one case; a panic anywhere is a failure.
func conformanceCase(t *testing.T, c confdata.Case) (outcome, detail string) {
	defer func() {
		if r := recover(); r != nil {
			outcome, detail = "failed", fmt.Sprintf("panic: %v", r)
		}
	}()
	d, err := confdata.Load(c)
	if err != nil {
		var oe *onnx.Error
		if errors.As(err, &oe) {
			return "refused", err.Error()
		}
		// Cases whose test data has no input_N.pb for an input, and so on:
		// they cannot be run, which is a limit of the data, not an import.
		if d == nil {
			return "refused", "test data: " + err.Error()
		}
		return "failed", err.Error()
	}
	name := c.PkgName()
	res, err := importer.Import(d.Model, importer.Options{File: "model.onnx", Name: codegen.PackageName(name)})
	if err != nil {
		var ie *importer.Error
		if !errors.As(err, &ie) {
			return "failed", "import error of an unexpected kind: " + err.Error()
		}
		if _, ok := conformance[name]; ok {
			return "failed", "has a package under conf/ but no longer imports: " + err.Error()
		}
		return "refused", err.Error()
	}
	cp, ok := conformance[name]
	if !ok {
		return "failed", "imports, but has no package under conf/ (run go generate ./internal/onnxparity)"
	}
	committed, err := os.ReadFile(filepath.Join("conf", name, "spec.yaml"))
	if err != nil {
		return "failed", err.Error()
	}
	if diff := cmp.Diff(string(committed), string(res.Spec)); diff != "" {
		return "failed", "imported spec differs from the committed one (run go generate ./internal/onnxparity) (-want +got):\n" + diff
	}
	in, want := d.Input.Floats, d.Output.Floats
	if d.Input.DataType != onnx.Float || d.Output.DataType != onnx.Float {
		return "failed", fmt.Sprintf("imported, but the test data is %s → %s", d.Input.DataType, d.Output.DataType)
	}
	if len(in) == 0 || len(in)%cp.inputLen != 0 || len(want) != len(in)/cp.inputLen*cp.outputLen {
		return "failed", fmt.Sprintf("test data holds %d inputs and %d outputs; the package takes %d and gives %d per item", len(in), len(want), cp.inputLen, cp.outputLen)
	}
	m, err := cp.new(res.Weights, 1)
	if err != nil {
		return "failed", err.Error()
	}
	defer m.Close()
	got := make([]float32, len(want))
	if err := m.Forward(got, in); err != nil {
		return "failed", err.Error()
	}
	rel, maxAbs, refMax := compare(got, want)
	if !(rel <= confTolerance) {
		return "failed", fmt.Sprintf("max error %.3g (%.3g relative to max|expected| %.4g) > %g", maxAbs, rel, refMax, confTolerance)
	}
	return "passed", ""
}
