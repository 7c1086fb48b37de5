"""Seeded weights, bit-identical to Go's internal/seeded, and safetensors I/O.

The generator (documented once, also in internal/seeded's Go doc and
reference/README.md). All arithmetic is uint64 with wraparound:

    fnv1a64(name) = FNV-1a over the UTF-8 bytes of name
                    (h = 0xcbf29ce484222325; per byte: h ^= b; h *= 0x100000001b3)
    splitmix64(x) = z = x + 0x9e3779b97f4a7c15
                    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
                    z = (z ^ (z >> 27)) * 0x94d049bb133111eb
                    z ^ (z >> 31)
    h     = splitmix64((seed ^ fnv1a64(name)) + i)   # i: flat row-major index
    u     = float64(h >> 40) / 2**24                 # [0, 1)
    r     = 2*u - 1                                  # [-1, 1)
    value = float32(float64(r*scale) + offset)       # rounded to float32 once

Kinds (scale, offset): weight (ndim >= 2) sqrt(6/fan_in), 0 with
fan_in = prod(shape[1:]); bias 0.1, 0; bn_weight 0.25, 1; bn_bias 0.1, 0;
running_mean 0.1, 0; running_var 0.5, 1; input 1, 0. num_batches_tracked is
the int64 scalar 100.

Init "pytorch" (INITS; the kinds' scales and offsets only, the stream is the
same) is PyTorch's default initialization, the one every user starts from:
weight 1/sqrt(fan_in), 0; bias 1/sqrt(fan_in of the sibling X.weight), 0;
bn_weight 0, 1; bn_bias, running_mean 0, 0; running_var 0, 1 (so gamma = 1,
beta = 0, running statistics 0 and 1 exactly); input 1, 0. The default init
"seeded" is the one above, which the inference parity fixtures use.
"""

import json
import math
import struct

import numpy as np

M64 = (1 << 64) - 1
NUM_BATCHES_TRACKED = 100

KINDS = ("weight", "bias", "bn_weight", "bn_bias", "running_mean", "running_var", "input")
INITS = ("seeded", "pytorch")


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for b in name.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


def splitmix64(x):
    """Vectorized splitmix64 finalizer on a uint64 array (wraps mod 2**64)."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def fan_in(shape):
    if len(shape) < 2:
        raise ValueError("weight needs ndim >= 2, have shape %s" % (list(shape),))
    return int(np.prod(shape[1:], dtype=np.int64))


def scale_offset(kind, shape, init="seeded", weight_shape=None):
    """The kind's scale and offset under init; weight_shape is the sibling
    weight's shape, which init "pytorch" needs for a bias."""
    if init == "pytorch":
        if kind == "weight":
            return 1.0 / math.sqrt(fan_in(shape)), 0.0
        if kind == "bias":
            if weight_shape is None:
                raise ValueError("bias needs a sibling weight under init pytorch")
            return 1.0 / math.sqrt(fan_in(weight_shape)), 0.0
        if kind in ("bn_weight", "running_var"):
            return 0.0, 1.0
        if kind in ("bn_bias", "running_mean"):
            return 0.0, 0.0
        if kind == "input":
            return 1.0, 0.0
        raise ValueError("unknown kind %r" % (kind,))
    if init != "seeded":
        raise ValueError("unknown init %r (have %s)" % (init, ", ".join(INITS)))
    if kind == "weight":
        return math.sqrt(6.0 / fan_in(shape)), 0.0
    if kind in ("bias", "bn_bias", "running_mean"):
        return 0.1, 0.0
    if kind == "bn_weight":
        return 0.25, 1.0
    if kind == "running_var":
        return 0.5, 1.0
    if kind == "input":
        return 1.0, 0.0
    raise ValueError("unknown kind %r" % (kind,))


def tensor(seed, name, shape, kind, chunk=1 << 22, init="seeded", weight_shape=None):
    """Returns the seeded float32 array of the given shape."""
    scale, offset = scale_offset(kind, shape, init, weight_shape)
    n = int(np.prod(shape, dtype=np.int64))
    key = np.uint64((seed ^ fnv1a64(name)) & M64)
    out = np.empty(n, dtype=np.float32)
    with np.errstate(over="ignore"):
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            h = splitmix64(key + np.arange(lo, hi, dtype=np.uint64))
            r = 2.0 * ((h >> np.uint64(40)).astype(np.float64) / float(1 << 24)) - 1.0
            out[lo:hi] = (r * scale + offset).astype(np.float32)
    return out.reshape(shape)


def kind_of(name, ndim, names):
    """Classifies a state_dict name; names is the set of all names."""
    if name == "input":
        return "input"
    prefix, _, leaf = name.rpartition(".")
    prefix = prefix + "." if prefix else ""
    bn = (prefix + "running_mean") in names
    if leaf == "running_mean":
        return "running_mean"
    if leaf == "running_var":
        return "running_var"
    if leaf == "weight" and bn and ndim == 1:
        return "bn_weight"
    if leaf == "bias" and bn:
        return "bn_bias"
    if leaf == "weight" and ndim >= 2:
        return "weight"
    if leaf == "bias":
        return "bias"
    raise ValueError("cannot classify tensor %r (ndim %d)" % (name, ndim))


def sibling_weight(name, shapes):
    """The shape of X.weight for the tensor X.bias, or None."""
    prefix, _, _ = name.rpartition(".")
    return shapes.get((prefix + "." if prefix else "") + "weight")


def state_dict(seed, shapes, init="seeded"):
    """Seeded tensors for an ordered {name: shape} of a torch state_dict.

    num_batches_tracked entries become int64 scalars; everything else float32.
    Returns an ordered {name: numpy array}.
    """
    names = set(shapes)
    out = {}
    for name, shape in shapes.items():
        shape = tuple(shape)
        if name.endswith("num_batches_tracked"):
            out[name] = np.array(NUM_BATCHES_TRACKED, dtype=np.int64)
        else:
            kind = kind_of(name, len(shape), names)
            ws = sibling_weight(name, shapes) if kind == "bias" else None
            out[name] = tensor(seed, name, shape, kind, init=init, weight_shape=ws)
    return out


def entries_for(shapes):
    """The Go Write entries ([{name, shape, kind}]) for a {name: shape} dict,
    leaving out num_batches_tracked, which Write adds after running_var."""
    names = set(shapes)
    return [
        {"name": n, "shape": list(s), "kind": kind_of(n, len(s), names)}
        for n, s in shapes.items()
        if not n.endswith("num_batches_tracked")
    ]


# ---- safetensors ----

_DTYPES = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
}


def _dtype_name(a):
    if a.dtype == np.float32:
        return "F32"
    if a.dtype == np.float16:
        return "F16"
    if a.dtype == np.int64:
        return "I64"
    raise TypeError("unsupported dtype %s" % a.dtype)


def dumps(tensors, metadata=None):
    """Serializes an ordered {name: numpy array} to safetensors bytes.

    The header lists tensors in the given order and is padded with spaces to
    a multiple of 8; its bytes equal Go's seeded.Write for the same tensors.
    """
    parts = []
    header = []
    if metadata:
        header.append('"__metadata__":' + json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), sort_keys=True))
    off = 0
    for name, a in tensors.items():
        dt = _dtype_name(a)
        data = np.ascontiguousarray(a).astype(_DTYPES[dt], copy=False).tobytes()
        header.append(
            json.dumps(name, ensure_ascii=False)
            + ':{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}'
            % (dt, ",".join(str(d) for d in a.shape), off, off + len(data))
        )
        parts.append(data)
        off += len(data)
    h = ("{" + ",".join(header) + "}").encode("utf-8")
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(parts)


def loads(b):
    """Parses safetensors bytes into an ordered {name: numpy array} (copies).

    BF16 is widened to float32. Returns (tensors, metadata)."""
    if len(b) < 8:
        raise ValueError("safetensors: file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", b[:8])
    if 8 + n > len(b):
        raise ValueError("safetensors: header length %d past end of file" % n)
    hdr = json.loads(b[8 : 8 + n].decode("utf-8"))
    data = memoryview(b)[8 + n :]
    meta = hdr.pop("__metadata__", None)
    out = {}
    for name, info in sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        lo, hi = info["data_offsets"]
        if not (0 <= lo <= hi <= len(data)):
            raise ValueError("safetensors: tensor %r: offsets %d..%d outside data" % (name, lo, hi))
        dt, shape = info["dtype"], tuple(info["shape"])
        raw = bytes(data[lo:hi])
        if dt == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dt in _DTYPES:
            a = np.frombuffer(raw, dtype=_DTYPES[dt]).copy()
        else:
            raise ValueError("safetensors: tensor %r: unsupported dtype %s" % (name, dt))
        count = int(np.prod(shape, dtype=np.int64))
        if a.size != count:
            raise ValueError("safetensors: tensor %r: %d values for shape %s" % (name, a.size, list(shape)))
        out[name] = a.reshape(shape)
    return out, meta


def save(path, tensors, metadata=None):
    with open(path, "wb") as f:
        f.write(dumps(tensors, metadata))


def load(path):
    with open(path, "rb") as f:
        return loads(f.read())
