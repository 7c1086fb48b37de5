//go:build amd64 && !purego

package main

import "golang.org/x/sys/cpu"

// Accumulators of the assembly loops (peak_amd64.s): enough independent FMA
// chains to keep two FMA ports busy through a 4-cycle latency.
const (
	avx512Accs = 16
	avx2Accs   = 12
)

//go:noescape
func fmaLoopAVX512(n uint64, out *[avx512Accs * 16]float32)

//go:noescape
func fmaLoopAVX2(n uint64, out *[avx2Accs * 8]float32)

// fmaKernels lists the FMA loops this CPU can run, widest first.
func fmaKernels() []fmaKernel {
	var ks []fmaKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, fmaKernel{ISA: "avx512", Instr: "VFMADD231PS zmm", Lanes: 16, Accs: avx512Accs,
			run: func(n uint64) []float32 {
				var out [avx512Accs * 16]float32
				fmaLoopAVX512(n, &out)
				return out[:]
			}})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, fmaKernel{ISA: "avx2", Instr: "VFMADD231PS ymm", Lanes: 8, Accs: avx2Accs,
			run: func(n uint64) []float32 {
				var out [avx2Accs * 8]float32
				fmaLoopAVX2(n, &out)
				return out[:]
			}})
	}
	return append(ks, goKernel)
}
