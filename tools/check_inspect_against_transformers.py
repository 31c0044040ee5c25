"""Checks `vlbatch inspect image --dump` against transformers, on any images, array for array.

Runs the built vlbatch on the given images with the given processor directory, then computes the same images with
Pillow (EXIF transpose, transparency pasted onto white as qwen-vl-utils does) and transformers'
`Qwen2VLImageProcessorPil`, and compares sizes, grids, token counts and every value of pixel_values. Prints one line
per image and exits 1 on any mismatch. Used to vouch for the golden files in Tests/vlbatchTests/Golden.

    .venv-ref/bin/python tools/check_inspect_against_transformers.py --processor DIR [--vlbatch PATH] IMAGE...
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil


def load_like_qwen_vl_utils(path: str) -> Image.Image:
    image = ImageOps.exif_transpose(Image.open(path))
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    white = Image.new("RGB", rgba.size, (255, 255, 255))
    white.paste(rgba, mask=rgba.split()[3])
    return white


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processor", required=True)
    parser.add_argument("--vlbatch", default=".build/debug/vlbatch")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()
    config = json.loads((Path(args.processor) / "preprocessor_config.json").read_text())
    reference = Qwen2VLImageProcessorPil(
        **{k: v for k, v in config.items() if k not in ("image_processor_type", "processor_class")})
    failures = 0
    with tempfile.TemporaryDirectory() as dump:
        result = subprocess.run(
            [args.vlbatch, "inspect", "image", *args.images, "--processor", args.processor, "--dump", dump],
            capture_output=True, text=True)
        for line, path in zip(result.stdout.splitlines(), args.images):
            record = json.loads(line)
            out = reference(images=[load_like_qwen_vl_utils(path)], return_tensors="np")
            expected = out["pixel_values"].astype(np.float32)
            grid = out["image_grid_thw"][0].tolist()
            ours = np.load(record["dump"])
            same_grid = record["grid_thw"] == grid and record["visual_tokens"] == int(np.prod(grid)) // 4
            difference = float(np.abs(ours - expected).max()) if ours.shape == expected.shape else float("inf")
            ok = same_grid and difference == 0.0
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {path}: grid {record['grid_thw']} vs {grid}, "
                  f"max |difference| {difference}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
