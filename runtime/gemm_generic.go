//go:build (!amd64 && !arm64) || purego

package runtime

// gemmTile computes one tile with the portable kernel.
func gemmTile(k *gemmCall) {
	if k.np > 1 {
		one := *k
		for p := range k.np {
			gemmPanelOf(&one, k, p)
			gemmTileGo(&one)
		}
		return
	}
	gemmTileGo(k)
}
