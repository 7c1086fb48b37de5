#!/usr/bin/python3
"""torchvision ground truth for runtime.Preprocess.

Writes small images and the tensors torchvision 0.14 makes of them into
runtime/testdata/preprocess/:

    *.png, *.jpg     the images (seeded content: gradients, stripes, noise, a disc)
    cases.json       one entry per (image, transform) case
    want.safetensors one F32 tensor [C, H, W] per case, named like the case

and WebP seeds for package imageio into imageio/testdata/.

Each tensor is

    Compose([Resize(size, interp)?, CenterCrop(crop)?, ToTensor(), Normalize(mean, std)?])(
        PIL.Image.open(path).convert("L" if gray else "RGB"))

exactly as a training script computes it. Run with /usr/bin/python3
(Debian's python3-torchvision 0.14, PIL 9.4):

    /usr/bin/python3 reference/preprocess.py           # rewrite the fixtures
    /usr/bin/python3 reference/preprocess.py --check   # exit 1 if they are stale

The output is deterministic: seeded numpy content, PIL's encoders at fixed
settings, single-threaded torch.
"""

import argparse
import io
import json
import os
import sys
import warnings

import numpy as np
import PIL
from PIL import Image
import torch
import torchvision
from torchvision import transforms as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seeded  # noqa: E402  (safetensors writer)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "runtime", "testdata", "preprocess")

INTERP = {
    "nearest": T.InterpolationMode.NEAREST,
    "bilinear": T.InterpolationMode.BILINEAR,
    "bicubic": T.InterpolationMode.BICUBIC,
}
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
GRAYNORM = ([0.5], [0.25])


def content(seed, w, h, bands):
    """Image-like uint8 content: per band a different mix of a gradient, a
    sinusoid, fine noise, a hard-edged disc (saturated, so bicubic overshoot
    is clipped) and a one-pixel checker stripe (aliasing under NEAREST)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u = x / max(w - 1, 1)
    v = y / max(h - 1, 1)
    out = []
    for b in range(bands):
        fx, fy = rng.uniform(1, 4, size=2)
        ph = rng.uniform(0, 2 * np.pi)
        g = 255 * (0.5 * (u if b % 2 == 0 else v) + 0.2 * (1 - u * v))
        g += 40 * np.sin(2 * np.pi * (fx * u + fy * v) + ph)
        g += rng.normal(0, 18, size=(h, w))
        cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.15, 0.3)
        disc = (u - cx) ** 2 + (v - cy) ** 2 < r * r
        g[disc] = 255 if b % 2 == 0 else 0
        stripe = int(rng.integers(0, max(h, 1)))
        g[stripe, :] = np.where(np.arange(w) % 2 == 0, 0, 255)
        out.append(np.clip(np.rint(g), 0, 255).astype(np.uint8))
    return np.stack(out, axis=-1)


def make_image(kind, w, h, seed):
    """Returns a PIL image of the given kind and the save() options for it."""
    if kind == "rgb":
        return Image.fromarray(content(seed, w, h, 3), "RGB"), {}
    if kind == "l":
        return Image.fromarray(content(seed, w, h, 1)[:, :, 0], "L"), {}
    if kind == "rgbtrns":
        # tRNS with one transparent color (the disc's), which Go decodes
        # to NRGBA with alpha 0 there; PIL keeps RGB.
        a = content(seed, w, h, 3)
        return Image.fromarray(a, "RGB"), {"transparency": tuple(int(v) for v in a[h // 2, w // 2])}
    if kind == "ltrns":
        a = content(seed, w, h, 1)[:, :, 0]
        return Image.fromarray(a, "L"), {"transparency": int(a[h // 2, w // 2])}
    if kind == "rgba":
        a = content(seed + 1, w, h, 4)
        # Fully transparent and fully opaque areas as well as partial alpha:
        # RGB must come through unchanged under alpha 0 (no compositing).
        a[: h // 3, :, 3] = 0
        a[h // 3 : h // 2, :, 3] = 255
        return Image.fromarray(a, "RGBA"), {}
    if kind == "la":
        a = content(seed, w, h, 2)
        a[:, : w // 4, 1] = 0
        return Image.fromarray(a, "LA"), {}
    if kind in ("p", "p16", "ptrns", "ptrns1"):
        rgb = Image.fromarray(content(seed, w, h, 3), "RGB")
        colors = 16 if kind == "p16" else 200
        p = rgb.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
        if kind == "ptrns":
            # tRNS with one alpha per palette entry.
            n = len(p.getpalette()) // 3
            alpha = bytes((i * 37) % 256 for i in range(n))
            return p, {"transparency": alpha}
        if kind == "ptrns1":
            return p, {"transparency": 3}  # a single transparent index
        return p, {}
    raise ValueError(kind)


# Images: name -> (kind, width, height). Odd and even sizes, tall and wide.
PNGS = [
    ("rgb_37x23", "rgb", 37, 23),
    ("rgb_64x48", "rgb", 64, 48),
    ("rgb_13x200", "rgb", 13, 200),
    ("rgb_101x67", "rgb", 101, 67),
    ("rgb_7x5", "rgb", 7, 5),
    ("rgb_1x1", "rgb", 1, 1),
    ("rgb_3x40", "rgb", 3, 40),
    ("rgba_37x23", "rgba", 37, 23),
    ("rgba_64x48", "rgba", 64, 48),
    ("rgba_13x200", "rgba", 13, 200),
    ("l_37x23", "l", 37, 23),
    ("l_64x48", "l", 64, 48),
    ("l_13x200", "l", 13, 200),
    ("l_5x9", "l", 5, 9),
    ("l_101x67", "l", 101, 67),
    ("la_37x23", "la", 37, 23),
    ("la_48x64", "la", 48, 64),
    ("la_7x5", "la", 7, 5),
    ("p_37x23", "p", 37, 23),
    ("p_64x48", "p16", 64, 48),
    ("p_13x200", "p", 13, 200),
    ("ptrns_37x23", "ptrns", 37, 23),
    ("ptrns_64x48", "ptrns", 64, 48),
    ("ptrns1_101x67", "ptrns1", 101, 67),
    ("ptrns1_9x11", "ptrns1", 9, 11),
    ("rgbtrns_31x19", "rgbtrns", 31, 19),
    ("ltrns_19x31", "ltrns", 19, 31),
]

# JPEGs: name -> (kind, width, height, subsampling). PIL's subsampling 0 is
# 4:4:4, 2 is 4:2:0.
JPEGS = [
    ("jpeg420_160x120", "rgb", 160, 120, 2),
    ("jpeg444_160x120", "rgb", 160, 120, 0),
    ("jpeg420_97x61", "rgb", 97, 61, 2),
    ("jpegl_120x90", "l", 120, 90, 0),
    ("jpeg420_2x9", "rgb", 2, 9, 2),
    ("jpeg420_9x2", "rgb", 9, 2, 2),
]


def configs(w, h, gray):
    """The transforms tried on a w×h image. Outputs stay small (the fixtures
    must be compact) but every path is covered: downscale by several
    factors, upscale, Resize(int) on the short side of tall and wide images,
    Resize([h, w]) including one axis unchanged, every interpolation, crops
    smaller and larger than the image (zero padding) with odd differences
    (torchvision rounds half to even), and no resize at all."""
    s = min(w, h)
    small = w * h <= 1000
    nm = GRAYNORM if gray else IMAGENET
    out = []
    # Downscale (antialiased support) with Resize(int), with and without a crop.
    if s >= 9:
        out.append(dict(resize=max(s // 3, 3), interp="bilinear", crop=[max(s // 3 - 1, 1), max(s // 3 - 2, 1)], norm=nm))
        out.append(dict(resize=max(s // 4 + 1, 3), interp="bicubic", crop=None, norm=nm))
        out.append(dict(resize=max(s // 5 + 1, 2), interp="nearest", crop=None, norm=None))
    # Upscale with Resize(int), crop a window (odd margins).
    out.append(dict(resize=s * 3 + 1, interp="bicubic", crop=[min(3 * h + 1, 21), min(3 * w + 1, 19)], norm=nm))
    out.append(dict(resize=s * 2 + 1, interp="bilinear", crop=[min(2 * h + 1, 17), min(2 * w + 1, 20)], norm=None))
    out.append(dict(resize=s * 2 + 1, interp="nearest", crop=[min(2 * h + 1, 15), min(2 * w + 1, 16)], norm=nm))
    # Resize([h, w]): one axis unchanged (PIL skips that pass), mixed scales.
    out.append(dict(resize=[h, max(w // 2, 1)], interp="bicubic", crop=[min(h, 16), min(max(w // 2, 1), 15)], norm=nm))
    out.append(dict(resize=[max(h * 2 // 3, 1), w + 3], interp="bilinear", crop=[max(min(h * 2 // 3, 12), 1), min(w + 3, 12)], norm=nm))
    out.append(dict(resize=[max(h // 3, 1), max(w // 3, 1)], interp="nearest", crop=None, norm=nm))
    if small:
        # Crop larger than the image (zero padding), no resize.
        out.append(dict(resize=None, interp="bilinear", crop=[h + 3, w + 2], norm=nm))
        # Crop larger on one axis, smaller on the other.
        if h > 4:
            out.append(dict(resize=None, interp="bilinear", crop=[h - 3, w + 5], norm=None))
    return out


def transform(cfg, gray):
    ts = []
    if cfg["resize"] is not None:
        ts.append(T.Resize(cfg["resize"], interpolation=INTERP[cfg["interp"]]))
    if cfg["crop"] is not None:
        ts.append(T.CenterCrop(cfg["crop"]))
    ts.append(T.ToTensor())
    if cfg["norm"] is not None:
        ts.append(T.Normalize(*cfg["norm"]))
    return T.Compose(ts)


def encode(im, fmt, opts):
    b = io.BytesIO()
    im.save(b, fmt, **opts)
    return b.getvalue()


def build():
    """Returns {filename: bytes} for the whole fixture directory."""
    torch.set_num_threads(1)
    # PIL warns that tRNS bytes on a P image "should be converted to RGBA";
    # converting them is exactly what is under test.
    warnings.filterwarnings("ignore", "Palette images with Transparency")
    files = {}
    cases = []
    tensors = {}

    def add(image_name, data, gray, cfg, jpeg):
        im = Image.open(io.BytesIO(data))
        src_mode = im.mode
        x = transform(cfg, gray)(im.convert("L" if gray else "RGB"))
        name = "%s/%s/%d" % (image_name, "gray" if gray else "rgb", sum(1 for c in cases if c["image"] == image_name))
        tensors[name] = x.numpy().astype(np.float32)
        cases.append(
            dict(
                name=name,
                image=image_name,
                mode=src_mode,
                gray=gray,
                resize=cfg["resize"],
                interp=cfg["interp"],
                crop=cfg["crop"],
                mean=cfg["norm"][0] if cfg["norm"] else None,
                std=cfg["norm"][1] if cfg["norm"] else None,
                shape=list(x.shape),
                jpeg=jpeg,
            )
        )

    for i, (name, kind, w, h) in enumerate(PNGS):
        im, opts = make_image(kind, w, h, seed=100 + i)
        fn = name + ".png"
        files[fn] = encode(im, "PNG", dict(opts, optimize=False, compress_level=9))
        # Both conversions for every image; the transform list alternates so
        # each image sees several interpolations without exploding the count.
        for gray in (False, True):
            cs = configs(w, h, gray)
            for j, cfg in enumerate(cs):
                if (j + gray + i) % 3 == 0 or w * h <= 64:
                    add(fn, files[fn], gray, cfg, False)

    for i, (name, kind, w, h, sub) in enumerate(JPEGS):
        im, _ = make_image(kind, w, h, seed=200 + i)
        fn = name + ".jpg"
        opts = dict(quality=90)
        if kind != "l":
            opts["subsampling"] = sub
        files[fn] = encode(im, "JPEG", opts)
        for gray in ((False, True) if kind != "l" else (True, False)):
            nm = GRAYNORM if gray else IMAGENET
            for cfg in (
                dict(resize=None, interp="bilinear", crop=[20, 20], norm=nm),
                dict(resize=48, interp="bilinear", crop=[24, 24], norm=nm),
                dict(resize=[40, 50], interp="bicubic", crop=[16, 16], norm=nm),
            ):
                if gray and cfg["resize"] == [40, 50]:
                    continue
                add(fn, files[fn], gray, cfg, True)

    meta = dict(
        generator="reference/preprocess.py",
        pil=PIL.__version__,
        torchvision=torchvision.__version__,
        torch=torch.__version__.split("+")[0],
    )
    # One case per line: compact, and a diff shows which cases changed.
    lines = ",\n".join("  " + json.dumps(c, separators=(",", ":")) for c in cases)
    text = '{"meta": %s,\n "cases": [\n%s\n]}\n' % (json.dumps(meta), lines)
    files["cases.json"] = text.encode()
    files["want.safetensors"] = seeded.dumps(tensors)
    return files


def build_imageio():
    """Returns {filename: bytes} for imageio/testdata: WebP seeds (Go has no
    WebP encoder), a PNG with the lossless WebP's exact pixels, and PNGs of
    PIL's decode of the lossy ones (odd and even sizes, with and without
    alpha)."""
    im = Image.fromarray(content(300, 23, 17, 3), "RGB")
    rgba = Image.fromarray(content(301, 24, 18, 4), "RGBA")
    files = {
        "lossless.webp": encode(im, "WEBP", dict(lossless=True, quality=100, method=0)),
        "lossless.png": encode(im, "PNG", dict(compress_level=9)),
        "lossy.webp": encode(im, "WEBP", dict(quality=80, method=0)),
        "alpha.webp": encode(rgba, "WEBP", dict(quality=80, method=0)),
    }
    # What PIL (libwebp) decodes the lossy files to, as PNG.
    for fn in ("lossy", "alpha"):
        dec = Image.open(io.BytesIO(files[fn + ".webp"]))
        files[fn + ".pil.png"] = encode(dec, "PNG", dict(compress_level=9))
    # Other formats imageio decodes, each with PIL's convert("RGB") of it as
    # PNG: the imageio test runs both through Preprocess and compares.
    pal = im.quantize(colors=50)
    gray = Image.fromarray(content(302, 23, 17, 1)[:, :, 0], "L")
    cmyk = Image.fromarray(content(303, 24, 16, 4), "CMYK")
    others = {
        "rgb.bmp": encode(im, "BMP", {}),
        "p.bmp": encode(pal, "BMP", {}),
        "l.bmp": encode(gray, "BMP", {}),
        "rgb.tiff": encode(im, "TIFF", {}),
        "rgba_lzw.tiff": encode(rgba, "TIFF", dict(compression="tiff_lzw")),
        "l_deflate.tiff": encode(gray, "TIFF", dict(compression="tiff_adobe_deflate")),
        "p.gif": encode(pal, "GIF", {}),
        "ptrns.gif": encode(pal, "GIF", dict(transparency=2)),
        "cmyk.jpg": encode(cmyk, "JPEG", dict(quality=95)),
    }
    for fn, data in others.items():
        files[fn] = data
        rgb = Image.open(io.BytesIO(data)).convert("RGB")
        files[fn + ".pil.png"] = encode(rgb, "PNG", dict(compress_level=9))
    return files


def sync(out, files, check):
    """Writes files into out, or with check lists what differs; returns the
    number of stale or extra files."""
    if not check:
        os.makedirs(out, exist_ok=True)
        for fn, data in sorted(files.items()):
            with open(os.path.join(out, fn), "wb") as f:
                f.write(data)
        total = sum(len(d) for d in files.values())
        print("wrote %d files, %d bytes to %s" % (len(files), total, os.path.relpath(out, ROOT)))
        return 0
    bad = []
    for fn, data in sorted(files.items()):
        try:
            with open(os.path.join(out, fn), "rb") as f:
                if f.read() != data:
                    bad.append("stale: " + fn)
        except FileNotFoundError:
            bad.append("missing: " + fn)
    if os.path.isdir(out):
        bad += ["extra: " + fn for fn in sorted(set(os.listdir(out)) - set(files))]
    for b in bad:
        print("%s: %s" % (os.path.relpath(out, ROOT), b))
    return len(bad)


def main(argv):
    p = argparse.ArgumentParser(prog="preprocess.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    args = p.parse_args(argv)
    files = build()
    bad = sync(OUT, files, args.check)
    bad += sync(os.path.join(ROOT, "imageio", "testdata"), build_imageio(), args.check)
    if not args.check:
        print("%d cases" % len(json.loads(files["cases.json"])["cases"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
