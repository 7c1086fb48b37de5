package runtime

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The fixtures under testdata/pth were written by reference/pth_fixtures.py
// with torch 1.13: each <case>.pth next to <case>.want.safetensors, the
// tensors torch.load reads back from it (contiguous, dtype kept, written by
// the script's own safetensors writer).
var pthCases = []struct {
	name string
	key  string // the -key that names the state_dict, or "" if found alone
}{
	{"plain", ""},
	{"dataparallel", ""},
	{"checkpoint", "state_dict"},
	{"model_key", "model"},
	{"dtypes", ""},
	{"legacy", ""},
	{"legacy_dtypes", ""},
	{"protocol4", ""},
}

func readPthFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pth", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameTensors compares two Safetensors name by name: dtype, shape and the
// exact bytes.
func sameTensors(t *testing.T, want, got *Safetensors) {
	t.Helper()
	if !slices.Equal(want.Names(), got.Names()) {
		t.Fatalf("names:\nwant %q\n got %q", want.Names(), got.Names())
	}
	for _, n := range want.Names() {
		wd, _ := want.DType(n)
		gd, _ := got.DType(n)
		ws, _ := want.Shape(n)
		gs, _ := got.Shape(n)
		wb, _ := want.Bytes(n)
		gb, _ := got.Bytes(n)
		if wd != gd || !slices.Equal(ws, gs) {
			t.Errorf("%s: %s %v, want %s %v", n, gd, gs, wd, ws)
			continue
		}
		if !bytes.Equal(wb, gb) {
			t.Errorf("%s: data differs from PyTorch's:\nwant % x\n got % x", n, wb, gb)
		}
	}
}

func TestReadPthMatchesPyTorch(t *testing.T) {
	for _, c := range pthCases {
		t.Run(c.name, func(t *testing.T) {
			want, err := ReadSafetensors(readPthFixture(t, c.name+".want.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			b := readPthFixture(t, c.name+".pth")
			if !IsPth(b) {
				t.Fatal("IsPth = false")
			}
			// What generated Load does: detect, find the state_dict, strip module.
			got, err := ReadWeights(b)
			if err != nil {
				t.Fatal(err)
			}
			sameTensors(t, want, got)

			// Naming the state_dict explicitly gives the same.
			if c.key != "" {
				st, err := ReadPth(b, c.key)
				if err != nil {
					t.Fatal(err)
				}
				sameTensors(t, want, st.stripModulePrefix())
			}
		})
	}
}

// The non-contiguous views in dtypes.pth are copied; the contiguous
// tensors alias the file, shared storages included.
func TestReadPthViews(t *testing.T) {
	b := readPthFixture(t, "dtypes.pth")
	st, err := ReadPth(b, "")
	if err != nil {
		t.Fatal(err)
	}
	// Contiguous tensors see a change to the file's bytes; copies do not.
	// Read shared_b's expected bytes first.
	a, _ := st.Bytes("shared_a")
	bb, _ := st.Bytes("shared_b")
	if !bytes.Equal(a[40:56], bb) {
		t.Errorf("shared_b is not elements 10..13 of shared_a")
	}
	for i := range b {
		b[i] = 0xab
	}
	aliases := func(name string) bool {
		d, _ := st.Bytes(name)
		return len(d) > 0 && d[0] == 0xab && d[len(d)-1] == 0xab
	}
	for name, want := range map[string]bool{
		"f32": true, "shared_a": true, "shared_b": true, "offset_view": false,
		"transposed": false, "strided": false, "f16_transposed": false,
	} {
		if got := aliases(name); got != want {
			t.Errorf("%s aliases the file: %v, want %v", name, got, want)
		}
	}
}

func TestReadPthKeyPaths(t *testing.T) {
	b := readPthFixture(t, "checkpoint.pth")
	for _, c := range []struct{ key, err string }{
		{"state_dict", ""},
		{"epoch", `key "epoch" holds int 3, not a state_dict`},
		{"optimizer", `key "optimizer": "state" holds a dict, not a tensor`},
		{"missing", `key "missing": not found; the dict holds epoch (int), state_dict (dict), optimizer (dict), best_acc (float), arch (str)`},
		{"optimizer.param_groups", `key "optimizer.param_groups" holds a list, not a state_dict`},
		{"arch.x", `key "arch.x": "arch" holds str "tiny", not a dict`},
	} {
		_, err := ReadPth(b, c.key)
		if c.err == "" {
			if err != nil {
				t.Errorf("-key %s: %v", c.key, err)
			}
			continue
		}
		if err == nil || err.Error() != c.err {
			t.Errorf("-key %s: error %v\nwant %s", c.key, err, c.err)
		}
	}
	b = readPthFixture(t, "model_key.pth")
	if _, err := ReadPth(b, "args"); err == nil || !strings.Contains(err.Error(), `"lr" holds float 0.1, not a tensor`) {
		t.Errorf("-key args: %v", err)
	}
}

// Every hostile file is refused with an error naming what was wrong; the
// golden messages, as the CLI prints them, are in cmd/resgen's corpus.
func TestReadPthHostile(t *testing.T) {
	os.Remove("/tmp/pwned")
	files, _ := filepath.Glob(filepath.Join("testdata", "pth", "errors", "*.pth"))
	if len(files) < 10 {
		t.Fatalf("%d hostile files", len(files))
	}
	want := map[string]string{
		"os_system.pth":         "data.pkl: global posix.system is not allowed",
		"os_system_legacy.pth":  "legacy pickle 4 (the object): global posix.system is not allowed",
		"whole_model.pth":       "global __main__.Tiny is not allowed",
		"truncated_zip.pth":     "not a valid zip archive",
		"truncated_tail.pth":    "not a valid zip archive",
		"truncated_legacy.pth":  "truncated",
		"storage_short.pth":     `data/0: holds 16 bytes, but storage "0" of 6 F32 needs 24`,
		"view_past_storage.pth": `tensor "w": size [2 2], stride [2 1], offset 1 reach element 4, but storage "0" holds 4 F32`,
		"absurd_dims.pth":       `tensor "w": size [1099511627776 1099511627776] holds more elements than fit 64 bits`,
		"overflow_dims.pth":     "more elements than fit 64 bits",
		"negative_dim.pth":      "negative",
		"missing_record.pth":    "has no record data/7",
		"bad_storage_type.pth":  "global posix.getcwd is not allowed",
		"not_a_dict.pth":        "the file holds a list, not a dict",
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, _ := os.ReadFile(f)
			st, err := ReadWeights(b)
			if err == nil {
				t.Fatalf("accepted: %v", st.Names())
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expected message for %s: %v", name, err)
			}
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q\ndoes not contain %q", err, w)
			}
		})
	}
	if _, err := os.Stat("/tmp/pwned"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/tmp/pwned exists: the hostile pickle ran (%v)", err)
	}
}

func TestReadWeightsSafetensors(t *testing.T) {
	// A safetensors file still reads as one, and DataParallel's prefix is
	// dropped from it too.
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, []OutTensor{
		{Name: "module.a", Shape: []int{2}, F32: []float32{1, 2}},
		{Name: "module.b.c", Shape: []int{}, I64: []int64{3}},
	}); err != nil {
		t.Fatal(err)
	}
	if IsPth(buf.Bytes()) {
		t.Fatal("IsPth(safetensors) = true")
	}
	st, err := ReadWeights(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Names(); !slices.Equal(got, []string{"a", "b.c"}) {
		t.Errorf("names %q", got)
	}
	// Not every name prefixed: nothing is stripped.
	buf.Reset()
	WriteSafetensors(&buf, []OutTensor{
		{Name: "module.a", Shape: []int{1}, F32: []float32{1}},
		{Name: "b", Shape: []int{1}, F32: []float32{1}},
	})
	st, err = ReadWeights(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Names(); !slices.Equal(got, []string{"b", "module.a"}) {
		t.Errorf("names %q", got)
	}
}

func TestTrimPrefix(t *testing.T) {
	st, err := ReadPth(readPthFixture(t, "dataparallel.pth"), "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.TrimPrefix("module.bn1.")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got.Names(), "running_var") || !slices.Contains(got.Names(), "module.fc.weight") {
		t.Errorf("names %q", got.Names())
	}
	if _, err := st.TrimPrefix("model."); err == nil || err.Error() != `prefix "model.": no tensor name starts with it (names such as "module.bn1.bias")` {
		t.Errorf("absent prefix: %v", err)
	}
	both, _ := ReadWeights(mustSafetensors(t, "module.a", "a"))
	if _, err := both.TrimPrefix("module."); err == nil || err.Error() != `prefix "module.": tensors "a" and "module.a" would both be named "a"` {
		t.Errorf("collision: %v", err)
	}
}

func mustSafetensors(t *testing.T, names ...string) []byte {
	t.Helper()
	var ts []OutTensor
	for _, n := range names {
		ts = append(ts, OutTensor{Name: n, Shape: []int{1}, F32: []float32{1}})
	}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, ts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// WriteTo writes what ReadSafetensors reads back, dtypes and bytes kept.
func TestSafetensorsWriteTo(t *testing.T) {
	st, err := ReadWeights(readPthFixture(t, "dtypes.pth"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := st.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteTo returned %d, wrote %d", n, buf.Len())
	}
	back, err := ReadSafetensors(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ReadSafetensors(readPthFixture(t, "dtypes.want.safetensors"))
	sameTensors(t, want, back)
}

// FuzzReadPth feeds arbitrary bytes to ReadWeights, the entry point of
// every generated Load: zip and legacy containers, the unpickler and the
// assembly of tensors. It must never panic; a file it accepts must write
// out as safetensors that ReadSafetensors accepts with the same tensors.
// The seeds are the fixtures small enough to mutate usefully.
func FuzzReadPth(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "pth", "*.pth"))
	more, _ := filepath.Glob(filepath.Join("testdata", "pth", "errors", "*.pth"))
	for _, p := range append(files, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 1<<13 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ReadWeights(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		var buf bytes.Buffer
		if _, err := st.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadSafetensors(buf.Bytes())
		if err != nil {
			t.Fatalf("written safetensors does not read back: %v", err)
		}
		sameTensors(t, st, back)
	})
}

// rezip copies plain.pth's records into a zip written by archive/zip
// (data descriptors after each record, unlike torch's writer), under the
// directory "archive" as PyTorch 2 names it, adding extra records.
func rezip(t *testing.T, method uint16, extra map[string]string) []byte {
	t.Helper()
	b := readPthFixture(t, "plain.pth")
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		add("archive/"+strings.TrimPrefix(f.Name, "plain/"), data)
	}
	for name, data := range extra {
		add("archive/"+name, []byte(data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadPthOtherZipWriters(t *testing.T) {
	want, err := ReadSafetensors(readPthFixture(t, "plain.want.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadWeights(rezip(t, zip.Store, map[string]string{"byteorder": "little", ".format_version": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, want, got)

	for _, c := range []struct {
		method uint16
		extra  map[string]string
		err    string
	}{
		{zip.Store, map[string]string{"byteorder": "big"}, `byteorder: "big"; only little-endian files are read`},
		{zip.Deflate, nil, "compressed (zip method 8); torch.save stores every record uncompressed"},
	} {
		if _, err := ReadWeights(rezip(t, c.method, c.extra)); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("error %v, want %q", err, c.err)
		}
	}
	// A flipped bit in a record fails its CRC.
	b := rezip(t, zip.Store, nil)
	i := bytes.Index(b, []byte("archive/data/0")) + len("archive/data/0") + 4
	b[i] ^= 1
	if _, err := ReadWeights(b); err == nil || !strings.Contains(err.Error(), "CRC-32") {
		t.Errorf("flipped bit: %v", err)
	}
}
