#!/usr/bin/python3
"""PyTorch ground truth for examples/classify: a picture, torchvision's
transform from the example's spec, CIFAR ResNet-20 with the real fixture
weights, and the class probabilities.

    /usr/bin/python3 reference/classify_example.py

writes examples/classify/testdata/{picture.png,want.json}. The example's
test runs the generated Classify on the same PNG and compares.
"""

import json
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402
import seeded  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "examples", "classify", "testdata")
WEIGHTS = os.path.join(ROOT, "testdata", "parity", "cifar-resnet20-real", "weights.safetensors")

# As in examples/classify/cifar/spec.yaml's preprocess: and labels:.
MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2470, 0.2435, 0.2616]
LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def picture():
    """A 64x48 RGB picture: smooth gradients plus noise, so resampling
    has something to get wrong."""
    rng = np.random.default_rng(8)
    y, x = np.mgrid[0:48, 0:64].astype(np.float64)
    r = 255 * x / 63
    g = 255 * y / 47
    b = 128 + 100 * np.sin(x / 5) * np.cos(y / 7)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 20, (48, 64, 3))
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def main():
    reference.setup_torch()
    os.makedirs(OUT, exist_ok=True)
    png = os.path.join(OUT, "picture.png")
    picture().save(png)

    m = reference.build("cifar-resnet20", 10)
    tensors, _ = seeded.load(WEIGHTS)
    sd = {k: torch.from_numpy(v) for k, v in tensors.items()}
    m.load_state_dict(sd, strict=True)
    m.eval()

    t = transforms.Compose([
        transforms.Resize(32),  # bilinear, antialiased on PIL images
        transforms.CenterCrop(32),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])
    x = t(Image.open(png).convert("RGB")).unsqueeze(0)
    with torch.no_grad():
        logits = m(x)[0].double()
    probs = torch.softmax(logits, 0)
    want = {
        "picture": "picture.png",
        "transform": "Resize(32), CenterCrop(32), ToTensor(), Normalize(MEAN, STD)",
        "labels": LABELS,
        "logits": [float(v) for v in logits],
        "probs": [float(v) for v in probs],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
    with open(os.path.join(OUT, "want.json"), "w") as f:
        json.dump(want, f, indent=2)
        f.write("\n")
    order = sorted(range(10), key=lambda i: (-want["probs"][i], i))
    print(" ".join("%s=%.4f" % (LABELS[i], want["probs"][i]) for i in order[:3]))


if __name__ == "__main__":
    main()
