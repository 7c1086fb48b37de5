//go:build amd64 && !purego

package runtime

// winoApply runs a transform; vecs reports n and the strides are multiples
// of 16 (the assembly kernels' vectors).
func winoApply(c *winoCall, vecs bool) { winoApplyGo(c) }
