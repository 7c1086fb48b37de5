// Command groupedasm writes the AVX-512 micro-kernels of package runtime's
// grouped convolution (runtime/conv_grouped.go): conv_grouped_amd64.s and
// its Go declarations, conv_grouped_amd64_kernels.go.
//
// A grouped convolution with c input and c output channels per group
// (ResNeXt's 3×3 convs: c = 4, 8, 16, 32; depthwise: c = 1) is, over a block
// of 16 output channels, 16/c small dense convolutions side by side. The
// kernels compute rows×16 outputs (rows pixels, the block's 16 channels)
// with one vector per pixel: for each tap and each i < c, output lane l
// adds input channel (l/c)·c + i of the same block times its weight. That
// input vector is the pixel's 16 input channels of the block, permuted —
// VPERMILPS within 128-bit lanes for c = 2 and 4, VPERMPS with an index
// vector for c = 8, none for c = 1 — so every lane of every FMA is useful
// work, where the general engine's panels would waste 16−c of 16 lanes.
//
// Usage (from runtime/, via go generate): go run ../internal/groupedasm -dir .
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

// Offsets of the fields of runtime.groupedArgs (every field is 8 bytes),
// checked by a runtime test.
const (
	offA    = 0  // first pixel's input at its first valid tap, block's channels
	offLDA  = 8  // bytes between the tile's input pixels
	offTaps = 16 // *[2]int64 per tap: input byte offset from A, weight byte offset
	offNtap = 24
	offW    = 32 // the block's packed weights, [tap][c][16]
	offC    = 40 // first pixel's output, block's channels
	offLDC  = 48 // bytes between output pixels
	offBias = 56 // 16 floats
	offRes  = 64 // residual laid out like the output, or nil
	offReLU = 72
	offIdx  = 80 // [c][16]int32 permutation indices (c = 8; the row kernels: every c)
	// The row kernels only: channels per group, and bytes between the
	// weights of consecutive kernel columns (c·64).
	offNc    = 88
	offWStep = 96
)

// channels per group the kernels handle, and their most rows: the
// accumulators, one weight, two permuted temporaries (and for c = 8 eight
// index vectors) fit the 32 vector registers; rows are addressed from five
// row registers of five rows each.
var families = []struct{ c, maxRows int }{{1, 25}, {2, 25}, {4, 25}, {8, 20}}

var rowRegs = []string{"R10", "R11", "R12", "R13", "R14"}

type kernel struct {
	c, rows int
	buf     *bytes.Buffer
}

func (k *kernel) op(format string, args ...any) { fmt.Fprintf(k.buf, "\t"+format+"\n", args...) }
func (k *kernel) label(name string)             { fmt.Fprintf(k.buf, "%s:\n", name) }

func (k *kernel) acc(r int) string { return fmt.Sprintf("Z%d", r) }

const (
	wReg = "Z31"
	t0   = "Z30"
	t1   = "Z29"
)

func idxReg(i int) string { return fmt.Sprintf("Z%d", 21+i) } // Z21–Z28, c = 8 only

// rowAddr addresses row r: group register rowRegs[r/5] plus (r%5)·stride,
// the stride in R8 and 3·stride in R9.
func rowAddr(r int) string {
	idx := [...]string{"", "(R8*1)", "(R8*2)", "(R9*1)", "(R8*4)"}[r%5]
	return fmt.Sprintf("(%s)%s", rowRegs[r/5], idx)
}

func (k *kernel) setRows(base string) {
	if base != rowRegs[0] {
		k.op("MOVQ %s, %s", base, rowRegs[0])
	}
	for g := 1; g < (k.rows+4)/5; g++ {
		k.op("LEAQ (%s)(R8*4), %s", rowRegs[g-1], rowRegs[g])
		k.op("ADDQ R8, %s", rowRegs[g])
	}
}

// permImm is VPERMILPS's immediate that gives lane l, within each 128-bit
// lane, element (l/c)·c + i.
func permImm(c, i int) int {
	imm := 0
	for l := range 4 {
		imm |= ((l/c)*c + i) << (2 * l)
	}
	return imm
}

func (k *kernel) emit() {
	name := fmt.Sprintf("groupedC%dx%d", k.c, k.rows)
	fmt.Fprintf(k.buf, "\n// func %s(args *groupedArgs)\n", name)
	fmt.Fprintf(k.buf, "TEXT ·%s(SB), NOSPLIT, $0-8\n", name)
	k.op("MOVQ args+0(FP), DI")
	k.op("MOVQ %d(DI), AX", offA)
	k.op("MOVQ %d(DI), R8", offLDA)
	k.op("LEAQ (R8)(R8*2), R9")
	k.op("MOVQ %d(DI), DX", offTaps)
	k.op("MOVQ %d(DI), CX", offNtap)
	k.op("MOVQ %d(DI), BX", offW)
	if k.c == 8 {
		k.op("MOVQ %d(DI), SI", offIdx)
		for i := range 8 {
			k.op("VMOVDQU32 %d(SI), %s", 64*i, idxReg(i))
		}
	}
	for r := range k.rows {
		k.op("VPXORD %s, %s, %s", k.acc(r), k.acc(r), k.acc(r))
	}
	k.op("TESTQ CX, CX")
	k.op("JZ epilogue")
	k.label("tap")
	k.op("MOVQ (DX), R10")
	k.op("ADDQ AX, R10")
	k.setRows("R10")
	k.op("MOVQ 8(DX), SI")
	k.op("ADDQ BX, SI")
	for i := range k.c {
		k.op("VMOVUPS %d(SI), %s", 64*i, wReg)
		for r := range k.rows {
			t := []string{t0, t1}[r%2]
			switch k.c {
			case 1:
				k.op("VFMADD231PS %s, %s, %s", rowAddr(r), wReg, k.acc(r))
				continue
			case 8:
				k.op("VPERMPS %s, %s, %s", rowAddr(r), idxReg(i), t)
			default:
				k.op("VPERMILPS $%d, %s, %s", permImm(k.c, i), rowAddr(r), t)
			}
			k.op("VFMADD231PS %s, %s, %s", t, wReg, k.acc(r))
		}
	}
	k.op("ADDQ $16, DX")
	k.op("DECQ CX")
	k.op("JNZ tap")

	k.label("epilogue")
	k.op("MOVQ %d(DI), BX", offBias)
	k.op("VMOVUPS (BX), %s", wReg)
	for r := range k.rows {
		k.op("VADDPS %s, %s, %s", wReg, k.acc(r), k.acc(r))
	}
	k.op("MOVQ %d(DI), R8", offLDC)
	k.op("LEAQ (R8)(R8*2), R9")
	k.op("MOVQ %d(DI), R10", offRes)
	k.op("TESTQ R10, R10")
	k.op("JZ relu")
	k.setRows("R10")
	for r := range k.rows {
		k.op("VADDPS %s, %s, %s", rowAddr(r), k.acc(r), k.acc(r))
	}
	k.label("relu")
	k.op("MOVQ %d(DI), BX", offReLU)
	k.op("TESTQ BX, BX")
	k.op("JZ store")
	k.op("VPXORD %s, %s, %s", wReg, wReg, wReg)
	for r := range k.rows {
		k.op("VMAXPS %s, %s, %s", wReg, k.acc(r), k.acc(r))
	}
	k.label("store")
	k.op("MOVQ %d(DI), R10", offC)
	k.setRows("R10")
	for r := range k.rows {
		k.op("VMOVUPS %s, %s", k.acc(r), rowAddr(r))
	}
	k.op("VZEROUPPER")
	k.op("RET")
}

// rowKernel is a kernel for tiles along an output row whose three kernel
// columns are all inside the input (KW = 3, no horizontal dilation, stride
// 1 or 2): there an input pixel serves up to three output pixels of the
// tile, so it is permuted once per i and multiplied by the three kernel
// columns' weights, held in registers, instead of once per FMA. For each
// valid kernel row and each i (loops at run time, so one kernel serves
// every c) it walks the tile's (rows−1)·stride + 3 input pixels.
type rowKernel struct {
	stride, rows int
	buf          *bytes.Buffer
}

func (k *rowKernel) op(format string, args ...any) { fmt.Fprintf(k.buf, "\t"+format+"\n", args...) }
func (k *rowKernel) label(name string)             { fmt.Fprintf(k.buf, "%s:\n", name) }

// Registers: accumulators Z0–Z24, the three columns' weights Z25–Z27, the
// permutation Z28, permuted inputs Z29 and Z30.
func rowW(kw int) string { return fmt.Sprintf("Z%d", 25+kw) }

const (
	rowIdx = "Z28"
)

func (k *rowKernel) setRows(base string) {
	(&kernel{rows: k.rows, buf: k.buf}).setRows(base)
}

func (k *rowKernel) emit() {
	name := fmt.Sprintf("groupedRowS%dx%d", k.stride, k.rows)
	acc := func(r int) string { return fmt.Sprintf("Z%d", r) }
	fmt.Fprintf(k.buf, "\n// func %s(args *groupedArgs)\n", name)
	fmt.Fprintf(k.buf, "TEXT ·%s(SB), NOSPLIT, $0-8\n", name)
	k.op("MOVQ args+0(FP), DI")
	k.op("MOVQ %d(DI), AX", offA)
	k.op("MOVQ %d(DI), R8", offLDA)
	k.op("MOVQ %d(DI), R9", offWStep)
	k.op("MOVQ %d(DI), DX", offTaps)
	k.op("MOVQ %d(DI), CX", offNtap)
	k.op("MOVQ %d(DI), BX", offW)
	for r := range k.rows {
		k.op("VPXORD %s, %s, %s", acc(r), acc(r), acc(r))
	}
	k.op("TESTQ CX, CX")
	k.op("JZ epilogue")
	k.label("tap")
	k.op("MOVQ (DX), R10")
	k.op("ADDQ AX, R10")
	k.op("MOVQ 8(DX), SI")
	k.op("ADDQ BX, SI")
	k.op("MOVQ %d(DI), R13", offIdx)
	k.op("MOVQ %d(DI), R12", offNc)
	k.label("chan")
	k.op("VMOVDQU32 (R13), %s", rowIdx)
	k.op("VMOVUPS (SI), %s", rowW(0))
	k.op("VMOVUPS (SI)(R9*1), %s", rowW(1))
	k.op("VMOVUPS (SI)(R9*2), %s", rowW(2))
	k.op("MOVQ R10, R11")
	pixels := (k.rows-1)*k.stride + 3
	for q := range pixels {
		t := []string{"Z29", "Z30"}[q%2]
		k.op("VPERMPS (R11), %s, %s", rowIdx, t)
		if q < pixels-1 {
			k.op("ADDQ R8, R11")
		}
		for kw := range 3 {
			if d := q - kw; d >= 0 && d%k.stride == 0 && d/k.stride < k.rows {
				k.op("VFMADD231PS %s, %s, %s", t, rowW(kw), acc(d/k.stride))
			}
		}
	}
	k.op("ADDQ $64, SI")
	k.op("ADDQ $64, R13")
	k.op("DECQ R12")
	k.op("JNZ chan")
	k.op("ADDQ $16, DX")
	k.op("DECQ CX")
	k.op("JNZ tap")

	k.label("epilogue")
	k.op("MOVQ %d(DI), BX", offBias)
	k.op("VMOVUPS (BX), %s", rowW(0))
	for r := range k.rows {
		k.op("VADDPS %s, %s, %s", rowW(0), acc(r), acc(r))
	}
	k.op("MOVQ %d(DI), R8", offLDC)
	k.op("LEAQ (R8)(R8*2), R9")
	k.op("MOVQ %d(DI), R10", offRes)
	k.op("TESTQ R10, R10")
	k.op("JZ relu")
	k.setRows("R10")
	for r := range k.rows {
		k.op("VADDPS %s, %s, %s", rowAddr(r), acc(r), acc(r))
	}
	k.label("relu")
	k.op("MOVQ %d(DI), BX", offReLU)
	k.op("TESTQ BX, BX")
	k.op("JZ store")
	k.op("VPXORD %s, %s, %s", rowW(0), rowW(0), rowW(0))
	for r := range k.rows {
		k.op("VMAXPS %s, %s, %s", rowW(0), acc(r), acc(r))
	}
	k.label("store")
	k.op("MOVQ %d(DI), R10", offC)
	k.setRows("R10")
	for r := range k.rows {
		k.op("VMOVUPS %s, %s", acc(r), rowAddr(r))
	}
	k.op("VZEROUPPER")
	k.op("RET")
}

// rowMaxRows is the row kernels' most pixels per tile.
const rowMaxRows = 25

const header = "// Code generated by internal/groupedasm; DO NOT EDIT.\n\n"

func generate() (map[string][]byte, error) {
	var s, g bytes.Buffer
	s.WriteString(header)
	s.WriteString("//go:build amd64 && !purego\n\n#include \"textflag.h\"\n")
	g.WriteString(header)
	g.WriteString("//go:build amd64 && !purego\n\npackage runtime\n")
	for _, f := range families {
		for rows := 1; rows <= f.maxRows; rows++ {
			k := kernel{c: f.c, rows: rows, buf: &s}
			k.emit()
			fmt.Fprintf(&g, "\n//go:noescape\nfunc groupedC%dx%d(args *groupedArgs)\n", f.c, rows)
		}
	}
	for _, stride := range []int{1, 2} {
		for rows := 1; rows <= rowMaxRows; rows++ {
			k := rowKernel{stride: stride, rows: rows, buf: &s}
			k.emit()
			fmt.Fprintf(&g, "\n//go:noescape\nfunc groupedRowS%dx%d(args *groupedArgs)\n", stride, rows)
		}
	}
	g.WriteString("\n// groupedRowAVX512 runs the row kernel for the stride and rows pixels.\n")
	g.WriteString("func groupedRowAVX512(stride, rows int, args *groupedArgs) {\n\tswitch stride<<8 | rows {\n")
	for _, stride := range []int{1, 2} {
		for rows := 1; rows <= rowMaxRows; rows++ {
			fmt.Fprintf(&g, "\tcase %d<<8 | %d:\n\t\tgroupedRowS%dx%d(args)\n", stride, rows, stride, rows)
		}
	}
	g.WriteString("\tdefault:\n\t\tpanic(\"runtime: groupedRowAVX512: no kernel\")\n\t}\n}\n")
	fmt.Fprintf(&g, "\nconst groupedRowMaxRows = %d\n", rowMaxRows)
	g.WriteString("\n// groupedAVX512 runs the kernel for c channels per group and rows pixels.\n")
	g.WriteString("func groupedAVX512(c, rows int, args *groupedArgs) {\n\tswitch c<<8 | rows {\n")
	for _, f := range families {
		for rows := 1; rows <= f.maxRows; rows++ {
			fmt.Fprintf(&g, "\tcase %d<<8 | %d:\n\t\tgroupedC%dx%d(args)\n", f.c, rows, f.c, rows)
		}
	}
	g.WriteString("\tdefault:\n\t\tpanic(\"runtime: groupedAVX512: no kernel\")\n\t}\n}\n")
	g.WriteString("\n// groupedMaxRows is the most pixels per tile of each family.\nfunc groupedMaxRows(c int) int {\n\tswitch c {\n")
	for _, f := range families {
		fmt.Fprintf(&g, "\tcase %d:\n\t\treturn %d\n", f.c, f.maxRows)
	}
	g.WriteString("\t}\n\treturn 0\n}\n")
	fmt.Fprintf(&g, "\n// Field offsets the kernels assume; checked by TestGroupedArgsLayout.\nconst (\n")
	for _, f := range []struct {
		name string
		off  int
	}{{"A", offA}, {"LDA", offLDA}, {"Taps", offTaps}, {"Ntap", offNtap}, {"W", offW}, {"C", offC},
		{"LDC", offLDC}, {"Bias", offBias}, {"Res", offRes}, {"ReLU", offReLU}, {"Idx", offIdx},
		{"Nc", offNc}, {"WStep", offWStep}} {
		fmt.Fprintf(&g, "\tgroupedOff%s = %d\n", f.name, f.off)
	}
	g.WriteString(")\n")
	src, err := format.Source(g.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting Go declarations: %v", err)
	}
	return map[string][]byte{
		"conv_grouped_amd64.s":          []byte(strings.ReplaceAll(s.String(), "\t\n", "\n")),
		"conv_grouped_amd64_kernels.go": src,
	}, nil
}
