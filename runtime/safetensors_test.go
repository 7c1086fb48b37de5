package runtime

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// stTestFile assembles a safetensors file from a header written by hand, so
// tests can corrupt any part of it.
func stTestFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

type stTestTensor struct {
	name  string
	dtype string
	shape []int
	data  []byte
}

// stTestWrite is a minimal safetensors writer: tensors are laid out in the
// order given, and the header is padded with spaces to a multiple of 8 as
// the reference writer does.
func stTestWrite(ts ...stTestTensor) []byte {
	var h strings.Builder
	var data []byte
	h.WriteString(`{"__metadata__":{"format":"pt"}`)
	for _, t := range ts {
		shape := "[]"
		if len(t.shape) > 0 {
			shape = strings.ReplaceAll(fmt.Sprint(t.shape), " ", ",")
		}
		fmt.Fprintf(&h, `,%q:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`,
			t.name, t.dtype, shape, len(data), len(data)+len(t.data))
		data = append(data, t.data...)
	}
	h.WriteString("}")
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	return stTestFile(h.String(), data)
}

func stTestTruncate(b []byte, n int) []byte { return b[:len(b)-n] }

func stTestF32(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func stTestU16(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

func stTestF64(vs ...float64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

func TestReadSafetensorsValid(t *testing.T) {
	b := stTestWrite(
		stTestTensor{"conv.weight", "F32", []int{2, 1, 1, 2}, stTestF32(1, 2, 3, 4)},
		stTestTensor{"bn.num_batches_tracked", "I64", []int{}, make([]byte, 8)},
		stTestTensor{"empty", "F32", []int{0, 3}, nil},
		stTestTensor{"half", "F16", []int{2}, stTestU16(0x3c00, 0xc000)},
	)
	st, err := ReadSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Names(), []string{"bn.num_batches_tracked", "conv.weight", "empty", "half"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	if d, ok := st.DType("half"); !ok || d != "F16" {
		t.Errorf("DType(half) = %q, %v", d, ok)
	}
	if s, ok := st.Shape("conv.weight"); !ok || !reflect.DeepEqual(s, []int{2, 1, 1, 2}) {
		t.Errorf("Shape(conv.weight) = %v, %v", s, ok)
	}
	if s, ok := st.Shape("bn.num_batches_tracked"); !ok || len(s) != 0 {
		t.Errorf("Shape of a scalar = %v, %v", s, ok)
	}
	if _, ok := st.Shape("nope"); ok {
		t.Errorf("Shape(nope) found")
	}
	if d, ok := st.Bytes("conv.weight"); !ok || len(d) != 16 {
		t.Errorf("Bytes(conv.weight) = %d bytes", len(d))
	}
	if m := st.Metadata(); m["format"] != "pt" {
		t.Errorf("Metadata() = %v", m)
	}
	// No tensors at all is a valid (if useless) file.
	if _, err := ReadSafetensors(stTestFile("{}", nil)); err != nil {
		t.Errorf("empty header: %v", err)
	}
	// Gaps between tensors are tolerated; only overlap is an error.
	if _, err := ReadSafetensors(stTestFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}`, make([]byte, 4))); err != nil {
		t.Errorf("gap: %v", err)
	}
}

func TestReadSafetensorsCorrupt(t *testing.T) {
	long := func(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }
	f32 := `"dtype":"F32"`
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty file", nil, "shorter than the 8-byte header length"},
		{"truncated length", []byte{1, 0, 0}, "shorter than the 8-byte header length"},
		{"header past end", append(long(100), "{}"...), "header length 100 exceeds the 2 bytes after it"},
		{"header too long", append(long(200<<20), "{}"...), "exceeds the 104857600-byte limit"},
		{"header length overflows", append(long(math.MaxUint64), "{}"...), "exceeds the 104857600-byte limit"},
		{"truncated data", stTestTruncate(stTestWrite(stTestTensor{"w", "F32", []int{2}, stTestF32(1, 2)}), 1), `tensor "w": data_offsets [0, 8] out of range (data is 7 bytes)`},
		{"not JSON", stTestFile("{nope", nil), "header is not JSON"},
		{"not an object", stTestFile("[1,2]", nil), "header is not a JSON object"},
		{"empty header", stTestFile("", nil), "header is not JSON"},
		{"trailing garbage", stTestFile("{} x", nil), "data after its JSON object"},
		{"unterminated", stTestFile(`{"a":{}`, nil), "header is not JSON"},
		{"entry not an object", stTestFile(`{"a":5}`, nil), `tensor "a": bad header entry`},
		{"duplicate name", stTestFile(`{"a":{`+f32+`,"shape":[1],"data_offsets":[0,4]},"a":{`+f32+`,"shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), `tensor "a": appears twice`},
		{"unknown dtype", stTestFile(`{"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": unknown dtype "F17"`},
		{"no dtype", stTestFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": no dtype`},
		{"no shape", stTestFile(`{"a":{`+f32+`,"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": no shape`},
		{"negative dim", stTestFile(`{"a":{`+f32+`,"shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": shape dimension 0: -1 is negative`},
		{"fractional dim", stTestFile(`{"a":{`+f32+`,"shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), `not an integer`},
		{"quoted dim", stTestFile(`{"a":{`+f32+`,"shape":["1"],"data_offsets":[0,4]}}`, make([]byte, 4)), `not an integer`},
		{"huge dim", stTestFile(`{"a":{`+f32+`,"shape":[99999999999999999999],"data_offsets":[0,4]}}`, make([]byte, 4)), `too large`},
		{"overflowing shape", stTestFile(`{"a":{`+f32+`,"shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": shape [4294967296 4294967296] of F32 overflows`},
		{"overflow by dtype size", stTestFile(`{"a":{`+f32+`,"shape":[4611686018427387904],"data_offsets":[0,4]}}`, make([]byte, 4)), `overflows`},
		{"shape/size mismatch", stTestFile(`{"a":{`+f32+`,"shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": shape [2] of F32 is 8 bytes, but data_offsets [0, 4] hold 4`},
		{"offsets out of range", stTestFile(`{"layer1.0.conv1.weight":{`+f32+`,"shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), `safetensors: tensor "layer1.0.conv1.weight": data_offsets [0, 8] out of range (data is 4 bytes)`},
		{"offsets reversed", stTestFile(`{"a":{`+f32+`,"shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), `data_offsets [4, 0] out of range`},
		{"negative offset", stTestFile(`{"a":{`+f32+`,"shape":[1],"data_offsets":[-4,0]}}`, make([]byte, 4)), `data_offsets [-4, 0] out of range`},
		{"three offsets", stTestFile(`{"a":{`+f32+`,"shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 8)), `data_offsets has 3 values, want 2`},
		{"overlap", stTestFile(`{"a":{`+f32+`,"shape":[2],"data_offsets":[0,8]},"b":{`+f32+`,"shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), `tensor "b": data_offsets [4, 12] overlap tensor "a" at [0, 8]`},
		{"overlap out of order", stTestFile(`{"b":{`+f32+`,"shape":[2],"data_offsets":[4,12]},"a":{`+f32+`,"shape":[1],"data_offsets":[0,8]}}`, make([]byte, 12)), `tensor "a": shape [1] of F32 is 4 bytes`},
		{"same range", stTestFile(`{"a":{`+f32+`,"shape":[1],"data_offsets":[0,4]},"b":{`+f32+`,"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `overlap`},
		{"bad metadata", stTestFile(`{"__metadata__":{"n":1}}`, nil), `__metadata__ is not an object of strings`},
	}
	for _, tt := range tests {
		st, err := ReadSafetensors(tt.file)
		if err == nil {
			t.Errorf("%s: no error (names %q)", tt.name, st.Names())
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

// TestWriteFuzzCorpus regenerates the committed seed corpus of
// FuzzReadSafetensors when run with RESGEN_WRITE_FUZZ_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("RESGEN_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set RESGEN_WRITE_FUZZ_CORPUS=1 to rewrite testdata/fuzz/FuzzReadSafetensors")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReadSafetensors")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range stFuzzSeeds() {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// stFuzzSeeds are valid files of every float dtype and a few corruptions.
func stFuzzSeeds() map[string][]byte {
	valid := stTestWrite(
		stTestTensor{"conv.weight", "F32", []int{2, 1, 1, 2}, stTestF32(1, -2, 3.5, 4)},
		stTestTensor{"bn.num_batches_tracked", "I64", []int{}, make([]byte, 8)},
		stTestTensor{"half", "F16", []int{3}, stTestU16(0x3c00, 0x0001, 0xfbff)},
		stTestTensor{"brain", "BF16", []int{2}, stTestU16(0x3f80, 0x8001)},
		stTestTensor{"double", "F64", []int{1, 1}, stTestF64(0.1)},
		stTestTensor{"empty", "F32", []int{0}, nil},
	)
	return map[string][]byte{
		"valid":        valid,
		"nan":          stTestWrite(stTestTensor{"w", "F32", []int{2}, stTestF32(1, float32(math.NaN()))}),
		"f16inf":       stTestWrite(stTestTensor{"w", "F16", []int{1}, stTestU16(0x7c00)}),
		"truncated":    valid[:len(valid)-3],
		"overlap":      stTestFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)),
		"duplicate":    stTestFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)),
		"badshape":     stTestFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"headerlength": append(binary.LittleEndian.AppendUint64(nil, 1<<40), "{}"...),
	}
}

// FuzzReadSafetensors checks that no input makes the reader or Weights.Tensor
// panic, and that what the reader accepts is self-consistent.
func FuzzReadSafetensors(f *testing.F) {
	for _, b := range stFuzzSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ReadSafetensors(b)
		if err != nil {
			if st != nil {
				t.Fatalf("error %v with a non-nil result", err)
			}
			if !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Fatalf("error %q lacks the safetensors: prefix", err)
			}
			return
		}
		w := NewWeights(st)
		for _, name := range st.Names() {
			shape, _ := st.Shape(name)
			dtype, _ := st.DType(name)
			data, _ := st.Bytes(name)
			n, ok := stNumBytes(shape, stDTypeSizes[dtype])
			if !ok || n != len(data) {
				t.Fatalf("tensor %q: shape %v %s but %d bytes", name, shape, dtype, len(data))
			}
			got := w.Tensor(name, shape...)
			elems := 1
			for _, d := range shape {
				elems *= d
			}
			if got != nil && len(got) != elems {
				t.Fatalf("tensor %q: Tensor returned %d values, want %d", name, len(got), elems)
			}
			w.Tensor(name, append(shape, 1)...) // wrong shape: an error, not a panic
		}
		w.Tensor("not there", 3)
		if w.Err() == nil {
			t.Fatalf("Err() = nil after asking for a missing tensor")
		}
		if len(w.Unused()) != 0 {
			t.Fatalf("Unused() = %q after asking for everything", w.Unused())
		}
	})
}
