#!/usr/bin/python3
"""PyTorch reference for resgen's generated trainer: a few SGD steps from the
seeded weights on real Fashion-MNIST images, written as fixtures the Go
training parity test compares against.

    /usr/bin/python3 reference/train.py fixtures [--check] [--float64] [--only CASE ...]
    /usr/bin/python3 reference/train.py conditioning [--seeds LO-HI] [--only CASE ...] [--lr LR]
        [--init seeded|pytorch] [--batch N] [--variants V ...]

fixtures writes testdata/train/<case>/{case.json,data.safetensors,
deltas.safetensors} in the format of docs/training.md ("Training parity
fixtures"), and deltas64.safetensors: the same steps computed by PyTorch in
float64 (model.double(), input.double(), from the same float32 weights and
batch), which the float64 build of the generated trainer is compared with
(see deltas64); --check regenerates in memory and compares with disk (exit 1
when anything differs); --float64 writes (or checks) deltas64.safetensors
only. conditioning prints, per seed, how far PyTorch's own
variants drift from each case, which is how the seeds and tolerances were
chosen (reference/README.md), with each variant's flipped ReLU masks per
forward: the drifts come from those.
"""

import argparse
import collections
import contextlib
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seeded  # noqa: E402
from fashion import find, normalize, read_idx  # noqa: E402
from reference import build, setup_torch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "train")

BATCH = 8
LR, MOMENTUM, WEIGHT_DECAY = 0.1, 0.9, 1e-4
STEPS = 3
SNAPSHOTS = (1, 3)  # steps after which the changes are stored
SAMPLE = 1024  # values stored per tensor at most
# deltas64.safetensors stores this many values per tensor at most (8 bytes
# each, so the five cases stay under a megabyte), and for the whole tensor
# its max |change| and L2 norm of the change, which unsampled values enter.
SAMPLE64 = 64
# A loss above this after seeded init means the case is degenerate (the
# seeded weights are not normalized for depth); fixtures would then test
# overflow handling rather than training.
MAX_SANE_LOSS = 100.0
# The acceptance rule of docs/training.md: |change - want| <= coef*maxabs + ABS_TOL
# per tensor, losses to a relative tolerance. The coefficients are at least
# these; case.json raises them where PyTorch's own variants drift further
# (see tolerances).
MIN_COEF, ABS_TOL, MIN_LOSS_TOL = 1e-3, 1e-6, 1e-5
# Other ways PyTorch computes the same training steps (train's variant):
# each is a correct float32 or float64 implementation with its own rounding,
# as resgen's trainer will be. "channels-last" is not among them: PyTorch
# 1.13's channels-last CPU path is itself 5% off float64 after one step on
# cifar-resnet20 (every seed tried), where the contiguous path agrees to 1e-6.
VARIANTS = ("float64", "mkldnn", "reversed")
# tolerance = SAFETY x the largest drift seen, rounded up. The drifts are
# heavy-tailed (ReLU flips are rare events): across the three variants the
# largest is up to 10x the next (cifar-resnet20 step 3: 5e-4, 7e-4, 6.5e-3).
SAFETY = 10.0

Case = collections.namedtuple("Case", "name preset classes input width per_pixel seed lr init batch")

# Init and seed: the pair with the smallest drift (see tolerances) among
# those `conditioning` tried (reference/README.md has the table). Init
# "pytorch" (PyTorch's default init) for the cases where its best seed
# drifts no more than the seeded init's: cifar-resnet20 (seeds 1-12), cifar-plain20
# (1-8), unet-w8 (1-6). resnet18 (1-6) and cifar-preact-resnet110 (1-4)
# drift more under it at every seed tried and keep init "seeded" (seeds
# tried then: resnet18 1-16, preact-resnet110 1-20). The largest drifts of
# the three variants, as a coefficient of max|change|, after step 1 / step
# 3: resnet20 0 / 1.7e-3; plain20 1.2e-5 / 0.13; preact-resnet110 0.03 /
# 1.0; resnet18 1e-5 / 0.018; unet 0 / 0. Every drift above 1e-4 comes with
# ReLU mask flips (conditioning counts them): the criterion's 1e-3 holds
# between two implementations only while no ReLU input of any of the three
# forwards lands within their rounding difference of 0.
# The tail a fixture's tolerance must also cover after the first step: the
# largest drift any variant showed at any seed conditioning tried (batch 8,
# the case's init; resnet18: float64 only, seeds 1-4; the others all three
# variants, seeds as above). The fixture's own seed is the one where
# PyTorch's variants happened to flip the fewest ReLUs, which says little
# about where another implementation's rounding lands: resgen's trainer,
# reordered by a kernel change, went from 2e-5 to 0.045 after step 3 on the
# old cifar-resnet20 seed, and on the new one flips where PyTorch's
# variants did not (loss 3 off by 7.9e-5 where they agree to 7e-7). Step 1
# needs no such floor for the cases that meet 1e-3 there: a flip in the
# first forward is rarer (4 of 36 cifar-resnet20 runs, 0 of 18 resnet18
# and unet-w8 runs; plain and preact nets flip there anyway and their
# tolerances say so). Per case: change coefficient after step 3, relative
# loss error of steps 1-3.
TAIL = {
    "cifar-resnet20": (0.45, (2e-7, 3e-4, 5e-3)),
    "cifar-plain20": (0.86, (2e-7, 3e-3, 3e-2)),
    "cifar-preact-resnet110": (1.2, (2e-7, 3e-3, 0.1)),  # init pytorch; its seeded init drifts as much
    "resnet18": (0.43, (3e-6, 3e-5, 4e-3)),
    "unet-w8": (0.057, (2e-7, 9e-8, 5e-6)),
}

CASES = [
    Case("cifar-resnet20", "cifar-resnet20", 10, (1, 28, 28), None, False, 2, LR, "pytorch", BATCH),
    Case("cifar-plain20", "cifar-plain20", 10, (1, 28, 28), None, False, 7, LR, "pytorch", BATCH),
    Case("cifar-preact-resnet110", "cifar-preact-resnet110", 10, (1, 28, 28), None, False, 3, LR, "seeded", BATCH),
    Case("resnet18", "resnet18", 10, (3, 32, 32), None, False, 1, LR, "seeded", BATCH),
    Case("unet-w8", "unet", 2, (1, 32, 32), 8, True, 1, LR, "pytorch", BATCH),
]


def batch_data(case):
    """The first BATCH Fashion-MNIST test images as the case's input, and
    their labels: the true classes, or for per-pixel cases 1 where the raw
    pixel is above 127 (the garment) and 0 elsewhere."""
    u8 = read_idx(find("t10k-images-idx3-ubyte"))[: case.batch]
    classes = read_idx(find("t10k-labels-idx1-ubyte"))[: case.batch].astype(np.int64)
    c, h, w = case.input
    if h < 28 or w < 28:
        raise ValueError("%s: input %dx%d is smaller than the 28x28 images" % (case.name, h, w))
    # Central zero padding after normalization (the extra rows and columns
    # before get the floor of half).
    top, left = (h - 28) // 2, (w - 28) // 2
    pad = ((0, 0), (top, h - 28 - top), (left, w - 28 - left))
    x = normalize(u8).numpy()[:, 0]  # [N, 28, 28] float32
    x = np.pad(x, pad)
    x = np.ascontiguousarray(np.repeat(x[:, None], c, axis=1))  # gray replicated to c channels
    if case.per_pixel:
        labels = (np.pad(u8, pad) > 127).astype(np.int64)
    else:
        labels = classes
    return torch.from_numpy(x), torch.from_numpy(labels)


def snapshot(m):
    return collections.OrderedDict((k, v.detach().clone()) for k, v in m.state_dict().items())


class ReluMasks:
    """While on (step > 0), records the mask (input > 0) of every F.relu
    call of the forward of that step: where two implementations' masks
    differ, a ReLU input landed within their rounding difference of 0
    (nn.ReLU calls F.relu too)."""

    def __init__(self, reversed_batch=False):
        self.masks, self.step, self.reversed = collections.defaultdict(list), 0, reversed_batch

    def __enter__(self):
        self.relu = F.relu

        def relu(x, inplace=False):
            if self.step:
                v = x.detach().clone()
                self.masks[self.step].append(v.flip(0) if self.reversed else v)
            return self.relu(x, inplace=inplace)

        F.relu = relu
        return self

    def __exit__(self, *exc):
        F.relu = self.relu

    def flips(self, other):
        """Per step, how many ReLU inputs have the other sign in other's
        run and the margin: the smallest |other's input| / |difference|
        (with other in float64, how many times its own rounding error the
        closest input is from flipping); and how many ReLU inputs a forward
        has."""
        n, margin = [], []
        for s in sorted(self.masks):
            pairs = list(zip(self.masks[s], other.masks[s]))
            n.append(sum(int(((a > 0) != (b > 0)).sum()) for a, b in pairs))
            mg = float("inf")
            for a, b in pairs:
                d = (a.double() - b.double()).abs()
                r = b.double().abs() / d
                mg = min(mg, float(r[d > 0].min())) if (d > 0).any() else mg
            margin.append(mg)
        return n, sum(a.numel() for a in self.masks[1]), margin


def train(case, x, y, seed, variant="reference", masks=None):
    """Runs STEPS SGD steps on the one batch. Returns the losses, the
    state_dicts before training and after each step in SNAPSHOTS, and the
    parameters whose step-1 gradient was exactly zero.

    variant "reference" is the fixture's arithmetic; the others (VARIANTS)
    are PyTorch computing the same thing another way, to measure how far
    two correct implementations drift apart."""
    m = load_seeded(build(case.preset, case.classes, case.input[0], case.width), seed, case.init)
    mkldnn = torch.backends.mkldnn.enabled
    if variant == "float64":
        m, x = m.double(), x.double()
    elif variant == "mkldnn":
        torch.backends.mkldnn.enabled = True
    elif variant == "reversed":
        # The batch in reverse order: the same mean loss and gradients,
        # every batch sum taken in another order.
        x, y = x.flip(0), y.flip(0)
    elif variant == "channels-last":
        m, x = m.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    elif variant != "reference":
        raise ValueError("unknown variant %r" % variant)
    try:
        m.train()
        opt = torch.optim.SGD(m.parameters(), lr=case.lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        names = {id(p): n for n, p in m.named_parameters()}
        states = {0: snapshot(m)}
        losses, zero_grads = [], []
        for step in range(1, STEPS + 1):
            if masks is not None:
                masks.step = step
            out = m(x)
            if masks is not None:
                masks.step = 0
            loss = F.cross_entropy(out, y)
            opt.zero_grad()
            loss.backward()
            if step == 1:
                zero_grads = [names[id(p)] for p in m.parameters() if p.grad is None or not p.grad.any()]
            opt.step()
            losses.append(float(loss))
            if step in SNAPSHOTS:
                states[step] = snapshot(m)
    finally:
        torch.backends.mkldnn.enabled = mkldnn
    return losses, states, zero_grads


def load_seeded(m, seed, init):
    """Loads the seeded weights of init (seeded.INITS) with strict=True."""
    shapes = collections.OrderedDict((k, tuple(v.shape)) for k, v in m.state_dict().items())
    sd = seeded.state_dict(seed, shapes, init)
    m.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
    return m


def sample(flat, k=SAMPLE):
    """All values when there are at most k, else those at the indices
    i*numel/k (integer division), i = 0..k-1."""
    n = flat.size
    if n <= k:
        return flat
    return flat[(np.arange(k, dtype=np.int64) * n) // k]


def deltas(states):
    out = collections.OrderedDict()
    for s in SNAPSHOTS:
        for k, v0 in states[0].items():
            d = (states[s][k] - v0).numpy().reshape(-1)
            if k.endswith("num_batches_tracked"):
                d = d.astype(np.int64)
            else:
                d = d.astype(np.float32)
            out["step%d/%s" % (s, k)] = np.ascontiguousarray(sample(d))
            out["step%d/%s:maxabs" % (s, k)] = np.array([np.abs(d).max()], dtype=np.float32)
    return out


def deltas64(losses, states):
    """The float64 run's fixture: for s in SNAPSHOTS and every state_dict key
    k, step<s>/<k> = the change after s steps, F64, sampled as deltas but
    SAMPLE64 values at most (I64 [1] for num_batches_tracked), and
    step<s>/<k>:norms = [max |change|, L2 norm of the change] over the whole
    tensor, F64 [2]; and losses, F64 [STEPS]."""
    out = collections.OrderedDict()
    for s in SNAPSHOTS:
        for k, v0 in states[0].items():
            d = (states[s][k] - v0).numpy().reshape(-1)
            if k.endswith("num_batches_tracked"):
                out["step%d/%s" % (s, k)] = np.ascontiguousarray(d.astype(np.int64))
                continue
            d = d.astype(np.float64)
            out["step%d/%s" % (s, k)] = np.ascontiguousarray(sample(d, SAMPLE64))
            out["step%d/%s:norms" % (s, k)] = np.array([np.abs(d).max(), np.sqrt(np.dot(d, d))])
    out["losses"] = np.array(losses, dtype=np.float64)
    return out


def dumps64(tensors):
    """seeded.dumps for F64 and I64 arrays (seeded's writer has no F64)."""
    names = {np.dtype(np.float64): ("F64", "<f8"), np.dtype(np.int64): ("I64", "<i8")}
    parts, header, off = [], [], 0
    for name, a in tensors.items():
        dt, np_dt = names[a.dtype]
        data = np.ascontiguousarray(a).astype(np_dt, copy=False).tobytes()
        header.append(json.dumps(name, ensure_ascii=False)
                      + ':{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}' % (dt, ",".join(str(d) for d in a.shape), off, off + len(data)))
        parts.append(data)
        off += len(data)
    h = ("{" + ",".join(header) + "}").encode("utf-8")
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(parts)


def float64_files(case):
    """deltas64.safetensors: the case's steps in float64 (train's "float64"
    variant: the same float32 weights and batch, widened exactly)."""
    x, y = batch_data(case)
    losses, states, _ = train(case, x, y, case.seed, "float64")
    return {"deltas64.safetensors": dumps64(deltas64(losses, states))}, losses


def check_sane(case, losses, states, zero_grads):
    """Problems that would make the fixture test nothing: non-finite or huge
    losses, parameters without gradient, tensors that never change."""
    bad = []
    if not all(np.isfinite(losses)) or max(losses) > MAX_SANE_LOSS:
        bad.append("losses %s" % losses)
    if zero_grads:
        bad.append("zero step-1 gradient: %s" % ", ".join(zero_grads))
    last = max(SNAPSHOTS)
    for k, v0 in states[0].items():
        d = states[last][k] - v0
        if k.endswith("num_batches_tracked"):
            if int(d) != last:
                bad.append("%s changed by %d after %d steps" % (k, int(d), last))
        elif not torch.isfinite(states[last][k]).all():
            bad.append("%s: not finite after %d steps" % (k, last))
        elif not d.any():
            bad.append("%s: unchanged after %d steps" % (k, last))
    if bad:
        raise RuntimeError("%s: degenerate training case:\n  %s" % (case.name, "\n  ".join(bad)))


def drift(ref, alt):
    """How far the variant run alt = (losses, states) is from the reference
    run ref, in the units of the acceptance rule: per snapshot step, the
    smallest coef with |alt change - ref change| <= coef*maxabs + ABS_TOL for
    every value of every float tensor (maxabs from the reference, as the
    fixture stores it); per step, the relative loss difference."""
    (lref, sref), (lalt, salt) = ref, alt
    coefs = collections.OrderedDict()
    drift.worst = {}
    for s in SNAPSHOTS:
        worst = 0.0
        for k, v0 in sref[0].items():
            if k.endswith("num_batches_tracked"):
                continue
            want = (sref[s][k] - v0).double()
            have = (salt[s][k] - salt[0][k]).double()
            err = float((have - want).abs().max()) - ABS_TOL
            if err > 0:
                maxabs = float(want.abs().max())
                c = err / maxabs if maxabs > 0 else float("inf")
                if c > worst:
                    worst, drift.worst[s] = c, k
        coefs["step%d" % s] = worst
    loss = [abs(a - b) / abs(b) for a, b in zip(lalt, lref)]
    return coefs, loss


def round_up(x):
    """The smallest of 1, 2, 5 times a power of ten that is >= x."""
    e = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10.0 ** e >= x * (1 - 1e-12):
            return float("%.0e" % (m * 10.0 ** e))


def tolerances(drifts, tail=None):
    """The fixture's tolerances from the variants' drifts: SAFETY times the
    largest, rounded up, and never below the minimums; after the first step
    never below the case's tail (TAIL), rounded up either."""
    def tol_of(worst, floor, least):
        t = max(least, round_up(SAFETY * worst)) if worst > 0 else least
        return max(t, round_up(floor)) if floor else t

    step3, losses = tail or (0.0, (0.0,) * STEPS)
    tol = collections.OrderedDict()
    for s in SNAPSHOTS:
        worst = max(d[0]["step%d" % s] for d in drifts.values())
        tol["step%d" % s] = tol_of(worst, step3 if s > 1 else 0.0, MIN_COEF)
    tol["losses"] = []
    for i in range(STEPS):
        worst = max(d[1][i] for d in drifts.values())
        tol["losses"].append(tol_of(worst, losses[i] if i > 0 else 0.0, MIN_LOSS_TOL))
    return tol


def two_digits(x):
    return float("%.2g" % x)


def case_json(case, losses, tol, drifts):
    d = collections.OrderedDict()
    d["preset"] = case.preset
    d["classes"] = case.classes
    d["input"] = list(case.input)
    d["width"] = case.width
    d["seed"] = case.seed
    d["init"] = case.init
    d["batch"] = case.batch
    d["lr"] = case.lr
    d["momentum"] = MOMENTUM
    d["weight_decay"] = WEIGHT_DECAY
    d["steps"] = STEPS
    d["losses"] = losses
    d["per_pixel"] = case.per_pixel
    d["sample"] = SAMPLE
    d["tolerance"] = tol
    step3, losses_tail = TAIL[case.name]
    d["tail"] = collections.OrderedDict([("step3", step3), ("losses", list(losses_tail))])
    # What the tolerance was derived from (informational).
    d["drift"] = collections.OrderedDict(
        (v, collections.OrderedDict([(k, two_digits(c)) for k, c in coefs.items()] + [("losses", [two_digits(l) for l in loss])]))
        for v, (coefs, loss) in drifts.items())
    d["torch"] = torch.__version__
    return (json.dumps(d, indent=2) + "\n").encode()


def run_case(case, seed, variants=VARIANTS, flips=None):
    """The reference run (checked for sanity) and each variant's drift.
    With a dict flips, also records there each variant's ReLU mask flips in
    the first forward (ReluMasks.flips)."""
    x, y = batch_data(case)
    ref = ReluMasks() if flips is not None else None
    with ref or contextlib.nullcontext():
        losses, states, zero_grads = train(case, x, y, seed, masks=ref)
    check_sane(case, losses, states, zero_grads)
    drifts = collections.OrderedDict()
    for v in variants:
        alt = ReluMasks(v == "reversed") if flips is not None else None
        with alt or contextlib.nullcontext():
            lv, sv, _ = train(case, x, y, seed, v, masks=alt)
        drifts[v] = drift((losses, states), (lv, sv))
        if alt is not None:
            flips[v] = ref.flips(alt) + (dict(drift.worst),)
    return x, y, losses, states, drifts


def case_files(case):
    x, y, losses, states, drifts = run_case(case, case.seed)
    tol = tolerances(drifts, TAIL[case.name])
    data = collections.OrderedDict([("input", x.numpy()), ("labels", y.numpy())])
    files = {
        "case.json": case_json(case, losses, tol, drifts),
        "data.safetensors": seeded.dumps(data),
        "deltas.safetensors": seeded.dumps(deltas(states)),
    }
    files.update(float64_files(case)[0])
    return files, losses, tol


def write_files(dirpath, files):
    os.makedirs(dirpath, exist_ok=True)
    for fn, b in files.items():
        tmp = os.path.join(dirpath, "." + fn + ".tmp")
        with open(tmp, "wb") as f:
            f.write(b)
        os.replace(tmp, os.path.join(dirpath, fn))


def cmd_fixtures(args):
    setup_torch()
    known = [c.name for c in CASES]
    for name in args.only or ():
        if name not in known:
            print("train.py: unknown case %r (have %s)" % (name, ", ".join(known)), file=sys.stderr)
            return 2
    stale, total = 0, 0
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        if args.float64:
            files, losses = float64_files(case)
            tol = "(float64 only)"
        else:
            files, losses, tol = case_files(case)
        d = os.path.join(OUT, case.name)
        size = sum(len(b) for b in files.values())
        total += size
        if args.check:
            for fn, b in files.items():
                p = os.path.join(d, fn)
                have = open(p, "rb").read() if os.path.exists(p) else None
                if have != b:
                    stale += 1
                    print("STALE %s" % os.path.relpath(p, ROOT))
        else:
            write_files(d, files)
        print("%-24s %9d bytes  losses %s  tolerance %s" % (case.name, size, " ".join("%.6g" % l for l in losses), json.dumps(tol)), flush=True)
    print("%-24s %9d bytes" % ("total", total))
    if args.check and stale:
        print("%d fixture files differ; regenerate with: /usr/bin/python3 reference/train.py fixtures" % stale)
        return 1
    return 0


def cmd_conditioning(args):
    """Prints each variant's drift for a range of seeds: the seeds in CASES
    are ones whose step-1 changes every variant reproduces within the
    minimum tolerance (a ReLU whose input lands within rounding of 0 flips
    its mask in one implementation and not the other; in the small late
    feature maps one such pixel moves a whole gradient by a few percent)."""
    setup_torch()
    lo, _, hi = args.seeds.partition("-")
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        if args.lr:
            case = case._replace(lr=args.lr)
        if args.init:
            case = case._replace(init=args.init)
        if args.batch:
            case = case._replace(batch=args.batch)
        for seed in range(int(lo), int(hi or lo) + 1):
            flips = {}
            try:
                _, _, losses, _, drifts = run_case(case, seed, args.variants, flips)
            except RuntimeError as e:
                print("%-24s seed %d: %s" % (case.name, seed, e), flush=True)
                continue
            row = ["%s %s" % (v, " ".join("%s %.2g" % kv for kv in c.items())) + " loss " + " ".join("%.1g" % l for l in lo_)
                   + "  relu flips %s of %d" % ("/".join(map(str, flips[v][0])), flips[v][1]) + " margin " + "/".join("%.2g" % m for m in flips[v][2])
                   + "".join("  worst%d %s" % kv for kv in sorted(flips[v][3].items())) for v, (c, lo_) in drifts.items()]
            print("%-24s init %s batch %d lr %g seed %d  losses %s\n    %s" % (case.name, case.init, case.batch, case.lr, seed, " ".join("%.4g" % l for l in losses), "\n    ".join(row)), flush=True)
    return 0


def main(argv):
    p = argparse.ArgumentParser(prog="train.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixtures", help="write testdata/train/<case>/")
    f.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    f.add_argument("--float64", action="store_true", help="only deltas64.safetensors (PyTorch in float64)")
    f.add_argument("--only", nargs="+", metavar="CASE")
    c = sub.add_parser("conditioning", help="print how far PyTorch's own variants drift from each case, per seed")
    c.add_argument("--seeds", default="1-6", metavar="LO-HI")
    c.add_argument("--only", nargs="+", metavar="CASE")
    c.add_argument("--lr", type=float, help="instead of each case's")
    c.add_argument("--init", choices=seeded.INITS, help="instead of each case's")
    c.add_argument("--batch", type=int, help="instead of each case's")
    c.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=["float64", "mkldnn", "reversed", "channels-last"])
    args = p.parse_args(argv)
    return {"fixtures": cmd_fixtures, "conditioning": cmd_conditioning}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
