//go:build !amd64 || purego

package runtime

// gemmTileStrided computes one tile of a strided call with the portable
// kernel.
func gemmTileStrided(k *gemmCall) { gemmTileStridedGo(k) }
