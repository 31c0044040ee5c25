"""The Python reference for `vlbatch bench preprocess`: Pillow decoding + transformers' Qwen2-VL image processor.

Does the same work as vlbatch on the same files: read the bytes, decode with Pillow, apply EXIF orientation,
convert to RGB, then `Qwen2VLImageProcessorPil` (transformers 5.23, PIL backend) to pixel_values. Prints images/s,
best of --repeats passes; --workers N runs N processes side by side.

    python Benchmarks/preprocess/reference.py --processor DIR [--max-pixels N] [--workers N] FILE...
"""

import argparse
import io
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image, ImageOps
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

PROCESSOR = None


def make_processor(directory: str, max_pixels: int | None) -> Qwen2VLImageProcessorPil:
    config = json.loads((Path(directory) / "preprocessor_config.json").read_text())
    for key in ("image_processor_type", "processor_class"):
        config.pop(key, None)
    if max_pixels is not None:
        config.pop("size", None)
        config["max_pixels"] = max_pixels
    return Qwen2VLImageProcessorPil(**config)


def init_worker(directory: str, max_pixels: int | None) -> None:
    global PROCESSOR
    PROCESSOR = make_processor(directory, max_pixels)


def process(data: bytes) -> int:
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    out = PROCESSOR(images=[image], return_tensors="np")
    return int(out["image_grid_thw"].prod())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processor", required=True)
    parser.add_argument("--max-pixels", type=int)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    inputs = [Path(f).read_bytes() for f in args.files]
    best = None
    with ProcessPoolExecutor(args.workers, initializer=init_worker, initargs=(args.processor, args.max_pixels)) as pool:
        list(pool.map(process, inputs[:1]))  # warm up the workers (imports, processor construction)
        for _ in range(args.repeats):
            start = time.perf_counter()
            patches = list(pool.map(process, inputs))
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
    print(f"images: {len(inputs)}, workers: {args.workers}, best of {args.repeats} passes")
    print(f"images/s: {len(inputs) / best:.2f}")
    print(f"visual tokens per image: {sum(patches) // len(inputs) // 4}")


if __name__ == "__main__":
    main()
