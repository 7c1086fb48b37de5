#!/usr/bin/python3
"""Trains `resgen init cifar-resnet20 --input 1x28x28` on the real
Fashion-MNIST training set (Debian's dataset-fashion-mnist) on the CPU and
writes what resgen's demo and tests need:

    testdata/fashion/weights.safetensors   the trained state_dict (every key)
    testdata/fashion/predictions.safetensors
        pred   U8-as-I64 [10000]  PyTorch's predicted label per test image
        margin F32 [10000]        top-1 minus top-2 logit (ties show here)
        scale  F32 [10000]        max |logit| per image
        logits F32 [1000, 10]     the first 1,000 images' logits
    testdata/fashion/train.json            recipe, accuracies, time per epoch
    testdata/fashion/t10k-1000-images-idx3-ubyte.gz, t10k-1000-labels-idx1-ubyte.gz
                                           the first 1,000 test images and labels

    /usr/bin/python3 reference/fashion.py [--epochs N] [--threads N] [--out DIR]

Recipe: SGD lr 0.1, momentum 0.9, weight decay 5e-4, batch 128, cosine
schedule to 0 over the epochs; augmentation: 2-pixel zero-padded random crop
and horizontal flip. Inputs are ToTensor()/255 then Normalize(MEAN, STD).
"""

import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seeded  # noqa: E402
from reference import CifarResNet  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/share/datasets/fashion-mnist"
# Fashion-MNIST training-set statistics (of x/255), the usual Normalize values.
MEAN, STD = 0.2860, 0.3530
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def find(name):
    for n in (name, name + ".gz"):
        p = os.path.join(DATA, n)
        if os.path.exists(p):
            return p
    raise SystemExit("%s: not found under %s (apt-get install -y dataset-fashion-mnist)" % (name, DATA))


def read_idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        b = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", b[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">" + "I" * ndim, b[4 : 4 + 4 * ndim])
    a = np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * ndim)
    return a.reshape(dims)


def write_idx(path, a):
    hdr = struct.pack(">HBB", 0, 0x08, a.ndim) + struct.pack(">" + "I" * a.ndim, *a.shape)
    with open(path, "wb") as raw:
        # mtime=0: the same bytes every run.
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
            f.write(hdr + a.astype(np.uint8).tobytes())


def normalize(u8):
    x = torch.from_numpy(u8.astype(np.float32) / 255.0).unsqueeze(1)
    return (x - MEAN) / STD


def augment(u8, rng):
    n = u8.shape[0]
    padded = np.pad(u8, ((0, 0), (2, 2), (2, 2)))
    out = np.empty_like(u8)
    dy = rng.integers(0, 5, n)
    dx = rng.integers(0, 5, n)
    flip = rng.random(n) < 0.5
    for i in range(n):
        img = padded[i, dy[i] : dy[i] + 28, dx[i] : dx[i] + 28]
        out[i] = img[:, ::-1] if flip[i] else img
    return out


def evaluate(m, u8, labels, bs=1000):
    m.eval()
    logits = []
    with torch.no_grad():
        for i in range(0, len(u8), bs):
            logits.append(m(normalize(u8[i : i + bs])))
    logits = torch.cat(logits)
    acc = (logits.argmax(1).numpy() == labels).mean()
    return logits, float(acc)


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "testdata", "fashion"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    xtr = read_idx(find("train-images-idx3-ubyte"))
    ytr = read_idx(find("train-labels-idx1-ubyte")).astype(np.int64)
    xte = read_idx(find("t10k-images-idx3-ubyte"))
    yte = read_idx(find("t10k-labels-idx1-ubyte")).astype(np.int64)
    print("train %s test %s" % (xtr.shape, xte.shape), flush=True)

    m = CifarResNet(20, num_classes=10, in_channels=1, shortcut=True)
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    bs = 128
    steps_per_epoch = (len(xtr) + bs - 1) // bs
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps_per_epoch)
    history = []
    t_start = time.time()
    for epoch in range(args.epochs):
        m.train()
        t0 = time.time()
        perm = rng.permutation(len(xtr))
        total, correct, loss_sum = 0, 0, 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * bs : (s + 1) * bs]
            x = normalize(augment(xtr[idx], rng))
            y = torch.from_numpy(ytr[idx])
            out = m(x)
            loss = F.cross_entropy(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(idx)
            correct += int((out.argmax(1) == y).sum())
            total += len(idx)
            if s % 100 == 0:
                print("epoch %d step %d/%d loss %.4f" % (epoch + 1, s, steps_per_epoch, float(loss)), flush=True)
        dt = time.time() - t0
        _, test_acc = evaluate(m, xte, yte)
        history.append({"epoch": epoch + 1, "train_loss": loss_sum / total, "train_acc": correct / total,
                        "test_acc": test_acc, "seconds": dt})
        print("epoch %d: train loss %.4f acc %.4f, test acc %.4f, %.0f s" % (epoch + 1, loss_sum / total, correct / total, test_acc, dt), flush=True)

    logits, test_acc = evaluate(m, xte, yte)
    top2 = logits.topk(2, dim=1).values
    os.makedirs(args.out, exist_ok=True)
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    seeded.save(os.path.join(args.out, "weights.safetensors"), sd)
    seeded.save(os.path.join(args.out, "predictions.safetensors"), {
        "pred": logits.argmax(1).numpy().astype(np.int64),
        "margin": (top2[:, 0] - top2[:, 1]).numpy().astype(np.float32),
        "scale": logits.abs().max(1).values.numpy().astype(np.float32),
        "logits": logits[:1000].numpy().astype(np.float32),
    })
    write_idx(os.path.join(args.out, "t10k-1000-images-idx3-ubyte.gz"), xte[:1000])
    write_idx(os.path.join(args.out, "t10k-1000-labels-idx1-ubyte.gz"), yte[:1000])
    info = {
        "preset": "cifar-resnet20", "input": [1, 28, 28], "classes": CLASSES,
        "mean": [MEAN], "std": [STD],
        "recipe": "SGD lr 0.1 momentum 0.9 wd 5e-4, batch 128, cosine over %d epochs, pad-2 random crop + hflip" % args.epochs,
        "threads": args.threads, "seed": args.seed,
        "test_accuracy": test_acc, "train_seconds": time.time() - t_start,
        "torch": torch.__version__, "history": history,
    }
    with open(os.path.join(args.out, "train.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print("test accuracy %.4f; wrote %s" % (test_acc, args.out))


if __name__ == "__main__":
    main(sys.argv[1:])
