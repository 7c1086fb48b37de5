//go:build (!amd64 && !arm64) || purego

package runtime

import "testing"

func convBenchISA(*testing.B) {}

type convTestISA struct {
	name string
	use  func() func()
}

// convTestISAs: only the portable kernel exists in this build.
func convTestISAs() []convTestISA {
	return []convTestISA{{"go", func() func() { return func() {} }}}
}
