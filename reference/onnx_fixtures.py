#!/usr/bin/python3
"""ONNX import fixtures: small networks exported by torch.onnx.export, with an
input batch and PyTorch's output for it, under testdata/onnx/<case>/:

    model.onnx        what torch.onnx.export wrote
    io.safetensors    input (batch 2, NCHW) and PyTorch's output
    case.json         how the case was made (opset, constant folding, batch axis)

The Go side (internal/onnxparity) imports model.onnx with `resgen import`,
builds the spec and checks the output against PyTorch's. Run with PyTorch
1.13 (CPU): /usr/bin/python3 reference/onnx_fixtures.py [CASE...]; the hostile
models of the error corpus: /usr/bin/python3 reference/onnx_fixtures.py errors
"""

import collections
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402  (the PyTorch twins of the presets)
import seeded  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "onnx")
BATCH = 2


class BasicBlock(nn.Module):
    """torchvision's BasicBlock (same module names, so the same state_dict keys)."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.downsample is None else self.downsample(x)
        return self.relu(out + sc)


class ResNet18(nn.Module):
    """torchvision's ResNet-18 topology and module names at a reduced width
    (torchvision 0.14 cannot narrow BasicBlock). head replaces fc; view=True
    flattens with x.view(x.size(0), -1), which exports the Shape/Gather/
    Unsqueeze/Concat subgraph instead of Flatten."""

    def __init__(self, width=4, num_classes=10, head=None, view=False):
        super().__init__()
        w = [width * m for m in (1, 2, 4, 8)]
        self.conv1 = nn.Conv2d(3, w[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = w[0]
        for i, planes in enumerate(w):
            stride = 1 if i == 0 else 2
            setattr(self, "layer%d" % (i + 1), nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes)))
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = head if head is not None else nn.Linear(w[3], num_classes)
        self.view = view

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        x = x.view(x.size(0), -1) if self.view else torch.flatten(x, 1)
        return self.fc(x)


def custom_head_resnet18():
    head = nn.Sequential(nn.Linear(32, 24), nn.ReLU(), nn.Dropout(0.2), nn.Linear(24, 6), nn.Softmax(dim=1))
    return ResNet18(width=4, head=head, view=True)


# name: (build, input CxHxW, opset, constant folding, dynamic batch axis)
CASES = collections.OrderedDict([
    ("cifar-resnet20", (lambda: reference.CifarResNet(20), (3, 16, 16), 11, True, True)),
    ("resnet18-opset11", (lambda: ResNet18(), (3, 32, 32), 11, True, False)),
    ("resnet18-opset11-nofold", (lambda: ResNet18(), (3, 32, 32), 11, False, True)),
    ("resnet18-opset17", (lambda: ResNet18(), (3, 32, 32), 17, True, True)),
    ("resnet18-opset17-nofold", (lambda: ResNet18(), (3, 32, 32), 17, False, False)),
    ("resnet18-custom-head", (custom_head_resnet18, (3, 32, 32), 13, True, True)),
    ("unet-w4", (lambda: reference.UNet(3, 2, width=4), (3, 32, 32), 13, True, True)),
    ("allops", (lambda: reference.AllOps(), (3, 12, 10), 11, True, True)),
])


def make(name, build, chw, opset, fold, dynamic, seed):
    torch.manual_seed(seed)
    m = build()
    reference.randomize_bn(m, torch.Generator().manual_seed(seed + 1))
    m.eval()
    x = torch.randn((BATCH,) + chw, generator=torch.Generator().manual_seed(seed + 2))
    with torch.no_grad():
        out = m(x)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    export_x = x if dynamic else x[:1]
    kw = {}
    if dynamic:
        kw["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    path = os.path.join(d, "model.onnx")
    torch.onnx.export(m, export_x, path, opset_version=opset, do_constant_folding=fold,
                      input_names=["input"], output_names=["output"], **kw)
    with open(os.path.join(d, "io.safetensors"), "wb") as f:
        f.write(seeded.dumps(collections.OrderedDict([("input", x.numpy()), ("output", out.numpy())])))
    case = {"opset": opset, "constant_folding": fold, "dynamic_batch": dynamic, "input": list(chw),
            "batch": BATCH, "seed": seed, "output_shape": list(out.shape), "max_abs_output": float(out.abs().max()),
            "torch": torch.__version__}
    with open(os.path.join(d, "case.json"), "w") as f:
        f.write(json.dumps(case, indent=2) + "\n")
    print("%-26s %8d bytes  output %s" % (name, os.path.getsize(path), tuple(out.shape)))


def main():
    reference.setup_torch()
    only = set(sys.argv[1:])
    for i, (name, (build, chw, opset, fold, dynamic)) in enumerate(CASES.items()):
        if only and name not in only:
            continue
        make(name, build, chw, opset, fold, dynamic, seed=100 + 10 * i)



def hostile():
    """Hostile and out-of-scope models for the golden error corpus
    (testdata/onnx/errors/NAME.onnx; cmd/resgen/import_test.go)."""
    import onnx
    from onnx import TensorProto, helper

    d = os.path.join(OUT, "errors")
    os.makedirs(d, exist_ok=True)
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, 8, 8])

    def save(name, nodes, inits=(), opset=13, inputs=(x,), outputs=(y,)):
        g = helper.make_graph(nodes, name, list(inputs), list(outputs), initializer=list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnx_fixtures.py")
        with open(os.path.join(d, name + ".onnx"), "wb") as f:
            f.write(m.SerializeToString())

    save("cycle", [helper.make_node("Add", ["input", "c"], ["b"], name="add"),
                   helper.make_node("Relu", ["b"], ["c"], name="relu"),
                   helper.make_node("Relu", ["c"], ["output"], name="out")])
    save("dangling_input", [helper.make_node("Add", ["input", "missing"], ["output"], name="add")])
    big = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 40])
    save("absurd_dims", [helper.make_node("Conv", ["input", "w"], ["output"], name="conv")], inits=[big])
    xi = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 4000000, 4000000])
    save("absurd_input", [helper.make_node("Relu", ["input"], ["output"], name="relu")], inputs=[xi])
    short = helper.make_tensor("w", TensorProto.FLOAT, [3, 3, 3, 3], [0.5] * 81)
    short.raw_data = b"\0" * 12
    del short.float_data[:]
    save("short_data", [helper.make_node("Conv", ["input", "w"], ["output"], name="conv")], inits=[short])
    ext = helper.make_tensor("w", TensorProto.FLOAT, [3, 3, 1, 1], [0.5] * 9)
    ext.data_location = TensorProto.EXTERNAL
    e = ext.external_data.add()
    e.key, e.value = "location", "/etc/passwd"
    save("external_data", [helper.make_node("Conv", ["input", "w"], ["output"], name="conv")], inits=[ext])
    save("unsupported_op", [helper.make_node("Tanh", ["input"], ["output"], name="/act/Tanh")])
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 3, 3, 3], [0.5] * 81)
    save("unsupported_attr", [helper.make_node("Conv", ["input", "w"], ["output"], name="/conv1/Conv", pads=[1, 1, 1, 1], foo=1)], inits=[w])
    save("asymmetric_pads", [helper.make_node("Conv", ["input", "w"], ["output"], name="/conv1/Conv", pads=[0, 0, 2, 2])], inits=[w])
    save("opset18", [helper.make_node("Relu", ["input"], ["output"], name="relu")], opset=18)
    save("weight_from_input", [helper.make_node("Conv", ["input", "input"], ["output"], name="conv")])
    xs = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])
    ys = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])
    save("symbolic_hw", [helper.make_node("Relu", ["input"], ["output"], name="relu")], inputs=[xs], outputs=[ys])
    with open(os.path.join(OUT, "allops", "model.onnx"), "rb") as f:
        b = f.read()
    with open(os.path.join(d, "truncated.onnx"), "wb") as f:
        f.write(b[: len(b) // 2])
    with open(os.path.join(d, "not_onnx.onnx"), "wb") as f:
        f.write(b"resgen: 1\nname: not an onnx file\n")


if __name__ == "__main__" and sys.argv[1:] == ["errors"]:
    hostile()
    sys.exit(0)


if __name__ == "__main__":
    main()
