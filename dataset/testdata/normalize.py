#!/usr/bin/python3
"""Writes the fixture dataset's Batch is checked against: three 28×28 images
whose pixels cover every byte value, as an IDX file, and what
reference/fashion.py's normalize makes of them in the order [2, 0, 1].

    /usr/bin/python3 dataset/testdata/normalize.py
"""

import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "reference"))
import fashion  # noqa: E402
import seeded  # noqa: E402

n, h, w = 3, 28, 28
i, y, x = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), indexing="ij")
u8 = ((i * 97 + y * 28 + x * 13) % 256).astype(np.uint8)
assert len(np.unique(u8)) == 256

# Plain (not gzip) so the fixture also covers the uncompressed path.
with open(os.path.join(HERE, "normalize-idx3-ubyte"), "wb") as f:
    f.write(struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">III", n, h, w) + u8.tobytes())
order = [2, 0, 1]
seeded.save(os.path.join(HERE, "normalize.safetensors"), {
    "order": np.array(order, dtype=np.int64),
    "x": fashion.normalize(u8[order]).numpy(),
}, {"mean": str(fashion.MEAN), "std": str(fashion.STD)})
