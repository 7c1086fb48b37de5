package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestNEONEncodings assembles the generated arm64 kernels with the Go
// toolchain and disassembles them: every WORD must decode to the
// instruction its comment names. Go's disassembler (golang.org/x/arch)
// knows FMLA by element, FADD and FMAX even though its assembler does not.
func TestNEONEncodings(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	files, err := generateARM64()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "gemm_arm64.s")
	if err := os.WriteFile(src, files["gemm_arm64.s"], 0o666); err != nil {
		t.Fatal(err)
	}
	goroot, err := exec.Command(gobin, "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, "gemm.o")
	asm := exec.Command(gobin, "tool", "asm", "-p", "runtime", "-I", filepath.Join(strings.TrimSpace(string(goroot)), "pkg", "include"), "-o", obj, src)
	asm.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64")
	if out, err := asm.CombinedOutput(); err != nil {
		t.Fatalf("go tool asm: %v\n%s", err, out)
	}
	dis, err := exec.Command(gobin, "tool", "objdump", obj).Output()
	if err != nil {
		t.Fatalf("go tool objdump: %v", err)
	}
	// objdump lines: "  gemm_arm64.s:27  0x1c  4f8413c0  VFMLA V4.S[0], V30.S4, V0.S4"
	decoded := map[int]string{}
	line := regexp.MustCompile(`gemm_arm64\.s:(\d+)\s+0x[0-9a-f]+\s+[0-9a-f]{8}\s+(.*?)\s*$`)
	sc := bufio.NewScanner(bytes.NewReader(dis))
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[1])
			decoded[n] = m[2]
		}
	}
	words := 0
	for i, l := range strings.Split(string(files["gemm_arm64.s"]), "\n") {
		_, comment, ok := strings.Cut(l, "WORD $")
		if !ok {
			continue
		}
		_, comment, _ = strings.Cut(comment, "// ")
		want, err := goSyntax(comment)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if got := decoded[i+1]; got != want {
			t.Fatalf("gemm_arm64.s:%d: %q decodes as %q, want %q", i+1, l, got, want)
		}
		words++
	}
	if words == 0 {
		t.Fatal("no WORD instructions found")
	}
	t.Logf("%d WORD encodings checked", words)
}

// goSyntax rewrites an Arm-syntax comment ("FMLA V0.4S, V30.4S, V4.S[1]")
// in the Go disassembler's order and spelling ("VFMLA V4.S[1], V30.S4, V0.S4").
func goSyntax(arm string) (string, error) {
	op, rest, _ := strings.Cut(arm, " ")
	args := strings.Split(rest, ", ")
	if len(args) != 3 {
		return "", fmt.Errorf("%q: want three operands", arm)
	}
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, ".4S", ".S4")
	}
	switch op {
	case "FMLA":
		op = "VFMLA"
	case "FADD", "FMAX":
	default:
		return "", fmt.Errorf("%q: unknown instruction", arm)
	}
	return fmt.Sprintf("%s %s, %s, %s", op, args[2], args[1], args[0]), nil
}
