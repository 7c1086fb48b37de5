//go:build amd64 && !purego

package runtime

// gemmTile computes one tile with the kernel for gemmISA.
func gemmTile(k *gemmCall) {
	switch gemmISA {
	default:
		gemmTileGo(k)
	}
}
