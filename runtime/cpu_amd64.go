//go:build amd64 && !purego

package runtime

// gemmISA selects the micro-kernels. It is set once at start-up from the CPU
// features (gemmISABest); tests lower it to run every path on one machine.
var (
	gemmISABest = gemmISAGo
	gemmISA     = gemmISABest
)

const (
	gemmISAGo = iota
	gemmISAAVX2
	gemmISAAVX512
)
