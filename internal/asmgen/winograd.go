package main

// The Winograd transforms of package runtime (winograd.go): for one of Bᵀ
// or Aᵀ of one F(m,3), a kernel that applies the matrix across n vectors of
// 16 floats, with the matrix compiled in: zero entries are skipped, ±1
// entries become adds and subtracts, the rest FMAs with a broadcast
// constant. Output row i is Σ_a mat[i][a]·in[a] (ascending a, like
// runtime.winoApplyGo), then bias, residual and ReLU. A call repeats this
// for groups of inputs and outputs (the rows or columns of a tile), each
// inGroup and outGroup bytes after the last.

import (
	"bytes"
	"fmt"
	"go/format"
	"math"
	"sort"
	"strings"

	"github.com/resgen/resgen/internal/winomat"
)

// Offsets of the fields of runtime.winoArgs (each 8 bytes); checked by
// TestWinoArgsLayout in runtime.
const (
	woIn        = 0
	woInStride  = 8
	woOut       = 16
	woOutStride = 24
	woRows      = 32
	woN         = 40
	woBias      = 48
	woRes       = 56
	woReLU      = 64
	woGroups    = 72
	woInGroup   = 80
	woOutGroup  = 88
)

// winoKernel is one transform kernel.
type winoKernel struct {
	name string
	mat  [][]float64 // rows × k
}

// winoKernels lists the kernels in runtime's order: for each size of
// winomat.Sizes, Bᵀ then Aᵀ (runtime.winoKernelIndex).
func winoKernels() ([]winoKernel, error) {
	var out []winoKernel
	for _, m := range winomat.Sizes {
		x, err := winomat.New(m)
		if err != nil {
			return nil, err
		}
		out = append(out,
			winoKernel{fmt.Sprintf("winoBT%dAVX512", m), winomat.Float64(x.BT)},
			winoKernel{fmt.Sprintf("winoAT%dAVX512", m), winomat.Float64(x.AT)})
	}
	return out, nil
}

// winoInput returns the address of input a, from SI (input 0), BX (the
// stride), R12 = SI + 3·BX and R13 = 3·BX.
func winoInput(a int) string {
	switch a {
	case 0:
		return "(SI)"
	case 1:
		return "(SI)(BX*1)"
	case 2:
		return "(SI)(BX*2)"
	case 3:
		return "(R12)"
	case 4:
		return "(SI)(BX*4)"
	case 5:
		return "(R12)(BX*2)"
	case 6:
		return "(R12)(R13*1)"
	case 7:
		return "(R12)(BX*4)"
	}
	panic("winoInput: too many inputs")
}

// generateWinograd returns the assembly of every transform kernel and the
// Go declarations with the dispatch switch.
func generateWinograd() (asm, decl []byte, err error) {
	kernels, err := winoKernels()
	if err != nil {
		return nil, nil, err
	}
	// One table of the constants that are not ±1.
	index := map[float32]int{}
	var consts []float32
	for _, k := range kernels {
		for _, row := range k.mat {
			for _, v := range row {
				f := float32(v)
				if float64(f) != v {
					return nil, nil, fmt.Errorf("%s: entry %v is not exact in float32", k.name, v)
				}
				if f == 0 || f == 1 || f == -1 {
					continue
				}
				if _, ok := index[f]; !ok {
					index[f] = len(consts)
					consts = append(consts, f)
				}
			}
		}
	}
	sort.Slice(consts, func(i, j int) bool { return consts[i] < consts[j] })
	for i, f := range consts {
		index[f] = i
	}

	var s bytes.Buffer
	s.WriteString(header)
	s.WriteString("//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	s.WriteString("// The matrix entries other than 0 and ±1, broadcast by the kernels.\n")
	for i, f := range consts {
		fmt.Fprintf(&s, "DATA ·winoConsts+%d(SB)/4, $0x%08x // %v\n", 4*i, math.Float32bits(f), f)
	}
	fmt.Fprintf(&s, "GLOBL ·winoConsts(SB), RODATA|NOPTR, $%d\n", 4*len(consts))

	for _, k := range kernels {
		op := func(format string, args ...any) { fmt.Fprintf(&s, "\t"+format+"\n", args...) }
		label := func(name string) { fmt.Fprintf(&s, "%s_%s:\n", k.name, name) }
		rows, in := len(k.mat), len(k.mat[0])
		fmt.Fprintf(&s, "\n// func %s(args *winoArgs)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", k.name, k.name)
		// R8 holds args throughout: rows and relu are read from it, and
		// the group loop advances its in, out and res in place.
		op("MOVQ args+0(FP), R8")
		op("MOVQ %d(R8), BX", woInStride)
		op("MOVQ %d(R8), DX", woOutStride)
		op("MOVQ %d(R8), R11", woGroups)
		op("LEAQ (BX)(BX*2), R13")
		op("VXORPS Z30, Z30, Z30")
		op("TESTQ R11, R11")
		op("JZ %s_done", k.name)
		label("group")
		op("MOVQ %d(R8), SI", woIn)
		op("MOVQ %d(R8), DI", woOut)
		op("MOVQ %d(R8), CX", woN)
		op("MOVQ %d(R8), R9", woBias)
		op("MOVQ %d(R8), R10", woRes)
		op("LEAQ (SI)(R13*1), R12")
		op("TESTQ CX, CX")
		op("JZ %s_done", k.name)
		label("vector")
		for a := range in {
			op("VMOVUPS %s, Z%d", winoInput(a), a)
		}
		op("XORQ AX, AX") // the row's byte offset in out and res
		for i, row := range k.mat {
			first := true
			for a, v := range row {
				f := float32(v)
				switch {
				case f == 0:
					continue
				case first && f == 1:
					op("VMOVAPS Z%d, Z8", a)
				case first && f == -1:
					op("VSUBPS Z%d, Z30, Z8", a)
				case first:
					op("VMULPS.BCST ·winoConsts+%d(SB), Z%d, Z8", 4*index[f], a)
				case f == 1:
					op("VADDPS Z%d, Z8, Z8", a)
				case f == -1:
					op("VSUBPS Z%d, Z8, Z8", a)
				default:
					op("VFMADD231PS.BCST ·winoConsts+%d(SB), Z%d, Z8", 4*index[f], a)
				}
				first = false
			}
			if first {
				op("VXORPS Z8, Z8, Z8")
			}
			op("TESTQ R9, R9")
			op("JZ %s_nobias%d", k.name, i)
			op("VADDPS (R9), Z8, Z8")
			label(fmt.Sprintf("nobias%d", i))
			op("TESTQ R10, R10")
			op("JZ %s_nores%d", k.name, i)
			op("VADDPS (R10)(AX*1), Z8, Z8")
			label(fmt.Sprintf("nores%d", i))
			op("CMPQ %d(R8), $0", woReLU)
			op("JEQ %s_norelu%d", k.name, i)
			op("VMAXPS Z30, Z8, Z8")
			label(fmt.Sprintf("norelu%d", i))
			op("VMOVUPS Z8, (DI)(AX*1)")
			if i < rows-1 {
				op("CMPQ %d(R8), $%d", woRows, i+1)
				op("JEQ %s_next", k.name)
				op("ADDQ DX, AX")
			}
		}
		label("next")
		op("ADDQ $64, SI")
		op("ADDQ $64, R12")
		op("ADDQ $64, DI")
		op("TESTQ R9, R9")
		op("JZ %s_nextres", k.name)
		op("ADDQ $64, R9")
		label("nextres")
		op("TESTQ R10, R10")
		op("JZ %s_count", k.name)
		op("ADDQ $64, R10")
		label("count")
		op("DECQ CX")
		op("JNZ %s_vector", k.name)
		// The next group: in, out and res (if any) move on by their group
		// strides.
		op("MOVQ %d(R8), AX", woInGroup)
		op("ADDQ AX, %d(R8)", woIn)
		op("MOVQ %d(R8), AX", woOutGroup)
		op("ADDQ AX, %d(R8)", woOut)
		op("CMPQ %d(R8), $0", woRes)
		op("JEQ %s_groupnext", k.name)
		op("ADDQ AX, %d(R8)", woRes)
		label("groupnext")
		op("DECQ R11")
		op("JNZ %s_group", k.name)
		label("done")
		op("VZEROUPPER")
		op("RET")
	}

	var g bytes.Buffer
	g.WriteString(header)
	g.WriteString("//go:build amd64 && !purego\n\npackage runtime\n")
	for _, k := range kernels {
		fmt.Fprintf(&g, "\n//go:noescape\nfunc %s(args *winoArgs)\n", k.name)
	}
	g.WriteString("\n// winoAVX512 runs transform kernel i (winoKernelIndex).\nfunc winoAVX512(i int, args *winoArgs) {\n\tswitch i {\n")
	for i, k := range kernels {
		fmt.Fprintf(&g, "\tcase %d:\n\t\t%s(args)\n", i, k.name)
	}
	g.WriteString("\tdefault:\n\t\tpanic(\"runtime: winoAVX512: bad kernel\")\n\t}\n}\n")
	fmt.Fprintf(&g, "\n// Field offsets the kernels assume; checked by TestWinoArgsLayout.\nconst (\n")
	for _, f := range []struct {
		name string
		off  int
	}{{"In", woIn}, {"InStride", woInStride}, {"Out", woOut}, {"OutStride", woOutStride}, {"Rows", woRows},
		{"N", woN}, {"Bias", woBias}, {"Res", woRes}, {"ReLU", woReLU},
		{"Groups", woGroups}, {"InGroup", woInGroup}, {"OutGroup", woOutGroup}} {
		fmt.Fprintf(&g, "\twinoOff%s = %d\n", f.name, f.off)
	}
	g.WriteString(")\n")
	src, err := format.Source(g.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("formatting Winograd declarations: %v", err)
	}
	return []byte(strings.ReplaceAll(s.String(), "\t\n", "\n")), src, nil
}
