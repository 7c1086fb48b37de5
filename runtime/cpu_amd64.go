//go:build amd64 && !purego

package runtime

import "golang.org/x/sys/cpu"

// gemmISA selects the micro-kernels. It is set once at start-up from the CPU
// features (gemmISABest); tests lower it to run every path on one machine.
var (
	gemmISABest = gemmDetectISA()
	gemmISA     = gemmISABest
)

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
