#!/usr/bin/python3
"""PyTorch's CPU training speed on resgen's presets, the way a user trains:
model.train(), SGD(lr 0.1, momentum 0.9, weight decay 1e-4), batch 128 of
random input, forward + cross-entropy + backward + step. MKL-DNN stays at
PyTorch's default (on): the comparison is with PyTorch at its best.

    /usr/bin/python3 bench/train/torch_bench.py                    # every row
    /usr/bin/python3 bench/train/torch_bench.py -model cifar-resnet20 -input 1x28x28 -threads 2 -rounds 1
    /usr/bin/python3 bench/train/torch_bench.py -list              # the rows, one "model input threads" a line

Each row (model, input, threads) builds the model, runs -warmup steps, then
-rounds rounds of -steps timed steps, and prints one JSON line (the format
bench/train/README.md describes, shared with resgentrain):

    {"impl": "pytorch", "model": "cifar-resnet20", "input": "3x32x32", "threads": 1,
     "batch": 128, "ms_per_image": 1.23, "rounds": [1.23, ...], "steps": 4, "torch": "1.13.0a0"}

ms_per_image is the median over rounds of (round time / (steps * batch)).
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "reference"))
from reference import build, parse_chw  # noqa: E402

# (model, input, threads): the rows of BENCHMARKS.md's training table.
ROWS = [
    (m, chw, t)
    for m, inputs in (
        ("cifar-resnet20", ("3x32x32", "1x28x28")),
        ("cifar-resnet56", ("3x32x32", "1x28x28")),
        ("resnet18", ("3x64x64",)),
    )
    for chw in inputs
    for t in (1, 2)
]
CLASSES = 10
LR, MOMENTUM, WEIGHT_DECAY = 0.1, 0.9, 1e-4


def bench(model, chw, threads, batch, warmup, steps, rounds):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    c, h, w = parse_chw(chw)
    m = build(model, CLASSES, c)
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    x = torch.randn(batch, c, h, w)
    y = torch.randint(0, CLASSES, (batch,))

    def step():
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    per_image = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step()
        float(loss)  # the last step is done
        per_image.append((time.perf_counter() - t0) * 1e3 / (steps * batch))
    return {
        "impl": "pytorch",
        "model": model,
        "input": chw,
        "threads": threads,
        "batch": batch,
        "ms_per_image": statistics.median(per_image),
        "rounds": per_image,
        "steps": steps,
        "torch": torch.__version__,
    }


def main(argv):
    p = argparse.ArgumentParser(prog="torch_bench.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # Single-dash flags, as the Go side (resgentrain) spells them.
    p.add_argument("-model", help="one row's model (default: every row)")
    p.add_argument("-input", help="one row's input CxHxW")
    p.add_argument("-threads", type=int, help="one row's thread count")
    p.add_argument("-batch", type=int, default=128)
    p.add_argument("-warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("-steps", type=int, default=4, help="timed steps per round")
    p.add_argument("-rounds", type=int, default=5)
    p.add_argument("-list", action="store_true", help="print the rows and exit")
    args = p.parse_args(argv)
    if args.list:
        for r in ROWS:
            print("%s %s %d" % r)
        return 0
    rows = [r for r in ROWS
            if (args.model is None or r[0] == args.model)
            and (args.input is None or r[1] == args.input)
            and (args.threads is None or r[2] == args.threads)]
    if not rows:
        # Not a listed row: run it anyway when fully specified.
        if args.model and args.input and args.threads:
            rows = [(args.model, args.input, args.threads)]
        else:
            print("torch_bench.py: no row matches; -list shows them", file=sys.stderr)
            return 2
    if min(args.batch, args.steps, args.rounds) < 1 or args.warmup < 0:
        print("torch_bench.py: -batch, -steps and -rounds must be at least 1, -warmup at least 0", file=sys.stderr)
        return 2
    for model, chw, threads in rows:
        r = bench(model, chw, threads, args.batch, args.warmup, args.steps, args.rounds)
        print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
