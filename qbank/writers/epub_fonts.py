"""The fonts the EPUB embeds: subsets of the bank's font stack for its text.

A reader may have none of the bank's fonts, so the book carries what it draws with: per family
of the stack (fonts.py), the characters of the book no earlier family has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import uharfbuzz as hb
from markupsafe import Markup

from ..templating import css_string
from .fonts import FontFace, FontStack, InstalledFamily, ShownText, glyph_sources, template_font_stacks


@dataclass(frozen=True)
class EmbeddedFont:
    """One @font-face rule of the stylesheet: a subset file under its own family name."""

    family: Markup  # a CSS string: the subset's family name, apart from any installed font's
    bold: bool
    file: str  # its name in the book's font folder


def _write_subset(face: FontFace, text: str, folder: Path) -> str:
    """Save the glyphs `face` needs for `text` (and nothing else) into `folder`; returns the file name.

    HarfBuzz's subsetter, the one WeasyPrint uses for the PDF, is fast even on a CJK face. It
    keeps the font's own head.modified time, so the subset, and so the book, is byte-identical
    across builds.
    """
    face_data = hb.Face(hb.Blob.from_file_path(str(face.path)), face.index)
    request = hb.SubsetInput()
    request.sets(hb.SubsetInputSets.UNICODE).update(ord(ch) for ch in text)
    font = hb.subset(face_data, request)
    if font is None:
        raise RuntimeError(f"HarfBuzz could not subset {face.path}")
    data = font.blob.data
    outlines = ".otf" if data[:4] == b"OTTO" else ".ttf"
    name = f"{re.sub(r'[^A-Za-z0-9]', '', face.family)}-{'Bold' if face.bold else 'Regular'}{outlines}"
    (folder / name).write_bytes(data)
    return name


def _embedded_name(family: InstalledFamily) -> str:
    return f"{family.name} (qbank subset)"


def embed_fonts(stack: FontStack, shown: ShownText, folder: Path) -> tuple[list[EmbeddedFont], dict[str, Markup]]:
    """Write into `folder` a subset of each family of the stack that draws some of the book's
    text, holding only the characters no earlier family has; returns the @font-face rules and
    the stylesheet's font-family values (each family preceded by its subset, if it has one)."""
    drawn, _ = glyph_sources(stack, shown)  # the coverage check already refused what none has
    fonts = [
        EmbeddedFont(css_string(_embedded_name(family)), face.bold, _write_subset(face, "".join(sorted(drawn[family])), folder))
        for family in stack.installed(stack.mono) if family in drawn
        for face in family.faces  # without a bold face, readers embolden the regular one themselves
    ]

    embedded = {family.name: _embedded_name(family) for family in drawn}

    def subset_before_each(families: tuple[str, ...]) -> list[str]:
        return [name for family in families for name in (embedded.get(family), family) if name]

    return fonts, template_font_stacks(subset_before_each(stack.text), subset_before_each(stack.mono))
