#!/usr/bin/python3
"""Writes the .pth fixtures that runtime's torch.save reader is tested on:

    runtime/testdata/pth/<case>.pth              written by torch.save (1.13)
    runtime/testdata/pth/<case>.want.safetensors the tensors PyTorch loads
        back from it (torch.load, then the state_dict the case names, keys
        with DataParallel's "module." stripped), contiguous, dtype kept,
        written by the small safetensors writer below (not by resgen)
    runtime/testdata/pth/fashion_dp.pth          testdata/fashion's trained
        weights saved as DataParallel would (every key "module."-prefixed)
    runtime/testdata/pth/errors/<case>.pth       hostile or broken files

    /usr/bin/python3 reference/pth_fixtures.py [--out runtime/testdata/pth]

The Go tests never need torch: they compare what runtime.ReadPth returns
with the .want.safetensors files, and the error corpus with golden stderr.
"""

import argparse
import collections
import json
import os
import pickle
import struct
import sys

import torch

torch.manual_seed(10)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ST_DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)  # numpy has no bfloat16; same bits
    return t.numpy().tobytes()


def write_safetensors(path, tensors):
    """Writes {name: tensor} as safetensors, in sorted order (the format's own
    writer sorts too), so the Go test reads the reference without torch."""
    header, data = {}, b""
    for name in sorted(tensors):
        t = tensors[name]
        b = tensor_bytes(t)
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    data = b[8 + n:]
    out = collections.OrderedDict()
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": torch.float32, "I64": torch.int64}[e["dtype"]]
        lo, hi = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[lo:hi]), dtype=dtype)
        out[name] = t.reshape(e["shape"]) if e["shape"] else t.reshape(())
    return out


class Tiny(torch.nn.Module):
    """conv-bn-relu-pool-linear: every kind of tensor a ResNet state_dict has."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


def trained_tiny():
    m = Tiny()
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):  # BN statistics and num_batches_tracked move
        loss = m(torch.randn(2, 3, 5, 5)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m, opt


def dtypes_dict():
    """Every dtype and storage layout the reader must assemble."""
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
    d = collections.OrderedDict()
    d["f32"] = torch.randn(2, 3)
    d["f16"] = torch.randn(3, 2).half()
    d["bf16"] = torch.randn(5).bfloat16()
    d["f64"] = torch.randn(2, 2, dtype=torch.float64)
    d["i64"] = torch.tensor(7, dtype=torch.int64)  # a 0-dim scalar, as num_batches_tracked
    d["i32"] = torch.tensor([1, -2, 3], dtype=torch.int32)
    d["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    d["bool"] = torch.tensor([True, False, True])
    d["empty"] = torch.zeros(0, 3)
    d["transposed"] = base.t()  # non-contiguous, strides (1, 6)
    d["offset_view"] = base[1:3, 2:5]  # storage_offset 8, strides (6, 1)
    d["shared_a"] = base  # shared_a and shared_b: one storage
    d["shared_b"] = base.view(24)[10:14]
    d["strided"] = base[:, ::2]  # step 2
    half_base = torch.randn(4, 4).half()
    d["f16_transposed"] = half_base.t()
    return d


def save_case(out, name, obj, want, **kw):
    torch.save(obj, os.path.join(out, name + ".pth"), **kw)
    loaded = torch.load(os.path.join(out, name + ".pth"))
    for k, v in want(loaded).items():  # the reference: what torch reads back
        assert isinstance(v, torch.Tensor), k
    write_safetensors(os.path.join(out, name + ".want.safetensors"), strip(want(loaded)))


def strip(sd):
    keys = list(sd)
    if keys and all(k.startswith("module.") for k in keys):
        return {k[len("module."):]: v for k, v in sd.items()}
    return dict(sd)


class Storage:
    """Stands for a storage in hand-made pickles: the persistent id torch
    writes for it (its numel may lie, which is the point)."""

    def __init__(self, key, storage_type, numel):
        self.key, self.storage_type, self.numel = key, storage_type, numel


class Rebuild:
    """A tensor in a hand-made pickle: torch's own rebuild call, any args."""

    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


def raw_zip(path, obj, records, protocol=2):
    """Writes a torch zip (torch's own PyTorchFileWriter, as torch.save does)
    whose data.pkl pickles obj with Storage objects as persistent ids and
    whose data/<key> records hold the given bytes."""
    import io
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=protocol)
    p.persistent_id = lambda o: (("storage", o.storage_type, o.key, "cpu", o.numel)
                                 if isinstance(o, Storage) else None)
    p.dump(obj)
    w = torch._C.PyTorchFileWriter(path)
    w.write_record("data.pkl", buf.getvalue(), len(buf.getvalue()))
    for key, b in records.items():
        w.write_record("data/" + key, b, len(b))
    w.write_end_of_file()


class System:
    """The classic: unpickling this runs a shell command."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/pwned",))


def hostile(out):
    e = os.path.join(out, "errors")
    os.makedirs(e, exist_ok=True)
    four = struct.pack("<4f", 1, 2, 3, 4)

    # os.system through __reduce__, inside an otherwise valid torch.save zip.
    torch.save({"conv.weight": torch.ones(2), "payload": System()}, os.path.join(e, "os_system.pth"))
    # The same in the legacy format.
    torch.save({"payload": System()}, os.path.join(e, "os_system_legacy.pth"),
               _use_new_zipfile_serialization=False)
    # A whole module pickled (torch.save(model)) instead of its state_dict.
    torch.save(Tiny(), os.path.join(e, "whole_model.pth"))
    # A zip cut in the middle of its records, and one cut before its end.
    with open(os.path.join(out, "plain.pth"), "rb") as f:
        plain = f.read()
    with open(os.path.join(e, "truncated_zip.pth"), "wb") as f:
        f.write(plain[: len(plain) // 2])
    with open(os.path.join(e, "truncated_tail.pth"), "wb") as f:
        f.write(plain[:-10])
    with open(os.path.join(out, "legacy.pth"), "rb") as f:
        legacy = f.read()
    with open(os.path.join(e, "truncated_legacy.pth"), "wb") as f:
        f.write(legacy[:-7])
    # Storage record shorter than the numel the pickle declares.
    raw_zip(os.path.join(e, "storage_short.pth"),
            {"w": Rebuild(Storage("0", torch.FloatStorage, 6), 0, (2, 3), (3, 1), False, collections.OrderedDict())},
            {"0": four})
    # Shape and stride reaching past the end of the storage.
    raw_zip(os.path.join(e, "view_past_storage.pth"),
            {"w": Rebuild(Storage("0", torch.FloatStorage, 4), 1, (2, 2), (2, 1), False, collections.OrderedDict())},
            {"0": four})
    # Absurd dims: 2^40 x 2^40 over a four-element storage, with zero strides.
    raw_zip(os.path.join(e, "absurd_dims.pth"),
            {"w": Rebuild(Storage("0", torch.FloatStorage, 4), 0, (1 << 40, 1 << 40), (0, 0), False, collections.OrderedDict())},
            {"0": four})
    # Overflowing dims: the element count does not fit 64 bits.
    raw_zip(os.path.join(e, "overflow_dims.pth"),
            {"w": Rebuild(Storage("0", torch.FloatStorage, 4), 0, (1 << 62, 1 << 62, 16), (1, 1, 1), False, collections.OrderedDict())},
            {"0": four})
    # A negative dimension.
    raw_zip(os.path.join(e, "negative_dim.pth"),
            {"w": Rebuild(Storage("0", torch.FloatStorage, 4), 0, (-4,), (1,), False, collections.OrderedDict())},
            {"0": four})
    # A persistent id naming a record that is not in the zip.
    raw_zip(os.path.join(e, "missing_record.pth"),
            {"w": Rebuild(Storage("7", torch.FloatStorage, 4), 0, (4,), (1,), False, collections.OrderedDict())},
            {"0": four})
    # A storage type that is not one of torch's.
    raw_zip(os.path.join(e, "bad_storage_type.pth"),
            {"w": Rebuild(Storage("0", os.getcwd, 4), 0, (4,), (1,), False, collections.OrderedDict())},
            {"0": four})
    # A pickle that is not a dict at all.
    raw_zip(os.path.join(e, "not_a_dict.pth"), [1, 2, 3], {})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "runtime", "testdata", "pth"))
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)

    m, opt = trained_tiny()
    sd = m.state_dict()
    ident = lambda x: x  # noqa: E731
    save_case(out, "plain", sd, ident)
    save_case(out, "dataparallel", torch.nn.DataParallel(m).state_dict(), ident)
    save_case(out, "checkpoint", {"epoch": 3, "state_dict": sd, "optimizer": opt.state_dict(),
                                  "best_acc": 0.75, "arch": "tiny"},
              lambda c: c["state_dict"])
    save_case(out, "model_key", {"model": torch.nn.DataParallel(m).state_dict(), "args": {"lr": 0.1, "tags": ["a", "b"]}},
              lambda c: c["model"])
    save_case(out, "dtypes", dtypes_dict(), ident)
    save_case(out, "legacy", sd, ident, _use_new_zipfile_serialization=False)
    save_case(out, "legacy_dtypes", dtypes_dict(), ident, _use_new_zipfile_serialization=False)
    save_case(out, "protocol4", dtypes_dict(), ident, pickle_protocol=4)

    fashion = read_safetensors(os.path.join(ROOT, "testdata", "fashion", "weights.safetensors"))
    torch.save(collections.OrderedDict(("module." + k, v) for k, v in fashion.items()),
               os.path.join(out, "fashion_dp.pth"))

    hostile(out)
    if os.path.exists("/tmp/pwned"):
        sys.exit("/tmp/pwned exists: something ran the hostile pickle")
    for root, _, files in os.walk(out):
        for f in sorted(files):
            p = os.path.join(root, f)
            print(f"{os.path.relpath(p, ROOT)}: {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    main()
