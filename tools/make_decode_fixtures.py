"""Generates the image-decoding fixtures in Tests/Fixtures/decode/ and the pixels Pillow expects for each.

Run from anywhere, with a Python that has Pillow 13 and numpy (the team's reference venv):

    .venv-ref/bin/python tools/make_decode_fixtures.py

The folder is deleted and rewritten. Everything is seeded, so a rerun with the same Pillow and zlib produces the
same bytes. What it makes (all images small, with odd sizes):

  png/          every colour type and bit depth (grey 1/2/4/8/16, grey+alpha 8/16, RGB 8/16, RGBA 8/16,
                palette 1/2/4/8), tRNS on palette/grey/RGB, Adam7 interlacing, all five row filters, split IDAT,
                eXIf (before and after IDAT, both byte orders, "Exif\\0\\0"-prefixed) and XMP orientation, files
                written by Pillow itself, and 1x5000 / 5000x1 strips. Written by the small encoder below, so every
                byte is under control; Pillow decodes them for the reference.
  jpeg/         baseline 4:2:0 / 4:2:2 / 4:4:4, progressive, optimized Huffman tables, greyscale, CMYK (Pillow
                writes the inverted Adobe convention), CMYK without the Adobe marker, YCCK (assembled from four
                single-component scans, since no Python encoder writes YCCK), restart markers, an RGB JPEG, strips.
  orientation/  EXIF orientations 1..8 on a 17x11 JPEG, plus big-endian, LONG-typed, out-of-range, truncated and
                garbage EXIF blocks and XMP-only orientations.
  invalid/      empty, truncated (at several offsets), bit-flipped, huge declared sizes, GIF / WebP / BMP / TIFF /
                AVIF / HEIC / JPEG 2000 / JPEG XL files, text named .jpg, and valid images with the wrong extension.

For every file that decodes, <file>.rgb beside it holds the expected pixels: raw RGB bytes, row-major, width *
height * 3, computed as `ImageOps.exif_transpose(Image.open(file))`, then, when the image has any transparency,
`convert("RGBA")` pasted onto white with its alpha as the mask (qwen-vl-utils' `to_rgb` does that for RGBA only;
vlbatch composites every kind of transparency), else `convert("RGB")`.

Where Pillow departs from the PNG specification, the reference follows the specification instead, computed from
the samples this script wrote, and the manifest says so ("reference": "png-spec"): Pillow clamps 16-bit grey to
0..255 instead of keeping the high byte, and ignores tRNS on 2-, 4- and 16-bit images.

manifest.json lists every file: {"file", "expect": "ok", "format", "width", "height" (after orientation),
"stored_width", "stored_height", "orientation", "composited", "reference", "reference_source"}, or
{"file", "expect": "error", "error": one of empty / truncated / corrupt / unsupported_format / unrecognized /
too_large, "format" for unsupported ones}, or {"file", "expect": "ok_or_error"} for bit flips whose outcome depends
on where the flip lands (the requirement there is only: no crash). "pillow" records what Pillow itself did.
"""

import io
import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "decode"
RNG = np.random.default_rng(20250607)
MANIFEST = []


# MARK: - Pictures


def picture(width, height, channels=3):
    """Smooth gradients with a few hard edges and mild noise: realistic for JPEG, small when compressed."""
    y, x = np.mgrid[0:height, 0:width]
    planes = [
        255 * x / max(width - 1, 1),
        255 * y / max(height - 1, 1),
        128 + 127 * np.sin((x + 2 * y) / 3.0),
        255 * ((x // 4 + y // 3) % 2),
    ]
    image = np.stack(planes[:channels], axis=-1) + RNG.normal(0, 6, (height, width, channels))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def levels(width, height, maximum, channels=1):
    """Random samples in 0...maximum, for PNG bit depths below 8 and 16-bit ones."""
    return RNG.integers(0, maximum + 1, (height, width, channels), dtype=np.int64)


# MARK: - A small PNG encoder


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_row(samples, depth):
    """One row of samples (any channel count, flattened) as PNG bytes: big-endian 16-bit, or packed MSB first."""
    if depth == 16:
        return samples.astype(">u2").tobytes()
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    bits = np.unpackbits(samples.astype(np.uint8)[:, None], axis=1)[:, 8 - depth :].reshape(-1)
    return np.packbits(bits).tobytes()


def filter_row(row, previous, bpp, kind):
    """PNG filter `kind` (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth) applied to one row of bytes."""
    raw = np.frombuffer(row, np.uint8).astype(np.int64)
    up = np.frombuffer(previous, np.uint8).astype(np.int64) if previous else np.zeros_like(raw)
    left = np.concatenate([np.zeros(bpp, np.int64), raw[:-bpp]])
    up_left = np.concatenate([np.zeros(bpp, np.int64), up[:-bpp]])
    if kind == 0:
        predicted = np.zeros_like(raw)
    elif kind == 1:
        predicted = left
    elif kind == 2:
        predicted = up
    elif kind == 3:
        predicted = (left + up) // 2
    else:
        estimate = left + up - up_left
        pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
        predicted = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
    return bytes([kind]) + ((raw - predicted) % 256).astype(np.uint8).tobytes()


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def encode_png(samples, depth, color_type, interlace=False, before=b"", after=b"", idat_parts=1):
    """PNG bytes for `samples` [height, width, channels]; row y of each pass uses filter y % 5."""
    height, width, channels = samples.shape
    bpp = max(1, depth * channels // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    stream = b""
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        previous = None
        for index, row in enumerate(sub):
            packed = pack_row(row.reshape(-1), depth)
            stream += filter_row(packed, previous, bpp, index % 5)
            previous = packed
    data = zlib.compress(stream, 9)
    cuts = [len(data) * i // idat_parts for i in range(idat_parts + 1)]
    idats = b"".join(chunk(b"IDAT", data[a:b]) for a, b in zip(cuts, cuts[1:]))
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 1 if interlace else 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + before + idats + after + chunk(b"IEND", b"")


def png_spec_rgb(samples, depth, color_type, palette=None, trns=None):
    """The PNG specification's reading of `samples`, composited onto white like the Swift decoder."""
    samples = samples.astype(np.int64)
    alpha = None
    if color_type == 3:
        rgb = palette[samples[..., 0]]
        if trns is not None:
            table = np.full(len(palette), 255)
            table[: len(trns)] = trns
            alpha = table[samples[..., 0]]
    else:
        colour = samples[..., :3] if color_type in (2, 6) else samples[..., :1]
        if color_type in (4, 6):
            alpha = samples[..., -1]
        elif trns is not None:
            alpha = np.where(np.all(colour == np.array(trns), axis=-1), 0, 255)
        rgb = np.repeat(colour, 3, axis=-1) if colour.shape[-1] == 1 else colour
        if depth == 16:
            rgb = rgb >> 8
            alpha = alpha >> 8 if color_type in (4, 6) else alpha
        elif depth < 8:
            rgb = rgb * (255 // (2**depth - 1))
    if alpha is not None:
        # Pillow Paste.c BLEND(a, 255, v) = DIV255(255 * (255 - a) + v * a)
        alpha = alpha[..., None]
        rgb = div255(255 * (255 - alpha) + rgb * alpha)
    return rgb.astype(np.uint8)


def div255(value):
    rounded = value + 128
    return ((rounded >> 8) + rounded) >> 8


# MARK: - EXIF and JPEG assembly


def tiff_block(orientation, big_endian=False, value_type=3, entry_count=None, ifd_offset=8, described=True):
    """A TIFF structure with IFD0 = ImageDescription (stored after the IFD; left out unless `described`),
    Orientation, XResolution (stored after the IFD)."""
    order = ">" if big_endian else "<"
    description = b"vlbatch fixture\0"
    entries = [(0x010E, 2, len(description), None)] if described else []
    entries += [(0x0112, value_type, 1, orientation), (0x011A, 5, 1, None)]
    data_start = ifd_offset + 2 + 12 * len(entries) + 4
    ifd = struct.pack(order + "H", len(entries) if entry_count is None else entry_count)
    for tag, kind, count, value in entries:
        if tag == 0x010E:
            field = struct.pack(order + "I", data_start)
        elif tag == 0x011A:
            field = struct.pack(order + "I", data_start + len(description))
        elif kind in (1, 6, 7):  # BYTE, SBYTE, UNDEFINED
            field = bytes([value, 0, 0, 0])
        elif kind in (3, 8):  # SHORT, SSHORT
            field = struct.pack(order + "H", value) + b"\0\0"
        else:
            field = struct.pack(order + "I", value)
        ifd += struct.pack(order + "HHI", tag, kind, count) + field
    ifd += struct.pack(order + "I", 0)
    header = (b"MM\0*" if big_endian else b"II*\0") + struct.pack(order + "I", ifd_offset)
    header += b"\0" * (ifd_offset - 8)
    return header + ifd + description + struct.pack(order + "II", 72, 1)


def segments(jpeg):
    """(marker, payload) pairs of a JPEG up to SOS, and the entropy-coded rest (SOS payload onwards)."""
    position, found = 2, []
    while True:
        marker = jpeg[position + 1]
        length = struct.unpack(">H", jpeg[position + 2 : position + 4])[0]
        payload = jpeg[position + 4 : position + 2 + length]
        if marker == 0xDA:
            return found, jpeg[position + 2 + length : -2], payload
        found.append((marker, payload))
        position += 2 + length


def segment(marker, payload):
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def without_adobe_marker(jpeg):
    found, _, _ = segments(jpeg)
    position = 2
    for marker, payload in found:
        if marker == 0xEE:
            return jpeg[:position] + jpeg[position + 4 + len(payload) :]
        position += 4 + len(payload)
    raise ValueError("no APP14 segment")


def ycck_jpeg(planes):
    """A baseline YCCK JPEG with one non-interleaved scan per component, each taken from a greyscale JPEG that
    Pillow encoded with the same (standard) tables, under an Adobe marker with transform 2."""
    height, width = planes[0].shape
    tables, scans = None, []
    for plane in planes:
        buffer = io.BytesIO()
        image_of(plane, "L").save(buffer, "JPEG", quality=85)
        found, entropy, _ = segments(buffer.getvalue())
        plane_tables = [(m, p) for m, p in found if m in (0xDB, 0xC4)]
        assert tables in (None, plane_tables), "greyscale encodes must share their tables"
        tables = plane_tables
        scans.append(entropy)
    adobe = b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 2)
    frame = struct.pack(">BHHB", 8, height, width, 4) + b"".join(bytes([i + 1, 0x11, 0]) for i in range(4))
    out = b"\xff\xd8" + segment(0xEE, adobe)
    out += b"".join(segment(m, p) for m, p in tables if m == 0xDB) + segment(0xC0, frame)
    out += b"".join(segment(m, p) for m, p in tables if m == 0xC4)
    for index, entropy in enumerate(scans):
        out += segment(0xDA, bytes([1, index + 1, 0x00, 0, 63, 0])) + entropy
    return out + b"\xff\xd9"


def image_of(samples, mode):
    """A Pillow image of 8-bit `samples` [height, width(, channels)] in `mode`."""
    height, width = samples.shape[:2]
    return Image.frombytes(mode, (width, height), np.ascontiguousarray(samples, np.uint8).tobytes())


def jpeg(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def pillow_bytes(image, format_name, **options):
    buffer = io.BytesIO()
    image.save(buffer, format_name, **options)
    return buffer.getvalue()


# MARK: - Pillow's reading


class _Bytes(io.BytesIO):
    def __repr__(self):  # keeps Pillow's error messages free of memory addresses
        return "<bytes>"


def pillow_reference(data):
    """Pillow's pixels for `data`: exif_transpose, then transparency onto white, then RGB."""
    with Image.open(_Bytes(data)) as opened:
        image = ImageOps.exif_transpose(opened)
        if image.has_transparency_data:
            rgba = image.convert("RGBA")
            out = Image.new("RGB", rgba.size, (255, 255, 255))
            out.paste(rgba, mask=rgba.getchannel("A"))
            return np.asarray(out)
        return np.asarray(image.convert("RGB"))


def pillow_orientation(data):
    """The orientation ImageOps.exif_transpose acts on (1 when it does nothing)."""
    with Image.open(_Bytes(data)) as image:
        image.load()
        value = image.getexif().get(0x0112, 1)
        return value if value in range(2, 9) else 1


def pillow_has_transparency(data):
    """Whether the image carries transparency (an alpha band or a tRNS colour), which vlbatch composites."""
    with Image.open(_Bytes(data)) as image:
        return image.has_transparency_data


def pillow_outcome(data):
    try:
        pillow_reference(data)
        return "ok"
    except Exception as error:  # any failure is an outcome to record
        return f"{type(error).__name__}: {error}"


# MARK: - Manifest


def write(name, data):
    path = OUT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def valid(name, data, fmt, orientation=1, spec=None, note=None):
    """A file that must decode; the reference is Pillow's unless `spec` (the PNG specification's pixels) is given."""
    write(name, data)
    outcome = pillow_outcome(data)
    if spec is None:
        assert outcome == "ok", f"{name}: Pillow failed: {outcome}"
        assert pillow_orientation(data) == orientation, f"{name}: Pillow applies another orientation"
        pixels = pillow_reference(data)
    else:
        pixels = spec
        pillow_pixels = pillow_reference(data) if outcome == "ok" else None
        if note is None:  # the reference must then agree with Pillow: this checks the encoder above
            assert pillow_pixels is not None and np.array_equal(pillow_pixels, spec), f"{name}: Pillow disagrees"
        else:
            assert pillow_pixels is None or not np.array_equal(pillow_pixels, spec), f"{name}: Pillow now agrees"
    height, width = pixels.shape[:2]
    stored = (height, width) if orientation >= 5 else (width, height)
    write(name + ".rgb", np.ascontiguousarray(pixels, np.uint8).tobytes())
    entry = {
        "file": name,
        "expect": "ok",
        "format": fmt,
        "width": width,
        "height": height,
        "stored_width": stored[0],
        "stored_height": stored[1],
        "orientation": orientation,
        "composited": pillow_has_transparency(data),
        "reference": name + ".rgb",
        "reference_source": "pillow" if note is None else "png-spec",
        "pillow": outcome,
    }
    if note is not None:
        entry["note"] = note
    MANIFEST.append(entry)


def invalid(name, data, error, fmt=None):
    write(name, data)
    entry = {"file": name, "expect": "error", "error": error, "pillow": pillow_outcome(data)}
    if fmt is not None:
        entry["format"] = fmt
    assert entry["pillow"] != "ok" or error == "unsupported_format", f"{name}: Pillow decodes it"
    MANIFEST.append(entry)


def damaged(name, data):
    write(name, data)
    MANIFEST.append({"file": name, "expect": "ok_or_error", "pillow": pillow_outcome(data)})


# MARK: - Fixtures


def png_fixtures():
    def spec_png(name, samples, depth, color_type, palette=None, trns=None, note=None, **options):
        before = b""
        if palette is not None:
            before += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
        if trns is not None:
            if color_type == 3:
                before += chunk(b"tRNS", bytes(trns))
            else:
                before += chunk(b"tRNS", struct.pack(">" + "H" * len(trns), *trns))
        data = encode_png(samples, depth, color_type, before=before, **options)
        spec = png_spec_rgb(samples, depth, color_type, palette, trns)
        valid(name, data, "png", spec=spec, note=note)

    for depth, size in [(1, (13, 9)), (2, (11, 7)), (4, (9, 5)), (8, (13, 9))]:
        spec_png(f"png/grey{depth}.png", levels(*size, 2**depth - 1), depth, 0)
    spec_png(
        "png/grey16.png", levels(13, 9, 65535), 16, 0,
        note="Pillow reads 16-bit grey as I;16 and convert('RGB') clamps it to 0..255 (mostly white); "
        "the reference keeps the high byte, like 16-bit colour")
    grey = levels(13, 9, 255)
    grey[0, :4] = 77
    spec_png("png/grey8_trns.png", grey, 8, 0, trns=[77])
    spec_png("png/grey1_trns.png", levels(13, 9, 1), 1, 0, trns=[1])
    spec_png(
        "png/grey2_trns.png", levels(11, 7, 3), 2, 0, trns=[1],
        note="Pillow compares the unscaled tRNS level 1 with samples scaled to 0/85/170/255 and finds nothing")
    grey16 = levels(9, 7, 65535)
    grey16[1, 2:5] = 4660
    spec_png(
        "png/grey16_trns.png", grey16, 16, 0, trns=[4660],
        note="Pillow cannot convert a transparent I;16 image; the spec compares the 16-bit samples")

    spec_png("png/rgb8.png", picture(13, 9), 8, 2)
    spec_png("png/rgb16.png", levels(11, 7, 65535, 3), 16, 2)
    rgb = picture(13, 9)
    rgb[2, 3:7] = (12, 34, 56)
    spec_png("png/rgb8_trns.png", rgb, 8, 2, trns=[12, 34, 56])
    rgb16 = levels(9, 7, 65535, 3)
    rgb16[3, 1:4] = (1000, 2000, 3000)
    spec_png(
        "png/rgb16_trns.png", rgb16, 16, 2, trns=[1000, 2000, 3000],
        note="Pillow masks the 16-bit tRNS colour to its low byte and compares it with the 8-bit pixels")

    for depth, size in [(1, (13, 9)), (2, (11, 7)), (4, (15, 9)), (8, (13, 11))]:
        entries = min(2**depth, 200)  # fewer entries than the depth allows, for depth 8
        palette = RNG.integers(0, 256, (entries, 3))
        spec_png(f"png/palette{depth}.png", levels(*size, entries - 1), depth, 3, palette=palette)
    palette = RNG.integers(0, 256, (16, 3))
    spec_png("png/palette4_trns.png", levels(15, 9, 15), 4, 3, palette=palette, trns=[255, 0, 255, 128])
    palette = RNG.integers(0, 256, (100, 3))
    trns = RNG.integers(0, 256, 60).tolist()  # shorter than the palette: the rest are opaque
    spec_png("png/palette8_trns.png", levels(13, 9, 99), 8, 3, palette=palette, trns=trns)

    grey_alpha = levels(13, 9, 255, 2)
    grey_alpha[0, :3, 1] = (0, 255, 128)
    spec_png("png/grey_alpha8.png", grey_alpha, 8, 4)
    spec_png("png/grey_alpha16.png", levels(11, 7, 65535, 2), 16, 4)
    rgba = np.concatenate([picture(64, 64), levels(64, 64, 255)], axis=-1)
    rgba[0, :2, 3] = (0, 255)
    spec_png("png/rgba8.png", rgba, 8, 6)  # 4096 random (value, alpha) pairs through BLEND
    spec_png("png/rgba16.png", levels(11, 7, 65535, 4), 16, 6)

    spec_png("png/interlaced_grey1.png", levels(13, 9, 1), 1, 0, interlace=True)
    spec_png("png/interlaced_palette4_trns.png", levels(15, 9, 15), 4, 3,
             palette=RNG.integers(0, 256, (16, 3)), trns=[0, 64], interlace=True)
    spec_png("png/interlaced_rgb16.png", levels(11, 7, 65535, 3), 16, 2, interlace=True)
    spec_png("png/interlaced_grey_alpha8.png", levels(9, 10, 255, 2), 8, 4, interlace=True)
    spec_png("png/interlaced_rgba8.png", np.concatenate([picture(13, 9), levels(13, 9, 255)], -1), 8, 6,
             interlace=True)
    spec_png("png/interlaced_1x1.png", levels(1, 1, 255, 3), 8, 2, interlace=True)
    spec_png("png/interlaced_3x2.png", levels(3, 2, 255, 3), 8, 2, interlace=True)
    spec_png("png/split_idat.png", picture(33, 21), 8, 2, idat_parts=5)

    spec_png("png/strip_1x5000.png", picture(1, 5000), 8, 2)
    spec_png("png/strip_5000x1.png", picture(5000, 1), 8, 2)

    # Files from Pillow's own encoder, whose filter choices and chunk layout differ from the encoder above.
    valid("png/pillow_rgb.png", pillow_bytes(Image.fromarray(picture(21, 13)), "PNG", optimize=True), "png")
    paletted = Image.fromarray(picture(19, 11)).quantize(colors=7)
    valid("png/pillow_palette_trns.png", pillow_bytes(paletted, "PNG", transparency=3), "png")
    valid("png/pillow_la.png", pillow_bytes(image_of(levels(17, 9, 255, 2), "LA"), "PNG"), "png")

    # Orientation in PNG: Pillow reads eXIf wherever it is, and falls back to the XMP text.
    upright = picture(17, 11)
    for name, block, where, orientation in [
        ("png/exif6.png", tiff_block(6), "before", 6),
        ("png/exif3_after_idat_big_endian.png", tiff_block(3, big_endian=True), "after", 3),
        ("png/exif8_prefixed.png", b"Exif\0\0" + tiff_block(8), "before", 8),
    ]:
        placement = {where: chunk(b"eXIf", block)}
        valid(name, encode_png(upright, 8, 2, **placement), "png", orientation=orientation)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="5"/></x:xmpmeta>'
    itxt = chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp)
    valid("png/xmp5.png", encode_png(upright, 8, 2, before=itxt), "png", orientation=5)


def jpeg_fixtures():
    photo = Image.fromarray(picture(33, 21))
    valid("jpeg/baseline_420.jpg", jpeg(photo, quality=90), "jpeg")
    valid("jpeg/baseline_422.jpg", jpeg(Image.fromarray(picture(31, 17)), quality=90, subsampling="4:2:2"), "jpeg")
    valid("jpeg/baseline_444.jpg", jpeg(Image.fromarray(picture(29, 19)), quality=90, subsampling="4:4:4"), "jpeg")
    valid("jpeg/progressive.jpg", jpeg(Image.fromarray(picture(45, 29)), quality=85, progressive=True), "jpeg")
    valid("jpeg/optimized.jpg", jpeg(photo, quality=75, optimize=True), "jpeg")
    grey = image_of(picture(23, 15, 1), "L")
    valid("jpeg/grey.jpg", jpeg(grey, quality=90), "jpeg")
    valid("jpeg/grey_progressive.jpg", jpeg(grey, quality=90, progressive=True), "jpeg")
    cmyk = image_of(picture(21, 13, 4), "CMYK")
    cmyk_bytes = jpeg(cmyk, quality=90)
    valid("jpeg/cmyk_adobe.jpg", cmyk_bytes, "jpeg")
    valid("jpeg/cmyk_no_adobe_marker.jpg", without_adobe_marker(cmyk_bytes), "jpeg")
    valid("jpeg/cmyk_progressive.jpg", jpeg(cmyk, quality=90, progressive=True), "jpeg")
    ycc = np.asarray(Image.fromarray(picture(19, 13)).convert("YCbCr"))
    planes = [ycc[..., 0], ycc[..., 1], ycc[..., 2], picture(19, 13, 1)[..., 0]]
    valid("jpeg/ycck.jpg", ycck_jpeg(planes), "jpeg")
    valid("jpeg/restart_rows.jpg", jpeg(photo, quality=90, restart_marker_rows=1), "jpeg")
    valid("jpeg/restart_blocks.jpg", jpeg(photo, quality=90, restart_marker_blocks=3, progressive=True), "jpeg")
    valid("jpeg/rgb_no_ycc.jpg", jpeg(photo, quality=90, keep_rgb=True, subsampling="4:4:4"), "jpeg")
    valid("jpeg/strip_1x5000.jpg", jpeg(Image.fromarray(picture(1, 5000)), quality=90), "jpeg")
    valid("jpeg/strip_5000x1.jpg", jpeg(Image.fromarray(picture(5000, 1)), quality=90), "jpeg")
    valid("jpeg/trailing_garbage.jpg", jpeg(photo, quality=80) + b"not part of the image" * 4, "jpeg")


def orientation_fixtures():
    upright = Image.fromarray(picture(17, 11))
    for value in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = value
        valid(f"orientation/exif{value}.jpg", jpeg(upright, quality=92, exif=exif), "jpeg", orientation=value)
    cases = [
        ("exif6_big_endian.jpg", tiff_block(6, big_endian=True), 6),
        ("exif8_long_type.jpg", tiff_block(8, value_type=4), 8),
        ("exif7_sshort_type_big_endian.jpg", tiff_block(7, big_endian=True, value_type=8), 7),
        # Pillow reads BYTE and UNDEFINED values as bytes objects, which match no orientation.
        ("exif7_byte_type_ignored.jpg", tiff_block(7, value_type=1), 1),
        ("exif5_gap_before_ifd.jpg", tiff_block(5, ifd_offset=20), 5),
        ("exif9_out_of_range.jpg", tiff_block(9), 1),
        ("exif6_ifd_out_of_bounds.jpg", tiff_block(6, ifd_offset=4000)[:60], 1),
        # Nine entries announced and the block cut inside the third. Pillow keeps the entries it read before the
        # short read, but a value stored past the end (the ImageDescription here) ends the IFD at once.
        ("exif3_truncated_ifd.jpg", tiff_block(3, entry_count=9, described=False)[:27], 3),
        ("exif3_value_past_end.jpg", tiff_block(3, entry_count=9)[:39], 1),
        ("exif_garbage.jpg", b"not a TIFF header at all", 1),
    ]
    for name, block, orientation in cases:
        valid(f"orientation/{name}", jpeg(upright, quality=92, exif=b"Exif\0\0" + block), "jpeg",
              orientation=orientation)
    attribute = b'<x:xmpmeta><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'
    element = b"<x:xmpmeta><tiff:Orientation>3</tiff:Orientation></x:xmpmeta>"
    valid("orientation/xmp6_attribute.jpg", jpeg(upright, quality=92, xmp=attribute), "jpeg", orientation=6)
    valid("orientation/xmp3_element.jpg", jpeg(upright, quality=92, xmp=element), "jpeg", orientation=3)
    exif = Image.Exif()
    exif[0x0112] = 1
    both = jpeg(upright, quality=92, exif=exif, xmp=attribute)
    valid("orientation/exif1_beats_xmp6.jpg", both, "jpeg", orientation=1)


def invalid_fixtures():
    photo = Image.fromarray(picture(64, 48))
    png = encode_png(picture(64, 48), 8, 2)
    baseline = jpeg(photo, quality=90)
    progressive = jpeg(photo, quality=90, progressive=True)

    invalid("invalid/empty.png", b"", "empty")
    invalid("invalid/png_signature_only_4_bytes.png", png[:4], "truncated")
    for name, data in [("png", png), ("jpeg", baseline), ("progressive", progressive)]:
        extension = "png" if name == "png" else "jpg"
        invalid(f"invalid/{name}_cut_at_10.{extension}", data[:10], "truncated")
        invalid(f"invalid/{name}_cut_at_half.{extension}", data[: len(data) // 2], "truncated")
    for name, data in [("jpeg", baseline), ("progressive", progressive)]:
        invalid(f"invalid/{name}_without_last_2_bytes.jpg", data[:-2], "truncated")
    # Pillow stops once it has every row, so a PNG that loses its IEND or even its zlib checksum still decodes.
    valid("invalid/png_without_last_2_bytes.png", png[:-2], "png")
    valid("invalid/png_without_last_20_bytes.png", png[:-20], "png")
    valid("invalid/png_trailing_garbage.png", png + b"garbage" * 5, "png")

    invalid("invalid/jpeg_soi_eoi_only.jpg", b"\xff\xd8\xff\xd9", "corrupt")
    invalid("invalid/png_without_idat.png", png[:33] + chunk(b"IEND", b""), "corrupt")
    header_flip = bytearray(png)
    header_flip[18] ^= 0x04  # IHDR width: the chunk CRC no longer matches
    invalid("invalid/png_flip_in_ihdr.png", bytes(header_flip), "corrupt")
    for index, offset in enumerate(sorted(RNG.integers(45, len(png) - 20, 3))):
        flipped = bytearray(png)
        flipped[offset] ^= 1 << int(RNG.integers(0, 8))
        damaged(f"invalid/png_flip_in_idat_{index + 1}.png", bytes(flipped))
    scan_start = baseline.index(b"\xff\xda")
    for index, offset in enumerate([30, 160, scan_start + 20, scan_start + 300, len(baseline) - 40]):
        flipped = bytearray(baseline)
        flipped[offset] ^= 1 << int(RNG.integers(0, 8))
        damaged(f"invalid/jpeg_flip_{index + 1}.jpg", bytes(flipped))

    huge_png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
    huge_png += chunk(b"IDAT", zlib.compress(b"\0" * 300_001)) + chunk(b"IEND", b"")
    invalid("invalid/huge_100000x100000.png", huge_png, "too_large")
    wide_png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2**31 - 1, 1, 16, 6, 0, 0, 0))
    wide_png += chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
    invalid("invalid/huge_2147483647x1_rgba16.png", wide_png, "too_large")  # 16 GiB of row buffer if allocated
    sof = baseline.index(b"\xff\xc0")
    huge_jpeg = baseline[: sof + 5] + struct.pack(">HH", 65000, 65000) + baseline[sof + 9 :]
    invalid("invalid/huge_65000x65000.jpg", huge_jpeg, "too_large")

    small = Image.fromarray(picture(9, 7))
    for name, data, fmt in [
        ("invalid/image.gif", pillow_bytes(small, "GIF"), "GIF"),
        ("invalid/image.webp", pillow_bytes(small, "WEBP", lossless=True), "WebP"),
        ("invalid/image.bmp", pillow_bytes(small, "BMP"), "BMP"),
        ("invalid/image.tiff", pillow_bytes(small, "TIFF"), "TIFF"),
        ("invalid/image.jp2", pillow_bytes(small, "JPEG2000"), "JPEG 2000"),
        ("invalid/image.avif", pillow_bytes(small, "AVIF", quality=50), "AVIF"),
        # Pillow cannot write HEIC or JPEG XL: these are only their signatures, which is all the decoder reads.
        ("invalid/image.heic", struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0mif1heic" + b"\0" * 16, "HEIC"),
        ("invalid/image.jxl", b"\xff\x0a" + bytes(30), "JPEG XL"),
    ]:
        invalid(name, data, "unsupported_format", fmt)
    invalid("invalid/text_named.jpg", b"This is a text file, not a picture.\n", "unrecognized")
    invalid("invalid/mp4_named.png", struct.pack(">I", 24) + b"ftypisom" + bytes(40), "unrecognized")
    valid("invalid/png_named.jpg", encode_png(picture(13, 9), 8, 2), "png")
    valid("invalid/jpeg_named.png", jpeg(small, quality=90), "jpeg")


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    png_fixtures()
    jpeg_fixtures()
    orientation_fixtures()
    invalid_fixtures()
    text = json.dumps({"files": MANIFEST}, indent=1, sort_keys=True) + "\n"
    (OUT / "manifest.json").write_text(text)
    total = sum(path.stat().st_size for path in OUT.rglob("*") if path.is_file())
    print(f"{len(MANIFEST)} fixtures, {total / 1024:.0f} KiB in {OUT}")


if __name__ == "__main__":
    main()
