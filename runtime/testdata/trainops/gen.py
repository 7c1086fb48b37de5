"""PyTorch ground truth for the training kernels' tests (train_ops_test.go).

Writes cases.json beside this file: for each case the inputs and what
PyTorch 1.13 computes from them, tensors flattened in resgen's layout
(NHWC per item, items one after another). Run with /usr/bin/python3 (torch):

    /usr/bin/python3 runtime/testdata/trainops/gen.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(9)
torch.set_num_threads(1)


def f32(v):
    """A float32 in 9 significant digits, which read back gives it exactly."""
    return float("%.9g" % float(v))


def nhwc(t):
    """Flatten an NCHW (or NC) tensor in NHWC order."""
    if t.dim() == 4:
        t = t.permute(0, 2, 3, 1)
    return [f32(v) for v in t.detach().contiguous().reshape(-1)]


def flat(t):
    return [f32(v) for v in t.detach().contiguous().reshape(-1)]


cases = {}

# BatchNorm2d in training mode, with and without a ReLU after it.
for relu in (False, True):
    n, c, h, w = 3, 4, 3, 5
    x = (torch.randn(n, c, h, w) * 1.5 + 0.7).requires_grad_()
    bn = torch.nn.BatchNorm2d(c, momentum=0.1, eps=1e-5)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(c) + 0.5)
        bn.bias.copy_(torch.randn(c) * 0.3)
        bn.running_mean.copy_(torch.randn(c) * 0.1)
        bn.running_var.copy_(torch.rand(c) + 0.5)
    rm0, rv0 = bn.running_mean.clone(), bn.running_var.clone()
    bn.train()
    y = bn(x)
    if relu:
        y = F.relu(y)
    dy = torch.randn_like(y)
    y.backward(dy)
    var, mean = torch.var_mean(x.detach(), dim=(0, 2, 3), unbiased=False)
    cases["batchnorm_relu" if relu else "batchnorm"] = {
        "n": n, "h": h, "w": w, "c": c, "relu": relu,
        "x": nhwc(x), "gamma": flat(bn.weight), "beta": flat(bn.bias),
        "run_mean0": flat(rm0), "run_var0": flat(rv0), "dy": nhwc(dy),
        "y": nhwc(y), "mean": flat(mean), "invstd": flat(1 / torch.sqrt(var + 1e-5)),
        "run_mean": flat(bn.running_mean), "run_var": flat(bn.running_var),
        "dx": nhwc(x.grad), "dgamma": flat(bn.weight.grad), "dbeta": flat(bn.bias.grad),
    }

# Max pooling with many ties (small integers), padding and ceil_mode.
for name, (k, s, p, ceil) in {"maxpool_k3s2p1": (3, 2, 1, False), "maxpool_k2s2_ceil": (2, 2, 0, True),
                              "maxpool_k3s1p1": (3, 1, 1, False)}.items():
    n, c, h, w = 2, 3, 7, 6
    x = torch.randint(0, 3, (n, c, h, w)).float().requires_grad_()
    y = F.max_pool2d(x, k, s, p, ceil_mode=ceil)
    dy = torch.randn_like(y)
    y.backward(dy)
    cases[name] = {"n": n, "c": c, "h": h, "w": w, "k": k, "s": s, "p": p,
                   "out_h": y.shape[2], "out_w": y.shape[3],
                   "x": nhwc(x), "dy": nhwc(dy), "y": nhwc(y), "dx": nhwc(x.grad)}

# Average pooling: ceil_mode and count_include_pad both ways.
for ceil in (False, True):
    for inc in (False, True):
        n, c, h, w = 2, 3, 7, 6
        k, s, p = 3, 2, 1
        x = torch.randn(n, c, h, w).requires_grad_()
        y = F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=inc)
        dy = torch.randn_like(y)
        y.backward(dy)
        cases["avgpool_ceil%d_inc%d" % (ceil, inc)] = {
            "n": n, "c": c, "h": h, "w": w, "k": k, "s": s, "p": p, "include_pad": inc,
            "out_h": y.shape[2], "out_w": y.shape[3],
            "x": nhwc(x), "dy": nhwc(dy), "y": nhwc(y), "dx": nhwc(x.grad)}

# Upsampling by integer scale factors (as specs write them).
for mode, align in (("nearest", None), ("bilinear", False), ("bilinear", True)):
    for sh, sw in ((2, 2), (3, 2)):
        n, c, h, w = 2, 3, 4, 5
        x = torch.randn(n, c, h, w).requires_grad_()
        if mode == "nearest":
            y = F.interpolate(x, scale_factor=(sh, sw), mode="nearest")
        else:
            y = F.interpolate(x, scale_factor=(sh, sw), mode="bilinear", align_corners=align)
        dy = torch.randn_like(y)
        y.backward(dy)
        cases["upsample_%s_align%s_%dx%d" % (mode, align, sh, sw)] = {
            "n": n, "c": c, "h": h, "w": w, "out_h": y.shape[2], "out_w": y.shape[3],
            "mode": mode, "align": bool(align),
            "x": nhwc(x), "dy": nhwc(dy), "y": nhwc(y), "dx": nhwc(x.grad)}

# Cross entropy, mean over items and (for segmentation) pixels.
for name, shape in {"crossentropy": (5, 7), "crossentropy_pixels": (2, 3, 2, 3)}.items():
    logits = (torch.randn(*shape) * 3).requires_grad_()
    classes = shape[1]
    if len(shape) == 2:
        labels = torch.randint(0, classes, (shape[0],))
    else:
        labels = torch.randint(0, classes, (shape[0], shape[2], shape[3]))
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    cases[name] = {"n": shape[0], "c": classes, "hw": 1 if len(shape) == 2 else shape[2] * shape[3],
                   "logits": nhwc(logits), "labels": [int(v) for v in labels.reshape(-1)],
                   "loss": float(loss), "dlogits": nhwc(logits.grad)}

# Three steps of torch.optim.SGD, with and without momentum.
for name, (mom, wd) in {"sgd": (0.9, 5e-4), "sgd_nomomentum": (0.0, 1e-2)}.items():
    wt = torch.randn(11)
    p = torch.nn.Parameter(wt.clone())
    opt = torch.optim.SGD([p], lr=0.05, momentum=mom, weight_decay=wd)
    grads = [torch.randn(11) for _ in range(3)]
    for g in grads:
        p.grad = g.clone()
        opt.step()
    cases[name] = {"lr": 0.05, "momentum": mom, "weight_decay": wd, "weights0": flat(wt),
                   "grads": [flat(g) for g in grads], "weights": flat(p)}

# Sigmoid and softmax (over channels) backward.
x = torch.randn(2, 5, 2, 3).requires_grad_()
y = torch.softmax(x, dim=1)
dy = torch.randn_like(y)
y.backward(dy)
cases["softmax"] = {"c": 5, "y": nhwc(y), "dy": nhwc(dy), "dx": nhwc(x.grad)}
x = torch.randn(30).requires_grad_()
y = torch.sigmoid(x)
dy = torch.randn_like(y)
y.backward(dy)
cases["sigmoid"] = {"y": flat(y), "dy": flat(dy), "dx": flat(x.grad)}

cases["torch"] = torch.__version__
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.json")
with open(out, "w") as f:
    json.dump(cases, f, indent=None, separators=(",", ":"), sort_keys=True)
    f.write("\n")
print("wrote", out)
