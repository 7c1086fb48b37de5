#!/usr/bin/python3
"""Reads the JSON lines bench/train/run.sh collected (one per side per round)
and writes the training table into BENCHMARKS.md between the markers
<!-- train:begin --> and <!-- train:end --> (appended when they are missing),
or prints it with -no-write.

    report.py RESULTS.jsonl [-out BENCHMARKS.md] [-no-write] [-note TEXT]
"""

import argparse
import collections
import json
import os
import statistics
import sys

BEGIN, END = "<!-- train:begin -->", "<!-- train:end -->"
FIELDS = ("impl", "model", "input", "threads", "batch", "ms_per_image")


def read(path):
    """Rows keyed by (model, input, threads, batch): {impl: [ms per image per
    round, in run order]}. Lines that are not results (logs) are skipped;
    a result line without a required field is an error naming the line."""
    rows = collections.OrderedDict()
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            missing = [k for k in FIELDS if k not in r]
            if missing:
                raise SystemExit("%s:%d: result line lacks %s" % (path, n, ", ".join(missing)))
            key = (r["model"], r["input"], int(r["threads"]), int(r["batch"]))
            rows.setdefault(key, collections.OrderedDict()).setdefault(r["impl"], []).append(float(r["ms_per_image"]))
    return rows


def fmt(x):
    return "%.3f" % x if x is not None else "–"


def table(rows, note):
    out = [
        BEGIN,
        "## Training, batch 128",
        "",
        "Written by `bench/train/run.sh` (bench/train/README.md); do not edit by hand.",
        "",
    ]
    out += ["- " + n for n in note]
    out += [
        "- Per step: forward in training mode, cross-entropy, backward, SGD (lr 0.1, momentum 0.9, weight decay 1e-4), random input.",
        "- ms/image = one round's time / (steps × batch); the columns are medians over rounds.",
        "  Rounds alternate between the sides, so ratio = median over rounds of resgen/PyTorch",
        "  for rounds run back to back (below 1: resgen is faster).",
        "",
        "| model | input | threads | resgen ms/image | PyTorch ms/image | ratio | rounds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (model, chw, threads, batch), by in rows.items():
        rg, pt = by.get("resgen", []), by.get("pytorch", [])
        ratios = [a / b for a, b in zip(rg, pt) if b > 0]
        out.append("| %s | %s | %d | %s | %s | %s | %d |" % (
            model, chw.replace("x", "×"), threads,
            fmt(statistics.median(rg) if rg else None),
            fmt(statistics.median(pt) if pt else None),
            "%.2f" % statistics.median(ratios) if ratios else "–",
            max(len(rg), len(pt))))
    out.append(END)
    return "\n".join(out) + "\n"


def splice(doc, section):
    """doc with the marked section replaced by section, or section appended."""
    i, j = doc.find(BEGIN), doc.find(END)
    if i >= 0 and j > i:
        return doc[:i] + section + doc[j + len(END):].lstrip("\n")
    if doc and not doc.endswith("\n"):
        doc += "\n"
    return doc + ("\n" if doc else "") + section


def main(argv):
    p = argparse.ArgumentParser(prog="report.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results")
    p.add_argument("-out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "BENCHMARKS.md"))
    p.add_argument("-no-write", dest="write", action="store_false")
    p.add_argument("-note", action="append", default=[], help="a line for the section's header list (repeatable)")
    args = p.parse_args(argv)
    section = table(read(args.results), args.note)
    if args.write:
        doc = open(args.out).read() if os.path.exists(args.out) else ""
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(splice(doc, section))
        os.replace(tmp, args.out)
    sys.stdout.write(section)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
