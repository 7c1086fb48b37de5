package runtime

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
)

// The safetensors format: an 8-byte little-endian header length N, N bytes
// of JSON mapping tensor names to {"dtype", "shape", "data_offsets"} (plus an
// optional "__metadata__" object of strings), then the data region that the
// offsets index. ReadSafetensors checks everything a later read relies on, so
// a corrupt or hostile file yields an error naming the tensor, never a panic
// or an out-of-range slice.

// stMaxHeader bounds the JSON header; real headers are a few hundred KiB.
const stMaxHeader = 100 << 20

// stDTypeSizes gives the element size in bytes of each dtype the format
// defines (sub-byte formats are not accepted).
var stDTypeSizes = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// Safetensors is a parsed, validated safetensors file. It refers to the bytes
// it was read from, which must not change while it is in use.
type Safetensors struct {
	tensors  map[string]*stTensor
	names    []string // sorted
	metadata map[string]string
}

type stTensor struct {
	name  string
	dtype string
	shape []int
	begin int // offsets into the data region
	end   int
	data  []byte // data[begin:end] of the data region
}

// stEntry is a header entry as written in the JSON. Offsets and dimensions
// are kept raw and parsed by stInt, so that negative, fractional, quoted and
// huge values are reported rather than converted or silently wrapped.
type stEntry struct {
	DType       *string           `json:"dtype"`
	Shape       []json.RawMessage `json:"shape"`
	DataOffsets []json.RawMessage `json:"data_offsets"`
}

func stErrorf(name, format string, args ...any) error {
	return fmt.Errorf("safetensors: tensor %q: %s", name, fmt.Sprintf(format, args...))
}

// ReadSafetensors parses and validates a safetensors file held in b. The
// result refers to b rather than copying the tensor data.
func ReadSafetensors(b []byte) (*Safetensors, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("safetensors: file is %d bytes, shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > stMaxHeader {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, stMaxHeader)
	}
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d bytes after it", n, len(b)-8)
	}
	header := b[8 : 8+int(n)]
	data := b[8+int(n):]

	raw, err := stSplitHeader(header)
	if err != nil {
		return nil, err
	}
	st := &Safetensors{tensors: make(map[string]*stTensor, len(raw))}
	for _, kv := range raw {
		if kv.name == "__metadata__" {
			if err := json.Unmarshal(kv.value, &st.metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__ is not an object of strings: %v", err)
			}
			continue
		}
		t, err := stParseEntry(kv.name, kv.value, len(data))
		if err != nil {
			return nil, err
		}
		t.data = data[t.begin:t.end]
		st.tensors[t.name] = t
		st.names = append(st.names, t.name)
	}

	// Tensors must not share bytes. Sorting by (begin, end) puts an empty
	// tensor before a non-empty one starting at the same offset, so the
	// check is simply that each begins at or after the previous end.
	order := make([]*stTensor, 0, len(st.tensors))
	for _, t := range st.tensors {
		order = append(order, t)
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].begin != order[j].begin {
			return order[i].begin < order[j].begin
		}
		if order[i].end != order[j].end {
			return order[i].end < order[j].end
		}
		return order[i].name < order[j].name
	})
	for i := 1; i < len(order); i++ {
		p, t := order[i-1], order[i]
		if t.begin < p.end {
			return nil, stErrorf(t.name, "data_offsets [%d, %d] overlap tensor %q at [%d, %d]",
				t.begin, t.end, p.name, p.begin, p.end)
		}
	}
	sort.Strings(st.names)
	return st, nil
}

type stKeyValue struct {
	name  string
	value json.RawMessage
}

// stSplitHeader splits the header's top-level JSON object into its members in
// order, rejecting duplicate names (which encoding/json would silently merge)
// and anything after the closing brace but the space padding writers add.
func stSplitHeader(header []byte) ([]stKeyValue, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("safetensors: header is not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("safetensors: header is not a JSON object")
	}
	var kvs []stKeyValue
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("safetensors: header is not JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("safetensors: header is not JSON: unexpected %v", tok)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("safetensors: header is not JSON: after %q: %v", name, err)
		}
		if seen[name] {
			return nil, stErrorf(name, "appears twice in the header")
		}
		seen[name] = true
		kvs = append(kvs, stKeyValue{name, v})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("safetensors: header is not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("safetensors: header has data after its JSON object")
	}
	return kvs, nil
}

// stParseEntry validates one tensor's header entry against a data region of
// dataLen bytes.
func stParseEntry(name string, value json.RawMessage, dataLen int) (*stTensor, error) {
	var e stEntry
	if err := json.Unmarshal(value, &e); err != nil {
		return nil, stErrorf(name, "bad header entry: %v", err)
	}
	if e.DType == nil {
		return nil, stErrorf(name, "no dtype")
	}
	size, ok := stDTypeSizes[*e.DType]
	if !ok {
		return nil, stErrorf(name, "unknown dtype %q", *e.DType)
	}
	if e.Shape == nil {
		return nil, stErrorf(name, "no shape")
	}
	t := &stTensor{name: name, dtype: *e.DType, shape: make([]int, len(e.Shape))}
	for i, d := range e.Shape {
		v, err := stInt(d)
		if err != nil {
			return nil, stErrorf(name, "shape dimension %d: %v", i, err)
		}
		t.shape[i] = v
	}
	if len(e.DataOffsets) != 2 {
		return nil, stErrorf(name, "data_offsets has %d values, want 2", len(e.DataOffsets))
	}
	begin, err1 := stInt(e.DataOffsets[0])
	end, err2 := stInt(e.DataOffsets[1])
	if err1 != nil || err2 != nil || begin > end || end > dataLen {
		return nil, stErrorf(name, "data_offsets [%s, %s] out of range (data is %d bytes)",
			e.DataOffsets[0], e.DataOffsets[1], dataLen)
	}
	t.begin, t.end = begin, end
	nbytes, ok := stNumBytes(t.shape, size)
	if !ok {
		return nil, stErrorf(name, "shape %v of %s overflows", t.shape, t.dtype)
	}
	if nbytes != end-begin {
		return nil, stErrorf(name, "shape %v of %s is %d bytes, but data_offsets [%d, %d] hold %d",
			t.shape, t.dtype, nbytes, begin, end, end-begin)
	}
	return t, nil
}

// stInt parses a JSON value that must be a non-negative integer that fits
// an int.
func stInt(raw json.RawMessage) (int, error) {
	s := string(raw)
	if s == "" || s[0] == '-' {
		return 0, fmt.Errorf("%s is negative", s)
	}
	var v uint64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s is not an integer", s)
		}
		if v > (math.MaxInt-uint64(c-'0'))/10 {
			return 0, fmt.Errorf("%s is too large", s)
		}
		v = v*10 + uint64(c-'0')
	}
	return int(v), nil
}

// stNumBytes returns the byte size of a tensor, or false if it does not fit
// an int. An empty dimension makes the tensor empty whatever the others are.
func stNumBytes(shape []int, size int) (int, bool) {
	for _, d := range shape {
		if d == 0 {
			return 0, true
		}
	}
	n := size
	for _, d := range shape {
		if n > math.MaxInt/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// Names returns the tensor names in sorted order.
func (st *Safetensors) Names() []string {
	return append([]string(nil), st.names...)
}

// DType returns a tensor's dtype as spelled in the file ("F32", "BF16", …).
func (st *Safetensors) DType(name string) (string, bool) {
	t, ok := st.tensors[name]
	if !ok {
		return "", false
	}
	return t.dtype, true
}

// Shape returns a tensor's shape.
func (st *Safetensors) Shape(name string) ([]int, bool) {
	t, ok := st.tensors[name]
	if !ok {
		return nil, false
	}
	return append([]int{}, t.shape...), true
}

// Bytes returns a tensor's raw little-endian data, aliasing the file.
func (st *Safetensors) Bytes(name string) ([]byte, bool) {
	t, ok := st.tensors[name]
	if !ok {
		return nil, false
	}
	return t.data, true
}

// Metadata returns the file's __metadata__ strings, or nil.
func (st *Safetensors) Metadata() map[string]string {
	return st.metadata
}

// Count reads a BatchNorm's num_batches_tracked: an I64 scalar (or
// one-element vector). An absent tensor counts 0, as PyTorch starts it.
func (st *Safetensors) Count(name string) (int64, error) {
	dt, ok := st.DType(name)
	if !ok {
		return 0, nil
	}
	b, _ := st.Bytes(name)
	if dt != "I64" || len(b) != 8 {
		shape, _ := st.Shape(name)
		return 0, fmt.Errorf("tensor %q: %s %v, want an I64 scalar", name, dt, shape)
	}
	return int64(binary.LittleEndian.Uint64(b)), nil
}
