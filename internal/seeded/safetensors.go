package seeded

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Entry names one tensor to generate.
type Entry struct {
	Name  string
	Shape []int
	Kind  Kind
}

// Write generates the entries with seed and writes them as a safetensors
// file, F32, in the order given. After each RunningVar entry X.running_var it
// also writes X.num_batches_tracked, an I64 scalar equal to NumBatchesTracked,
// as PyTorch's state_dict does. The bytes equal those of the Python reference
// writer (reference/seeded.py) for the same entries.
//
// Layout: 8-byte little-endian header length N, N bytes of JSON (padded with
// spaces to a multiple of 8), then the raw little-endian data.
func Write(w io.Writer, seed uint64, entries []Entry) error {
	return WriteInit(w, seed, InitSeeded, entries)
}

// WriteInit is Write with the scales and offsets of init. Under InitPyTorch
// a Bias X.bias takes its fan_in from the entry X.weight, which must exist.
func WriteInit(w io.Writer, seed uint64, init Init, entries []Entry) error {
	type tensor struct {
		name  string
		dtype string
		shape []int
		size  int // bytes
		entry int // index into entries, or -1 for num_batches_tracked
	}
	var tensors []tensor
	seen := map[string]bool{}
	add := func(t tensor) error {
		if seen[t.name] {
			return fmt.Errorf("seeded: duplicate tensor %q", t.name)
		}
		seen[t.name] = true
		tensors = append(tensors, t)
		return nil
	}
	shapes := make(map[string][]int, len(entries))
	for _, e := range entries {
		shapes[e.Name] = e.Shape
	}
	type param struct{ scale, offset float64 }
	params := make([]param, len(entries))
	for i, e := range entries {
		var ws []int
		if e.Kind == Bias {
			ws = shapes[siblingWeight(e.Name)]
		}
		scale, offset, err := scaleOffsetInit(init, e.Kind, e.Shape, ws)
		if err != nil {
			return fmt.Errorf("%v (tensor %q)", err, e.Name)
		}
		params[i] = param{scale, offset}
		n := 1
		for _, d := range e.Shape {
			if d < 0 {
				return fmt.Errorf("seeded: negative dimension in shape %v (tensor %q)", e.Shape, e.Name)
			}
			n *= d
		}
		if err := add(tensor{e.Name, "F32", e.Shape, 4 * n, i}); err != nil {
			return err
		}
		if e.Kind == RunningVar {
			nbt := strings.TrimSuffix(e.Name, "running_var") + "num_batches_tracked"
			if err := add(tensor{nbt, "I64", []int{}, 8, -1}); err != nil {
				return err
			}
		}
	}

	// The header is written by hand so its key order is the entry order and
	// its bytes match the Python writer's.
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	off := 0
	for i, t := range tensors {
		if i > 0 {
			hdr.WriteByte(',')
		}
		hdr.Write(jsonString(t.name))
		hdr.WriteString(`:{"dtype":"` + t.dtype + `","shape":[`)
		for j, d := range t.shape {
			if j > 0 {
				hdr.WriteByte(',')
			}
			hdr.WriteString(strconv.Itoa(d))
		}
		hdr.WriteString(`],"data_offsets":[` + strconv.Itoa(off) + "," + strconv.Itoa(off+t.size) + "]}")
		off += t.size
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}

	bw := bufio.NewWriterSize(w, 1<<16)
	var b8 [8]byte
	binary.LittleEndian.PutUint64(b8[:], uint64(hdr.Len()))
	bw.Write(b8[:])
	bw.Write(hdr.Bytes())
	for _, t := range tensors {
		if t.entry < 0 {
			binary.LittleEndian.PutUint64(b8[:], uint64(NumBatchesTracked))
			bw.Write(b8[:])
			continue
		}
		e, p := entries[t.entry], params[t.entry]
		for _, v := range generate(seed, e.Name, e.Shape, p.scale, p.offset) {
			binary.LittleEndian.PutUint32(b8[:4], math.Float32bits(v))
			bw.Write(b8[:4])
		}
	}
	return bw.Flush()
}

// siblingWeight returns X.weight for the name X.bias.
func siblingWeight(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[:i+1] + "weight"
	}
	return "weight"
}

// jsonString quotes s as JSON without HTML escaping, as Python's json.dumps
// does for the names that occur in state_dicts.
func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
