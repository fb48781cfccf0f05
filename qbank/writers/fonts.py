"""Which font files the printed and e-book outputs use, and whether they cover the bank's text.

Both the PDF (which embeds a subset through WeasyPrint) and the EPUB (which embeds a subset
we make) need the same answer, so it is found here once. Fonts are located with fontconfig,
which WeasyPrint itself uses, so the file we check is the file that gets rendered.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont

from ..model import BankError, Location, MissingTool, Problem
from ..document import RenderedBank, plain_text
from ..templating import for_language, read_table


@dataclass(frozen=True)
class FontFace:
    family: str
    path: Path
    index: int  # the face's number inside a .ttc collection (0 for a plain .otf/.ttf)
    bold: bool

    def open(self) -> TTFont:
        return TTFont(self.path, fontNumber=self.index, lazy=True)


class FontMissing(MissingTool):
    """None of the bank's font families is installed (the setup step installs the first)."""


@cache
def families_for(lang: str) -> tuple[str, ...]:
    return tuple(for_language(read_table("fonts.yaml"), lang, "default", "fonts.yaml"))


@cache
def _match(family: str, bold: bool) -> FontFace | None:
    if shutil.which("fc-match") is None:
        raise FontMissing("fontconfig's fc-match is not installed; run the project's setup step")
    pattern = f"{family}:weight={'bold' if bold else 'regular'}"
    found = subprocess.run(
        ["fc-match", "--format=%{file}\n%{index}\n%{family}", pattern], capture_output=True, text=True, check=False
    ).stdout.split("\n")
    if len(found) < 3 or family not in found[2].split(","):
        return None  # fontconfig substituted another family: this one is not installed
    return FontFace(family, Path(found[0]), int(found[1] or 0), bold)


def font_faces(lang: str) -> tuple[FontFace, FontFace]:
    """The regular and bold faces of the first installed family for `lang`."""
    for family in families_for(lang):
        regular = _match(family, bold=False)
        if regular:
            return regular, _match(family, bold=True) or regular
    raise FontMissing(
        f"no font for language {lang} is installed (tried {', '.join(families_for(lang))}); run the project's setup step"
    )


@cache
def covered_characters(face: FontFace) -> frozenset[str]:
    cmap = face.open().getBestCmap()
    return frozenset(chr(code) for code in cmap)


def items_using(doc: RenderedBank, characters: set[str]) -> list[tuple[str | None, Location, str]]:
    """(item id, its place, the characters shown) for each item whose text uses any of
    `characters`. Bank-level text (title, preface, labels), and characters found in no text
    (a template's own), are reported at the bank's title."""
    used: dict[str | None, set[str]] = {}
    for item_id, html in doc.html_fragments():
        found = characters.intersection(plain_text(html))
        if found:
            used.setdefault(item_id, set()).update(found)
    unplaced = characters.difference(*used.values())
    if unplaced:
        used.setdefault(None, set()).update(unplaced)
    items = {item.id: item for item in doc.items}
    return [
        (item_id, items[item_id].source.location if item_id else doc.source.place(("title",)),
         " ".join(f"{ch} (U+{ord(ch):04X})" for ch in sorted(chars)))
        for item_id, chars in used.items()
    ]


def require_coverage(doc: RenderedBank, faces: tuple[FontFace, ...]) -> None:
    """Fail the build, naming each item and its characters, if the fonts cannot show them all.

    A character without a glyph would print as an empty box (.notdef), which a reader may
    take for real content; better no output than a silently wrong one.
    """
    covered = set().union(*(covered_characters(face) for face in faces))
    shown = {ch for _, html in doc.html_fragments() for ch in plain_text(html)}
    missing = {ch for ch in shown if ch not in covered and not ch.isspace()}
    if not missing:
        return
    families = ", ".join(sorted({face.family for face in faces}))
    raise BankError([
        Problem(location, f"no glyph in {families} for: {characters}", item_id)
        for item_id, location, characters in items_using(doc, missing)
    ])
