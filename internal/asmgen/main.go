// Command asmgen writes the GEMM micro-kernels of package runtime:
// gemm_amd64.s and its Go declarations, gemm_amd64_kernels.go, and the arm64
// NEON ones, gemm_arm64.s and gemm_arm64_kernels.go (see arm64.go); and the
// AVX-512 Winograd transforms, winograd_amd64.s and
// winograd_amd64_kernels.go (see winograd.go).
//
// Each kernel computes an mr×16 (AVX2) or mr×32 (AVX-512) block of an
// implicit GEMM and stores it through the epilogue (bias, residual, ReLU,
// column mask). The row count is fixed per function, so every row's
// accumulators live in registers and no kernel branches per row.
//
// The N16 families read panels 16 columns wide (64 bytes per k). On AVX-512
// that is one vector per row, so the register file holds up to 25 rows: a
// layer with 16 output channels no longer wastes half of every FMA.
//
// The strided (S) families compute the same block with A transposed: the
// rows of a block are consecutive floats and the k axis has a stride (lda
// holds it). The weight gradient of a convolution reads its NHWC input that
// way, input channels as rows and pixels along k, with no transposed copy.
//
// Usage (from runtime/, via go generate): go run ../internal/asmgen -dir .
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	dir := flag.String("dir", ".", "directory of package runtime")
	flag.Parse()
	files, err := generate()
	if err != nil {
		log.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(*dir, name), b, 0o666); err != nil {
			log.Fatal(err)
		}
	}
}

// Offsets of the fields of runtime.gemmArgs (every field is 8 bytes). The
// runtime tests check them with unsafe.Offsetof.
const (
	offA    = 0  // first row's origin in the input
	offLDA  = 8  // bytes between rows
	offKoff = 16 // *int: per tap, float offset from a row's origin
	offNpos = 24 // number of taps
	offKC   = 32 // floats per tap
	offB    = 40 // packed panel, 32 (N16: 16) floats per k
	offC    = 48 // first row's output
	offLDC  = 56 // bytes between output rows
	offBias = 64
	offRes  = 72 // residual, laid out like the output, or nil
	offMask = 80 // AVX-512: bit j enables column j (of the last panel); AVX2: *[16]int32 of 0/-1
	offReLU = 88
	// AVX-512 only: panels to run (≥ 1), each nr columns right of the last,
	// and bytes of the packed weights to skip between panels.
	offNpanel = 96
	offBskip  = 104
	// AVX-512 only: where to prefetch (into L2) pfLines lines per four
	// k, what the next tile will read (the next panel's weights, or a 1×1
	// tile's input), so that its memory traffic overlaps this tile's
	// multiply-adds. 0 prefetches the current weights again (a no-op).
	offPf = 112
)

// pfLines is how many cache lines the AVX-512 kernels prefetch from pf per
// four k; runtime's gemmPrefetchPerK is the same rate in floats per k.
const pfLines = 4

// isa describes one kernel family: an instruction set's register file and
// the panel width it reads.
type isa struct {
	name    string // function name infix
	reg     string // "Z" or "Y"
	vec     int    // bytes per vector
	vecs    int    // vectors per row of the block
	panel   int    // bytes per k of the packed panel
	maxRows int
	regs    int // vector registers
	group   int // rows addressed from one row register (3 or 5)
}

var (
	avx512    = isa{name: "AVX512", reg: "Z", vec: 64, vecs: 2, panel: 128, maxRows: 14, regs: 32, group: 3}
	avx512n16 = isa{name: "AVX512N16", reg: "Z", vec: 64, vecs: 1, panel: 64, maxRows: 25, regs: 32, group: 5}
	avx2      = isa{name: "AVX2", reg: "Y", vec: 32, vecs: 2, panel: 128, maxRows: 6, regs: 16, group: 3}
	avx2n16   = isa{name: "AVX2N16", reg: "Y", vec: 32, vecs: 2, panel: 64, maxRows: 6, regs: 16, group: 3}
)

// Row r of A (and of C) is addressed as group register rowRegs[r/group]
// plus (r%group)·stride, the stride being in R8; R9 holds 3·stride.
var rowRegs = []string{"R10", "R11", "R12", "R13", "R14"}

func (k *kernel) rowAddr(r, disp int) string {
	idx := [...]string{"", "(R8*1)", "(R8*2)", "(R9*1)", "(R8*4)"}[r%k.group]
	if disp == 0 {
		return fmt.Sprintf("(%s)%s", rowRegs[r/k.group], idx)
	}
	return fmt.Sprintf("%d(%s)%s", disp, rowRegs[r/k.group], idx)
}

type kernel struct {
	isa
	rows    int
	split   int  // independent accumulator sets (summed at the end) for short tiles
	strided bool // A rows are consecutive floats; lda is the stride of k
	buf     *bytes.Buffer
}

// name is the function name of the kernel family (without the row count).
func (k *kernel) family() string {
	if k.strided {
		return k.name + "S"
	}
	return k.name
}

// aAddr addresses row r of A at byte displacement disp along k. Strided
// kernels keep one A pointer, R10, advanced by the k stride after every k.
func (k *kernel) aAddr(r, disp int) string {
	if k.strided {
		return fmt.Sprintf("%d(R10)", 4*r+disp)
	}
	return k.rowAddr(r, disp)
}

func (k *kernel) op(format string, args ...any) {
	fmt.Fprintf(k.buf, "\t"+format+"\n", args...)
}

func (k *kernel) label(name string) { fmt.Fprintf(k.buf, "%s:\n", name) }

func (k *kernel) v(i int) string { return fmt.Sprintf("%s%d", k.reg, i) }

// acc is the accumulator for split s, row r, half h (columns 16h… for
// AVX-512; for AVX2 a half is 8 columns).
func (k *kernel) acc(s, r, h int) int { return s*k.vecs*k.rows + k.vecs*r + h }

// Registers after the accumulators: two for B, two broadcast temporaries.
func (k *kernel) bReg(h int) string   { return k.v(k.regs - 4 + h) }
func (k *kernel) tmpReg(i int) string { return k.v(k.regs - 2 + i) }

func (k *kernel) groups() int { return (k.rows + k.group - 1) / k.group }

// setRows points the row group registers at base (a register) using the
// stride in R8 and 3·stride in R9.
func (k *kernel) setRows(base string) {
	if base != rowRegs[0] {
		k.op("MOVQ %s, %s", base, rowRegs[0])
	}
	for g := 1; g < k.groups(); g++ {
		if k.group == 3 {
			k.op("LEAQ (%s)(R9*1), %s", rowRegs[g-1], rowRegs[g])
		} else {
			k.op("LEAQ (%s)(R8*4), %s", rowRegs[g-1], rowRegs[g])
			k.op("ADDQ R8, %s", rowRegs[g])
		}
	}
}

// step emits the multiply-adds for one k at byte displacement disp of the A
// rows and bDisp of the panel, accumulating into split s.
func (k *kernel) step(disp, bDisp, s int) {
	for h := range k.vecs {
		k.op("VMOVUPS %d(SI), %s", bDisp+h*k.vec, k.bReg(h))
	}
	for r := range k.rows {
		if k.vecs == 1 && k.reg == "Z" {
			// One FMA per broadcast value: let the FMA broadcast its
			// memory operand rather than spend a separate instruction.
			k.op("VFMADD231PS.BCST %s, %s, %s", k.aAddr(r, disp), k.bReg(0), k.v(k.acc(s, r, 0)))
			continue
		}
		t := k.tmpReg(r % 2)
		k.op("VBROADCASTSS %s, %s", k.aAddr(r, disp), t)
		for h := range k.vecs {
			k.op("VFMADD231PS %s, %s, %s", k.bReg(h), t, k.v(k.acc(s, r, h)))
		}
	}
}

func (k *kernel) advance(aBytes, bBytes int) {
	k.op("ADDQ $%d, SI", bBytes)
	for g := range k.groups() {
		k.op("ADDQ $%d, %s", aBytes, rowRegs[g])
	}
}

func (k *kernel) emit() {
	name := fmt.Sprintf("gemm%sx%d", k.family(), k.rows)
	fmt.Fprintf(k.buf, "\n// func %s(args *gemmArgs)\n", name)
	fmt.Fprintf(k.buf, "TEXT ·%s(SB), NOSPLIT, $0-8\n", name)
	k.op("MOVQ args+0(FP), DI")
	k.op("MOVQ %d(DI), AX", offA)
	if k.reg == "Z" {
		// Panels run one after another from here, the weights pointer
		// running on (plus the skip) from one panel into the next.
		k.op("MOVQ %d(DI), SI", offB)
		if !k.strided {
			k.op("MOVQ %d(DI), R15", offPf)
			k.op("TESTQ R15, R15")
			k.op("CMOVQEQ SI, R15")
		}
		k.label("panel")
		k.prefetchOutput()
	}
	k.op("MOVQ %d(DI), R8", offLDA)
	k.op("LEAQ (R8)(R8*2), R9")
	k.op("MOVQ %d(DI), DX", offKoff)
	k.op("MOVQ %d(DI), CX", offNpos)
	if k.reg != "Z" {
		k.op("MOVQ %d(DI), SI", offB)
	}
	nacc := k.vecs * k.rows * k.split
	for i := range nacc {
		if k.reg == "Z" {
			k.op("VPXORD %s, %s, %s", k.v(i), k.v(i), k.v(i))
		} else {
			k.op("VXORPS %s, %s, %s", k.v(i), k.v(i), k.v(i))
		}
	}
	k.op("TESTQ CX, CX")
	k.op("JZ epilogue")

	// For each tap: point the rows at it, then run k in fours, then ones.
	k.label("tap")
	k.op("MOVQ (DX), R10")
	k.op("LEAQ (AX)(R10*4), R10")
	if !k.strided {
		k.setRows("R10")
	}
	k.op("MOVQ %d(DI), BX", offKC)
	k.op("CMPQ BX, $4")
	k.op("JLT ones")
	k.label("fours")
	for u := range 4 {
		if k.strided {
			k.step(0, k.panel*u, u%k.split)
			k.op("ADDQ R8, R10")
		} else {
			k.step(4*u, k.panel*u, u%k.split)
		}
	}
	if k.strided {
		k.op("ADDQ $%d, SI", 4*k.panel)
	} else {
		if k.reg == "Z" {
			for l := range pfLines {
				k.op("PREFETCHT1 %d(R15)", 64*l)
			}
			k.op("ADDQ $%d, R15", 64*pfLines)
		}
		k.advance(16, 4*k.panel)
	}
	k.op("SUBQ $4, BX")
	k.op("CMPQ BX, $4")
	k.op("JGE fours")
	k.label("ones")
	k.op("TESTQ BX, BX")
	k.op("JZ nexttap")
	k.label("one")
	k.step(0, 0, 0)
	if k.strided {
		k.op("ADDQ R8, R10")
		k.op("ADDQ $%d, SI", k.panel)
	} else {
		k.advance(4, k.panel)
	}
	k.op("DECQ BX")
	k.op("JNZ one")
	k.label("nexttap")
	k.op("ADDQ $8, DX")
	k.op("DECQ CX")
	k.op("JNZ tap")

	k.label("epilogue")
	for s := 1; s < k.split; s++ {
		for r := range k.rows {
			for h := range k.vecs {
				a, b := k.v(k.acc(0, r, h)), k.v(k.acc(s, r, h))
				k.op("VADDPS %s, %s, %s", b, a, a)
			}
		}
	}
	// Bias in the B registers, masks in the temporaries (AVX2) or K1/K2.
	k.op("MOVQ %d(DI), BX", offBias)
	k.op("VMOVUPS (BX), %s", k.bReg(0))
	if k.vecs == 2 {
		k.op("VMOVUPS %d(BX), %s", k.vec, k.bReg(1))
	}
	for r := range k.rows {
		for h := range k.vecs {
			a := k.v(k.acc(0, r, h))
			k.op("VADDPS %s, %s, %s", k.bReg(h), a, a)
		}
	}
	if k.reg == "Z" {
		// Every panel but the last stores all its columns.
		k.op("MOVQ $0xffffffff, BX")
		k.op("CMPQ %d(DI), $1", offNpanel)
		k.op("CMOVQEQ %d(DI), BX", offMask)
		k.op("KMOVW BX, K1")
		if k.vecs == 2 {
			k.op("SHRQ $16, BX")
			k.op("KMOVW BX, K2")
		}
	} else {
		k.op("MOVQ %d(DI), BX", offMask)
		k.op("VMOVDQU (BX), %s", k.tmpReg(0))
		k.op("VMOVDQU 32(BX), %s", k.tmpReg(1))
	}
	k.op("MOVQ %d(DI), R8", offLDC)
	k.op("LEAQ (R8)(R8*2), R9")

	k.op("MOVQ %d(DI), R10", offRes)
	k.op("TESTQ R10, R10")
	k.op("JZ relu")
	k.setRows("R10")
	for r := range k.rows {
		for h := range k.vecs {
			a := k.v(k.acc(0, r, h))
			addr := k.rowAddr(r, h*k.vec)
			if k.reg == "Z" {
				k.op("VADDPS %s, %s, K%d, %s", addr, a, h+1, a)
			} else {
				k.op("VMASKMOVPS %s, %s, %s", addr, k.tmpReg(h), k.bReg(0))
				k.op("VADDPS %s, %s, %s", k.bReg(0), a, a)
			}
		}
	}

	k.label("relu")
	k.op("MOVQ %d(DI), BX", offReLU)
	k.op("TESTQ BX, BX")
	k.op("JZ store")
	zero := k.bReg(0)
	if k.reg == "Z" {
		k.op("VPXORD %s, %s, %s", zero, zero, zero)
	} else {
		k.op("VXORPS %s, %s, %s", zero, zero, zero)
	}
	for r := range k.rows {
		for h := range k.vecs {
			a := k.v(k.acc(0, r, h))
			k.op("VMAXPS %s, %s, %s", zero, a, a)
		}
	}

	k.label("store")
	k.op("MOVQ %d(DI), R10", offC)
	k.setRows("R10")
	for r := range k.rows {
		for h := range k.vecs {
			a := k.v(k.acc(0, r, h))
			addr := k.rowAddr(r, h*k.vec)
			if k.reg == "Z" {
				k.op("VMOVUPS %s, K%d, %s", a, h+1, addr)
			} else {
				k.op("VMASKMOVPS %s, %s, %s", a, k.tmpReg(h), addr)
			}
		}
	}
	if k.reg == "Z" {
		cols := k.vecs * k.vec
		k.op("DECQ %d(DI)", offNpanel)
		k.op("JZ done")
		k.op("ADDQ $%d, %d(DI)", cols, offC)
		k.op("ADDQ $%d, %d(DI)", cols, offBias)
		k.op("ADDQ %d(DI), SI", offBskip)
		k.op("MOVQ %d(DI), BX", offRes)
		k.op("TESTQ BX, BX")
		k.op("JZ panel")
		k.op("ADDQ $%d, %d(DI)", cols, offRes)
		k.op("JMP panel")
		k.label("done")
	}
	k.op("VZEROUPPER")
	k.op("RET")
}

// prefetchOutput requests the lines of the block's output rows (to be
// written) and residual rows (to be read) before the k loop, so that their
// cache misses overlap the multiply-adds instead of stalling the epilogue:
// with a residual, a 1×1 conv over a 56×56 map spent a quarter of its time
// there. It leaves R8–R14 to be reloaded.
func (k *kernel) prefetchOutput() {
	k.op("MOVQ %d(DI), R8", offLDC)
	k.op("LEAQ (R8)(R8*2), R9")
	k.op("MOVQ %d(DI), R10", offC)
	k.setRows("R10")
	for r := range k.rows {
		for h := 0; h < k.vecs*k.vec; h += 64 {
			k.op("PREFETCHT0 %s", k.rowAddr(r, h))
		}
	}
	k.op("MOVQ %d(DI), R10", offRes)
	k.op("TESTQ R10, R10")
	k.op("JZ prefetched")
	k.setRows("R10")
	for r := range k.rows {
		for h := 0; h < k.vecs*k.vec; h += 64 {
			k.op("PREFETCHT0 %s", k.rowAddr(r, h))
		}
	}
	k.label("prefetched")
}

// split picks how many accumulator sets a kernel of the given rows uses:
// short tiles (a linear layer is one row) need several independent FMA
// chains per column to hide the FMA latency.
func split(is isa, rows int) int {
	s := 1
	switch {
	case rows == 1:
		s = 4
	case rows == 2 || rows == 3 || rows == 4 && is.reg == "Z":
		s = 2
	}
	for is.vecs*rows*s > is.regs-4 {
		s /= 2
	}
	return s
}

const header = "// Code generated by internal/asmgen; DO NOT EDIT.\n\n"

func generate() (map[string][]byte, error) {
	var s bytes.Buffer
	s.WriteString(header)
	s.WriteString("//go:build amd64 && !purego\n\n#include \"textflag.h\"\n")
	var g bytes.Buffer
	g.WriteString(header)
	g.WriteString("//go:build amd64 && !purego\n\npackage runtime\n")
	for _, strided := range []bool{false, true} {
		for _, is := range []isa{avx512, avx512n16, avx2, avx2n16} {
			fam := (&kernel{isa: is, strided: strided}).family()
			for rows := 1; rows <= is.maxRows; rows++ {
				k := kernel{isa: is, rows: rows, split: split(is, rows), strided: strided, buf: &s}
				k.emit()
				fmt.Fprintf(&g, "\n//go:noescape\nfunc gemm%sx%d(args *gemmArgs)\n", fam, rows)
			}
			fmt.Fprintf(&g, "\n// gemm%sRows runs the %s kernel for mr rows.\nfunc gemm%sRows(mr int, args *gemmArgs) {\n\tswitch mr {\n",
				fam, fam, fam)
			for rows := 1; rows <= is.maxRows; rows++ {
				fmt.Fprintf(&g, "\tcase %d:\n\t\tgemm%sx%d(args)\n", rows, fam, rows)
			}
			fmt.Fprintf(&g, "\tdefault:\n\t\tpanic(\"runtime: gemm%sRows: bad row count\")\n\t}\n}\n", fam)
			if !strided {
				fmt.Fprintf(&g, "\nconst gemm%sMaxRows = %d\n", is.name, is.maxRows)
			}
		}
	}
	fmt.Fprintf(&g, "\n// Field offsets the kernels assume; checked by TestGemmArgsLayout.\nconst (\n")
	for _, f := range []struct {
		name string
		off  int
	}{{"A", offA}, {"LDA", offLDA}, {"Koff", offKoff}, {"Npos", offNpos}, {"KC", offKC}, {"B", offB},
		{"C", offC}, {"LDC", offLDC}, {"Bias", offBias}, {"Res", offRes}, {"Mask", offMask}, {"ReLU", offReLU},
		{"Npanel", offNpanel}, {"Bskip", offBskip}, {"Pf", offPf}} {
		fmt.Fprintf(&g, "\tgemmOff%s = %d\n", f.name, f.off)
	}
	g.WriteString(")\n")
	fmt.Fprintf(&g, "\n// Cache lines the AVX-512 kernels prefetch from pf per 4 k; checked by\n// TestGemmArgsLayout against gemmPrefetchPerK.\nconst gemmPrefetchLines = %d\n", pfLines)
	src, err := format.Source(g.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting Go declarations: %v", err)
	}
	asm := strings.ReplaceAll(s.String(), "\t\n", "\n")
	files := map[string][]byte{
		"gemm_amd64.s":          []byte(asm),
		"gemm_amd64_kernels.go": src,
	}
	wasm, wdecl, err := generateWinograd()
	if err != nil {
		return nil, err
	}
	files["winograd_amd64.s"] = wasm
	files["winograd_amd64_kernels.go"] = wdecl
	arm, err := generateARM64()
	if err != nil {
		return nil, err
	}
	for name, b := range arm {
		files[name] = b
	}
	return files, nil
}
