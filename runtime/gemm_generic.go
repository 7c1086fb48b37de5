//go:build !amd64 || purego

package runtime

// gemmTile computes one tile with the portable kernel.
func gemmTile(k *gemmCall) { gemmTileGo(k) }
