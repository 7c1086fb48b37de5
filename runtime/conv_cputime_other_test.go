//go:build !unix

package runtime

func convCPUTime() (int64, bool) { return 0, false }
