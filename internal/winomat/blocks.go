package winomat

// BlockBytes bounds the transformed input and output of one block of
// tiles, so that both stay in a core's L2 cache.
const BlockBytes = 1 << 20

// Block returns how many tiles of a layer runtime processes per block (a
// block's tiles are transformed, multiplied plane by plane and transformed
// back together), from the shapes alone: at most BlockBytes of transformed
// data and at least two blocks, for two threads to share. ir's cost model
// uses the same rule to count how often the transformed weights are read.
func Block(tiles, alpha, inC, outC int) int {
	b := max(1, BlockBytes/(alpha*alpha*(inC+outC)*4))
	b = min(b, max(1, (tiles+1)/2))
	return min(b, tiles)
}
