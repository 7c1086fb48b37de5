package seeded

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// The want bits were printed by the Python reference:
//
//	cd reference && python3 -c 'import seeded, numpy as np; \
//	  print(hex(seeded.tensor(SEED, NAME, SHAPE, KIND).ravel()[I].view(np.uint32)))'
//
// for each row (the seeds cover wraparound of seed^fnv+i).
func TestTensorMatchesPython(t *testing.T) {
	tests := []struct {
		seed  uint64
		name  string
		shape []int
		kind  Kind
		i     int
		want  uint32
	}{
		{0x1, "conv1.weight", []int{16, 3, 3, 3}, Weight, 0, 0xbecd3ea3},                 // -0.400868505
		{0x1, "conv1.weight", []int{16, 3, 3, 3}, Weight, 1, 0x3ede0f3b},                 // 0.433709949
		{0x1, "conv1.weight", []int{16, 3, 3, 3}, Weight, 431, 0xbdc02927},               // -0.0938284919
		{0xdeadbeefcafebabe, "layer1.0.bn1.weight", []int{64}, BNWeight, 0, 0x3f6263d9},  // 0.884336054
		{0xdeadbeefcafebabe, "layer1.0.bn1.weight", []int{64}, BNWeight, 63, 0x3f7613b5}, // 0.961238205
		{0x7, "layer1.0.bn1.bias", []int{64}, BNBias, 5, 0x3daea65a},                     // 0.0852782279
		{0x7, "layer1.0.bn1.running_mean", []int{64}, RunningMean, 9, 0x3d0edcc6},        // 0.0348785147
		{0x7, "layer1.0.bn1.running_var", []int{64}, RunningVar, 10, 0x3f5a023f},         // 0.851596773
		{0x2a, "fc.bias", []int{10}, Bias, 3, 0x3d494000},                                // 0.0491333008
		{0x2a, "fc.weight", []int{10, 64}, Weight, 639, 0xbdcd14a9},                      // -0.100137062
		{0xffffffffffffffff, "input", []int{2, 3, 32, 32}, Input, 0, 0xbf1adf14},         // -0.604966402
		{0xffffffffffffffff, "input", []int{2, 3, 32, 32}, Input, 6143, 0x3e8698f8},      // 0.262885809
		{0x3, "up1.up.weight", []int{16, 8, 2, 2}, Weight, 100, 0x3e91c9be},              // 0.284742296
	}
	for _, tt := range tests {
		got := math.Float32bits(Tensor(tt.seed, tt.name, tt.shape, tt.kind)[tt.i])
		if got != tt.want {
			t.Errorf("Tensor(%#x, %q, %v, %v)[%d] = %#08x (%g), want %#08x (%g)",
				tt.seed, tt.name, tt.shape, tt.kind, tt.i,
				got, math.Float32frombits(got), tt.want, math.Float32frombits(tt.want))
		}
	}
}

func TestTensorRanges(t *testing.T) {
	tests := []struct {
		kind   Kind
		shape  []int
		lo, hi float64
	}{
		{Weight, []int{8, 4, 3, 3}, -math.Sqrt(6.0 / 36), math.Sqrt(6.0 / 36)},
		{Bias, []int{100}, -0.1, 0.1},
		{BNWeight, []int{100}, 0.75, 1.25},
		{BNBias, []int{100}, -0.1, 0.1},
		{RunningMean, []int{100}, -0.1, 0.1},
		{RunningVar, []int{100}, 0.5, 1.5},
		{Input, []int{2, 3, 8, 8}, -1, 1},
	}
	for _, tt := range tests {
		vals := Tensor(5, "x", tt.shape, tt.kind)
		for i, v := range vals {
			if float64(v) < tt.lo-1e-6 || float64(v) > tt.hi+1e-6 {
				t.Fatalf("%v[%d] = %g outside [%g, %g]", tt.kind, i, v, tt.lo, tt.hi)
			}
		}
		if a, b := Tensor(5, "x", tt.shape, tt.kind), Tensor(5, "y", tt.shape, tt.kind); a[0] == b[0] && a[1] == b[1] {
			t.Errorf("%v: names x and y give the same values", tt.kind)
		}
	}
}

func TestKindOf(t *testing.T) {
	names := map[string]bool{}
	for _, n := range []string{"bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "conv1.weight", "fc.weight", "fc.bias", "outc.conv.bias", "w"} {
		names[n] = true
	}
	has := func(n string) bool { return names[n] }
	tests := []struct {
		name string
		ndim int
		want Kind
	}{
		{"input", 4, Input},
		{"bn1.weight", 1, BNWeight},
		{"bn1.bias", 1, BNBias},
		{"bn1.running_mean", 1, RunningMean},
		{"bn1.running_var", 1, RunningVar},
		{"conv1.weight", 4, Weight},
		{"fc.weight", 2, Weight},
		{"fc.bias", 1, Bias},
		{"outc.conv.bias", 1, Bias},
	}
	for _, tt := range tests {
		got, err := KindOf(tt.name, tt.ndim, has)
		if err != nil || got != tt.want {
			t.Errorf("KindOf(%q, %d) = %v, %v; want %v", tt.name, tt.ndim, got, err, tt.want)
		}
	}
	for _, bad := range []string{"bn1.num_batches_tracked", "fc.scale"} {
		if k, err := KindOf(bad, 1, has); err == nil {
			t.Errorf("KindOf(%q) = %v, want error", bad, k)
		}
	}
	if k, err := KindOf("w", 1, has); err == nil {
		t.Errorf("KindOf(1-d weight without BN siblings) = %v, want error", k)
	}
}

func TestParseKind(t *testing.T) {
	for k := Weight; k <= Input; k++ {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseKind("gamma"); err == nil {
		t.Error("ParseKind(gamma): want error")
	}
}

var smallNet = []Entry{
	{"conv1.weight", []int{4, 3, 3, 3}, Weight},
	{"bn1.weight", []int{4}, BNWeight},
	{"bn1.bias", []int{4}, BNBias},
	{"bn1.running_mean", []int{4}, RunningMean},
	{"bn1.running_var", []int{4}, RunningVar},
	{"fc.weight", []int{5, 4}, Weight},
	{"fc.bias", []int{5}, Bias},
}

// The digest is of the Python writer's bytes for the same state_dict:
//
//	cd reference && python3 -c 'import seeded, hashlib; print(hashlib.sha256(seeded.dumps(seeded.state_dict(9, {
//	  "conv1.weight": (4,3,3,3), "bn1.weight": (4,), "bn1.bias": (4,), "bn1.running_mean": (4,),
//	  "bn1.running_var": (4,), "bn1.num_batches_tracked": (), "fc.weight": (5,4), "fc.bias": (5,)}))).hexdigest())'
const smallNetSHA256 = "e36119ab5c96cd655b25641eb2351d3916dfef823969bee6931185240dad8689"

func TestWriteMatchesPython(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, 9, smallNet); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != smallNetSHA256 {
		t.Errorf("sha256 = %s, want %s (%d bytes)", got, smallNetSHA256, len(b))
	}

	// Independently of the digest, parse the file back.
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	var hdr map[string]struct {
		Dtype       string
		Shape       []int
		DataOffsets [2]int `json:"data_offsets"`
	}
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	data := b[8+n:]
	nbt := hdr["bn1.num_batches_tracked"]
	if nbt.Dtype != "I64" || len(nbt.Shape) != 0 || nbt.DataOffsets[1]-nbt.DataOffsets[0] != 8 {
		t.Fatalf("bn1.num_batches_tracked = %+v", nbt)
	}
	if v := int64(binary.LittleEndian.Uint64(data[nbt.DataOffsets[0]:])); v != NumBatchesTracked {
		t.Errorf("num_batches_tracked = %d", v)
	}
	for _, e := range smallNet {
		h, ok := hdr[e.Name]
		if !ok || h.Dtype != "F32" {
			t.Fatalf("%s: header %+v", e.Name, h)
		}
		want := Tensor(9, e.Name, e.Shape, e.Kind)
		raw := data[h.DataOffsets[0]:h.DataOffsets[1]]
		if len(raw) != 4*len(want) {
			t.Fatalf("%s: %d bytes, want %d", e.Name, len(raw), 4*len(want))
		}
		for i, w := range want {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != w {
				t.Fatalf("%s[%d] = %g, want %g", e.Name, i, got, w)
			}
		}
	}
	if len(hdr) != len(smallNet)+1 || len(data) != 604 {
		t.Errorf("%d tensors, %d data bytes; want %d, 604", len(hdr), len(data), len(smallNet)+1)
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		entries []Entry
		want    string
	}{
		{[]Entry{{"a", []int{3}, Weight}}, `"a"`},
		{[]Entry{{"a", []int{3}, Bias}, {"a", []int{3}, Bias}}, `duplicate tensor "a"`},
		{[]Entry{{"a", []int{-1}, Bias}}, "negative"},
		{[]Entry{{"a", []int{3}, Kind(99)}}, "unknown kind"},
	}
	for _, tt := range tests {
		err := Write(&bytes.Buffer{}, 1, tt.entries)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Write(%v) = %v, want error containing %s", tt.entries, err, tt.want)
		}
	}
}

// smallNetPyTorchSHA256 is smallNet under init "pytorch": the command above
// with , "pytorch" after the dict.
const smallNetPyTorchSHA256 = "5eef6172d60931277e12c6c3eaee90b1eddb338c0c0536fb31e23345b668628f"

func TestWriteInitPyTorch(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteInit(&buf, 9, InitPyTorch, smallNet); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	if got := hex.EncodeToString(sum[:]); got != smallNetPyTorchSHA256 {
		t.Errorf("sha256 = %s, want %s", got, smallNetPyTorchSHA256)
	}
	var seededBuf bytes.Buffer
	if err := Write(&seededBuf, 9, smallNet); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(buf.Bytes(), seededBuf.Bytes()) {
		t.Error("InitPyTorch wrote the InitSeeded bytes")
	}
	err := WriteInit(&bytes.Buffer{}, 9, InitPyTorch, []Entry{{"fc.bias", []int{5}, Bias}})
	if err == nil || !strings.Contains(err.Error(), `sibling weight`) || !strings.Contains(err.Error(), `"fc.bias"`) {
		t.Errorf("bias without weight: %v", err)
	}
	if err := WriteInit(&bytes.Buffer{}, 9, Init(7), smallNet); err == nil {
		t.Error("unknown init: no error")
	}
	for _, s := range []string{"", "seeded", "pytorch"} {
		in, err := ParseInit(s)
		if err != nil || (s != "" && in.String() != s) {
			t.Errorf("ParseInit(%q) = %v, %v", s, in, err)
		}
	}
	if _, err := ParseInit("kaiming"); err == nil {
		t.Error("ParseInit(kaiming): no error")
	}
}
