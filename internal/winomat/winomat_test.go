package winomat

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestCorrelation runs the 2-D algorithm in exact arithmetic on random
// integer tiles and filters and compares it with the direct 3×3
// correlation, as PyTorch's Conv2d computes it.
func TestCorrelation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, m := range Sizes {
		x, err := New(m)
		if err != nil {
			t.Fatal(err)
		}
		a := x.Alpha
		for trial := 0; trial < 5; trial++ {
			d := grid(a, a)
			g := grid(R, R)
			for i := range d {
				for j := range d[i] {
					d[i][j].SetInt64(rng.Int64N(21) - 10)
				}
			}
			for i := range g {
				for j := range g[i] {
					g[i][j].SetInt64(rng.Int64N(21) - 10)
				}
			}
			u := mul(mul(x.G, g), transpose(x.G))
			v := mul(mul(x.BT, d), transpose(x.BT))
			for i := range u {
				for j := range u[i] {
					u[i][j].Mul(u[i][j], v[i][j])
				}
			}
			y := mul(mul(x.AT, u), transpose(x.AT))
			for i := 0; i < m; i++ {
				for j := 0; j < m; j++ {
					want := new(big.Rat)
					for ki := 0; ki < R; ki++ {
						for kj := 0; kj < R; kj++ {
							want.Add(want, new(big.Rat).Mul(g[ki][kj], d[i+ki][j+kj]))
						}
					}
					if y[i][j].Cmp(want) != 0 {
						t.Fatalf("F(%d,3): y[%d][%d] = %s, want %s", m, i, j, y[i][j].RatString(), want.RatString())
					}
				}
			}
		}
	}
}

// TestKnownF23 pins F(2,3) against the matrices of Lavin & Gray (2015) up
// to the sign of each point's row, which G and Bᵀ share.
func TestKnownF23(t *testing.T) {
	x, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	at := Float64(x.AT)
	want := [][]float64{{1, 1, 1, 0}, {0, 1, -1, 1}}
	for i := range want {
		for j := range want[i] {
			if at[i][j] != want[i][j] {
				t.Errorf("Aᵀ[%d][%d] = %v, want %v", i, j, at[i][j], want[i][j])
			}
		}
	}
}

func mul(a, b [][]*big.Rat) [][]*big.Rat {
	out := grid(len(a), len(b[0]))
	for i := range a {
		for j := range b[0] {
			for k := range b {
				out[i][j].Add(out[i][j], new(big.Rat).Mul(a[i][k], b[k][j]))
			}
		}
	}
	return out
}

func transpose(a [][]*big.Rat) [][]*big.Rat {
	out := grid(len(a[0]), len(a))
	for i := range a {
		for j := range a[i] {
			out[j][i].Set(a[i][j])
		}
	}
	return out
}
