package runtime

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

func TestWriteSafetensorsRoundTrip(t *testing.T) {
	in := []OutTensor{
		{Name: "conv1.weight", Shape: []int{2, 1, 1, 2}, F32: []float32{1, -2.5, float32(math.Pi), 0}},
		{Name: "bn1.num_batches_tracked", Shape: []int{}, I64: []int64{103}},
		{Name: "fc.bias", Shape: []int{0}, F32: []float32{}},
		{Name: `odd "name"`, Shape: []int{1}, F32: []float32{7}},
	}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, in); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if n := binary.LittleEndian.Uint64(b); (8+n)%8 != 0 {
		t.Errorf("data starts at %d, not 8-byte aligned", 8+n)
	}
	st, err := ReadSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWeights(st)
	if got := w.Tensor("conv1.weight", 2, 1, 1, 2); got[2] != float32(math.Pi) || got[1] != -2.5 {
		t.Errorf("conv1.weight = %v", got)
	}
	if got := w.Tensor(`odd "name"`, 1); got[0] != 7 {
		t.Errorf("odd name = %v", got)
	}
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	if dt, _ := st.DType("bn1.num_batches_tracked"); dt != "I64" {
		t.Errorf("num_batches_tracked dtype %s", dt)
	}
	if sh, _ := st.Shape("bn1.num_batches_tracked"); len(sh) != 0 {
		t.Errorf("num_batches_tracked shape %v, want []", sh)
	}
	if raw, _ := st.Bytes("bn1.num_batches_tracked"); binary.LittleEndian.Uint64(raw) != 103 {
		t.Errorf("num_batches_tracked = %d", binary.LittleEndian.Uint64(raw))
	}
}

func TestWriteSafetensorsErrors(t *testing.T) {
	for _, tc := range []struct {
		ts   []OutTensor
		want string
	}{
		{[]OutTensor{{Name: "a", Shape: []int{3}, F32: []float32{1, 2}}}, `"a": shape [3] holds 3 values, data has 2`},
		{[]OutTensor{{Name: "a", F32: []float32{1}}, {Name: "a", F32: []float32{1}}}, `"a": written twice`},
		{[]OutTensor{{Name: "b", Shape: []int{1}, F32: []float32{1}, I64: []int64{1}}}, `"b": has both`},
		{[]OutTensor{{Name: "__metadata__"}}, `cannot write`},
	} {
		err := WriteSafetensors(&bytes.Buffer{}, tc.ts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func TestSafetensorsCount(t *testing.T) {
	var buf bytes.Buffer
	err := WriteSafetensors(&buf, []OutTensor{
		{Name: "bn.num_batches_tracked", I64: []int64{7}},
		{Name: "bn.running_mean", Shape: []int{1}, F32: []float32{0}},
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadSafetensors(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := st.Count("bn.num_batches_tracked"); v != 7 || err != nil {
		t.Errorf("Count(I64 scalar 7) = %d, %v", v, err)
	}
	if v, err := st.Count("absent"); v != 0 || err != nil {
		t.Errorf("Count(absent) = %d, %v; want 0, nil", v, err)
	}
	if _, err := st.Count("bn.running_mean"); err == nil || !strings.Contains(err.Error(), `"bn.running_mean"`) {
		t.Errorf("Count(F32 tensor): error %v, want one naming the tensor", err)
	}
}
