"""What a bank's Markdown may point at: the rules that keep an untrusted bank from making a
writer read local files, reach the network or run script.

Links may only use http, https or mailto. Images must be PNG, JPEG or GIF files inside the
bank's folder (SVG is refused: it can carry scripts), no larger on disk than a bank file and
with few enough pixels that every output can decode them (a 250 KB PNG can hold 256 million
grey pixels: a gigabyte once decoded).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from .reader import MAX_FILE_BYTES

if TYPE_CHECKING:
    from PIL.ImageFile import ImageFile

LINK_SCHEMES = {"http", "https", "mailto"}
IMAGE_TYPES = {  # suffix -> (Pillow's name for the format, its magic bytes)
    ".png": ("PNG", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("JPEG", (b"\xff\xd8\xff",)),
    ".jpeg": ("JPEG", (b"\xff\xd8\xff",)),
    ".gif": ("GIF", (b"GIF87a", b"GIF89a")),
}
# An image file may be as large as a bank file.
MAX_IMAGE_BYTES = MAX_FILE_BYTES
# The most pixels an image may have: what a phone can still draw as one picture (Android
# refuses to draw a bitmap over 100 MiB, at 4 bytes a pixel). Every output gets a scaled-down
# copy (qbank/writers/images.py), but the build decodes the original to make it, and so does
# anyone opening the bank's folder. A 24-megapixel photo or a 6K screenshot fits.
ANDROID_MAX_BITMAP_BYTES = 100 * 1024 * 1024
MAX_IMAGE_PIXELS = ANDROID_MAX_BITMAP_BYTES // 4


def vet_link(url: str) -> str | None:
    """None if the link may be shown, else the reason it is refused."""
    scheme = urlsplit(url.strip()).scheme.lower()
    if scheme not in LINK_SCHEMES:
        shown = f"'{scheme}:'" if scheme else "a relative target"
        return f"link '{url}' uses {shown}; links may only use http, https or mailto"
    return None


def vet_image(folder: Path, src: str) -> Path | str:
    """The image file for `src`, or the reason it is refused."""
    try:
        return _image_file(folder, src)
    # A malformed URL, a NUL byte, an over-long name, a symlink loop, an unreadable file: the
    # bank is at fault, so it is reported like any other refused image, never as a crash.
    except (OSError, ValueError, RuntimeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return f"image '{src}' cannot be used: {reason}"


def _image_file(folder: Path, src: str) -> Path | str:
    parts = urlsplit(src)
    if parts.scheme or parts.netloc:
        return f"image '{src}' is not a file in the bank's folder (remote and absolute URLs are not fetched)"
    relative = unquote(parts.path)
    if relative.startswith(("/", "\\")) or Path(relative).is_absolute():
        return f"image '{src}' is an absolute path; give a path relative to the bank file"
    root = folder.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        return f"image '{src}' lies outside the bank's folder"
    if not path.is_file():
        return f"image '{src}' does not exist (looked for {path})"
    kind = IMAGE_TYPES.get(path.suffix.lower())
    if kind is None:
        return f"image '{src}' must be PNG, JPEG or GIF"
    format_name, magic = kind
    with path.open("rb") as handle:
        head = handle.read(8)
    if not head.startswith(magic):
        return f"image '{src}' is not really a {path.suffix.lstrip('.').upper()} file"
    if (size := path.stat().st_size) > MAX_IMAGE_BYTES:
        return f"image '{src}' is {size:,} bytes; an image may be at most {MAX_IMAGE_BYTES:,}"
    width, height = _pixel_size(path, format_name)
    if width * height > MAX_IMAGE_PIXELS:
        return (f"image '{src}' is {width:,} × {height:,} pixels ({width * height / 1e6:,.0f} megapixels); "
                f"an image may have at most {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels, the most a phone can still "
                f"draw as one picture (Android refuses bitmaps over {ANDROID_MAX_BITMAP_BYTES >> 20} MB): scale it down")
    if damage := _damage(path, format_name):
        # WeasyPrint would leave such an image out of the PDF with only a log line.
        return f"image '{src}' cannot be shown: its data is damaged ({damage})"
    return path


def _opened(path: Path, format_name: str) -> ImageFile:
    """The image, its header read, by the format's own reader (as Image.open(formats=[...])
    would pick) but without Image.open's decompression-bomb check: that one would refuse a huge
    image with an error naming no place in the bank, where the checks here name the file,
    line, item and image."""
    # Imported here: a no-op rebuild, which renders nothing, does not pay for Pillow.
    from PIL import GifImagePlugin, Image, JpegImagePlugin, PngImagePlugin

    readers = {"PNG": PngImagePlugin.PngImageFile, "JPEG": JpegImagePlugin.JpegImageFile,
               "GIF": GifImagePlugin.GifImageFile}
    try:
        return readers[format_name](str(path))
    # Pillow reports a malformed header as SyntaxError; GIF frames past the screen, as a bomb.
    except (SyntaxError, Image.DecompressionBombError, EOFError) as error:
        raise ValueError(f"not a readable {format_name} file ({error})") from None


def _pixel_size(path: Path, format_name: str) -> tuple[int, int]:
    """An image's width and height, read from its header: nothing is decoded."""
    with _opened(path, format_name) as image:
        return image.size


def _damage(path: Path, format_name: str) -> str | None:
    """What keeps the image (already known not to be too large) from being decoded, if anything."""
    with _opened(path, format_name) as image:
        try:
            if format_name == "PNG":
                image.verify()  # every chunk's checksum, to the end of the file, without inflating the pixels
            else:
                # JPEG: decoded at 1/8 scale, a fraction of the work; GIF: its first frame.
                image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            return str(error)
    return None
