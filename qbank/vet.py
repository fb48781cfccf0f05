"""What a bank's Markdown may point at: the rules that keep an untrusted bank from making a
writer read local files, reach the network or run script.

Links may only use http, https or mailto. Images must be PNG, JPEG or GIF files inside the
bank's folder (SVG is refused: it can carry scripts).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

LINK_SCHEMES = {"http", "https", "mailto"}
IMAGE_TYPES = {  # suffix -> magic bytes
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
}


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
    magic = IMAGE_TYPES.get(path.suffix.lower())
    if magic is None:
        return f"image '{src}' must be PNG, JPEG or GIF"
    with path.open("rb") as handle:
        head = handle.read(8)
    if not head.startswith(magic):
        return f"image '{src}' is not really a {path.suffix.lstrip('.').upper()} file"
    return path
