//go:build arm64 && !purego

package runtime

import (
	"os"

	"golang.org/x/sys/cpu"
)

// gemmISA selects the micro-kernels. It is set once at start-up from the CPU
// features (gemmISABest); tests lower it to run every path on one machine.
//
// RESGEN_KERNELS=go selects the portable Go kernels, so that a suspected
// kernel bug can be ruled out without rebuilding; other values are ignored.
var (
	gemmISABest = gemmCapISA(gemmDetectISA(), os.Getenv("RESGEN_KERNELS"))
	gemmISA     = gemmISABest
)

func gemmCapISA(best int, env string) int {
	if env == "go" {
		return gemmISAGo
	}
	return best
}

const (
	gemmISAGo = iota
	gemmISANEON
)

// gemmISANames are the paths' names, as RESGEN_KERNELS and the tests spell them.
var gemmISANames = [...]string{gemmISAGo: "go", gemmISANEON: "neon"}

// gemmDetectISA: Advanced SIMD is part of every ARMv8-A core that runs Go,
// but a kernel or emulator may still hide it.
func gemmDetectISA() int {
	if cpu.ARM64.HasASIMD {
		return gemmISANEON
	}
	return gemmISAGo
}
