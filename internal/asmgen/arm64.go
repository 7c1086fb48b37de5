package main

import (
	"bytes"
	"fmt"
	"go/format"
	"strings"
)

// The arm64 kernels compute a block of rows × 4·nv columns (nv = 1…4 NEON
// vectors of 4 floats) of the same implicit GEMM as the amd64 ones. The
// block is at most 16 columns: a 32-column panel is run as two halves, as
// on AVX2, and the panel's width in bytes per k (ldb) is an argument, so
// one kernel reads both panel widths.
//
// The multiply-adds are FMLA by element: each row's register holds four
// consecutive k values of A (one 16-byte load), and lane u of it multiplies
// the B vectors of k+u. The register file holds rows·nv accumulators, rows
// A registers and two B registers (out-of-order cores rename the reloads),
// so rows ≤ 30/(nv+1): 6×16, 7×12, 10×8 or 15×4.
//
// A block whose column count is not a multiple of 4 is stored by the Go
// caller from a scratch block: NEON has no masked store.
//
// Go's assembler has no FMLA by element, vector FADD or vector FMAX; they
// are emitted as WORD with the instruction in a comment (see encode*).

// Offsets of the fields of runtime.gemmArgs on arm64 (every field is 8
// bytes). The runtime tests check them with unsafe.Offsetof.
const (
	armOffA    = 0  // first row's origin in the input
	armOffLDA  = 8  // bytes between rows
	armOffKoff = 16 // *int: per tap, float offset from a row's origin
	armOffNpos = 24 // number of taps
	armOffKC   = 32 // floats per tap
	armOffB    = 40 // packed panel
	armOffLDB  = 48 // bytes per k of the panel (4·nr)
	armOffC    = 56 // first row's output
	armOffLDC  = 64 // bytes between output rows
	armOffBias = 72
	armOffRes  = 80 // residual, laid out like the output, or nil
	armOffReLU = 88
)

// neonMaxRows is the most rows of a kernel computing nv column vectors.
func neonMaxRows(nv int) int { return 30 / (nv + 1) }

// Row r of A (and of C in the epilogue) is addressed by its own register.
// R18 is the platform register, R26–R30 belong to Go and the assembler.
var neonRowRegs = []string{"R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15", "R16", "R17", "R19", "R20", "R21", "R22", "R23"}

// The B registers, reloaded for every pair of column vectors.
const neonB0, neonB1 = 30, 31

type neonKernel struct {
	nv, rows int
	buf      *bytes.Buffer
}

func (k *neonKernel) name() string { return fmt.Sprintf("gemmNEON%dx%d", 4*k.nv, k.rows) }

func (k *neonKernel) op(format string, args ...any) {
	fmt.Fprintf(k.buf, "\t"+format+"\n", args...)
}

func (k *neonKernel) label(name string) { fmt.Fprintf(k.buf, "%s:\n", name) }

func (k *neonKernel) word(w uint32, asm string) { k.op("WORD $0x%08x // %s", w, asm) }

// acc is the accumulator register of row r, column vector j.
func (k *neonKernel) acc(r, j int) int { return r*k.nv + j }

// aReg is the register of row r's A values.
func (k *neonKernel) aReg(r int) int { return k.rows*k.nv + r }

// free lists the registers that are not accumulators: after the k loop the
// epilogue uses them for bias, residual and zero.
func (k *neonKernel) free(i int) int { return k.rows*k.nv + i }

// loadVecs loads the nv vectors at off(base) into regs, in pairs.
func (k *neonKernel) loadVecs(base string, off int, regs []int) {
	for j := 0; j < len(regs); j += 2 {
		if j+1 < len(regs) {
			k.op("FLDPQ %s, (F%d, F%d)", addr(base, off+16*j), regs[j], regs[j+1])
		} else {
			k.op("FMOVQ %s, F%d", addr(base, off+16*j), regs[j])
		}
	}
}

func (k *neonKernel) storeVecs(base string, regs []int) {
	for j := 0; j < len(regs); j += 2 {
		if j+1 < len(regs) {
			k.op("FSTPQ (F%d, F%d), %s", regs[j], regs[j+1], addr(base, 16*j))
		} else {
			k.op("FMOVQ F%d, %s", regs[j], addr(base, 16*j))
		}
	}
}

func addr(base string, off int) string {
	if off == 0 {
		return "(" + base + ")"
	}
	return fmt.Sprintf("%d(%s)", off, base)
}

// step emits the multiply-adds of one k: the B vectors at R5, times lane of
// every row's A register.
func (k *neonKernel) step(lane int) {
	for j := 0; j < k.nv; j += 2 {
		pair := []int{neonB0, neonB1}[:min(2, k.nv-j)]
		k.loadVecs("R5", 16*j, pair)
		for h, b := range pair {
			for r := range k.rows {
				d := k.acc(r, j+h)
				k.word(encodeFMLAElem(d, b, k.aReg(r), lane),
					fmt.Sprintf("FMLA V%d.4S, V%d.4S, V%d.S[%d]", d, b, k.aReg(r), lane))
			}
		}
	}
	k.op("ADD R7, R5")
}

func (k *neonKernel) emit() {
	fmt.Fprintf(k.buf, "\n// func %s(args *gemmArgs)\n", k.name())
	fmt.Fprintf(k.buf, "TEXT ·%s(SB), NOSPLIT, $0-8\n", k.name())
	k.op("MOVD args+0(FP), R0")
	k.op("MOVD %d(R0), R1", armOffA)
	k.op("MOVD %d(R0), R2", armOffLDA)
	k.op("MOVD %d(R0), R3", armOffKoff)
	k.op("MOVD %d(R0), R4", armOffNpos)
	k.op("MOVD %d(R0), R5", armOffB)
	k.op("MOVD %d(R0), R7", armOffLDB)
	for r := range k.rows {
		for j := range k.nv {
			a := k.acc(r, j)
			k.op("VEOR V%d.B16, V%d.B16, V%d.B16", a, a, a)
		}
	}
	k.op("CBZ R4, epilogue")

	// For each tap: point the rows at it, then run k in fours, then ones.
	k.label("tap")
	k.op("MOVD.P 8(R3), R6")
	k.op("ADD R6<<2, R1, %s", neonRowRegs[0])
	for r := 1; r < k.rows; r++ {
		k.op("ADD R2, %s, %s", neonRowRegs[r-1], neonRowRegs[r])
	}
	k.op("MOVD %d(R0), R6", armOffKC)
	k.op("CMP $4, R6")
	k.op("BLT ones")
	k.label("fours")
	for r := range k.rows {
		k.op("FMOVQ.P 16(%s), F%d", neonRowRegs[r], k.aReg(r))
	}
	for u := range 4 {
		k.step(u)
	}
	k.op("SUB $4, R6")
	k.op("CMP $4, R6")
	k.op("BGE fours")
	k.label("ones")
	k.op("CBZ R6, nexttap")
	k.label("one")
	for r := range k.rows {
		k.op("FMOVS.P 4(%s), F%d", neonRowRegs[r], k.aReg(r))
	}
	k.step(0)
	k.op("SUBS $1, R6")
	k.op("BNE one")
	k.label("nexttap")
	k.op("SUBS $1, R4")
	k.op("BNE tap")

	k.label("epilogue")
	tmp := make([]int, k.nv)
	for j := range tmp {
		tmp[j] = k.free(j)
	}
	k.op("MOVD %d(R0), R6", armOffBias)
	k.loadVecs("R6", 0, tmp)
	k.addAll(tmp)
	k.op("MOVD %d(R0), R2", armOffLDC)
	k.op("MOVD %d(R0), R6", armOffRes)
	k.op("CBZ R6, relu")
	for r := range k.rows {
		k.loadVecs("R6", 0, tmp)
		for j, t := range tmp {
			a := k.acc(r, j)
			k.word(encodeFADD(a, a, t), fmt.Sprintf("FADD V%d.4S, V%d.4S, V%d.4S", a, a, t))
		}
		if r < k.rows-1 {
			k.op("ADD R2, R6")
		}
	}

	// FMAX, not FMAXNM: a NaN stays NaN, as in PyTorch and the Go kernel.
	k.label("relu")
	k.op("MOVD %d(R0), R6", armOffReLU)
	k.op("CBZ R6, store")
	zero := tmp[0]
	k.op("VEOR V%d.B16, V%d.B16, V%d.B16", zero, zero, zero)
	for r := range k.rows {
		for j := range k.nv {
			a := k.acc(r, j)
			k.word(encodeFMAX(a, a, zero), fmt.Sprintf("FMAX V%d.4S, V%d.4S, V%d.4S", a, a, zero))
		}
	}

	k.label("store")
	k.op("MOVD %d(R0), R6", armOffC)
	for r := range k.rows {
		regs := make([]int, k.nv)
		for j := range regs {
			regs[j] = k.acc(r, j)
		}
		k.storeVecs("R6", regs)
		if r < k.rows-1 {
			k.op("ADD R2, R6")
		}
	}
	k.op("RET")
}

// addAll adds the vectors v (one per column vector) to every row.
func (k *neonKernel) addAll(v []int) {
	for r := range k.rows {
		for j, t := range v {
			a := k.acc(r, j)
			k.word(encodeFADD(a, a, t), fmt.Sprintf("FADD V%d.4S, V%d.4S, V%d.4S", a, a, t))
		}
	}
}

// The encodings below are from the Arm A64 instruction set (single
// precision, 128-bit "4S" arrangement); TestNEONEncodings checks them
// against the Go disassembler's reading.

// encodeFMLAElem encodes FMLA Vd.4S, Vn.4S, Vm.S[lane]: Vd += Vn·Vm[lane].
func encodeFMLAElem(d, n, m, lane int) uint32 {
	h, l := uint32(lane>>1), uint32(lane&1)
	return 0x4f801000 | l<<21 | uint32(m)<<16 | h<<11 | uint32(n)<<5 | uint32(d)
}

// encodeFADD encodes FADD Vd.4S, Vn.4S, Vm.4S.
func encodeFADD(d, n, m int) uint32 {
	return 0x4e20d400 | uint32(m)<<16 | uint32(n)<<5 | uint32(d)
}

// encodeFMAX encodes FMAX Vd.4S, Vn.4S, Vm.4S (NaN if either is NaN).
func encodeFMAX(d, n, m int) uint32 {
	return 0x4e20f400 | uint32(m)<<16 | uint32(n)<<5 | uint32(d)
}

func generateARM64() (map[string][]byte, error) {
	var s bytes.Buffer
	s.WriteString(header)
	s.WriteString("//go:build arm64 && !purego\n\n#include \"textflag.h\"\n")
	var g bytes.Buffer
	g.WriteString(header)
	g.WriteString("//go:build arm64 && !purego\n\npackage runtime\n")
	for nv := 4; nv >= 1; nv-- {
		for rows := 1; rows <= neonMaxRows(nv); rows++ {
			k := neonKernel{nv: nv, rows: rows, buf: &s}
			k.emit()
			fmt.Fprintf(&g, "\n//go:noescape\nfunc %s(args *gemmArgs)\n", k.name())
		}
	}
	g.WriteString("\n// gemmNEONRows runs the kernel for mr rows and nv column vectors.\n")
	g.WriteString("func gemmNEONRows(nv, mr int, args *gemmArgs) {\n\tswitch nv<<8 | mr {\n")
	for nv := 4; nv >= 1; nv-- {
		for rows := 1; rows <= neonMaxRows(nv); rows++ {
			k := neonKernel{nv: nv, rows: rows}
			fmt.Fprintf(&g, "\tcase %d<<8 | %d:\n\t\t%s(args)\n", nv, rows, k.name())
		}
	}
	g.WriteString("\tdefault:\n\t\tpanic(\"runtime: gemmNEONRows: bad block\")\n\t}\n}\n")
	fmt.Fprintf(&g, "\n// gemmNEONMaxRows[nv] is the most rows of a kernel with nv column vectors.\n")
	fmt.Fprintf(&g, "var gemmNEONMaxRows = [5]int{0, %d, %d, %d, %d}\n", neonMaxRows(1), neonMaxRows(2), neonMaxRows(3), neonMaxRows(4))
	most := 0
	for nv := 1; nv <= 4; nv++ {
		most = max(most, neonMaxRows(nv)*4*nv)
	}
	fmt.Fprintf(&g, "\n// gemmNEONBlockFloats is the most floats of any kernel's block.\nconst gemmNEONBlockFloats = %d\n", most)
	fmt.Fprintf(&g, "\n// Field offsets the kernels assume; checked by TestGemmArgsLayout.\nconst (\n")
	for _, f := range []struct {
		name string
		off  int
	}{{"A", armOffA}, {"LDA", armOffLDA}, {"Koff", armOffKoff}, {"Npos", armOffNpos}, {"KC", armOffKC}, {"B", armOffB},
		{"LDB", armOffLDB}, {"C", armOffC}, {"LDC", armOffLDC}, {"Bias", armOffBias}, {"Res", armOffRes}, {"ReLU", armOffReLU}} {
		fmt.Fprintf(&g, "\tgemmOff%s = %d\n", f.name, f.off)
	}
	g.WriteString(")\n")
	src, err := format.Source(g.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting Go declarations: %v", err)
	}
	return map[string][]byte{
		"gemm_arm64.s":          []byte(strings.ReplaceAll(s.String(), "\t\n", "\n")),
		"gemm_arm64_kernels.go": src,
	}, nil
}
