"""Each output's copy of the bank's images, with no more pixels than the output can use.

Banks hold screenshots pasted straight from a screen: 3000 x 2000 pixels and several
megabytes. Paper needs an image's largest printed size at PRINT_DPI; a phone or an e-reader,
SCREEN. Each writer names its box and gets, for every image of the bank, the bank's own file
if it fits, else a copy scaled down to fit, in the same format:

- PNG stays PNG (a palette PNG gets a palette again), JPEG stays JPEG, encoded with the
  original's quantization tables and chroma subsampling, i.e. at its quality.
- GIF stays GIF, but a scaled copy keeps only the first frame: the one paper shows, and what
  most e-ink readers show anyway. Scaling an animation means decoding every frame, and a
  32 MB GIF can hold tens of thousands of them: the pixel limit would no longer bound the
  work. An animated GIF that fits is shipped as it is, still animated.
- A copy keeps the colour profile and nothing else (no dates, text or EXIF: its orientation
  is applied to the pixels first), and the encoders run with fixed settings, so two builds
  give the same bytes.

The vetting (qbank/vet.py) already refused any image over its pixel limit or with damaged
data, so decoding one here is bounded and succeeds. Pillow's own guard against decompression
bombs (a warning past MAX_IMAGE_PIXELS, an error past twice that) is set from the same limit,
for any decoding in these processes, WeasyPrint's included.
"""

from __future__ import annotations

import io
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from math import ceil
from pathlib import Path
from typing import Iterator

from PIL import ExifTags, Image, ImageOps, JpegImagePlugin

from ..vet import IMAGE_TYPES, MAX_IMAGE_PIXELS
from . import Downscaled

Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

PRINT_DPI = 300
MM_PER_INCH = 25.4
# Phones are 1080-1290 pixels wide, e-readers 1264 x 1680 (Kobo Libra 2) or 1236 x 1648
# (Kindle Paperwhite); Apple Books asks for at most 4 megapixels. Anki limits a media file to
# 100 MiB (what its sync carries) and sets no pixel limit: its cards show on the same screens.
SCREEN_LONGEST_SIDE = 1600
ORIENTATIONS_SWAPPING_SIDES = {5, 6, 7, 8}  # EXIF: the stored image is turned a quarter
FORMATS = sorted({format_name for format_name, _ in IMAGE_TYPES.values()})
# Fixed, so the same image always gives the same bytes. PNG: zlib's default level, which on
# screenshots compresses as well as level 9 or Pillow's `optimize` in half their time. JPEG
# and GIF: `optimize` computes the Huffman tables / trims the palette for this very image.
ENCODER_SETTINGS: dict[str, dict[str, object]] = {
    "PNG": {"compress_level": 6},
    "JPEG": {"optimize": True},
    "GIF": {"optimize": True},
}


@dataclass(frozen=True)
class Box:
    """The most pixels an output can use for one image, across and down."""

    width: int
    height: int

    @classmethod
    def printed(cls, width_mm: float, height_mm: float) -> "Box":
        """What an image printed at most this large needs at PRINT_DPI."""
        return cls(ceil(width_mm / MM_PER_INCH * PRINT_DPI), ceil(height_mm / MM_PER_INCH * PRINT_DPI))


SCREEN = Box(SCREEN_LONGEST_SIDE, SCREEN_LONGEST_SIDE)


@dataclass(frozen=True)
class FittedMedia:
    files: dict[str, Path]  # media name (as the HTML uses it) -> the file to ship
    downscaled: Downscaled


def _fitted_size(size: tuple[int, int], box: Box) -> tuple[int, int] | None:
    """The largest size with `size`'s proportions inside `box`; None if `size` fits already."""
    width, height = size
    scale = min(box.width / width, box.height / height)
    if scale >= 1:
        return None
    return max(1, round(width * scale)), max(1, round(height * scale))


def fitted(source: Path, box: Box) -> bytes | None:
    """The image in `source` scaled down to fit `box`, in its own format; None if it fits."""
    with Image.open(source, formats=FORMATS) as image:
        format_name = image.format
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        stored_box = Box(box.height, box.width) if orientation in ORIENTATIONS_SWAPPING_SIDES else box
        size = _fitted_size(image.size, stored_box)
        if size is None:
            return None
        options = dict(ENCODER_SETTINGS[format_name])
        if icc_profile := image.info.get("icc_profile"):
            options["icc_profile"] = icc_profile
        if format_name == "JPEG":
            options["qtables"] = image.quantization
            if (subsampling := JpegImagePlugin.get_sampling(image)) != -1:
                options["subsampling"] = subsampling
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale where that still leaves twice the
            # pixels needed: a fraction of the memory and time, no visible difference.
            image.draft(image.mode, (size[0] * 2, size[1] * 2))
        palette = image.mode in ("P", "PA")
        # Filters cannot blend palette indices or single bits: scale in full colour or grey.
        if palette:
            image = image.convert("RGBA" if image.has_transparency_data else "RGB")
        elif image.mode == "1":
            image = image.convert("L")
        scaled = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    scaled = ImageOps.exif_transpose(scaled)
    if palette and format_name == "PNG":
        scaled = scaled.quantize(colors=256)
    scaled.info.clear()  # carried over from the original: only `options` may reach the file
    encoded = io.BytesIO()
    scaled.save(encoded, format_name, **options)
    return encoded.getvalue()


@contextmanager
def fitted_media(media: dict[str, Path], box: Box) -> Iterator[FittedMedia]:
    """The bank's media as an output with `box` ships them, the scaled copies in a temporary
    folder that lasts as long as the block."""
    with tempfile.TemporaryDirectory(prefix="qbank-images-") as folder:
        files: dict[str, Path] = {}
        count = saved = 0
        for name, source in media.items():
            data = fitted(source, box)
            if data is None:
                files[name] = source
                continue
            files[name] = Path(folder) / name
            files[name].write_bytes(data)
            count += 1
            saved += source.stat().st_size - len(data)
        yield FittedMedia(files, Downscaled(count, saved))
