package runtime

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// An allowlisted pickle machine: enough of Python's pickle (protocols 2 to
// 5, the opcodes torch.save emits, plus their plain-container siblings) to
// rebuild a state_dict, and nothing that can name or run arbitrary code.
// GLOBAL and STACK_GLOBAL accept only the names in pickleGlobals; REDUCE
// calls only the few of those that build containers and tensors, and does
// so by interpreting them here. Nothing is ever imported or executed.
//
// Memory is bounded by the input: every opcode consumes at least one byte
// and allocates O(1) values besides the bytes it reads, and memo and stack
// sizes are capped.

// Python values as the machine holds them: nil is None; bool, int64,
// *big.Int (ints beyond 64 bits), float64, string and pyBytes are the
// primitives; pyTuple, *pyList and *pyDict the containers (lists and dicts
// are pointers because the memo shares them); pyGlobal an allowlisted name;
// *pyStorage and *pyTensor what torch's persistent ids and rebuild
// functions produce.
type (
	pyBytes  []byte
	pyTuple  []any
	pyList   struct{ items []any }
	pyGlobal struct{ module, name string }
	pyDict   struct {
		keys, vals []any
		index      map[pyKey]int
	}
)

// pyKey is a hashable dict key. Python merges True with 1 and 1.0 with 1;
// so does pyKeyOf.
type pyKey struct {
	kind byte // 's' string, 'b' bytes, 'i' int, 'f' float, 'n' None
	s    string
	i    int64
	f    float64
}

func (g pyGlobal) String() string { return g.module + "." + g.name }

const (
	pickleMaxStack = 1 << 20
	pickleMaxMemo  = 1 << 22
	pickleMaxLong  = 1 << 10 // bytes of a LONG1/LONG4 integer
)

// pickleGlobals lists every global a state_dict pickle may name, and what
// it is for. A name not here is refused the moment it is read.
var pickleGlobals = map[pyGlobal]string{
	{"collections", "OrderedDict"}:                    "dict",
	{"_codecs", "encode"}:                             "bytes", // protocol 2 spells bytes this way
	{"torch._utils", "_rebuild_tensor"}:               "tensor",
	{"torch._utils", "_rebuild_tensor_v2"}:            "tensor",
	{"torch._utils", "_rebuild_parameter"}:            "parameter",
	{"torch._utils", "_rebuild_parameter_with_state"}: "parameter",
	{"torch._tensor", "_rebuild_from_type_v2"}:        "from_type",
	{"torch", "Tensor"}:                               "type",
	{"torch.nn.parameter", "Parameter"}:               "type",
	{"torch", "DoubleStorage"}:                        "storage",
	{"torch", "FloatStorage"}:                         "storage",
	{"torch", "HalfStorage"}:                          "storage",
	{"torch", "BFloat16Storage"}:                      "storage",
	{"torch", "LongStorage"}:                          "storage",
	{"torch", "IntStorage"}:                           "storage",
	{"torch", "ShortStorage"}:                         "storage",
	{"torch", "CharStorage"}:                          "storage",
	{"torch", "ByteStorage"}:                          "storage",
	{"torch", "BoolStorage"}:                          "storage",
}

// pickleStorageDTypes maps torch's storage types to safetensors dtypes.
var pickleStorageDTypes = map[string]string{
	"DoubleStorage": "F64", "FloatStorage": "F32", "HalfStorage": "F16",
	"BFloat16Storage": "BF16", "LongStorage": "I64", "IntStorage": "I32",
	"ShortStorage": "I16", "CharStorage": "I8", "ByteStorage": "U8",
	"BoolStorage": "BOOL",
}

// pickleOpNames names every opcode of protocols 0 to 5, so that a refused
// one is reported by name.
var pickleOpNames = map[byte]string{
	'(': "MARK", '.': "STOP", '0': "POP", '1': "POP_MARK", '2': "DUP",
	'F': "FLOAT", 'I': "INT", 'J': "BININT", 'K': "BININT1", 'L': "LONG",
	'M': "BININT2", 'N': "NONE", 'P': "PERSID", 'Q': "BINPERSID",
	'R': "REDUCE", 'S': "STRING", 'T': "BINSTRING", 'U': "SHORT_BINSTRING",
	'V': "UNICODE", 'X': "BINUNICODE", 'a': "APPEND", 'b': "BUILD",
	'c': "GLOBAL", 'd': "DICT", '}': "EMPTY_DICT", 'e': "APPENDS",
	'g': "GET", 'h': "BINGET", 'i': "INST", 'j': "LONG_BINGET", 'l': "LIST",
	']': "EMPTY_LIST", 'o': "OBJ", 'p': "PUT", 'q': "BINPUT",
	'r': "LONG_BINPUT", 's': "SETITEM", 't': "TUPLE", ')': "EMPTY_TUPLE",
	'u': "SETITEMS", 'G': "BINFLOAT", 0x80: "PROTO", 0x81: "NEWOBJ",
	0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2",
	0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1",
	0x8b: "LONG4", 'B': "BINBYTES", 'C': "SHORT_BINBYTES",
	0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 0x8e: "BINBYTES8",
	0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
	0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME",
	0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
}

// pyStorage is a storage a persistent id refers to. data is filled in by
// the container reader (at once for a zip, after the pickles for the
// legacy format).
type pyStorage struct {
	key   string
	dtype string // safetensors spelling
	size  int    // bytes per element
	numel int64  // as the persistent id declares
	data  []byte
}

// pyTensor is what torch's rebuild functions describe: a strided view of
// a storage. It is checked against its storage only when a state_dict
// that holds it is assembled, so the error can name it.
type pyTensor struct {
	storage *pyStorage
	offset  int64
	size    []int64
	stride  []int64
}

// unpickler runs one pickle. persistentLoad resolves BINPERSID ids.
type unpickler struct {
	name           string // the pickle's name in errors ("data.pkl")
	data           []byte
	pos            int
	op             int // offset of the opcode being run
	stack          []any
	marks          []int
	memo           map[uint32]any
	persistentLoad func(pid any) (any, error)
}

func (u *unpickler) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: byte %d: %s", u.name, u.op, fmt.Sprintf(format, args...))
}

// unpickle runs the pickle at data[0:] and returns the value STOP leaves
// and the number of bytes read.
func unpickle(name string, data []byte, persistentLoad func(any) (any, error)) (any, int, error) {
	u := &unpickler{name: name, data: data, memo: map[uint32]any{}, persistentLoad: persistentLoad}
	v, err := u.run()
	return v, u.pos, err
}

func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, u.errorf("%s needs %d bytes, %d left (truncated pickle)", pickleOpNames[u.data[u.op]], n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) readUint(n int) (uint64, error) {
	b, err := u.read(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// readLen reads an n-byte length and checks it against what is left.
func (u *unpickler) readLen(n int) (int, error) {
	v, err := u.readUint(n)
	if err != nil {
		return 0, err
	}
	if v > uint64(len(u.data)-u.pos) {
		return 0, u.errorf("%s of %d bytes, %d left (truncated pickle)", pickleOpNames[u.data[u.op]], v, len(u.data)-u.pos)
	}
	return int(v), nil
}

func (u *unpickler) push(v any) error {
	if len(u.stack) >= pickleMaxStack {
		return u.errorf("stack deeper than %d", pickleMaxStack)
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) pop() (any, error) {
	n := len(u.stack)
	if n == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] == n) {
		return nil, u.errorf("%s on an empty stack", pickleOpNames[u.data[u.op]])
	}
	v := u.stack[n-1]
	u.stack = u.stack[:n-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	n := len(u.stack)
	if n == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] == n) {
		return nil, u.errorf("%s on an empty stack", pickleOpNames[u.data[u.op]])
	}
	return u.stack[n-1], nil
}

// popMark pops everything above the last MARK.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errorf("%s without a MARK", pickleOpNames[u.data[u.op]])
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoize(i uint64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	if i > math.MaxUint32 {
		return u.errorf("memo index %d too large", i)
	}
	if _, ok := u.memo[uint32(i)]; !ok && len(u.memo) >= pickleMaxMemo {
		return u.errorf("memo holds more than %d values", pickleMaxMemo)
	}
	u.memo[uint32(i)] = v
	return nil
}

func (u *unpickler) get(i uint64) error {
	v, ok := u.memo[uint32(i)]
	if !ok || i > math.MaxUint32 {
		return u.errorf("memo index %d was never stored", i)
	}
	return u.push(v)
}

func (u *unpickler) run() (any, error) {
	for {
		if u.pos >= len(u.data) {
			return nil, fmt.Errorf("%s: byte %d: ends without STOP (truncated pickle)", u.name, u.pos)
		}
		u.op = u.pos
		op := u.data[u.pos]
		u.pos++
		var err error
		switch op {
		case 0x80: // PROTO
			var v uint64
			if v, err = u.readUint(1); err == nil && (v < 2 || v > 5) {
				err = u.errorf("pickle protocol %d; torch.save writes 2 (this reader takes 2 to 5)", v)
			}
		case 0x95: // FRAME: framing only, the data follows inline
			_, err = u.readUint(8)
		case '.': // STOP
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			if len(u.stack) != 0 || len(u.marks) != 0 {
				return nil, u.errorf("STOP leaves %d values on the stack", len(u.stack))
			}
			return v, nil
		case '(':
			if len(u.marks) >= pickleMaxStack {
				return nil, u.errorf("more than %d MARKs", pickleMaxStack)
			}
			u.marks = append(u.marks, len(u.stack))
		case '0': // POP
			_, err = u.pop()
		case '1': // POP_MARK
			_, err = u.popMark()
		case '2': // DUP
			var v any
			if v, err = u.top(); err == nil {
				err = u.push(v)
			}
		case 'N':
			err = u.push(nil)
		case 0x88:
			err = u.push(true)
		case 0x89:
			err = u.push(false)
		case 'J':
			var v uint64
			if v, err = u.readUint(4); err == nil {
				err = u.push(int64(int32(uint32(v))))
			}
		case 'K', 'M':
			var v uint64
			if v, err = u.readUint(map[byte]int{'K': 1, 'M': 2}[op]); err == nil {
				err = u.push(int64(v))
			}
		case 0x8a, 0x8b: // LONG1, LONG4
			err = u.long(map[byte]int{0x8a: 1, 0x8b: 4}[op])
		case 'G':
			var b []byte
			if b, err = u.read(8); err == nil {
				err = u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
			}
		case 'X', 0x8c, 0x8d, 'T', 'U': // unicode, and Python 2 str read as text
			err = u.text(map[byte]int{'X': 4, 0x8c: 1, 0x8d: 8, 'T': 4, 'U': 1}[op])
		case 'B', 'C', 0x8e:
			var n int
			if n, err = u.readLen(map[byte]int{'B': 4, 'C': 1, 0x8e: 8}[op]); err == nil {
				b, _ := u.read(n)
				err = u.push(pyBytes(append([]byte(nil), b...)))
			}
		case '}':
			err = u.push(newPyDict())
		case ']':
			err = u.push(&pyList{})
		case ')':
			err = u.push(pyTuple{})
		case 'd', 'l', 't':
			var items []any
			if items, err = u.popMark(); err != nil {
				break
			}
			switch op {
			case 't':
				err = u.push(pyTuple(items))
			case 'l':
				err = u.push(&pyList{items: items})
			case 'd':
				d := newPyDict()
				if err = u.setItems(d, items); err == nil {
					err = u.push(d)
				}
			}
		case 0x85, 0x86, 0x87: // TUPLE1..3
			n := int(op - 0x84)
			if len(u.stack) < n || (len(u.marks) > 0 && u.marks[len(u.marks)-1] > len(u.stack)-n) {
				return nil, u.errorf("%s with fewer than %d values", pickleOpNames[op], n)
			}
			t := append(pyTuple(nil), u.stack[len(u.stack)-n:]...)
			u.stack = u.stack[:len(u.stack)-n]
			err = u.push(t)
		case 'a', 'e': // APPEND, APPENDS
			var items []any
			if op == 'a' {
				var v any
				if v, err = u.pop(); err != nil {
					break
				}
				items = []any{v}
			} else if items, err = u.popMark(); err != nil {
				break
			}
			var l any
			if l, err = u.top(); err != nil {
				break
			}
			list, ok := l.(*pyList)
			if !ok {
				return nil, u.errorf("%s to a %s, not a list", pickleOpNames[op], pyTypeName(l))
			}
			list.items = append(list.items, items...)
		case 's', 'u': // SETITEM, SETITEMS
			var items []any
			if op == 's' {
				var k, v any
				if v, err = u.pop(); err != nil {
					break
				}
				if k, err = u.pop(); err != nil {
					break
				}
				items = []any{k, v}
			} else if items, err = u.popMark(); err != nil {
				break
			}
			var d any
			if d, err = u.top(); err != nil {
				break
			}
			dict, ok := d.(*pyDict)
			if !ok {
				return nil, u.errorf("%s on a %s, not a dict", pickleOpNames[op], pyTypeName(d))
			}
			err = u.setItems(dict, items)
		case 'q', 'r':
			var i uint64
			if i, err = u.readUint(map[byte]int{'q': 1, 'r': 4}[op]); err == nil {
				err = u.memoize(i)
			}
		case 0x94: // MEMOIZE
			err = u.memoize(uint64(len(u.memo)))
		case 'h', 'j':
			var i uint64
			if i, err = u.readUint(map[byte]int{'h': 1, 'j': 4}[op]); err == nil {
				err = u.get(i)
			}
		case 'c': // GLOBAL "module\nname\n"
			var module, name string
			if module, err = u.line(); err != nil {
				break
			}
			if name, err = u.line(); err != nil {
				break
			}
			err = u.global(module, name)
		case 0x93: // STACK_GLOBAL
			var m, n any
			if n, err = u.pop(); err != nil {
				break
			}
			if m, err = u.pop(); err != nil {
				break
			}
			module, ok1 := m.(string)
			name, ok2 := n.(string)
			if !ok1 || !ok2 {
				return nil, u.errorf("STACK_GLOBAL of a %s and a %s, not two strings", pyTypeName(m), pyTypeName(n))
			}
			err = u.global(module, name)
		case 'R':
			err = u.reduce()
		case 'b':
			err = u.build()
		case 'Q':
			var pid, v any
			if pid, err = u.pop(); err != nil {
				break
			}
			if u.persistentLoad == nil {
				return nil, u.errorf("a persistent id where none is expected")
			}
			if v, err = u.persistentLoad(pid); err != nil {
				return nil, u.errorf("persistent id: %v", err)
			}
			err = u.push(v)
		default:
			name := pickleOpNames[op]
			if name == "" {
				return nil, u.errorf("0x%02x is not a pickle opcode", op)
			}
			return nil, u.errorf("opcode %s is not allowed (a state_dict holds only tensors and containers)", name)
		}
		if err != nil {
			return nil, err
		}
	}
}

func (u *unpickler) long(n int) error {
	size, err := u.readLen(n)
	if err != nil {
		return err
	}
	if size > pickleMaxLong {
		return u.errorf("integer of %d bytes", size)
	}
	b, _ := u.read(size)
	if size <= 8 {
		var v uint64
		for i := size - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		if size > 0 && size < 8 && b[size-1]&0x80 != 0 {
			v |= ^uint64(0) << (8 * size) // sign-extend
		}
		return u.push(int64(v))
	}
	// Two's complement, little-endian, beyond 64 bits.
	be := make([]byte, size)
	for i := range b {
		be[size-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[size-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*size)))
	}
	if v.IsInt64() {
		return u.push(v.Int64())
	}
	return u.push(v)
}

func (u *unpickler) text(n int) error {
	size, err := u.readLen(n)
	if err != nil {
		return err
	}
	b, _ := u.read(size)
	return u.push(string(b))
}

// line reads a GLOBAL operand up to its newline.
func (u *unpickler) line() (string, error) {
	rest := u.data[u.pos:]
	i := strings.IndexByte(string(rest[:min(len(rest), 256)]), '\n')
	if i < 0 {
		return "", u.errorf("GLOBAL name without a newline in 256 bytes")
	}
	u.pos += i + 1
	return string(rest[:i]), nil
}

func (u *unpickler) global(module, name string) error {
	g := pyGlobal{module, name}
	if _, ok := pickleGlobals[g]; !ok {
		return fmt.Errorf("%s: global %s is not allowed (a state_dict holds only tensors and containers)%s", u.name, g, pickleHint(g))
	}
	return u.push(g)
}

// pickleHint explains the refusals users meet most.
func pickleHint(g pyGlobal) string {
	switch {
	case strings.HasPrefix(g.module, "numpy"):
		return "; a NumPy value in the checkpoint: save Python numbers (float(x)) instead"
	case g.name != "" && g.name[0] >= 'A' && g.name[0] <= 'Z' && g.module != "torch":
		return "; a class: was the whole model saved? torch.save(model.state_dict(), path) saves only the weights"
	}
	return ""
}

func (u *unpickler) setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return u.errorf("%s with an odd number (%d) of keys and values", pickleOpNames[u.data[u.op]], len(items))
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return u.errorf("%v", err)
		}
	}
	return nil
}

// reduce interprets REDUCE for the allowlisted callables only.
func (u *unpickler) reduce() error {
	a, err := u.pop()
	if err != nil {
		return err
	}
	f, err := u.pop()
	if err != nil {
		return err
	}
	args, ok := a.(pyTuple)
	if !ok {
		return u.errorf("REDUCE with %s arguments, not a tuple", pyTypeName(a))
	}
	v, err := pyCall(f, args)
	if err != nil {
		return u.errorf("%v", err)
	}
	return u.push(v)
}

// pyCall interprets a call of an allowlisted global.
func pyCall(f any, args pyTuple) (any, error) {
	g, ok := f.(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("cannot call a %s", pyTypeName(f))
	}
	switch pickleGlobals[g] {
	case "dict":
		if len(args) != 0 {
			return nil, fmt.Errorf("%s called with %d arguments, want none", g, len(args))
		}
		return newPyDict(), nil
	case "bytes":
		// _codecs.encode(text, "latin1"): how protocol 2 pickles bytes.
		if len(args) != 2 || args[1] != "latin1" {
			return nil, fmt.Errorf("%s called with %d arguments, want (str, 'latin1')", g, len(args))
		}
		s, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("%s of a %s, not a str", g, pyTypeName(args[0]))
		}
		b := make(pyBytes, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, fmt.Errorf("%s: %q is not latin1", g, r)
			}
			b = append(b, byte(r))
		}
		return b, nil
	case "tensor":
		// _rebuild_tensor(storage, offset, size, stride) and
		// _rebuild_tensor_v2(..., requires_grad, backward_hooks[, metadata]).
		min, max := 4, 4
		if g.name == "_rebuild_tensor_v2" {
			min, max = 6, 7
		}
		if len(args) < min || len(args) > max {
			return nil, fmt.Errorf("%s called with %d arguments, want %d to %d", g, len(args), min, max)
		}
		s, ok := args[0].(*pyStorage)
		if !ok {
			return nil, fmt.Errorf("%s: storage is a %s, not a storage", g, pyTypeName(args[0]))
		}
		off, ok := args[1].(int64)
		if !ok {
			return nil, fmt.Errorf("%s: storage_offset is a %s, not an int", g, pyTypeName(args[1]))
		}
		size, err := pyInts(args[2])
		if err != nil {
			return nil, fmt.Errorf("%s: size: %v", g, err)
		}
		stride, err := pyInts(args[3])
		if err != nil {
			return nil, fmt.Errorf("%s: stride: %v", g, err)
		}
		if len(size) != len(stride) {
			return nil, fmt.Errorf("%s: size has %d dimensions, stride %d", g, len(size), len(stride))
		}
		if len(args) >= 6 {
			if _, ok := args[4].(bool); !ok {
				return nil, fmt.Errorf("%s: requires_grad is a %s, not a bool", g, pyTypeName(args[4]))
			}
			if err := pyEmptyHooks(args[5]); err != nil {
				return nil, fmt.Errorf("%s: %v", g, err)
			}
		}
		return &pyTensor{storage: s, offset: off, size: size, stride: stride}, nil
	case "parameter":
		// _rebuild_parameter(data, requires_grad, backward_hooks) and
		// _rebuild_parameter_with_state(..., state).
		want := 3
		if g.name == "_rebuild_parameter_with_state" {
			want = 4
		}
		if len(args) != want {
			return nil, fmt.Errorf("%s called with %d arguments, want %d", g, len(args), want)
		}
		t, ok := args[0].(*pyTensor)
		if !ok {
			return nil, fmt.Errorf("%s: data is a %s, not a tensor", g, pyTypeName(args[0]))
		}
		if err := pyEmptyHooks(args[2]); err != nil {
			return nil, fmt.Errorf("%s: %v", g, err)
		}
		return t, nil
	case "from_type":
		// _rebuild_from_type_v2(func, type, args, state): a tensor or
		// Parameter that carried Python attributes; the attributes are
		// dropped, func is interpreted like any other call.
		if len(args) != 4 {
			return nil, fmt.Errorf("%s called with %d arguments, want 4", g, len(args))
		}
		if typ, ok := args[1].(pyGlobal); !ok || pickleGlobals[typ] != "type" {
			return nil, fmt.Errorf("%s: type is %s, not torch.Tensor or Parameter", g, pyDescribe(args[1]))
		}
		inner, ok := args[2].(pyTuple)
		if !ok {
			return nil, fmt.Errorf("%s: args is a %s, not a tuple", g, pyTypeName(args[2]))
		}
		if fg, ok := args[0].(pyGlobal); !ok || (pickleGlobals[fg] != "tensor" && pickleGlobals[fg] != "parameter") {
			return nil, fmt.Errorf("%s: func is %s, not a tensor rebuild function", g, pyDescribe(args[0]))
		}
		return pyCall(args[0], inner)
	}
	return nil, fmt.Errorf("global %s cannot be called", g)
}

// pyEmptyHooks checks backward_hooks, which torch.save always writes as an
// empty OrderedDict (hooks are not serializable).
func pyEmptyHooks(v any) error {
	d, ok := v.(*pyDict)
	if !ok {
		return fmt.Errorf("backward_hooks is a %s, not a dict", pyTypeName(v))
	}
	if len(d.keys) != 0 {
		return fmt.Errorf("backward_hooks holds %d hooks, want none", len(d.keys))
	}
	return nil
}

// build interprets BUILD (setting an object's state): torch's OrderedDict
// state_dicts carry a _metadata attribute (module versions) this way; it
// is not needed and is dropped. Tensors' Python attributes likewise.
func (u *unpickler) build() error {
	state, err := u.pop()
	if err != nil {
		return err
	}
	obj, err := u.top()
	if err != nil {
		return err
	}
	switch obj.(type) {
	case *pyDict, *pyTensor:
		if _, ok := state.(*pyDict); ok || state == nil {
			return nil
		}
		return u.errorf("BUILD of a %s with a %s state, want a dict", pyTypeName(obj), pyTypeName(state))
	}
	return u.errorf("BUILD of a %s", pyTypeName(obj))
}

func newPyDict() *pyDict { return &pyDict{index: map[pyKey]int{}} }

func pyKeyOf(k any) (pyKey, error) {
	switch k := k.(type) {
	case string:
		return pyKey{kind: 's', s: k}, nil
	case pyBytes:
		return pyKey{kind: 'b', s: string(k)}, nil
	case int64:
		return pyKey{kind: 'i', i: k}, nil
	case bool:
		if k {
			return pyKey{kind: 'i', i: 1}, nil
		}
		return pyKey{kind: 'i'}, nil
	case float64:
		if k == math.Trunc(k) && math.Abs(k) < 1<<63 {
			return pyKey{kind: 'i', i: int64(k)}, nil
		}
		if k != k {
			return pyKey{}, fmt.Errorf("dict key NaN is not supported")
		}
		return pyKey{kind: 'f', f: k}, nil
	case nil:
		return pyKey{kind: 'n'}, nil
	}
	return pyKey{}, fmt.Errorf("dict key of type %s is not supported", pyTypeName(k))
}

// set stores v under k; a key already present keeps its place, as in Python.
func (d *pyDict) set(k, v any) error {
	key, err := pyKeyOf(k)
	if err != nil {
		return err
	}
	if i, ok := d.index[key]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[key] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

// lookup returns the value under a string key.
func (d *pyDict) lookup(k string) (any, bool) {
	i, ok := d.index[pyKey{kind: 's', s: k}]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// pyInts reads a tuple of ints (a size or stride).
func pyInts(v any) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("a %s, not a tuple", pyTypeName(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("element %d is %s, not a 64-bit int", i, pyDescribe(x))
		}
		out[i] = n
	}
	return out, nil
}

// pyTypeName is the Python type name of a value, for errors.
func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case pyBytes:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return v.String()
	case *pyStorage:
		return "storage"
	case *pyTensor:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// pyDescribe shows a scalar's value or a container's type, for errors.
func pyDescribe(v any) string {
	switch v := v.(type) {
	case int64, float64, bool:
		return fmt.Sprintf("%s %v", pyTypeName(v), v)
	case *big.Int:
		return "int " + v.String()
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return fmt.Sprintf("str %q", v)
	case pyGlobal:
		return v.String()
	}
	return "a " + pyTypeName(v)
}
