//go:build amd64 && !purego

package runtime

import (
	"os"

	"golang.org/x/sys/cpu"
)

// gemmISA selects the micro-kernels. It is set once at start-up from the CPU
// features (gemmISABest); tests lower it to run every path on one machine.
//
// The environment variable RESGEN_KERNELS=avx2 or RESGEN_KERNELS=go caps the
// choice below what the CPU offers, so that every path can be checked
// end to end on one machine (CI runs the parity tests that way) and a
// suspected kernel bug can be ruled out without rebuilding. Other values
// are ignored.
var (
	gemmISABest = gemmCapISA(gemmDetectISA(), os.Getenv("RESGEN_KERNELS"))
	gemmISA     = gemmISABest
)

func gemmCapISA(best int, env string) int {
	switch env {
	case "avx2":
		return min(best, gemmISAAVX2)
	case "go":
		return gemmISAGo
	}
	return best
}

const (
	gemmISAGo = iota
	gemmISAAVX2
	gemmISAAVX512
)

func gemmDetectISA() int {
	switch {
	case cpu.X86.HasAVX512F:
		return gemmISAAVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return gemmISAAVX2
	}
	return gemmISAGo
}
