package winomat

// BlockBytes bounds the transformed input and output of one block of
// tiles, so that both stay in a core's L2 cache.
const BlockBytes = 1 << 20

// BigBlockBytes is the bound for layers with at least BigWeightBytes of
// transformed weights: every block reads all of them, and from memory, so
// fewer, larger blocks (spilling their transformed data to L3) cost less
// than reading the weights more often: a 512-channel 16×16 F(4,3) layer
// (38 MB of weights) ran 4.8 → 3.4 ms hot and 11.1 → 8.7 ms with its
// weights in memory (runtime.BenchmarkConvCold). F(6,3) keeps the L2
// bound: its 256-channel layers (17 MB) measured no faster with weights in
// memory, and larger blocks would make the cost model prefer it, the least
// accurate form, over F(4,3).
const (
	BigBlockBytes  = 4 << 20
	BigWeightBytes = 16 << 20
)

// Block returns how many tiles of a layer runtime processes per block (a
// block's tiles are transformed, multiplied plane by plane and transformed
// back together), from the shapes alone: at most BlockBytes of transformed
// data (BigBlockBytes for layers of big weights) and at least two blocks, for two threads to share.
// ir's cost model uses the same rule to count how often the transformed
// weights are read.
func Block(tiles, alpha, inC, outC int) int {
	budget := BlockBytes
	if alpha <= 6 && alpha*alpha*inC*outC*4 >= BigWeightBytes {
		budget = BigBlockBytes
	}
	b := max(1, budget/(alpha*alpha*(inC+outC)*4))
	b = min(b, max(1, (tiles+1)/2))
	return min(b, tiles)
}
