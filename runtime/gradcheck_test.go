package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// gradcheck is a small finite-difference checker in the spirit of
// torch.autograd.gradcheck: every backward rule's float64 reference is
// checked against central differences of its float64 forward reference.
//
// Rather than building the whole Jacobian J, it draws one random output
// gradient dy and compares, for every input element x_j, the analytic
// vector-Jacobian product (Jᵀdy)_j with the numeric one,
//
//	(dy·f(x + eps·e_j) − dy·f(x − eps·e_j)) / 2eps,
//
// which is what a backward pass computes and localizes a wrong element to
// its input and index.

const (
	gradEps  = 1e-6
	gradAtol = 1e-5
	gradRtol = 1e-3

	// gradMaxChecked caps the elements checked per input; a larger input
	// is checked at a random sample of this many positions (plus its first
	// and last element), so a conv's weights stay cheap to check.
	gradMaxChecked = 2048
)

// gradInput is one differentiable input of the function under test.
type gradInput struct {
	Name string
	X    []float64
}

// gradRandom returns n values uniform in [lo, hi) drawn from seed.
func gradRandom(seed uint64, n int, lo, hi float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	x := make([]float64, n)
	for i := range x {
		x[i] = lo + (hi-lo)*r.Float64()
	}
	return x
}

// gradcheck checks vjp against central differences of f at the point given
// by in. f writes the ny outputs of the function into y (every element: y
// is reused); vjp receives dx zeroed, one slice per input in the order of
// in, and must add or write (∂y/∂x_i)ᵀ·dy into dx[i]. Both read the inputs
// from x, which gradcheck perturbs one element at a time and restores.
//
// Inputs must lie away from the function's kinks (ReLU at 0, ties of a max)
// by much more than gradEps. The check fails the test with the input name,
// index and both values of up to 8 mismatches per input.
func gradcheck(t testing.TB, seed uint64, in []gradInput, ny int,
	f func(y []float64, x [][]float64),
	vjp func(dx [][]float64, dy []float64, x [][]float64)) {
	t.Helper()
	x := make([][]float64, len(in))
	dx := make([][]float64, len(in))
	for i, v := range in {
		x[i] = v.X
		dx[i] = make([]float64, len(v.X))
	}
	dy := gradRandom(seed^0x5bd1e995, ny, -1, 1)
	vjp(dx, dy, x)

	y := make([]float64, ny)
	value := func() float64 {
		for i := range y {
			y[i] = math.NaN() // an element f forgets to write shows up
		}
		f(y, x)
		var s float64
		for i, v := range y {
			s += v * dy[i]
		}
		return s
	}
	r := rand.New(rand.NewPCG(seed, 17))
	for i, v := range in {
		var bad []string
		nbad := 0
		for _, j := range gradIndices(r, len(v.X)) {
			orig := x[i][j]
			x[i][j] = orig + gradEps
			plus := value()
			x[i][j] = orig - gradEps
			minus := value()
			x[i][j] = orig
			num := (plus - minus) / (2 * gradEps)
			ana := dx[i][j]
			if !(math.Abs(ana-num) <= gradAtol+gradRtol*math.Abs(num)) {
				nbad++
				if len(bad) < 8 {
					bad = append(bad, fmt.Sprintf("[%d] analytic %.9g numeric %.9g", j, ana, num))
				}
			}
		}
		if nbad > 0 {
			t.Errorf("gradcheck %s: %d of %d elements differ:\n\t%s", v.Name, nbad, len(v.X), strings.Join(bad, "\n\t"))
		}
	}
}

// gradIndices returns the indices of an n-element input to check: all of
// them, or a sorted random sample when n exceeds gradMaxChecked.
func gradIndices(r *rand.Rand, n int) []int {
	if n <= gradMaxChecked {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	pick := make(map[int]bool, gradMaxChecked)
	pick[0], pick[n-1] = true, true
	for len(pick) < gradMaxChecked {
		pick[r.IntN(n)] = true
	}
	idx := make([]int, 0, len(pick))
	for j := range n {
		if pick[j] {
			idx = append(idx, j)
		}
	}
	return idx
}

// gradRecorder captures the failures of a gradcheck that is meant to fail.
type gradRecorder struct {
	testing.TB
	msgs []string
}

func (r *gradRecorder) Helper() {}
func (r *gradRecorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

// TestGradcheck makes sure the checker passes a right gradient and catches
// wrong ones: a wrong factor, a missed element, and a swapped input.
func TestGradcheck(t *testing.T) {
	// y = (a0·b0, a1·b1, ..., sum(a)^2)
	const n = 5
	f := func(y []float64, x [][]float64) {
		a, b := x[0], x[1]
		var s float64
		for i := range a {
			y[i] = a[i] * b[i]
			s += a[i]
		}
		y[n] = s * s
	}
	right := func(dx [][]float64, dy []float64, x [][]float64) {
		a, b := x[0], x[1]
		var s float64
		for _, v := range a {
			s += v
		}
		for i := range a {
			dx[0][i] += dy[i]*b[i] + 2*s*dy[n]
			dx[1][i] += dy[i] * a[i]
		}
	}
	inputs := func() []gradInput {
		return []gradInput{{"a", gradRandom(1, n, -1, 1)}, {"b", gradRandom(2, n, -1, 1)}}
	}
	gradcheck(t, 3, inputs(), n+1, f, right)

	wrong := map[string]func(dx [][]float64, dy []float64, x [][]float64){
		"factor": func(dx [][]float64, dy []float64, x [][]float64) {
			right(dx, dy, x)
			dx[1][2] *= 1.01
		},
		"missed": func(dx [][]float64, dy []float64, x [][]float64) {
			right(dx, dy, x)
			dx[0][n-1] = 0
		},
		"swapped": func(dx [][]float64, dy []float64, x [][]float64) {
			right(dx, dy, x)
			dx[0], dx[1] = dx[1], dx[0]
		},
	}
	for name, vjp := range wrong {
		rec := &gradRecorder{TB: t}
		gradcheck(rec, 3, inputs(), n+1, f, vjp)
		if len(rec.msgs) == 0 {
			t.Errorf("gradcheck passed the %s gradient", name)
		}
	}

	// A large input is sampled, and the sample includes both ends.
	r := rand.New(rand.NewPCG(1, 1))
	idx := gradIndices(r, 10*gradMaxChecked)
	if len(idx) != gradMaxChecked || idx[0] != 0 || idx[len(idx)-1] != 10*gradMaxChecked-1 {
		t.Errorf("gradIndices: %d indices from %d to %d", len(idx), idx[0], idx[len(idx)-1])
	}
}
