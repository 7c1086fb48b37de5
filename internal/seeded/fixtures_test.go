package seeded

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestParityFixtureInputs checks that every seeded case under
// testdata/parity (written by reference/reference.py fixtures) used this
// package's "input" tensor, and that its header agrees with case.json.
func TestParityFixtureInputs(t *testing.T) {
	cases, err := filepath.Glob("../../testdata/parity/*/case.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Skip("no parity fixtures")
	}
	for _, path := range cases {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var c struct {
				Input        []int   `json:"input"`
				Batch        int     `json:"batch"`
				Seed         *uint64 `json:"seed"`
				InputSeed    *uint64 `json:"input_seed"`
				OutputShape  []int   `json:"output_shape"`
				MaxAbsOutput float64 `json:"max_abs_output"`
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			seed := c.Seed
			if seed == nil {
				seed = c.InputSeed
			}
			if seed == nil {
				t.Fatal("case.json has neither seed nor input_seed")
			}
			io, err := os.ReadFile(filepath.Join(dir, "io.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			tensors := readF32(t, io)
			shape := append([]int{c.Batch}, c.Input...)
			in := tensors["input"]
			if !slices.Equal(in.shape, shape) {
				t.Fatalf("input shape %v, case.json says %v", in.shape, shape)
			}
			want := Tensor(*seed, "input", shape, Input)
			for i := range want {
				if math.Float32bits(in.data[i]) != math.Float32bits(want[i]) {
					t.Fatalf("input[%d] = %g, seeded.Tensor gives %g", i, in.data[i], want[i])
				}
			}
			out := tensors["output"]
			if !slices.Equal(out.shape, c.OutputShape) {
				t.Fatalf("output shape %v, case.json says %v", out.shape, c.OutputShape)
			}
			maxAbs := 0.0
			for _, v := range out.data {
				maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
			}
			if maxAbs != c.MaxAbsOutput {
				t.Errorf("max|output| = %g, case.json says %g", maxAbs, c.MaxAbsOutput)
			}
		})
	}
}

type f32Tensor struct {
	shape []int
	data  []float32
}

// readF32 is a minimal safetensors reader for the fixtures (F32 only); the
// real, bounds-checked reader is runtime.ReadSafetensors.
func readF32(t *testing.T, b []byte) map[string]f32Tensor {
	t.Helper()
	n := binary.LittleEndian.Uint64(b)
	var hdr map[string]struct {
		Dtype       string
		Shape       []int
		DataOffsets [2]int `json:"data_offsets"`
	}
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	data := b[8+n:]
	out := map[string]f32Tensor{}
	for name, h := range hdr {
		if h.Dtype != "F32" {
			t.Fatalf("%s: dtype %s", name, h.Dtype)
		}
		raw := data[h.DataOffsets[0]:h.DataOffsets[1]]
		vals := make([]float32, len(raw)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		out[name] = f32Tensor{h.Shape, vals}
	}
	return out
}
