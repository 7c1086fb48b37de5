// Package winomat constructs the matrices of Winograd's minimal filtering
// algorithm F(m, 3) — the transforms a 3×3 stride-1 convolution uses to
// compute an m×m output tile with (m+2)² multiplications instead of 9m².
//
// The construction is Toom-Cook's, transposed: with α = m+2 interpolation
// points p_0…p_{α-2} and the point at infinity,
//
//	y = Aᵀ [(G g) ⊙ (Bᵀ d)]
//
// computes the correlation y_i = Σ_k g_k d_{i+k} of an α-long input d with a
// 3-tap filter g. Aᵀ (m×α) evaluates the output polynomial at the points,
// G (α×3) evaluates the filter and carries the 1/Π(p_j - p_l) scaling, and
// Bᵀ (α×α) is then the unique matrix making the identity hold; it is found
// by exact rational elimination, so every entry is exact and the identity
// is checked, not assumed. In two dimensions the tile is
// Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A.
//
// Package runtime transforms weights with G and runs Bᵀ and Aᵀ in its
// kernels; internal/asmgen compiles the same matrices into the AVX-512
// transforms, so there is one source for both.
package winomat

import (
	"fmt"
	"math/big"
)

// R is the filter size: the transforms are for 3×3 kernels.
const R = 3

// Sizes are the output tile sizes supported: F(2,3), F(4,3), F(6,3).
var Sizes = []int{2, 4, 6}

// Points returns the finite interpolation points of F(m, 3): 0, ±1, ±2,
// ±1/2, the usual choice that keeps the transforms' entries small.
func Points(m int) ([]*big.Rat, error) {
	all := []*big.Rat{big.NewRat(0, 1), big.NewRat(1, 1), big.NewRat(-1, 1),
		big.NewRat(2, 1), big.NewRat(-2, 1), big.NewRat(1, 2), big.NewRat(-1, 2)}
	n := m + R - 2
	if m < 1 || n > len(all) {
		return nil, fmt.Errorf("winomat: F(%d,3) is not supported (output tiles 2, 4 or 6)", m)
	}
	return all[:n], nil
}

// Matrices holds the exact transforms of F(M, 3).
type Matrices struct {
	M, Alpha int
	AT       [][]*big.Rat // M × Alpha
	G        [][]*big.Rat // Alpha × 3
	BT       [][]*big.Rat // Alpha × Alpha
}

// New constructs the matrices of F(m, 3) and checks the identity.
func New(m int) (*Matrices, error) {
	pts, err := Points(m)
	if err != nil {
		return nil, err
	}
	alpha := m + R - 1
	x := &Matrices{M: m, Alpha: alpha, AT: grid(m, alpha), G: grid(alpha, R), BT: grid(alpha, alpha)}
	for j, p := range pts {
		f := big.NewRat(1, 1)
		for l, q := range pts {
			if l != j {
				f.Mul(f, new(big.Rat).Sub(p, q))
			}
		}
		pow := big.NewRat(1, 1)
		for i := 0; i < max(m, R); i++ {
			if i < m {
				x.AT[i][j].Set(pow)
			}
			if i < R {
				x.G[j][i].Quo(pow, f)
			}
			pow = new(big.Rat).Mul(pow, p)
		}
	}
	x.AT[m-1][alpha-1].SetInt64(1)
	x.G[alpha-1][R-1].SetInt64(1)

	// Bᵀ column l solves Σ_j AT[i][j]·G[j][k]·BT[j][l] = [l == i+k] for
	// every (i, k): m·3 equations in α unknowns, consistent and of full
	// column rank for distinct points.
	for l := 0; l < alpha; l++ {
		rows := make([][]*big.Rat, 0, m*R)
		for i := 0; i < m; i++ {
			for k := 0; k < R; k++ {
				row := make([]*big.Rat, alpha+1)
				for j := 0; j < alpha; j++ {
					row[j] = new(big.Rat).Mul(x.AT[i][j], x.G[j][k])
				}
				row[alpha] = new(big.Rat)
				if l == i+k {
					row[alpha].SetInt64(1)
				}
				rows = append(rows, row)
			}
		}
		col, err := solve(rows, alpha)
		if err != nil {
			return nil, fmt.Errorf("winomat: F(%d,3): column %d of Bᵀ: %w", m, l, err)
		}
		for j := range col {
			x.BT[j][l] = col[j]
		}
	}
	if err := x.check(); err != nil {
		return nil, err
	}
	return x, nil
}

// check verifies the one-dimensional identity on every pair of unit
// vectors, which by linearity proves it for all inputs.
func (x *Matrices) check() error {
	for k := 0; k < R; k++ {
		for l := 0; l < x.Alpha; l++ {
			for i := 0; i < x.M; i++ {
				sum := new(big.Rat)
				for j := 0; j < x.Alpha; j++ {
					t := new(big.Rat).Mul(x.AT[i][j], x.G[j][k])
					sum.Add(sum, t.Mul(t, x.BT[j][l]))
				}
				want := int64(0)
				if l == i+k {
					want = 1
				}
				if sum.Cmp(big.NewRat(want, 1)) != 0 {
					return fmt.Errorf("winomat: F(%d,3): identity fails at i=%d k=%d l=%d: %s", x.M, i, k, l, sum.RatString())
				}
			}
		}
	}
	return nil
}

// solve returns the unique solution of the consistent system rows (each
// n coefficients and a right-hand side) by Gauss-Jordan elimination.
func solve(rows [][]*big.Rat, n int) ([]*big.Rat, error) {
	r := 0
	for c := 0; c < n; c++ {
		piv := -1
		for i := r; i < len(rows); i++ {
			if rows[i][c].Sign() != 0 {
				piv = i
				break
			}
		}
		if piv < 0 {
			return nil, fmt.Errorf("rank deficient at unknown %d", c)
		}
		rows[r], rows[piv] = rows[piv], rows[r]
		inv := new(big.Rat).Inv(rows[r][c])
		for j := c; j <= n; j++ {
			rows[r][j].Mul(rows[r][j], inv)
		}
		for i := range rows {
			if i == r || rows[i][c].Sign() == 0 {
				continue
			}
			f := new(big.Rat).Set(rows[i][c])
			for j := c; j <= n; j++ {
				rows[i][j].Sub(rows[i][j], new(big.Rat).Mul(f, rows[r][j]))
			}
		}
		r++
	}
	for i := r; i < len(rows); i++ {
		if rows[i][n].Sign() != 0 {
			return nil, fmt.Errorf("inconsistent system")
		}
	}
	out := make([]*big.Rat, n)
	for c := 0; c < n; c++ {
		out[c] = rows[c][n]
	}
	return out, nil
}

func grid(r, c int) [][]*big.Rat {
	g := make([][]*big.Rat, r)
	for i := range g {
		g[i] = make([]*big.Rat, c)
		for j := range g[i] {
			g[i][j] = new(big.Rat)
		}
	}
	return g
}

// Float64 returns a matrix of exact rationals as float64 (each entry is
// the nearest float64; for the points used they are all exact except the
// fractions of G).
func Float64(a [][]*big.Rat) [][]float64 {
	out := make([][]float64, len(a))
	for i, row := range a {
		out[i] = make([]float64, len(row))
		for j, v := range row {
			out[i][j], _ = v.Float64()
		}
	}
	return out
}
