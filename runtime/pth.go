package runtime

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/big"
	"sort"
	"strings"
)

// torch.save files. Since PyTorch 1.6 a zip archive (every record stored
// uncompressed): <archive>/data.pkl pickles the object, with each storage
// a persistent id ('storage', torch.FloatStorage, key, location, numel)
// whose bytes are the record <archive>/data/<key>. Before 1.6 (and with
// _use_new_zipfile_serialization=False) the "legacy" format: five pickles
// in a row (a magic number, the protocol version 1001, system info, the
// object, the list of storage keys), then each storage as an 8-byte
// little-endian element count and its bytes.
//
// Either way the object goes through the allowlisted unpickler of
// pickle.go, and the state_dict it holds becomes a Safetensors, so a
// generated package loads a .pth exactly as it loads a safetensors file.

// pthLegacyMagic is the number the legacy format starts with.
var pthLegacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// pthCopyFactor bounds the bytes that assembling non-contiguous views may
// copy, as a multiple of the file's size: a view never holds more elements
// than its storage unless its strides overlap (expand), so an honest file
// stays far below it, while a hostile one cannot turn a few bytes of
// storage into terabytes.
const pthCopyFactor = 2

// pthStateDictKeys are the checkpoint-dict keys searched, in order, for a
// state_dict when none is named.
var pthStateDictKeys = []string{"state_dict", "model_state_dict", "model"}

// IsPth reports whether b starts like a torch.save file: a zip archive or a
// pickle (the legacy format). No safetensors file starts like either: its
// first 8 bytes, the header length, would exceed any valid header.
func IsPth(b []byte) bool {
	return bytes.HasPrefix(b, []byte("PK\x03\x04")) || (len(b) >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5)
}

// ReadWeights reads the weights a generated package's New and Load take:
// a safetensors file or a torch.save file (told apart by content) holding
// a state_dict, plain or in a checkpoint dict under one of "state_dict",
// "model_state_dict" or "model". When every name starts with "module."
// (a model saved from inside DataParallel), the prefix is dropped.
func ReadWeights(b []byte) (*Safetensors, error) {
	var st *Safetensors
	var err error
	if IsPth(b) {
		st, err = ReadPth(b, "")
	} else {
		st, err = ReadSafetensors(b)
	}
	if err != nil {
		return nil, err
	}
	return st.stripModulePrefix(), nil
}

// ReadPth reads the state_dict of a torch.save file. key names where it is
// in a checkpoint dict ("state_dict", or a dotted path such as
// "model.state_dict"); "" means the top-level object if it is a state_dict,
// else the first of "state_dict", "model_state_dict" and "model" that is.
// Tensors keep their dtype; contiguous ones alias b, which must not change
// while the result is in use.
func ReadPth(b []byte, key string) (*Safetensors, error) {
	var root any
	var err error
	switch {
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		root, err = pthReadZip(b)
	case IsPth(b):
		root, err = pthReadLegacy(b)
	default:
		return nil, errors.New("not a torch.save file (neither a zip archive nor a pickle)")
	}
	if err != nil {
		return nil, err
	}
	d, err := pthFindStateDict(root, key)
	if err != nil {
		return nil, err
	}
	return pthAssemble(d, pthCopyFactor*len(b))
}

// pthReadZip unpickles data.pkl of a zip-format file, resolving each
// storage to its record.
func pthReadZip(b []byte) (any, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("not a valid zip archive (truncated?): %v", err)
	}
	// Every record sits under one top-level directory, named after the
	// file it was first saved as.
	var prefix string
	for _, f := range zr.File {
		if dir, ok := strings.CutSuffix(f.Name, "/data.pkl"); ok && !strings.Contains(dir, "/") {
			prefix = dir + "/"
			break
		}
	}
	if prefix == "" {
		return nil, errors.New("zip archive has no <archive>/data.pkl record; not written by torch.save")
	}
	records := map[string]*zip.File{}
	for _, f := range zr.File {
		if name, ok := strings.CutPrefix(f.Name, prefix); ok {
			if records[name] != nil {
				return nil, fmt.Errorf("%s: appears twice in the zip archive", name)
			}
			records[name] = f
		}
	}
	// PyTorch 2.1 and later record the byte order the storages are in.
	if f := records["byteorder"]; f != nil {
		order, err := pthRecord(b, "byteorder", f)
		if err != nil {
			return nil, err
		}
		if string(order) != "little" {
			return nil, fmt.Errorf("byteorder: %.20q; only little-endian files are read", order)
		}
	}
	pkl, err := pthRecord(b, "data.pkl", records["data.pkl"])
	if err != nil {
		return nil, err
	}
	storages := map[string]*pyStorage{}
	load := func(pid any) (any, error) {
		s, err := pthStorage(pid, 5, storages)
		if err != nil || s.data != nil {
			return s, err
		}
		name := "data/" + s.key
		f := records[name]
		if f == nil {
			return nil, fmt.Errorf("storage %q: the zip archive has no record %s", s.key, name)
		}
		data, err := pthRecord(b, name, f)
		if err != nil {
			return nil, err
		}
		if err := s.attach(name, data); err != nil {
			return nil, err
		}
		return s, nil
	}
	root, _, err := unpickle("data.pkl", pkl, load)
	return root, err
}

// pthRecord returns a stored (uncompressed) record's bytes, aliasing b,
// after checking its CRC.
func pthRecord(b []byte, name string, f *zip.File) ([]byte, error) {
	if f == nil {
		return nil, fmt.Errorf("zip archive has no %s record", name)
	}
	if f.Method != zip.Store {
		return nil, fmt.Errorf("%s: compressed (zip method %d); torch.save stores every record uncompressed", name, f.Method)
	}
	off, err := f.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	n := f.UncompressedSize64
	if off < 0 || n != f.CompressedSize64 || n > uint64(len(b)) || uint64(off) > uint64(len(b))-n {
		return nil, fmt.Errorf("%s: %d bytes at offset %d run past the end of the %d-byte file (truncated?)", name, n, off, len(b))
	}
	data := b[off : uint64(off)+n]
	if crc := crc32.ChecksumIEEE(data); crc != f.CRC32 {
		return nil, fmt.Errorf("%s: CRC-32 %08x, the zip directory says %08x (corrupt file)", name, crc, f.CRC32)
	}
	return data, nil
}

// pthStorage interprets a persistent id ('storage', type, key, location,
// numel) — with a sixth element, view_metadata, in the legacy format —
// and returns the one storage per key.
func pthStorage(pid any, n int, storages map[string]*pyStorage) (*pyStorage, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) == 0 {
		return nil, fmt.Errorf("%s, want a tuple ('storage', type, key, location, numel)", pyDescribe(pid))
	}
	if t[0] != "storage" {
		return nil, fmt.Errorf("of kind %s, want 'storage' (a state_dict holds only tensors and containers)", pyDescribe(t[0]))
	}
	if len(t) != n {
		return nil, fmt.Errorf("storage id of %d elements, want %d", len(t), n)
	}
	typ, ok := t[1].(pyGlobal)
	dtype := pickleStorageDTypes[typ.name]
	if !ok || pickleGlobals[typ] != "storage" || dtype == "" {
		return nil, fmt.Errorf("storage type is %s, not a torch storage type", pyDescribe(t[1]))
	}
	key, ok1 := t[2].(string)
	_, ok2 := t[3].(string)
	numel, ok3 := t[4].(int64)
	if !ok1 || !ok2 || !ok3 || numel < 0 {
		return nil, fmt.Errorf("storage id (%s, %s, %s), want (key str, location str, numel int ≥ 0)",
			pyDescribe(t[2]), pyDescribe(t[3]), pyDescribe(t[4]))
	}
	if n == 6 && t[5] != nil {
		return nil, fmt.Errorf("storage %q is a view of another storage (a format older than PyTorch 1.0); not supported", key)
	}
	if s := storages[key]; s != nil {
		if s.dtype != dtype || s.numel != numel {
			return nil, fmt.Errorf("storage %q is %d %s here, %d %s before", key, numel, dtype, s.numel, s.dtype)
		}
		return s, nil
	}
	s := &pyStorage{key: key, dtype: dtype, size: stDTypeSizes[dtype], numel: numel}
	storages[key] = s
	return s, nil
}

// attach gives a storage its bytes, which must be exactly numel elements.
func (s *pyStorage) attach(name string, data []byte) error {
	if s.numel > int64(math.MaxInt/s.size) || int64(len(data)) != s.numel*int64(s.size) {
		return fmt.Errorf("%s: holds %d bytes, but storage %q of %d %s needs %d", name, len(data), s.key, s.numel, s.dtype, s.numel*int64(s.size))
	}
	s.data = data
	if s.data == nil {
		s.data = []byte{}
	}
	return nil
}

// pthReadLegacy reads the pre-1.6 format.
func pthReadLegacy(b []byte) (any, error) {
	off := 0
	next := func(what string, load func(any) (any, error)) (any, error) {
		v, n, err := unpickle(what, b[off:], load)
		off += n
		return v, err
	}
	magic, err := next("legacy pickle 1 (magic number)", nil)
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(pthLegacyMagic) != 0 {
		return nil, fmt.Errorf("a pickle, but it starts with %s, not torch.save's magic number (a plain pickle is not a torch.save file)", pyDescribe(magic))
	}
	version, err := next("legacy pickle 2 (protocol version)", nil)
	if err != nil {
		return nil, err
	}
	if version != int64(1001) {
		return nil, fmt.Errorf("legacy torch.save protocol version %s, want 1001", pyDescribe(version))
	}
	info, err := next("legacy pickle 3 (system info)", nil)
	if err != nil {
		return nil, err
	}
	if d, ok := info.(*pyDict); ok {
		if le, ok := d.lookup("little_endian"); ok && le != true {
			return nil, errors.New("saved on a big-endian machine; only little-endian files are read")
		}
	}
	storages := map[string]*pyStorage{}
	root, err := next("legacy pickle 4 (the object)", func(pid any) (any, error) { return pthStorage(pid, 6, storages) })
	if err != nil {
		return nil, err
	}
	keys, err := next("legacy pickle 5 (storage keys)", nil)
	if err != nil {
		return nil, err
	}
	list, ok := keys.(*pyList)
	if !ok {
		return nil, fmt.Errorf("legacy pickle 5 (storage keys) is %s, not a list", pyDescribe(keys))
	}
	for _, k := range list.items {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("legacy pickle 5 (storage keys) holds %s, not a str", pyDescribe(k))
		}
		s := storages[key]
		if s == nil {
			return nil, fmt.Errorf("storage %q has data but no tensor uses it", key)
		}
		name := fmt.Sprintf("storage %q", key)
		if s.data != nil {
			return nil, fmt.Errorf("%s: listed twice", name)
		}
		if len(b)-off < 8 {
			return nil, fmt.Errorf("%s: file ends at byte %d before its element count (truncated)", name, len(b))
		}
		numel := binary.LittleEndian.Uint64(b[off:])
		off += 8
		if numel != uint64(s.numel) {
			return nil, fmt.Errorf("%s: %d elements in the data, %d in the pickle", name, numel, s.numel)
		}
		n := s.numel * int64(s.size)
		if s.numel > int64(math.MaxInt/s.size) || n > int64(len(b)-off) {
			return nil, fmt.Errorf("%s: %d elements of %s need %d bytes, the file has %d left (truncated)", name, s.numel, s.dtype, n, len(b)-off)
		}
		if err := s.attach(name, b[off:off+int(n)]); err != nil {
			return nil, err
		}
		off += int(n)
	}
	for key, s := range storages {
		if s.data == nil {
			return nil, fmt.Errorf("storage %q is used but has no data", key)
		}
	}
	if off != len(b) {
		return nil, fmt.Errorf("%d bytes after the last storage", len(b)-off)
	}
	return root, nil
}

// pthIsStateDict reports whether d maps strings to tensors only.
func pthIsStateDict(d *pyDict) bool {
	for i, k := range d.keys {
		if _, ok := k.(string); !ok {
			return false
		}
		if _, ok := d.vals[i].(*pyTensor); !ok {
			return false
		}
	}
	return true
}

// pthFindStateDict finds the state_dict in the unpickled object.
func pthFindStateDict(root any, key string) (*pyDict, error) {
	d, ok := root.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("the file holds %s, not a dict (a state_dict or a checkpoint dict holding one)", pyDescribe(root))
	}
	if key != "" {
		v, err := pthLookup(d, key, key)
		if err != nil {
			return nil, err
		}
		sd, ok := v.(*pyDict)
		if !ok {
			return nil, fmt.Errorf("key %q holds %s, not a state_dict", key, pyDescribe(v))
		}
		for i, k := range sd.keys {
			name, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("key %q: holds the key %s; a state_dict's keys are str", key, pyDescribe(k))
			}
			if _, ok := sd.vals[i].(*pyTensor); !ok {
				return nil, fmt.Errorf("key %q: %q holds %s, not a tensor", key, name, pyDescribe(sd.vals[i]))
			}
		}
		return sd, nil
	}
	if pthIsStateDict(d) {
		return d, nil
	}
	for _, k := range pthStateDictKeys {
		if v, ok := d.lookup(k); ok {
			if sd, ok := v.(*pyDict); ok && pthIsStateDict(sd) {
				return sd, nil
			}
		}
	}
	return nil, fmt.Errorf("no state_dict: the top-level dict holds %s, and none of %s is a dict of tensors; name it with -key (resgen weights convert)",
		pthListKeys(d), strings.Join(pthStateDictKeys, ", "))
}

// pthLookup follows a key path: at each dict the rest of the path is tried
// whole first, then up to its first dot.
func pthLookup(d *pyDict, path, full string) (any, error) {
	if v, ok := d.lookup(path); ok {
		return v, nil
	}
	head, rest, ok := strings.Cut(path, ".")
	if ok {
		if v, found := d.lookup(head); found {
			sub, isDict := v.(*pyDict)
			if !isDict {
				return nil, fmt.Errorf("key %q: %q holds %s, not a dict", full, head, pyDescribe(v))
			}
			return pthLookup(sub, rest, full)
		}
	}
	return nil, fmt.Errorf("key %q: not found; the dict holds %s", full, pthListKeys(d))
}

// pthListKeys lists a dict's first keys with their value types.
func pthListKeys(d *pyDict) string {
	if len(d.keys) == 0 {
		return "nothing"
	}
	var parts []string
	for i, k := range d.keys {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("and %d more", len(d.keys)-i))
			break
		}
		ks := fmt.Sprint(k)
		if s, ok := k.(string); ok {
			ks = s
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", ks, pyTypeName(d.vals[i])))
	}
	return strings.Join(parts, ", ")
}

// pthAssemble turns a state_dict's tensors into a Safetensors. budget is
// how many bytes non-contiguous views may copy in all.
func pthAssemble(d *pyDict, budget int) (*Safetensors, error) {
	st := &Safetensors{tensors: make(map[string]*stTensor, len(d.keys))}
	for i, k := range d.keys {
		name := k.(string)
		t, err := d.vals[i].(*pyTensor).assemble(name, &budget)
		if err != nil {
			return nil, err
		}
		st.tensors[name] = t
		st.names = append(st.names, name)
	}
	sort.Strings(st.names)
	return st, nil
}

// assemble checks the view against its storage and returns the tensor's
// elements in row-major order: an alias of the storage when the view is
// contiguous, a copy otherwise.
func (t *pyTensor) assemble(name string, budget *int) (*stTensor, error) {
	s := t.storage
	errorf := func(format string, args ...any) error {
		return fmt.Errorf("tensor %q: %s", name, fmt.Sprintf(format, args...))
	}
	if s.data == nil {
		return nil, errorf("storage %q has no data", s.key)
	}
	if len(t.size) > 64 {
		return nil, errorf("%d dimensions", len(t.size))
	}
	shape := make([]int, len(t.size))
	numel := int64(1)
	for i, d := range t.size {
		if d < 0 || t.stride[i] < 0 {
			return nil, errorf("size %v, stride %v: negative", t.size, t.stride)
		}
		shape[i] = int(d)
		if d != 0 && numel > math.MaxInt64/d {
			numel = -1 // overflow; an empty dimension may still follow
			for _, e := range t.size[i+1:] {
				if e == 0 {
					numel = 0
				}
			}
			if numel < 0 {
				return nil, errorf("size %v holds more elements than fit 64 bits", t.size)
			}
			break
		}
		numel *= d
	}
	if t.offset < 0 {
		return nil, errorf("storage_offset %d is negative", t.offset)
	}
	out := &stTensor{name: name, dtype: s.dtype, shape: shape}
	if numel == 0 {
		out.data = []byte{}
		return out, nil
	}
	// The last element the view reaches must lie inside the storage.
	last := t.offset
	for i, d := range t.size {
		if t.stride[i] != 0 && d-1 > (math.MaxInt64-last)/t.stride[i] {
			return nil, errorf("size %v, stride %v, offset %d reach past 2^63 elements", t.size, t.stride, t.offset)
		}
		last += (d - 1) * t.stride[i]
	}
	if last >= s.numel {
		return nil, errorf("size %v, stride %v, offset %d reach element %d, but storage %q holds %d %s",
			t.size, t.stride, t.offset, last, s.key, s.numel, s.dtype)
	}
	es := int64(s.size)
	if numel > math.MaxInt/es {
		return nil, errorf("size %v of %s is too large", t.size, s.dtype)
	}
	nbytes := numel * es
	if t.contiguous() {
		out.data = s.data[t.offset*es : t.offset*es+nbytes]
		return out, nil
	}
	if nbytes > int64(*budget) {
		return nil, errorf("size %v, stride %v: copying this view (%d bytes) exceeds what the file's size allows (%d bytes left); its strides overlap",
			t.size, t.stride, nbytes, *budget)
	}
	*budget -= int(nbytes)
	out.data = make([]byte, nbytes)
	t.gather(out.data, int(es))
	return out, nil
}

// contiguous reports whether the view is row-major without gaps (strides
// of dimensions of size 1 do not matter).
func (t *pyTensor) contiguous() bool {
	want := int64(1)
	for i := len(t.size) - 1; i >= 0; i-- {
		if t.size[i] == 1 {
			continue
		}
		if t.stride[i] != want {
			return false
		}
		want *= t.size[i]
	}
	return true
}

// gather copies the view's elements in row-major order into dst.
func (t *pyTensor) gather(dst []byte, es int) {
	nd := len(t.size)
	idx := make([]int64, nd)
	src := t.storage.data
	pos := t.offset // element offset of idx in the storage
	for o := 0; o < len(dst); o += es {
		copy(dst[o:o+es], src[pos*int64(es):])
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			pos += t.stride[d]
			if idx[d] < t.size[d] {
				break
			}
			pos -= t.stride[d] * idx[d]
			idx[d] = 0
		}
	}
}

// stripModulePrefix drops "module." from every name when every name has
// it, as a model saved from inside DataParallel has.
func (st *Safetensors) stripModulePrefix() *Safetensors {
	if len(st.names) == 0 {
		return st
	}
	for _, n := range st.names {
		if !strings.HasPrefix(n, "module.") {
			return st
		}
	}
	out, _ := st.TrimPrefix("module.") // cannot collide: every name loses the same prefix
	return out
}

// TrimPrefix returns st with prefix removed from every name that has it.
// It fails if no name has it, or if a trimmed name collides with another.
func (st *Safetensors) TrimPrefix(prefix string) (*Safetensors, error) {
	out := &Safetensors{tensors: make(map[string]*stTensor, len(st.tensors)), metadata: st.metadata}
	from := make(map[string]string, len(st.names)) // new name -> old
	trimmed := 0
	for _, n := range st.names {
		t := *st.tensors[n]
		if s, ok := strings.CutPrefix(n, prefix); ok {
			t.name = s
			trimmed++
		}
		if prev, ok := from[t.name]; ok {
			return nil, fmt.Errorf("prefix %q: tensors %q and %q would both be named %q", prefix, prev, n, t.name)
		}
		from[t.name] = n
		out.tensors[t.name] = &t
		out.names = append(out.names, t.name)
	}
	if trimmed == 0 {
		example := ""
		if len(st.names) > 0 {
			example = fmt.Sprintf(" (names such as %q)", st.names[0])
		}
		return nil, fmt.Errorf("prefix %q: no tensor name starts with it%s", prefix, example)
	}
	sort.Strings(out.names)
	return out, nil
}
