//go:build !amd64 || purego

package runtime

// groupedFast reports whether the grouped kernels run here: only on amd64
// with AVX-512; elsewhere the general engine is faster than the portable
// kernel.
func groupedFast() bool { return false }

func groupedTileRun(g *groupedConv, tl *groupedTile) { groupedTileGo(g, tl) }
