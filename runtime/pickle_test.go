package runtime

import (
	"archive/zip"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pyShow prints a value the way Python's repr would, near enough to compare.
func pyShow(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case string:
		return fmt.Sprintf("%q", v)
	case pyBytes:
		return fmt.Sprintf("b%q", string(v))
	case *big.Int:
		return v.String()
	case pyTuple:
		var parts []string
		for _, x := range v {
			parts = append(parts, pyShow(x))
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case *pyList:
		var parts []string
		for _, x := range v.items {
			parts = append(parts, pyShow(x))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *pyDict:
		var parts []string
		for i, k := range v.keys {
			parts = append(parts, pyShow(k)+": "+pyShow(v.vals[i]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// Pickles written by CPython 3.11's pickle.dumps of
// {'a': [1, -2, 300, 70000, -(2**31), 2**40, 3.5, None, True, False],
// 'b': ('xy', b'\x00\x01', 'é'), 'big': 2**70, 'neg': -(2**65), 3: 'three',
// 'od': collections.OrderedDict([('k', ())])} at protocols 2, 4 and 5.
const pickleWant = `{"a": [1, -2, 300, 70000, -2147483648, 1099511627776, 3.5, None, True, False], "b": ("xy", b"\x00\x01", "é"), "big": 1180591620717411303424, "neg": -36893488147419103232, 3: "three", "od": {"k": ()}}`

var pickleByProtocol = map[int]string{
	2: "80027d71002858010000006171015d7102284b014afeffffff4d2c014a701101004a000000808a0600000000000147400c0000000000004e8889655801000000627103580200000078797104635f636f646563730a656e636f64650a710558020000000001710658060000006c6174696e3171078671085271095802000000c3a9710a87710b5803000000626967710c8a0900000000000000004058030000006e6567710d8a090000000000000000fe4b0358050000007468726565710e58020000006f64710f63636f6c6c656374696f6e730a4f726465726564446963740a71102952711158010000006b71122973752e",
	4: "800495a2000000000000007d94288c0161945d94284b014afeffffff4d2c014a701101004a000000808a0600000000000147400c0000000000004e8889658c0162948c0278799443020001948c02c3a99487948c03626967948a090000000000000000408c036e6567948a090000000000000000fe4b038c057468726565948c026f64948c0b636f6c6c656374696f6e73948c0b4f726465726564446963749493942952948c016b942973752e",
	5: "800595a2000000000000007d94288c0161945d94284b014afeffffff4d2c014a701101004a000000808a0600000000000147400c0000000000004e8889658c0162948c0278799443020001948c02c3a99487948c03626967948a090000000000000000408c036e6567948a090000000000000000fe4b038c057468726565948c026f64948c0b636f6c6c656374696f6e73948c0b4f726465726564446963749493942952948c016b942973752e",
}

func TestUnpicklePython(t *testing.T) {
	for p, h := range pickleByProtocol {
		b := unhex(t, h)
		v, n, err := unpickle("test.pkl", b, nil)
		if err != nil {
			t.Fatalf("protocol %d: %v", p, err)
		}
		if n != len(b) {
			t.Errorf("protocol %d: read %d of %d bytes", p, n, len(b))
		}
		if got := pyShow(v); got != pickleWant {
			t.Errorf("protocol %d:\n got %s\nwant %s", p, got, pickleWant)
		}
	}
}

// pickle.dumps([l, l], protocol=2) with l = [1]: the memo shares one list.
func TestUnpickleMemoShares(t *testing.T) {
	v, _, err := unpickle("test.pkl", unhex(t, "80025d7100285d71014b01616801652e"), nil)
	if err != nil {
		t.Fatal(err)
	}
	l := v.(*pyList)
	if len(l.items) != 2 || l.items[0] != l.items[1] {
		t.Errorf("got %s, want the same list twice", pyShow(v))
	}
}

func TestUnpickleRefuses(t *testing.T) {
	for _, c := range []struct {
		name, pickle, err string
	}{
		{"os.system", "\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00echo\x85R.",
			"test.pkl: global posix.system is not allowed (a state_dict holds only tensors and containers)"},
		{"builtins.eval via STACK_GLOBAL", "\x80\x04\x8c\x08builtins\x8c\x04eval\x93.",
			"test.pkl: global builtins.eval is not allowed"},
		{"a class", "\x80\x02ctorch.nn.modules.conv\nConv2d\n.",
			"global torch.nn.modules.conv.Conv2d is not allowed (a state_dict holds only tensors and containers); a class: was the whole model saved?"},
		{"numpy", "\x80\x02cnumpy.core.multiarray\nscalar\n.", "; a NumPy value in the checkpoint"},
		{"NEWOBJ", "\x80\x02)\x81.", "test.pkl: byte 3: opcode NEWOBJ is not allowed"},
		{"INST", "\x80\x02(iposix\nsystem\n.", "byte 3: opcode INST is not allowed"},
		{"OBJ", "\x80\x02(o.", "opcode OBJ is not allowed"},
		{"EXT1", "\x80\x02\x82\x01.", "opcode EXT1 is not allowed"},
		{"text PERSID", "\x80\x02P0\n.", "opcode PERSID is not allowed"},
		{"not an opcode", "\x80\x02\xff.", "byte 2: 0xff is not a pickle opcode"},
		{"protocol 1", "\x80\x01N.", "pickle protocol 1"},
		{"calling a storage type", "\x80\x02ctorch\nFloatStorage\n)R.", "global torch.FloatStorage cannot be called"},
		{"OrderedDict with items", "\x80\x02ccollections\nOrderedDict\n]\x85R.", "called with 1 arguments, want none"},
		{"REDUCE of a str", "\x80\x02X\x01\x00\x00\x00a)R.", "cannot call a str"},
		{"no STOP", "\x80\x02N", "test.pkl: byte 3: ends without STOP (truncated pickle)"},
		{"truncated string", "\x80\x02X\xff\x00\x00\x00ab.", "BINUNICODE of 255 bytes, 3 left (truncated pickle)"},
		{"STOP leaves values", "\x80\x02NN.", "STOP leaves 1 values on the stack"},
		{"empty stack", "\x80\x02.", "STOP on an empty stack"},
		{"pop past MARK", "\x80\x02N(\x85.", "TUPLE1 with fewer than 1 values"},
		{"APPEND to a dict", "\x80\x02}Na.", "APPEND to a dict, not a list"},
		{"SETITEM on a list", "\x80\x02]NNs.", "SETITEM on a list, not a dict"},
		{"odd SETITEMS", "\x80\x02}(Nu.", "odd number (1) of keys and values"},
		{"list as a key", "\x80\x02}]Ns.", "dict key of type list is not supported"},
		{"memo miss", "\x80\x02h\x07.", "memo index 7 was never stored"},
		{"BUILD of a list", "\x80\x02]}b.", "BUILD of a list"},
		{"BINPERSID outside torch", "\x80\x02NQ.", "a persistent id where none is expected"},
		{"GLOBAL without newline", "\x80\x02ctorch", "GLOBAL name without a newline"},
		{"bad latin1", "\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00\xc4\x80X\x06\x00\x00\x00latin1\x86R.", "is not latin1"},
	} {
		_, _, err := unpickle("test.pkl", []byte(c.pickle), nil)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v\nwant it to contain %q", c.name, err, c.err)
		}
	}
}

// pickleSeeds are the data.pkl records of the fixtures, the Python pickles
// above, and the hostile files' pickles.
func pickleSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, h := range pickleByProtocol {
		seeds = append(seeds, unhex(t, h))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "pth", "*.pth"))
	more, _ := filepath.Glob(filepath.Join("testdata", "pth", "errors", "*.pth"))
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 1<<16 {
			continue
		}
		if !bytes.HasPrefix(b, []byte("PK")) {
			seeds = append(seeds, b) // legacy: the pickles in a row
			continue
		}
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			continue // the truncated ones
		}
		for _, zf := range zr.File {
			if strings.HasSuffix(zf.Name, "/data.pkl") {
				r, _ := zf.Open()
				var buf bytes.Buffer
				buf.ReadFrom(r)
				seeds = append(seeds, buf.Bytes())
			}
		}
	}
	return seeds
}

// FuzzUnpickle runs the unpickler on arbitrary bytes as a torch zip's
// data.pkl, with every storage a persistent id asks for given zeroed data
// (up to a small size), then looks for a state_dict and assembles it. It
// must never panic, hang or allocate without bound; what it assembles must
// be consistent with its shapes. testdata/fuzz/FuzzUnpickle holds what
// fuzzing found worth keeping.
func FuzzUnpickle(f *testing.F) {
	for _, s := range pickleSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		storages := map[string]*pyStorage{}
		load := func(pid any) (any, error) {
			s, err := pthStorage(pid, 5, storages)
			if err != nil || s.data != nil {
				return s, err
			}
			if s.numel > 1<<12 {
				return nil, fmt.Errorf("storage too large for the fuzzer")
			}
			return s, s.attach("data/"+s.key, make([]byte, int(s.numel)*s.size))
		}
		root, n, err := unpickle("data.pkl", b, load)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if n > len(b) {
			t.Fatalf("read %d of %d bytes", n, len(b))
		}
		for _, key := range []string{"", "state_dict", "model.state_dict"} {
			d, err := pthFindStateDict(root, key)
			if err != nil {
				continue
			}
			st, err := pthAssemble(d, 2*len(b)+1<<12)
			if err != nil {
				continue
			}
			for _, name := range st.Names() {
				tt := st.tensors[name]
				want, ok := stNumBytes(tt.shape, stDTypeSizes[tt.dtype])
				if !ok || want != len(tt.data) {
					t.Fatalf("tensor %q: %s %v with %d bytes", name, tt.dtype, tt.shape, len(tt.data))
				}
			}
		}
	})
}
