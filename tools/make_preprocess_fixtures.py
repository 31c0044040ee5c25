#!/usr/bin/env python3
"""Reference fixtures for Qwen-VL image preprocessing (smart_resize, bicubic resize, normalise, patchify).

Run from the repository root with the reference venv (see the team's shared docs/reference-env.md):

    HF_HUB_OFFLINE=1 .venv-ref/bin/python tools/make_preprocess_fixtures.py

Last run with: Python 3.11.7, transformers 5.23.0, torch 2.13.0+cpu (only its version is recorded; the
PIL backend does not use it), Pillow 13.0.0 (bundled libjpeg-turbo 3.2.0, zlib 1.2.13), numpy 2.4.6.
The script is seeded and deterministic: a second run with the same versions rewrites byte-identical
files (it deletes and regenerates Tests/Fixtures/preprocess/{images,resized} first).

What it writes, under Tests/Fixtures/preprocess/ (about 2.4 MB in all):

* images/*.{jpg,png} -- 28 synthetic inputs: linear colour gradients, hard-edged shapes, 1-px lines and a
  small high-frequency patch (+-70 noise and a 1-px checkerboard). RGB, greyscale, progressive, 4:2:2 and
  4:4:4 JPEG; two JPEGs with EXIF orientation 6 and 3; RGB, greyscale, palette, palette + tRNS, RGBA and
  LA PNG. Sizes from 1x1 to 704x120 and 1000x5; aspect ratios from 1:198 to exactly 200:1, plus one
  202:1 image (1010x5) that must be rejected; x.5 multiples of the factor (294, 434x70 for 28; 272x304
  for 32); sides already multiples of 28 and 32 (no resize); tiny images that are upscaled.
* configs/qwen2-vl/preprocessor_config.json -- Qwen2-VL-2B-Instruct's file. The Hub file has 9 keys:
  min_pixels 3136, max_pixels 12845056 (top level, the legacy spelling), patch_size 14,
  temporal_patch_size 2, merge_size 2, image_mean/image_std (OpenAI CLIP), image_processor_type
  "Qwen2VLImageProcessor", processor_class "Qwen2VLProcessor". We add, in sorted key order, the keys
  transformers 5.23's to_dict() writes, with their default values (do_convert_rgb, do_normalize,
  do_rescale, do_resize = true, resample 3, rescale_factor 0.00392156862745098). 5.23 itself writes the
  budget as size {shortest_edge, longest_edge} and drops the top-level min_pixels/max_pixels and
  processor_class (cases.json records the to_dict() output of both configs).
* configs/qwen3-vl/preprocessor_config.json -- Qwen3-VL-2B-Instruct's file as the Hub ships it (8 keys):
  size {longest_edge 16777216, shortest_edge 65536}, patch_size 16, temporal_patch_size 2, merge_size 2,
  image_mean/std 0.5, processor_class "Qwen3VLProcessor", image_processor_type
  "Qwen2VLImageProcessorFast". Everything else comes from the class defaults.
* cases.json -- 168 cases = 28 images x 2 configs x 3 budgets (the config's own, "b50k" and "b100k",
  see BUDGETS): geometry, grid, token count, pixel_values shape, float64 statistics, 4 sample rows
  (first, last, 2 seeded random) as uint8 patches + a per-config float32 normalisation table, and the
  path of the resized uint8 image; or, for the 202:1 image, the expected error. Also an images[]
  manifest (mode, EXIF orientation, decoded size, sha256 of the decoded RGB bytes).
* resized/*.png -- the uint8 RGB image the processor rescaled/normalised, as lossless PNG, named
  <image stem>_<w>x<h>.png, for a subset of the cases (see RESIZED_EXTRA / store_resized: storing all
  of them took 4 MB).
* smart_resize.json -- 619 smart_resize calls (inputs -> h_bar, w_bar, or the error message).

Reference: transformers.models.qwen2_vl.image_processing_pil_qwen2_vl.Qwen2VLImageProcessorPil (the PIL
backend, also exported as transformers.Qwen2VLImageProcessorPil), built with from_dict(config)
(AutoProcessor is broken without torchvision in 5.23), called as
proc([rgb_pil_image], size={"shortest_edge": min_pixels, "longest_edge": max_pixels}, return_tensors="np")
for budget overrides. The min_pixels=/max_pixels= call kwargs still work in 5.23 with a FutureWarning
(which says they "will be removed in v5.23"); the script checks they give the same result. smart_resize
is imported from the same module (image_processing_qwen2_vl.py, which holds an identical copy, imports
torchvision and cannot be imported here). Images are loaded the qwen-vl-utils way: Image.open,
ImageOps.exif_transpose, then transparency (an "A" band or tRNS) composited onto white with
Image.paste(mask=alpha), else convert("RGB"); the processor therefore always receives an RGB image.

Checks made for every successful case (the script aborts if one fails):
* image_grid_thw * patch_size == smart_resize(H, W, factor, min_pixels, max_pixels);
* the processor's own resize step == PIL Image.resize((w, h), BICUBIC) of the RGB image, bit for bit;
* numpy rescale (float64 * 1/255 -> float32), normalise (float32) and patchify of that uint8 image
  reproduce pixel_values bit for bit; a written PNG reads back identically;
* each sample row rebuilt from its uint8 patch through the normalisation table equals the processor's
  row bit for bit; every float32 written reads back as the same float32 (also via float64).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import platform
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageDraw, ImageOps, features

import transformers
from transformers.image_utils import SizeDict
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
    Qwen2VLImageProcessorPil,
    smart_resize,
)

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "Tests" / "Fixtures" / "preprocess"
SEED = 20240917

# --------------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------------

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

CONFIGS = {
    # Hub keys (Qwen/Qwen2-VL-2B-Instruct) + the to_dict() defaults, sorted like a save_pretrained dump.
    "qwen2-vl": {
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": CLIP_MEAN,
        "image_processor_type": "Qwen2VLImageProcessor",
        "image_std": CLIP_STD,
        "max_pixels": 12845056,
        "merge_size": 2,
        "min_pixels": 3136,
        "patch_size": 14,
        "processor_class": "Qwen2VLProcessor",
        "resample": 3,
        "rescale_factor": 0.00392156862745098,
        "temporal_patch_size": 2,
    },
    # Exactly the Hub form of Qwen/Qwen3-VL-2B-Instruct (key order as shipped).
    "qwen3-vl": {
        "size": {"longest_edge": 16777216, "shortest_edge": 65536},
        "patch_size": 16,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "processor_class": "Qwen3VLProcessor",
        "image_processor_type": "Qwen2VLImageProcessorFast",
    },
}

# Per-call visual budgets. "config" = no override (the processor's size from the config file).
BUDGETS = {
    "qwen2-vl": [("config", None, None), ("b50k", 3136, 50000), ("b100k", 40000, 100000)],
    "qwen3-vl": [("config", None, None), ("b50k", 4096, 50000), ("b100k", 40000, 100000)],
}

# Which resized images are stored (each PNG costs ~0.3-1 byte per pixel; storing all 116 took 4 MB):
# PNG sources at budget b50k and at qwen2-vl's config budget, JPEG sources at qwen2-vl b50k, plus these.
RESIZED_EXTRA = {
    "qwen3-vl/config/mult224x336_rgb.png",      # width unchanged (224), height 336 -> 320
    "qwen3-vl/config/ratio200_1000x5_rgb.png",  # 1000x5 -> 3648x32
    "qwen3-vl/config/tiny7x5_rgb.png",          # 7x5 -> 320x224
}
RESIZED_POLICY = ("resized_image is the stored PNG for PNG sources at budget b50k and at qwen2-vl's config "
                  "budget, for JPEG sources at qwen2-vl b50k, and for " + ", ".join(sorted(RESIZED_EXTRA)) +
                  "; the source image itself when resized is false (then the processor input is the decoded "
                  "source, see images[].decoded_rgb_sha256); null otherwise")


def store_resized(cname: str, bname: str, name: str) -> bool:
    if f"{cname}/{bname}/{name}" in RESIZED_EXTRA:
        return True
    if name.endswith(".png"):
        return bname == "b50k" or (cname, bname) == ("qwen2-vl", "config")
    return (cname, bname) == ("qwen2-vl", "b50k")


# Sample rows per case: the first, the last and this many seeded random ones.
N_RANDOM_ROWS = 2

# Cases (budget "b50k") whose first sample row also carries its float32 values literally.
LITERAL_ROW_IMAGES = {"sq294_rgb.png", "rgba300x200.png", "exif6_320x240_rgb.jpg"}

# --------------------------------------------------------------------------------------------------
# JSON writing: floats as repr (float64) or shortest float32 repr, deterministic layout
# --------------------------------------------------------------------------------------------------


class F32(float):
    """A float that is written with the shortest repr that round-trips as float32."""


def f32_text(x: float) -> str:
    v = np.float32(x)
    s = np.format_float_positional(v, unique=True, trim="-")
    if "e" in s or len(s) > 16:
        s = np.format_float_scientific(v, unique=True, trim="-")
    # Must parse back to the same float32 both directly and via float64 (how JSON readers work).
    assert np.float32(s) == v and np.float32(float(s)) == v, (x, s)
    return s


def dump_json(obj, indent=1) -> str:
    """Deterministic JSON: dicts keep insertion order; short scalar lists stay on one line."""

    def scalar(v):
        if isinstance(v, F32):
            return f32_text(v)
        if isinstance(v, bool) or v is None:
            return json.dumps(v)
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            v = float(v)
            assert math.isfinite(v)
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=True)
        raise TypeError(type(v))

    def rec(v, level):
        pad = " " * (indent * (level + 1))
        end = " " * (indent * level)
        if isinstance(v, dict):
            if not v:
                return "{}"
            if all(not isinstance(x, (dict, list)) for x in v.values()) and len(v) <= 8:
                return "{" + ", ".join(json.dumps(k) + ": " + scalar(x) for k, x in v.items()) + "}"
            items = [pad + json.dumps(k) + ": " + rec(x, level + 1) for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + end + "}"
        if isinstance(v, (list, tuple)):
            if all(not isinstance(x, (dict, list, tuple)) for x in v):
                return "[" + ", ".join(scalar(x) for x in v) + "]"
            items = [pad + rec(x, level + 1) for x in v]
            return "[\n" + ",\n".join(items) + "\n" + end + "]"
        return scalar(v)

    return rec(obj, 0) + "\n"


def write_text(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


# --------------------------------------------------------------------------------------------------
# Synthetic images
# --------------------------------------------------------------------------------------------------


def synth_rgb(w: int, h: int, rng: np.random.Generator) -> Image.Image:
    """Photo-like test content that still compresses well: smooth linear gradients (a random mix per
    image), hard-edged flat and outlined shapes, thin 1-px lines, and one small high-frequency patch
    (uniform noise of +-70 levels in one half, a 1-px checkerboard in the other). No global noise or
    bilinear colour field: those made every resized PNG cost ~1 byte per pixel."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u = xx / max(w - 1, 1)
    v = yy / max(h - 1, 1)
    mix = rng.uniform(0.2, 1.0, (3, 3))
    grad = np.stack([mix[c, 0] * u + mix[c, 1] * v + mix[c, 2] * (1 - 0.5 * (u + v)) for c in range(3)], -1)
    grad = 255 * grad / grad.reshape(-1, 3).max(axis=0).clip(1e-9)
    img = Image.fromarray(np.clip(np.rint(grad), 0, 255).astype(np.uint8), "RGB")

    d = ImageDraw.Draw(img)
    n_shapes = int(np.clip(w * h // 15000, 2, 8))
    for i in range(n_shapes):
        x0, x1 = sorted(rng.integers(-w // 8, w + w // 8, 2).tolist())
        y0, y1 = sorted(rng.integers(-h // 8, h + h // 8, 2).tolist())
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = i % 4
        if kind == 0:
            d.rectangle([x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)], fill=col)
        elif kind == 1:
            d.ellipse([x0, y0, max(x1, x0 + 2), max(y1, y0 + 2)], fill=col,
                      outline=(255 - col[0], 255 - col[1], 255 - col[2]), width=2)
        elif kind == 2:
            pts = [tuple(int(t) for t in (rng.integers(0, max(w, 1)), rng.integers(0, max(h, 1)))) for _ in range(4)]
            d.polygon(pts, fill=col)
        else:
            d.line([x0, y0, x1, y1], fill=col, width=int(rng.integers(1, 4)))
    for _ in range(3):  # thin 1-px lines (aliasing)
        d.line([int(rng.integers(0, w)), 0, int(rng.integers(0, w)), h - 1], fill=(255, 255, 255), width=1)
        d.line([0, int(rng.integers(0, h)), w - 1, int(rng.integers(0, h))], fill=(0, 0, 0), width=1)

    # High-frequency patch: strong noise in one half, 1-px checkerboard in the other.
    a = np.asarray(img).copy()
    pw, ph = max(1, w // 6), max(1, h // 6)
    px, py = int(rng.integers(0, w - pw + 1)), int(rng.integers(0, h - ph + 1))
    patch = a[py:py + ph, px:px + pw].astype(np.int32)
    patch += rng.integers(-70, 71, patch.shape)
    cb = ((np.arange(ph)[:, None] + np.arange(pw)[None, :]) % 2) * 255
    half = pw // 2
    patch[:, half:, :] = cb[:, half:, None]
    a[py:py + ph, px:px + pw] = np.clip(patch, 0, 255).astype(np.uint8)
    return Image.fromarray(a, "RGB")


def make_alpha(w: int, h: int, rng: np.random.Generator) -> Image.Image:
    """Alpha with fully transparent, fully opaque and graded regions."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    a = 255 * (xx / max(w - 1, 1))
    a = np.clip(a * 1.3 - 30, 0, 255)
    alpha = Image.fromarray(np.rint(a).astype(np.uint8), "L")
    d = ImageDraw.Draw(alpha)
    d.ellipse([w * 0.05, h * 0.1, w * 0.4, h * 0.6], fill=0)          # hole
    d.rectangle([w * 0.55, h * 0.55, w * 0.95, h * 0.9], fill=255)     # opaque
    d.rectangle([w * 0.1, h * 0.7, w * 0.3, h * 0.95], fill=128)        # half
    return alpha


def exif_bytes(orientation: int) -> bytes:
    ex = Image.Exif()
    ex[0x0112] = orientation
    return ex.tobytes()


# name, stored (w, h), kind, notes
IMAGES = [
    ("sq448_rgb.jpg", 448, 448, "jpeg", "square; multiple of 28 and 32: no resize at the config budgets"),
    ("sq294_rgb.png", 294, 294, "png_rgb", "f=28: 294/28 = 10.5 -> 10 (half-to-even): 280x280"),
    ("land320x240_rgb.jpg", 320, 240, "jpeg", "4:3; qwen2-vl config: 308x252 (one side up, one down)"),
    ("port240x320_grey.jpg", 240, 320, "jpeg_grey", "3:4 greyscale JPEG"),
    ("wide384x216_rgb.jpg", 384, 216, "jpeg_progressive", "16:9 progressive JPEG"),
    ("tall216x384_rgb.jpg", 216, 384, "jpeg_422", "9:16, 4:2:2 chroma subsampling"),
    ("mult448x224_rgb.jpg", 448, 224, "jpeg_444", "2:1, multiple of 28 and 32 (no resize at config), "
     "4:4:4 JPEG; 100352 px is just above the b100k budget"),
    ("half272x304_rgb.jpg", 272, 304, "jpeg", "f=32: 272/32 = 8.5 -> 8, 304/32 = 9.5 -> 10: 256x320"),
    ("exif6_320x240_rgb.jpg", 320, 240, "jpeg_exif6", "EXIF orientation 6: decodes to 240x320"),
    ("exif3_200x150_rgb.jpg", 200, 150, "jpeg_exif3", "EXIF orientation 3 (180 degrees)"),
    ("wide704x120_rgb.jpg", 704, 120, "jpeg", "wide 5.9:1, 704 px side"),
    ("strip600x40_rgb.png", 600, 40, "png_rgb", "very wide 15:1"),
    ("tall30x500_grey.png", 30, 500, "png_grey", "very tall 1:16.7, greyscale PNG"),
    ("ratio200_1000x5_rgb.png", 1000, 5, "png_rgb", "aspect ratio exactly 200: valid"),
    ("ratio198_5x990_grey.png", 5, 990, "png_grey", "aspect ratio 198 (tall): valid"),
    ("ratio202_1010x5_rgb.png", 1010, 5, "png_rgb", "aspect ratio 202: must be rejected"),
    ("tiny20x30_rgb.png", 20, 30, "png_rgb", "tiny: upscaled"),
    ("tiny7x5_rgb.png", 7, 5, "png_rgb", "tiny: upscaled"),
    ("px1x1_rgb.png", 1, 1, "png_rgb", "single pixel"),
    ("up60x45_grey.png", 60, 45, "png_grey", "small greyscale: upscaled"),
    ("pal256x192.png", 256, 192, "png_palette", "palette PNG, 64 colours"),
    ("paltrns200x150.png", 200, 150, "png_palette_trns", "palette PNG with tRNS transparency"),
    ("rgba300x200.png", 300, 200, "png_rgba", "RGBA with transparent, opaque and graded alpha"),
    ("la180x240.png", 180, 240, "png_la", "greyscale + alpha"),
    ("grey333x250.png", 333, 250, "png_grey", "greyscale PNG, odd sizes"),
    ("odd257x131_rgb.png", 257, 131, "png_rgb", "odd sizes"),
    ("mult224x336_rgb.png", 224, 336, "png_rgb", "multiple of 28: no resize for qwen2-vl config budget"),
    ("half434x70_rgb.png", 434, 70, "png_rgb", "f=28: 434/28 = 15.5 -> 16, 70/28 = 2.5 -> 2: 56x448"),
]


def generate_images(img_dir: Path):
    for idx, (name, w, h, kind, _notes) in enumerate(IMAGES):
        rng = np.random.default_rng([SEED, idx])
        rgb = synth_rgb(w, h, rng)
        path = img_dir / name
        if kind == "jpeg":
            rgb.save(path, "JPEG", quality=90)
        elif kind == "jpeg_grey":
            rgb.convert("L").save(path, "JPEG", quality=90)
        elif kind == "jpeg_progressive":
            rgb.save(path, "JPEG", quality=88, progressive=True)
        elif kind == "jpeg_422":
            rgb.save(path, "JPEG", quality=90, subsampling=1)
        elif kind == "jpeg_444":
            rgb.save(path, "JPEG", quality=90, subsampling=0)
        elif kind == "jpeg_exif6":
            rgb.save(path, "JPEG", quality=90, exif=exif_bytes(6))
        elif kind == "jpeg_exif3":
            rgb.save(path, "JPEG", quality=90, exif=exif_bytes(3))
        elif kind == "png_rgb":
            rgb.save(path, "PNG", optimize=True)
        elif kind == "png_grey":
            rgb.convert("L").save(path, "PNG", optimize=True)
        elif kind == "png_palette":
            rgb.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
                path, "PNG", optimize=True)
        elif kind == "png_palette_trns":
            p = rgb.quantize(colors=32, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            d = ImageDraw.Draw(p)
            # Index 31 becomes the transparent colour; paint a few areas with it.
            d.ellipse([w * 0.1, h * 0.1, w * 0.45, h * 0.6], fill=31)
            d.rectangle([w * 0.6, h * 0.5, w * 0.9, h * 0.95], fill=31)
            p.save(path, "PNG", transparency=31)
        elif kind == "png_rgba":
            rgba = rgb.copy()
            rgba.putalpha(make_alpha(w, h, rng))
            rgba.save(path, "PNG", optimize=True)
        elif kind == "png_la":
            la = rgb.convert("L")
            la.putalpha(make_alpha(w, h, rng))
            la.save(path, "PNG", optimize=True)
        else:
            raise ValueError(kind)


# --------------------------------------------------------------------------------------------------
# Loading (qwen-vl-utils style) and the numpy reference of rescale/normalise/patchify
# --------------------------------------------------------------------------------------------------


def load_rgb(path: Path):
    """Image.open -> exif_transpose -> composite transparency onto white (paste with alpha mask)."""
    with Image.open(path) as im:
        im.load()
        info = {
            "format": im.format,
            "mode": im.mode,
            "stored_width": im.width,
            "stored_height": im.height,
            "exif_orientation": int(im.getexif().get(0x0112, 1)),
        }
        im = ImageOps.exif_transpose(im)
    has_alpha = "A" in im.getbands() or im.info.get("transparency") is not None
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.split()[3])
        rgb = white
        # transformers 5.23's own convert_to_rgb composites with Image.alpha_composite instead.
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        alt = np.asarray(Image.alpha_composite(bg, rgba).convert("RGB"))
        diff = np.abs(alt.astype(np.int16) - np.asarray(rgb).astype(np.int16))
        info["alpha_composite_max_abs_diff"] = int(diff.max())
        info["alpha_composite_differing_values"] = int((diff != 0).sum())
    else:
        rgb = im.convert("RGB")
    info["has_transparency"] = bool(has_alpha)
    info["decoded_width"], info["decoded_height"] = rgb.size
    return rgb, info


def rescale_normalize(u8_hwc: np.ndarray, rescale_factor: float, mean, std) -> np.ndarray:
    """CHW float32, the way transformers' numpy rescale/normalize compute it."""
    x = (u8_hwc.astype(np.float64) * rescale_factor).astype(np.float32)
    x = np.moveaxis(x, -1, 0)
    m = np.array(mean, dtype=np.float32)[:, None, None]
    s = np.array(std, dtype=np.float32)[:, None, None]
    return (x - m) / s


def patchify(chw: np.ndarray, p: int, m: int, t: int) -> np.ndarray:
    c, h, w = chw.shape
    gh, gw = h // p, w // p
    x = chw.reshape(c, gh // m, m, p, gw // m, m, p)
    x = x.transpose(1, 4, 2, 5, 0, 3, 6)  # (gh/m, gw/m, m, m, c, p, p)
    x = np.repeat(x[:, :, :, :, :, None], t, axis=5)  # (..., c, t, p, p)
    return np.ascontiguousarray(x.reshape(gh * gw, c * t * p * p))


def patch_u8(u8_hwc: np.ndarray, row: int, gw: int, p: int, m: int) -> np.ndarray:
    """uint8 pixels (c, y, x) of the patch that pixel_values row `row` holds."""
    bpr = gw // m  # merge blocks per block-row
    blk, inner = divmod(row, m * m)
    bi, bj = divmod(blk, bpr)
    u, v = divmod(inner, m)
    y0, x0 = (bi * m + u) * p, (bj * m + v) * p
    return np.moveaxis(u8_hwc[y0:y0 + p, x0:x0 + p], -1, 0)


def normalize_lut(rescale_factor, mean, std) -> np.ndarray:
    vals = np.arange(256, dtype=np.uint8)[None, :, None].repeat(3, axis=0)  # (3, 256, 1) as CHW
    return rescale_normalize(np.moveaxis(vals, 0, -1), rescale_factor, mean, std)[:, :, 0]  # (3, 256)


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, "PNG", optimize=True)
    return buf.getvalue()


def processor_params(proc):
    return {
        "patch_size": int(proc.patch_size),
        "temporal_patch_size": int(proc.temporal_patch_size),
        "merge_size": int(proc.merge_size),
        "factor": int(proc.patch_size * proc.merge_size),
        "min_pixels": int(proc.size.shortest_edge),
        "max_pixels": int(proc.size.longest_edge),
        "resample": int(proc.resample),
        "rescale_factor": float(proc.rescale_factor),
        "image_mean": [float(x) for x in proc.image_mean],
        "image_std": [float(x) for x in proc.image_std],
    }


def versions():
    import torch  # only for the record

    return {
        "python": platform.python_version(),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "zlib": features.version("zlib"),
        "numpy": np.__version__,
    }


def run_cases(img_dir: Path, resized_dir: Path):
    procs, cfg_out = {}, {}
    for cname, cdict in CONFIGS.items():
        path = OUT / "configs" / cname / "preprocessor_config.json"
        write_text(path, json.dumps(cdict, indent=2) + "\n")
        proc = Qwen2VLImageProcessorPil.from_dict(json.loads(path.read_text()))
        procs[cname] = proc
        params = processor_params(proc)
        lut = normalize_lut(params["rescale_factor"], params["image_mean"], params["image_std"])
        cfg_out[cname] = {
            "path": f"configs/{cname}/preprocessor_config.json",
            "resolved": params,
            "to_dict_5_23": {k: v for k, v in proc.to_dict().items()},
            "normalize_lut": [[F32(v) for v in row] for row in lut],
        }

    images_out, cases = [], []
    decoded = {}
    for name, _w, _h, kind, notes in IMAGES:
        rgb, info = load_rgb(img_dir / name)
        arr = np.asarray(rgb)
        decoded[name] = (rgb, arr)
        images_out.append({
            "file": f"images/{name}", "kind": kind, "notes": notes, **info,
            "decoded_rgb_sha256": hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest(),
        })

    written_pngs = {}
    kwargs_path_checked = set()
    for cname in CONFIGS:
        proc = procs[cname]
        par = cfg_out[cname]["resolved"]
        p, m, t, f = par["patch_size"], par["merge_size"], par["temporal_patch_size"], par["factor"]
        lut = np.array([[np.float32(v) for v in row] for row in cfg_out[cname]["normalize_lut"]], dtype=np.float32)
        for bname, bmin, bmax in BUDGETS[cname]:
            mn = par["min_pixels"] if bmin is None else bmin
            mx = par["max_pixels"] if bmax is None else bmax
            call_kwargs = {} if bmin is None else {"size": {"shortest_edge": bmin, "longest_edge": bmax}}
            for name, _w, _h, kind, _notes in IMAGES:
                rgb, arr = decoded[name]
                H, W = arr.shape[:2]
                case = {
                    "id": f"{cname}/{bname}/{name}",
                    "image": f"images/{name}",
                    "config": cname,
                    "budget": bname,
                    "min_pixels": mn,
                    "max_pixels": mx,
                    "call_kwargs": call_kwargs,
                    "original_width": W,
                    "original_height": H,
                }
                try:
                    out = proc([rgb], return_tensors="np", **call_kwargs)
                except ValueError as e:
                    # The reference must fail the same way as smart_resize does.
                    try:
                        smart_resize(H, W, factor=f, min_pixels=mn, max_pixels=mx)
                        raise AssertionError("processor failed but smart_resize did not") from e
                    except ValueError as e2:
                        assert str(e2) == str(e)
                    case["expect"] = "error"
                    case["error"] = {"type": type(e).__name__, "message": str(e)}
                    cases.append(case)
                    continue

                pv = out["pixel_values"]
                grid = [int(x) for x in out["image_grid_thw"][0]]
                assert pv.dtype == np.float32 and out["image_grid_thw"].shape == (1, 3)
                gt, gh, gw = grid
                rh, rw = gh * p, gw * p
                assert (rh, rw) == smart_resize(H, W, factor=f, min_pixels=mn, max_pixels=mx)
                assert gt == 1 and pv.shape == (gh * gw, 3 * t * p * p)

                # The processor's own resize step (PilBackend.resize -> PIL) vs plain PIL bicubic.
                chw = np.moveaxis(arr, -1, 0)
                via_proc = proc.resize(chw, size=SizeDict(shortest_edge=mn, longest_edge=mx),
                                       resample=proc.resample, factor=f)
                via_pil = np.asarray(rgb.resize((rw, rh), Image.BICUBIC))
                assert via_proc.dtype == np.uint8 and np.array_equal(np.moveaxis(via_proc, 0, -1), via_pil)
                resized = (rh, rw) != (H, W)
                if not resized:
                    assert np.array_equal(via_pil, arr)

                # numpy rescale/normalise/patchify reproduces pixel_values bit for bit.
                ref = patchify(rescale_normalize(via_pil, par["rescale_factor"], par["image_mean"],
                                                 par["image_std"]), p, m, t)
                assert ref.shape == pv.shape and np.array_equal(ref.view(np.uint32), pv.view(np.uint32))

                # Legacy min_pixels=/max_pixels= call kwargs: same result (checked once per config).
                if call_kwargs and cname not in kwargs_path_checked and resized:
                    with warnings.catch_warnings(record=True) as wl:
                        warnings.simplefilter("always")
                        out2 = proc([rgb], return_tensors="np", min_pixels=bmin, max_pixels=bmax)
                    assert any(issubclass(w.category, FutureWarning) for w in wl)
                    assert np.array_equal(out2["pixel_values"], pv)
                    assert np.array_equal(out2["image_grid_thw"], out["image_grid_thw"])
                    kwargs_path_checked.add(cname)

                if not resized:
                    # No resize: the processor input is the decoded source itself (decoded_rgb_sha256).
                    resized_image = f"images/{name}"
                elif store_resized(cname, bname, name):
                    png_name = f"{Path(name).stem}_{rw}x{rh}.png"
                    resized_image = f"resized/{png_name}"
                    data = png_bytes(via_pil)
                    if png_name in written_pngs:
                        assert written_pngs[png_name] == data
                    else:
                        (resized_dir / png_name).write_bytes(data)
                        written_pngs[png_name] = data
                        with Image.open(resized_dir / png_name) as back:
                            assert back.mode == "RGB" and np.array_equal(np.asarray(back), via_pil)
                else:
                    resized_image = None  # not stored, to keep the fixture small

                # Statistics (float64) and sample rows.
                pv64 = pv.astype(np.float64)
                n_rows, n_cols = pv.shape
                blk = p * p
                block_means = [[float(pv64[:, (c * t + tt) * blk:(c * t + tt + 1) * blk].mean()) for tt in range(t)]
                               for c in range(3)]
                row_w = np.arange(1, n_rows + 1, dtype=np.float64)
                col_w = np.arange(1, n_cols + 1, dtype=np.float64)
                stats = {
                    "mean": float(pv64.mean()),
                    "std": float(pv64.std()),
                    "min": F32(pv.min()),
                    "max": F32(pv.max()),
                    "sum": float(pv64.sum()),
                    "row_weighted_sum": float(pv64.sum(axis=1) @ row_w),
                    "col_weighted_sum": float(pv64.sum(axis=0) @ col_w),
                    "block_means": block_means,
                }
                rrng = np.random.default_rng([SEED, 7, n_rows, n_cols, H, W])
                idx = {0, n_rows - 1}
                pool = np.arange(1, n_rows - 1)
                if len(pool):
                    idx |= set(int(i) for i in rrng.choice(pool, size=min(N_RANDOM_ROWS, len(pool)), replace=False))
                rows = []
                for r in sorted(idx):
                    u8 = patch_u8(via_pil, r, gw, p, m)  # (3, p, p)
                    rebuilt = np.repeat(lut[np.arange(3)[:, None, None], u8][:, None], t, axis=1).reshape(-1)
                    assert np.array_equal(rebuilt.view(np.uint32), pv[r].view(np.uint32))
                    entry = {"index": r, "u8_b64": base64.b64encode(u8.tobytes()).decode("ascii")}
                    rows.append(entry)
                if bname == "b50k" and name in LITERAL_ROW_IMAGES:
                    rows[0]["values"] = [F32(v) for v in pv[rows[0]["index"]]]

                case.update({
                    "expect": "ok",
                    "resized": resized,
                    "resized_width": rw,
                    "resized_height": rh,
                    "resized_image": resized_image,
                    "image_grid_thw": grid,
                    "num_image_tokens": gt * gh * gw // (m * m),
                    "pixel_values_shape": [n_rows, n_cols],
                    "stats": stats,
                    "sample_rows": rows,
                })
                cases.append(case)

    assert kwargs_path_checked == set(CONFIGS)
    return cfg_out, images_out, cases


def smart_resize_table():
    rng = np.random.default_rng([SEED, 99])
    budgets = {
        28: [(3136, 12845056), (3136, 1003520), (200704, 1003520), (3136, 50000), (20000, 200000)],
        32: [(65536, 16777216), (4096, 50000), (20000, 200000), (262144, 1048576)],
    }
    entries = []

    seen = set()

    def add(group, h, w, f, mn, mx):
        key = (int(h), int(w), int(f), int(mn), int(mx))
        if key in seen:
            return
        seen.add(key)
        e = {"group": group, "height": int(h), "width": int(w), "factor": int(f),
             "min_pixels": int(mn), "max_pixels": int(mx)}
        try:
            hb, wb = smart_resize(int(h), int(w), factor=int(f), min_pixels=int(mn), max_pixels=int(mx))
            e["h_bar"], e["w_bar"] = int(hb), int(wb)
        except ValueError as ex:
            e["error"] = str(ex)
        entries.append(e)

    hub = {28: (3136, 12845056), 32: (65536, 16777216)}
    for h, w in [(448, 448), (480, 640), (406, 406), (1080, 1920), (100, 100)]:
        for f in (28, 32):
            add("doc_example", h, w, f, *hub[f])
    for f in (28, 32):
        for k in [0, 1, 2, 3, 7, 12, 13, 14, 15, 20, 35, 36]:
            side = k * f + f // 2
            for j in [0, 2, 14, 15]:
                other = j * f + f // 2
                add("half_multiple", side, other, f, *hub[f])
            add("half_multiple", side, side, f, 3136 if f == 28 else 4096, 50000)
            add("half_multiple", side, side + f, f, 20000, 200000)
    for h, w in [(1, 1), (3, 200), (200, 3), (10, 10), (1, 200), (1, 201), (2, 2), (5, 7), (14, 14), (27, 27),
                 (28, 28), (29, 29), (31, 32), (32, 32), (55, 57), (56, 56)]:
        for f in (28, 32):
            for mn, mx in budgets[f][:2]:
                add("tiny", h, w, f, mn, mx)
    for h, w in [(20000, 15000), (15000, 20000), (8192, 8192), (4000, 3000), (12000, 100), (30000, 30000)]:
        for f in (28, 32):
            for mn, mx in budgets[f]:
                add("huge", h, w, f, mn, mx)
    for h, w in [(200, 1), (201, 1), (1000, 5), (1001, 5), (5, 1000), (5, 1001), (400, 2), (401, 2),
                 (12000, 60), (12001, 60), (60, 12000), (28, 5600), (28, 5601), (1010, 5)]:
        for f in (28, 32):
            add("ratio_limit", h, w, f, *hub[f])
            add("ratio_limit", h, w, f, 20000, 200000)
    # Budget boundaries: rounded area equal to max (kept) / one above max (downscaled), equal to min.
    for f in (28, 32):
        for gh, gw in [(8, 8), (6, 10), (10, 25), (16, 16), (1, 40)]:
            area = gh * f * gw * f
            for mx in (area, area - 1, area + 1):
                add("budget_boundary", gh * f, gw * f, f, 1, mx)
            for mn in (area, area + 1):
                add("budget_boundary", gh * f, gw * f, f, mn, 10 ** 9)
        # max(factor, ...) clamp in the downscale branch
        add("budget_boundary", f, 150 * f, f, 1, 50000)
        add("budget_boundary", 150 * f, f - 3, f, 1, 20000)
    # Float edges: inputs where the double division order matters, i.e. floor(H / beta / f) differs
    # from floor(H / (beta * f)) (downscale branch) or ceil(H * beta / f) from ceil(H / f * beta)
    # (upscale branch). Found by a seeded search that aims beta at exact integers.
    frng = np.random.default_rng([SEED, 5])
    found = {"down": 0, "up": 0}
    tries = 0
    while min(found.values()) < 10 and tries < 2_000_000:
        tries += 1
        f = int(frng.choice([28, 32]))
        h, w = (int(x) for x in frng.integers(50, 20000, 2))
        if max(h, w) / min(h, w) > 200:
            continue
        n = int(frng.integers(1, max(2, h // f)))
        if frng.random() < 0.5 and found["down"] < 10:
            bt = h / (n * f)
            mx = int(round(h * w / (bt * bt))) + int(frng.integers(-1, 2))
            if mx < 1 or round(h / f) * f * round(w / f) * f <= mx:
                continue
            beta = math.sqrt(h * w / mx)
            if any(math.floor(x / beta / f) != math.floor(x / (beta * f)) for x in (h, w)):
                found["down"] += 1
                add("float_edge", h, w, f, 1, mx)
        elif found["up"] < 10:
            h, w = max(1, h // 40), max(1, w // 40)
            if max(h, w) / min(h, w) > 200:
                continue
            n = int(frng.integers(h // f + 1, h // f + 40))
            mn = int(round(n * n * f * f * w / h)) + int(frng.integers(-1, 2))
            if mn < 1 or round(h / f) * f * round(w / f) * f >= mn or round(h / f) * f * round(w / f) * f > 10 ** 12:
                continue
            beta = math.sqrt(mn / (h * w))
            if any(math.ceil(x * beta / f) != math.ceil(x / f * beta) for x in (h, w)):
                found["up"] += 1
                add("float_edge", h, w, f, mn, 10 ** 12)
    for _ in range(220):
        f = int(rng.choice([28, 32]))
        mn, mx = budgets[f][int(rng.integers(0, len(budgets[f])))]
        h = int(np.exp(rng.uniform(0, math.log(6000))))
        w = int(np.exp(rng.uniform(0, math.log(6000))))
        if rng.random() < 0.25:  # near a multiple of the factor
            h = max(1, int(rng.integers(1, 150)) * f + int(rng.integers(-1, 2)) * (f // 2))
        add("random", h, w, f, mn, mx)
    return entries


def main():
    if not (REPO / "Package.swift").exists():
        sys.exit("run from the vlbatch repository")
    img_dir, resized_dir = OUT / "images", OUT / "resized"
    for d in (img_dir, resized_dir):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)

    generate_images(img_dir)
    cfg_out, images_out, cases = run_cases(img_dir, resized_dir)
    ver = versions()
    header = {
        "format_version": 1,
        "generator": "tools/make_preprocess_fixtures.py",
        "versions": ver,
        "reference": "transformers.models.qwen2_vl.image_processing_pil_qwen2_vl.Qwen2VLImageProcessorPil"
                     " (PIL backend), from_dict(config), called with [image], return_tensors='np'",
        "loading": "PIL Image.open -> ImageOps.exif_transpose -> if transparency ('A' band or tRNS): "
                   "white RGB canvas .paste(img.convert('RGBA'), mask=alpha) else .convert('RGB')",
        "row_layout": "pixel_values[r][((c*T + t)*p + y)*p + x] = normalize_lut[c][u8[(c*p + y)*p + x]] where "
                      "u8 = base64-decode(sample_rows[i].u8_b64), T = temporal_patch_size, p = patch_size",
        "literal_rows": "on the b50k cases of " + ", ".join(sorted(LITERAL_ROW_IMAGES)) + " the first sample row "
                        "also has 'values': the processor's float32 row written literally (shortest float32 repr)",
        "stats_definitions": "x = pixel_values (R rows, J columns) in float64; mean and std (population) over all "
                             "values; min/max as float32; sum; row_weighted_sum = sum_r (r+1) * sum_j x[r][j]; "
                             "col_weighted_sum = sum_j (j+1) * sum_r x[r][j]; block_means[c][t] = mean of columns "
                             "(c*T + t)*p*p ..< (c*T + t + 1)*p*p",
        "resized_image_policy": RESIZED_POLICY,
        "normalize_lut_formula": "float32((float32(float64(v) * rescale_factor) - float32(mean[c])) / "
                                 "float32(std[c])), all float32 arithmetic",
    }
    n_ok = sum(c["expect"] == "ok" for c in cases)
    doc = {**header, "configs": cfg_out,
           "budgets": {c: [{"name": b, "min_pixels": mn, "max_pixels": mx} for b, mn, mx in bl]
                       for c, bl in BUDGETS.items()},
           "images": images_out, "num_cases": len(cases), "num_ok": n_ok, "cases": cases}
    write_text(OUT / "cases.json", dump_json(doc))

    table = smart_resize_table()
    write_text(OUT / "smart_resize.json", dump_json({
        "format_version": 1,
        "generator": "tools/make_preprocess_fixtures.py",
        "versions": ver,
        "function": "transformers.models.qwen2_vl.image_processing_pil_qwen2_vl.smart_resize"
                    "(height, width, factor, min_pixels, max_pixels)",
        "num_entries": len(table),
        "entries": table,
    }))
    print(f"{len(IMAGES)} images, {len(cases)} cases ({n_ok} ok), {len(os.listdir(resized_dir))} resized PNGs, "
          f"{len(table)} smart_resize entries")


if __name__ == "__main__":
    main()
