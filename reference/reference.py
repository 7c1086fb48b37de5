#!/usr/bin/python3
"""PyTorch reference for resgen's presets: parity fixtures, real state_dicts,
ONNX export and a check of the seeded-weight generator against Go.

Run with /usr/bin/python3 (Debian's python3-torch 1.13, python3-torchvision).

    python3 reference/reference.py params
    python3 reference/reference.py state-dicts [OUTDIR]
    python3 reference/reference.py fixtures [--check] [--only CASE ...]
    python3 reference/reference.py real-resnet18 OUTDIR [--input CxHxW]
    python3 reference/reference.py onnx PRESET OUT.onnx [--input CxHxW] [--classes N] [--width N] [--seed N] [--batch N]
    python3 reference/reference.py selfcheck [--tool "CMD ARGS"]

See reference/README.md.
"""

import argparse
import collections
import json
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import ResNet, BasicBlock, Bottleneck

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seeded  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARITY = os.path.join(ROOT, "testdata", "parity")
BATCH = 2


def setup_torch():
    # Single-threaded, deterministic kernels: the fixture bytes must not
    # depend on the thread count or on algorithm selection.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.backends.mkldnn.enabled = False


# ---------------------------------------------------------------- models --


class PlainBlock(nn.Module):
    """torchvision's BasicBlock without the shortcut: same keys minus
    downsample. It accepts (and drops) the downsample torchvision's
    ResNet._make_layer passes, so ResNet(PlainBlock, ...) builds a plain net."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1, norm_layer=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)))


class CifarBlock(nn.Module):
    """He et al. 2015 §4.2 BasicBlock with the option A shortcut (strided
    subsampling, zero-padded channels); shortcut=False gives the plain block."""

    def __init__(self, inplanes, planes, stride, shortcut):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = shortcut
        self.option_a = stride != 1 or inplanes != planes
        self.pad = (planes - inplanes) // 2
        self.stride = stride

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut:
            if self.option_a:
                s = self.stride
                sc = F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, self.pad, self.pad))
            else:
                sc = x
            out = out + sc
        return F.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, depth, num_classes=10, in_channels=3, shortcut=True):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError("CIFAR ResNet depth must be 6n+2, have %d" % depth)
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        inplanes = 16
        for stage, planes in enumerate((16, 32, 64)):
            blocks = []
            for b in range(n):
                stride = 2 if stage > 0 and b == 0 else 1
                blocks.append(CifarBlock(inplanes, planes, stride, shortcut))
                inplanes = planes
            setattr(self, "layer%d" % (stage + 1), nn.Sequential(*blocks))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class PreActBlock(nn.Module):
    """He et al. 2016 pre-activation block; no ReLU after the add."""

    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False))
        else:
            self.downsample = None

    def forward(self, x):
        out = F.relu(self.bn1(x))
        sc = self.downsample(out) if self.downsample is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + sc


class PreActResNet(nn.Module):
    """Pre-activation ResNet on the torchvision ImageNet skeleton (imagenet=True:
    7×7/2 stem conv, bn1, relu, maxpool; four stages 64..512) or on the CIFAR
    skeleton (3×3 stem conv only; three stages 16/32/64). Both end with
    bn_final, relu, global pool, fc."""

    def __init__(self, blocks, num_classes, in_channels=3, imagenet=True):
        super().__init__()
        self.imagenet = imagenet
        if imagenet:
            self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            widths = (64, 128, 256, 512)
        else:
            self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
            widths = (16, 32, 64)
        inplanes = widths[0]
        self.stages = []
        for stage, (planes, n) in enumerate(zip(widths, blocks)):
            layer = []
            for b in range(n):
                stride = 2 if stage > 0 and b == 0 else 1
                layer.append(PreActBlock(inplanes, planes, stride))
                inplanes = planes
            name = "layer%d" % (stage + 1)
            setattr(self, name, nn.Sequential(*layer))
            self.stages.append(name)
        self.bn_final = nn.BatchNorm2d(inplanes)
        self.fc = nn.Linear(inplanes, num_classes)

    def forward(self, x):
        x = self.conv1(x)
        if self.imagenet:
            x = F.max_pool2d(F.relu(self.bn1(x)), 3, 2, 1)
        for name in self.stages:
            x = getattr(self, name)(x)
        x = F.relu(self.bn_final(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(cin, cout))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x, skip):
        x = self.up(x)
        # milesial pads x to skip's size here; inputs divisible by 16 (checked
        # in UNet.forward) never need it.
        return self.conv(torch.cat([skip, x], dim=1))


class OutConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.conv(x)


class UNet(nn.Module):
    """milesial/Pytorch-UNet with bilinear=False; channels scaled by width/64."""

    def __init__(self, in_channels=3, num_classes=2, width=64):
        super().__init__()
        c = [width * m for m in (1, 2, 4, 8, 16)]
        self.inc = DoubleConv(in_channels, c[0])
        self.down1 = Down(c[0], c[1])
        self.down2 = Down(c[1], c[2])
        self.down3 = Down(c[2], c[3])
        self.down4 = Down(c[3], c[4])
        self.up1 = Up(c[4], c[3])
        self.up2 = Up(c[3], c[2])
        self.up3 = Up(c[2], c[1])
        self.up4 = Up(c[1], c[0])
        self.outc = OutConv(c[0], num_classes)

    def forward(self, x):
        if x.shape[2] % 16 or x.shape[3] % 16:
            raise ValueError("unet input H, W must be multiples of 16, have %s" % (tuple(x.shape[2:]),))
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


TORCHVISION = {
    "resnet18": torchvision.models.resnet18,
    "resnet34": torchvision.models.resnet34,
    "resnet50": torchvision.models.resnet50,
    "resnet101": torchvision.models.resnet101,
    "resnet152": torchvision.models.resnet152,
    "resnext50_32x4d": torchvision.models.resnext50_32x4d,
    "resnext101_32x8d": torchvision.models.resnext101_32x8d,
    "resnext101_64x4d": torchvision.models.resnext101_64x4d,
    "wide_resnet50_2": torchvision.models.wide_resnet50_2,
    "wide_resnet101_2": torchvision.models.wide_resnet101_2,
}
# The presets whose state_dict keys and shapes `state-dicts` writes for the
# Go test of the presets (spec/testdata/torchvision/).
STATE_DICTS = ["resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"]
PLAIN = {"plain18": [2, 2, 2, 2], "plain34": [3, 4, 6, 3]}
CIFAR_DEPTHS = (20, 32, 44, 56, 110, 1202)



class AllOps(nn.Module):
    """PyTorch twin of testdata/golden/allops/spec.yaml: every op of the
    spec language once (grouped, dilated and depthwise convs, standalone
    BatchNorm, 3-way add, sigmoid, ceil-mode pools, concat, nearest and both
    bilinear upsamplings, a general transposed conv, option-A shortcut,
    flatten of a map, linear, softmax)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=True)
        self.stem_bn = nn.BatchNorm2d(8, eps=1e-3)
        self.grouped = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4, bias=False)
        self.grouped_bn = nn.BatchNorm2d(8)
        self.post_bn = nn.BatchNorm2d(8)
        self.depthwise = nn.Conv2d(8, 8, (3, 1), padding=(1, 0), groups=8)
        self.tconv = nn.ConvTranspose2d(16, 6, 3, stride=2, padding=1, output_padding=1)
        self.fc1 = nn.Linear(270, 16)
        self.fc2 = nn.Linear(16, 5, bias=False)

    def forward(self, x):
        stem = self.stem(x)
        a = F.relu(self.stem_bn(stem))
        s = self.grouped_bn(self.grouped(a)) + a + stem
        p = F.relu(self.post_bn(s))
        sg = torch.sigmoid(self.depthwise(p))
        mp = F.max_pool2d(sg, 3, 2, 1, ceil_mode=True)
        ap = F.avg_pool2d(p, 3, 2, 1, ceil_mode=True, count_include_pad=False)
        cat = torch.cat([mp, ap], 1)
        ups = (F.interpolate(cat, scale_factor=2, mode="nearest")
               + F.interpolate(cat, scale_factor=2, mode="bilinear", align_corners=False)
               + F.interpolate(cat, scale_factor=2, mode="bilinear", align_corners=True))
        t = F.relu(self.tconv(cat))
        j = torch.cat([ups, t], 1)
        short = F.pad(j[:, :, ::2, ::2], (0, 0, 0, 0, 4, 4))
        pooled = F.avg_pool2d(short, 2, 2)
        f1 = F.relu(self.fc1(torch.flatten(pooled, 1)))
        return torch.softmax(self.fc2(f1), dim=1)


ALLOPS_SPEC = "testdata/golden/allops/spec.yaml"

def family(preset):
    if preset in TORCHVISION or preset in PLAIN or preset == "preact-resnet18":
        return "imagenet"
    if preset.startswith("cifar-"):
        return "cifar"
    if preset == "unet":
        return "unet"
    if preset == "allops":
        return "allops"
    raise ValueError("unknown preset %r" % preset)


DEFAULTS = {  # classes, input C×H×W
    "imagenet": (1000, (3, 224, 224)),
    "cifar": (10, (3, 32, 32)),
    "unet": (2, (3, 256, 256)),
    "allops": (5, (3, 12, 10)),
}


def presets():
    out = list(TORCHVISION) + list(PLAIN) + ["preact-resnet18"]
    out += ["cifar-resnet%d" % d for d in CIFAR_DEPTHS]
    out += ["cifar-plain%d" % d for d in CIFAR_DEPTHS]
    out += ["cifar-preact-resnet110", "unet"]
    return out


def build(preset, classes, in_channels=3, width=None):
    """Returns the PyTorch module for a preset (default init)."""
    if width is not None and preset != "unet":
        raise ValueError("%s: only unet takes a width" % preset)
    if preset in TORCHVISION:
        m = TORCHVISION[preset](num_classes=classes)
    elif preset in PLAIN:
        m = ResNet(PlainBlock, PLAIN[preset], num_classes=classes)
    elif preset == "preact-resnet18":
        return PreActResNet([2, 2, 2, 2], classes, in_channels, imagenet=True)
    elif preset.startswith("cifar-preact-resnet"):
        depth = int(preset[len("cifar-preact-resnet"):])
        if (depth - 2) % 6:
            raise ValueError("CIFAR ResNet depth must be 6n+2, have %d" % depth)
        n = (depth - 2) // 6
        return PreActResNet([n, n, n], classes, in_channels, imagenet=False)
    elif preset.startswith("cifar-resnet"):
        return CifarResNet(int(preset[len("cifar-resnet"):]), classes, in_channels, shortcut=True)
    elif preset.startswith("cifar-plain"):
        return CifarResNet(int(preset[len("cifar-plain"):]), classes, in_channels, shortcut=False)
    elif preset == "unet":
        return UNet(in_channels, classes, 64 if width is None else width)
    elif preset == "allops":
        return AllOps()
    else:
        raise ValueError("unknown preset %r" % preset)
    if in_channels != 3:
        m.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
    return m


def param_count(m):
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def load_seeded(m, seed):
    """Loads seeded weights with strict=True: the generated names must be
    exactly the module's state_dict keys."""
    shapes = collections.OrderedDict((k, tuple(v.shape)) for k, v in m.state_dict().items())
    sd = seeded.state_dict(seed, shapes)
    m.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
    return m


def seeded_input(seed, batch, chw):
    return torch.from_numpy(seeded.tensor(seed, "input", (batch,) + tuple(chw), "input"))


def parse_chw(s):
    parts = [int(p) for p in s.lower().split("x")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("want CxHxW, have %r" % s)
    return tuple(parts)


# ---------------------------------------------------------------- params --

EXPECTED_PARAMS = [  # (preset, classes, in_channels, width, expected)
    ("resnet18", 1000, 3, None, 11689512),
    ("resnet34", 1000, 3, None, 21797672),
    ("resnet50", 1000, 3, None, 25557032),
    ("resnet101", 1000, 3, None, 44549160),
    ("resnet152", 1000, 3, None, 60192808),
    ("resnext50_32x4d", 1000, 3, None, 25028904),
    ("resnext101_32x8d", 1000, 3, None, 88791336),
    ("resnext101_64x4d", 1000, 3, None, 83455272),
    ("wide_resnet50_2", 1000, 3, None, 68883240),
    ("wide_resnet101_2", 1000, 3, None, 126886696),
    ("cifar-resnet20", 10, 3, None, 269722),
    ("unet", 2, 3, 64, 31037698),
]
INFO_PARAMS = [
    ("plain18", 1000, 3, None),
    ("plain34", 1000, 3, None),
    ("preact-resnet18", 1000, 3, None),
    ("cifar-resnet32", 10, 3, None),
    ("cifar-resnet44", 10, 3, None),
    ("cifar-resnet56", 10, 3, None),
    ("cifar-resnet110", 10, 3, None),
    ("cifar-resnet1202", 10, 3, None),
    ("cifar-plain20", 10, 3, None),
    ("cifar-preact-resnet110", 10, 3, None),
    ("unet", 2, 3, 8),
]


def cmd_params(args):
    bad = 0
    print("%-24s %8s %6s %12s %12s  %s" % ("preset", "classes", "width", "params", "expected", ""))
    for preset, classes, cin, width, want in EXPECTED_PARAMS:
        got = param_count(build(preset, classes, cin, width))
        ok = got == want
        bad += not ok
        print("%-24s %8d %6s %12s %12s  %s" % (preset, classes, width or "-", "{:,}".format(got), "{:,}".format(want), "ok" if ok else "MISMATCH"))
    for preset, classes, cin, width in INFO_PARAMS:
        got = param_count(build(preset, classes, cin, width))
        print("%-24s %8d %6s %12s %12s" % (preset, classes, width or "-", "{:,}".format(got), ""))
    return 1 if bad else 0


def cmd_state_dicts(args):
    """Writes torchvision's parameter count and state_dict keys and shapes
    of each STATE_DICTS preset, which spec's tests compare with the preset."""
    os.makedirs(args.outdir, exist_ok=True)
    for preset in STATE_DICTS:
        m = TORCHVISION[preset]()
        lines = [
            "# %s: torchvision %s (torch %s), %s()" % (preset, torchvision.__version__, torch.__version__, TORCHVISION[preset].__name__),
            "# params = sum(p.numel() for p in model.parameters()); then state_dict() keys and shapes, in order",
            "params %d" % param_count(m),
        ]
        for k, v in m.state_dict().items():
            lines.append("%s %s" % (k, "x".join(str(d) for d in v.shape) or "scalar"))
        path = os.path.join(args.outdir, preset + ".txt")
        write_files(args.outdir, {preset + ".txt": ("\n".join(lines) + "\n").encode()})
        print("%s: %d keys, %s params" % (os.path.relpath(path, ROOT), len(lines) - 3, "{:,}".format(param_count(m))))
    return 0


# -------------------------------------------------------------- fixtures --

Case = collections.namedtuple("Case", "name preset classes input width seed")


def C(name, preset=None, classes=None, input=None, width=None, seed=1):
    preset = preset or name
    dc, di = DEFAULTS[family(preset)]
    return Case(name, preset, classes or dc, tuple(input or di), width, seed)


CASES = (
    [C("cifar-resnet%d" % d) for d in (20, 32, 44, 56, 110)]
    + [
        C("cifar-resnet20-c100-1x28x28", "cifar-resnet20", 100, (1, 28, 28), seed=2),
        C("cifar-plain20"),
        C("cifar-plain20-c100-3x36x36", "cifar-plain20", 100, (3, 36, 36), seed=2),
        C("cifar-preact-resnet110"),
        C("cifar-preact-resnet110-c100-1x24x24", "cifar-preact-resnet110", 100, (1, 24, 24), seed=2),
        C("resnet18", input=(3, 64, 64)),
        C("resnet18-c10-3x48x40", "resnet18", 10, (3, 48, 40), seed=2),
        C("resnet34", input=(3, 64, 64)),
        C("resnet50", input=(3, 64, 64)),
        C("resnet50-c7-3x64x96", "resnet50", 7, (3, 64, 96), seed=2),
        C("resnet101", input=(3, 64, 64)),
        C("resnet152", input=(3, 64, 64)),
        C("plain18", input=(3, 64, 64)),
        C("plain18-c10-1x32x48", "plain18", 10, (1, 32, 48), seed=2),
        C("plain34", input=(3, 64, 64)),
        C("preact-resnet18", input=(3, 64, 64)),
        C("preact-resnet18-c5-3x40x40", "preact-resnet18", 5, (3, 40, 40), seed=2),
        C("unet-w8", "unet", 2, (3, 64, 64), width=8),
        C("unet-w8-c3-1x48x32", "unet", 3, (1, 48, 32), width=8, seed=2),
        C("allops", seed=3),
        # Every other listed preset once with classes and input changed too.
        C("cifar-resnet32-c100-3x40x40", "cifar-resnet32", 100, (3, 40, 40), seed=2),
        C("cifar-resnet44-c20-1x32x32", "cifar-resnet44", 20, (1, 32, 32), seed=2),
        C("cifar-resnet56-c100-3x24x24", "cifar-resnet56", 100, (3, 24, 24), seed=2),
        C("cifar-resnet110-c100-3x16x16", "cifar-resnet110", 100, (3, 16, 16), seed=2),
        C("resnet34-c10-3x48x48", "resnet34", 10, (3, 48, 48), seed=2),
        C("resnet101-c10-3x32x32", "resnet101", 10, (3, 32, 32), seed=2),
        C("plain34-c10-3x40x56", "plain34", 10, (3, 40, 56), seed=2),
        # torchvision's grouped and wide bottleneck nets; resnext50_32x4d once
        # at its full 224×224 input (the Go test skips it with -short).
        C("resnext50_32x4d"),
        C("resnext50_32x4d-c10-1x64x96", "resnext50_32x4d", 10, (1, 64, 96), seed=2),
        C("resnext101_32x8d", input=(3, 64, 64)),
        C("resnext101_64x4d", input=(3, 64, 64)),
        C("resnext101_64x4d-c5-3x32x48", "resnext101_64x4d", 5, (3, 32, 48), seed=2),
        C("wide_resnet50_2", input=(3, 64, 64)),
        C("wide_resnet50_2-c7-3x48x40", "wide_resnet50_2", 7, (3, 48, 40), seed=2),
        C("wide_resnet101_2", input=(3, 64, 64)),
    ]
)
REAL_CASE = "cifar-resnet20-real"


def run(m, x):
    m.eval()
    with torch.no_grad():
        return m(x).contiguous()


def case_json(case, out, weights=None):
    d = collections.OrderedDict()
    d["preset"] = case.preset
    d["classes"] = case.classes
    d["input"] = list(case.input)
    d["width"] = case.width
    d["batch"] = BATCH
    d["seed"] = case.seed
    if case.preset == "allops":
        d["spec"] = ALLOPS_SPEC
    if weights:
        d["weights"] = weights
    d["output_shape"] = list(out.shape)
    d["max_abs_output"] = float(out.abs().max())
    d["torch"] = torch.__version__
    d["torchvision"] = torchvision.__version__
    return (json.dumps(d, indent=2) + "\n").encode()


def seeded_case_files(case):
    m = load_seeded(build(case.preset, case.classes, case.input[0], case.width), case.seed)
    x = seeded_input(case.seed, BATCH, case.input)
    out = run(m, x)
    if not torch.isfinite(out).all():
        raise RuntimeError("%s: output is not finite" % case.name)
    io = seeded.dumps(collections.OrderedDict([("input", x.numpy()), ("output", out.numpy())]))
    return {"io.safetensors": io, "case.json": case_json(case, out)}, out


def randomize_bn(m, gen):
    """Random BN affine parameters, statistics and num_batches_tracked, so a
    loader that drops or mixes them up gives a wrong answer."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                c = mod.num_features
                mod.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                mod.bias.copy_(torch.randn(c, generator=gen) * 0.1)
                mod.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                mod.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                mod.num_batches_tracked.fill_(int(torch.randint(1, 100000, (1,), generator=gen)))


def real_files(preset, classes, chw, torch_seed, name):
    torch.manual_seed(torch_seed)
    m = build(preset, classes, chw[0])
    randomize_bn(m, torch.Generator().manual_seed(torch_seed + 1))
    sd = collections.OrderedDict((k, v.detach().contiguous().numpy()) for k, v in m.state_dict().items())
    x = seeded_input(torch_seed, BATCH, chw)
    out = run(m, x)
    case = Case(name, preset, classes, tuple(chw), None, None)
    d = json.loads(case_json(case, out, weights="weights.safetensors"))
    d["torch_manual_seed"] = torch_seed
    d["input_seed"] = torch_seed
    d["params"] = param_count(m)
    return {
        "weights.safetensors": seeded.dumps(sd),
        "io.safetensors": seeded.dumps(collections.OrderedDict([("input", x.numpy()), ("output", out.numpy())])),
        "case.json": (json.dumps(d, indent=2) + "\n").encode(),
    }, out


def write_files(dirpath, files):
    os.makedirs(dirpath, exist_ok=True)
    for fn, b in files.items():
        tmp = os.path.join(dirpath, "." + fn + ".tmp")
        with open(tmp, "wb") as f:
            f.write(b)
        os.replace(tmp, os.path.join(dirpath, fn))


def cmd_fixtures(args):
    setup_torch()
    todo = [c for c in CASES if not args.only or c.name in args.only]
    stale = 0
    jobs = [(c.name, lambda c=c: seeded_case_files(c)) for c in todo]
    if not args.only or REAL_CASE in args.only:
        jobs.append((REAL_CASE, lambda: real_files("cifar-resnet20", 10, (3, 32, 32), 20, REAL_CASE)))
    for name, job in jobs:
        files, out = job()
        d = os.path.join(PARITY, name)
        size = sum(len(b) for b in files.values())
        if args.check:
            for fn, b in files.items():
                p = os.path.join(d, fn)
                have = open(p, "rb").read() if os.path.exists(p) else None
                if have != b:
                    stale += 1
                    print("STALE %s" % os.path.relpath(p, ROOT))
        else:
            write_files(d, files)
        print("%-40s %8d bytes  out %-12s max|out| %.6g" % (name, size, list(out.shape), float(out.abs().max())), flush=True)
    if args.check and stale:
        print("%d fixture files differ; regenerate with: make fixtures" % stale)
        return 1
    return 0


def cmd_real_resnet18(args):
    setup_torch()
    files, out = real_files("resnet18", 1000, args.input, 18, "real-resnet18")
    write_files(args.outdir, files)
    for fn, b in files.items():
        print("%s %d bytes" % (os.path.join(args.outdir, fn), len(b)))
    return 0


# ------------------------------------------------------------------ onnx --


def cmd_onnx(args):
    setup_torch()
    fam = family(args.preset)
    classes = args.classes or DEFAULTS[fam][0]
    chw = args.input or DEFAULTS[fam][1]
    m = load_seeded(build(args.preset, classes, chw[0], args.width), args.seed).eval()
    x = seeded_input(args.seed, args.batch, chw)
    torch.onnx.export(
        m, x, args.out,
        input_names=["input"], output_names=["output"],
        opset_version=args.opset, do_constant_folding=True,
    )
    if args.save_io:
        out = run(m, x)
        seeded.save(args.save_io, collections.OrderedDict([("input", x.numpy()), ("output", out.numpy())]))
    print("%s: %s classes=%d input=%s batch=%d seed=%d opset=%d" % (args.out, args.preset, classes, "x".join(map(str, chw)), args.batch, args.seed, args.opset))
    return 0


# ------------------------------------------------------------- selfcheck --

SELFCHECK = [  # (preset, classes, in_channels, width, seed, init)
    ("cifar-resnet20", 10, 3, None, 1, "seeded"),
    ("cifar-preact-resnet110", 100, 1, None, 0xFFFFFFFFFFFFFFFF, "seeded"),
    ("preact-resnet18", 5, 3, None, 0x8000000000000000, "seeded"),
    ("unet", 3, 1, 8, 12345, "seeded"),
    ("resnet50", 7, 3, None, 2, "seeded"),
    # init pytorch: the training parity fixtures' presets (unet has biases)
    ("cifar-resnet20", 10, 1, None, 6, "pytorch"),
    ("cifar-plain20", 10, 1, None, 5, "pytorch"),
    ("cifar-preact-resnet110", 10, 1, None, 0xFFFFFFFFFFFFFFFF, "pytorch"),
    ("resnet18", 10, 3, None, 1, "pytorch"),
    ("unet", 2, 1, 8, 2, "pytorch"),
]


def cmd_selfcheck(args):
    """Compares the Python writer's bytes with the Go side's (seededgen, or
    any command speaking its stdin-JSON/stdout-safetensors protocol)."""
    tool = shlex.split(args.tool) if args.tool else ["go", "run", "./internal/seeded/seededgen"]
    if not args.tool:
        # Build once rather than go-run per request.
        exe = os.path.join(tempfile.mkdtemp(prefix="seededgen"), "seededgen")
        subprocess.run(["go", "build", "-o", exe, "./internal/seeded/seededgen"], cwd=ROOT, check=True)
        tool = [exe]
    bad = 0
    for preset, classes, cin, width, seed, init in SELFCHECK:
        shapes = collections.OrderedDict((k, tuple(v.shape)) for k, v in build(preset, classes, cin, width).state_dict().items())
        shapes["input"] = (BATCH, cin, 16, 16)
        want = seeded.dumps(seeded.state_dict(seed, shapes, init))
        req = json.dumps({"seed": seed, "init": init, "entries": seeded.entries_for(shapes)}).encode()
        got = subprocess.run(tool, input=req, stdout=subprocess.PIPE, cwd=ROOT, check=True).stdout
        ok = got == want
        bad += not ok
        print("%-24s seed %-20d init %-8s %10d bytes  %s" % (preset, seed, init, len(want), "identical" if ok else "DIFFERENT (go %d bytes)" % len(got)))
    return 1 if bad else 0


def main(argv):
    p = argparse.ArgumentParser(prog="reference.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("params", help="print parameter counts and check the known ones")
    sd = sub.add_parser("state-dicts", help="write torchvision's keys, shapes and params of the grouped/wide presets")
    sd.add_argument("outdir", nargs="?", default=os.path.join(ROOT, "spec", "testdata", "torchvision"))
    f = sub.add_parser("fixtures", help="write testdata/parity/<case>/")
    f.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    f.add_argument("--only", nargs="+", metavar="CASE")
    r = sub.add_parser("real-resnet18", help="torchvision resnet18() state_dict + io (not committed)")
    r.add_argument("outdir")
    r.add_argument("--input", type=parse_chw, default=(3, 224, 224))
    o = sub.add_parser("onnx", help="export a seeded-weight preset to ONNX (a fixed batch, 1 by default)")
    o.add_argument("preset", choices=presets())
    o.add_argument("out")
    o.add_argument("--input", type=parse_chw)
    o.add_argument("--classes", type=int)
    o.add_argument("--width", type=int)
    o.add_argument("--seed", type=int, default=1)
    o.add_argument("--opset", type=int, default=13)
    o.add_argument("--batch", type=int, default=1, help="items of the exported input (its fixed first dimension) and of the saved input/output")
    o.add_argument("--save-io", metavar="FILE", help="also write input/output safetensors (--batch items)")
    s = sub.add_parser("selfcheck", help="check the generator's bytes against Go")
    s.add_argument("--tool", help='command reading a seededgen JSON request on stdin (default: go run ./internal/seeded/seededgen)')
    args = p.parse_args(argv)
    return {
        "params": cmd_params,
        "state-dicts": cmd_state_dicts,
        "fixtures": cmd_fixtures,
        "real-resnet18": cmd_real_resnet18,
        "onnx": cmd_onnx,
        "selfcheck": cmd_selfcheck,
    }[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
