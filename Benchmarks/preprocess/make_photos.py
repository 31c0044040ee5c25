"""Writes N photo-like 12-megapixel JPEGs (4000×3000, seeded) into a folder, for the preprocessing benchmark."""

import sys
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    folder, count = Path(sys.argv[1]), int(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12)
    y = np.linspace(0.0, 1.0, 3000, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, 4000, dtype=np.float32)[None, :]
    for index in range(count):
        phase = rng.uniform(0, 6.28, 3)
        channels = [128 + 90 * np.sin(6 * x + 4 * y + p) * np.cos(3 * y - 2 * x + p) for p in phase]
        pixels = np.stack(channels, axis=-1) + rng.normal(0, 8, (3000, 4000, 3)).astype(np.float32)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"photo-{index:02}.jpg", quality=90)


if __name__ == "__main__":
    main()
