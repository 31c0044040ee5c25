"""Make the sample images in Samples/Images (deterministic; seeded).

Run from the repository root with any Python that has Pillow and numpy:
    .venv-ref/bin/python tools/make_samples.py      # the reference venv of tools/README.md

The images are synthetic but photo-like (gradients, noise, shapes, text lines) and cover what users feed a batch
job: a landscape photo, a portrait photo stored sideways with an EXIF orientation, a scanned greyscale page, a
logo with transparency, and a wide panorama. They are inputs for the README's main command, not test fixtures.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent / "Samples" / "Images"
rng = np.random.default_rng(20261123)


def photo(width: int, height: int) -> Image.Image:
    """A sky gradient over a ground band, a few shapes, and sensor-like noise."""
    y = np.linspace(0.0, 1.0, height)[:, None]
    x = np.linspace(0.0, 1.0, width)[None, :]
    sky = np.stack([90 + 80 * y + 0 * x, 140 + 60 * y + 0 * x, 230 - 40 * y + 0 * x], axis=-1)
    ground = np.stack([70 + 30 * x + 0 * y, 120 + 20 * x + 0 * y, 50 + 0 * x + 0 * y], axis=-1)
    horizon = (y > 0.62) | (y > 0.55 + 0.05 * np.sin(x * 12))
    pixels = np.where(horizon[..., None], ground, sky)
    pixels += rng.normal(0.0, 6.0, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        left, top = int(rng.integers(0, width - 60)), int(rng.integers(0, height - 60))
        size = int(rng.integers(20, max(21, min(width, height) // 4)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([left, top, left + size, top + size], fill=colour)
        else:
            draw.rectangle([left, top, left + size, top + size // 2], fill=colour)
    return image


def scanned_page(width: int, height: int) -> Image.Image:
    """A grey page with dark text-like lines and paper noise, as a flatbed scanner writes it."""
    page = Image.new("L", (width, height), 238)
    draw = ImageDraw.Draw(page)
    draw.text((40, 30), "INVOICE  No. 2026-1123", fill=20)
    for line in range(14):
        y = 80 + line * 28
        length = int(rng.integers(width // 3, width - 80))
        draw.rectangle([40, y, 40 + length, y + 9], fill=int(rng.integers(30, 90)))
    noise = rng.normal(0.0, 1.5, (height, width))
    return Image.fromarray(np.clip(np.asarray(page, dtype=np.float64) + noise, 0, 255).astype(np.uint8), "L")


def logo(size: int) -> Image.Image:
    """A round badge on a transparent background, with a soft anti-aliased rim."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse([8, 8, size - 8, size - 8], fill=(200, 40, 60, 255), outline=(120, 20, 30, 160), width=6)
    draw.rectangle([size // 3, size // 3, 2 * size // 3, 2 * size // 3], fill=(255, 255, 255, 200))
    return image


def main() -> None:
    ROOT.mkdir(parents=True, exist_ok=True)
    photo(1280, 960).save(ROOT / "landscape.jpg", quality=85)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; viewers (and vlbatch) rotate it 90° clockwise to portrait
    photo(1200, 900).save(ROOT / "portrait-rotated-by-exif.jpg", quality=88, exif=exif)
    scanned_page(620, 877).save(ROOT / "scanned-invoice.png", optimize=True)
    logo(300).save(ROOT / "badge-transparent.png", optimize=True)
    photo(2400, 360).save(ROOT / "panorama.jpg", quality=85, progressive=True)


if __name__ == "__main__":
    main()
