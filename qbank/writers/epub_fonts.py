"""The fonts the EPUB embeds: subsets of the bank's font stack for its text, and of an OpenType
math font for its formulas.

A reader may have none of the bank's fonts, so the book carries what it draws with: per family
of the stack (fonts.py), the characters of the book no earlier family has. MathML needs more:
a reader stretches a bracket over a matrix or the brace of `cases` only with a font that has an
OpenType MATH table (its larger variants of each bracket, and the parts to build any height),
and lays out fractions, scripts and radicals from that table's constants. So a book with
formulas also embeds a subset of a math font, for `math` in book.css; HarfBuzz's subsetter
keeps the MATH table and the variants and parts of the glyphs it keeps.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import uharfbuzz as hb
from markupsafe import Markup

from ..mathjax import MATHML, styled, warn
from ..templating import css_string
from .fonts import FontFace, FontStack, InstalledFamily, ShownText, glyph_sources, installed_family, template_font_stacks

# OpenType math fonts, the first installed one embedded. Not Debian's Noto Sans Math
# (fonts-noto-core 20201225): it has no MATH table. DejaVu Math TeX Gyre is fonts-dejavu-extra's.
# Listed here, not in templates/fonts.yaml: every templates/ folder's stamp in the lock hashes
# that file (a change re-dates the Anki note type), and only the EPUB draws with these.
MATH_FAMILIES = ("DejaVu Math TeX Gyre", "STIX Two Math", "Cambria Math")
MATH_TABLE = "MATH"
TOKENS = frozenset(f"{{{MATHML}}}{name}" for name in ("mi", "mn", "mo", "mtext", "ms"))


@dataclass(frozen=True)
class EmbeddedFont:
    """One @font-face rule of the stylesheet: a subset file under its own family name."""

    family: Markup  # a CSS string: the subset's family name, apart from any installed font's
    bold: bool
    file: str  # its name in the book's font folder


def _write_subset(face: FontFace, text: str, folder: Path, prefix: str = "") -> str:
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
    name = f"{prefix}{re.sub(r'[^A-Za-z0-9]', '', face.family)}-{'Bold' if face.bold else 'Regular'}{outlines}"
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


def _math_face() -> FontFace | None:
    for name in MATH_FAMILIES:
        family = installed_family(name)
        if family and MATH_TABLE in family.regular.open():
            return family.regular
    return None


def math_characters(mathml: Iterable[str]) -> str:
    """The characters the formulas `mathml` show: their tokens' text (not the TeX of their
    annotations), also as the readers draw them in a mathvariant. A single letter in <mi>
    without one is italic (MathML Core's math-auto: c is drawn as 𝑐)."""
    shown = set()
    for math in mathml:
        for token in ET.fromstring(math).iter():
            if token.tag not in TOKENS or not token.text:
                continue
            shown.update(token.text)
            default = "italic" if token.tag == f"{{{MATHML}}}mi" and len(token.text) == 1 else ""
            shown.update(styled(ch, token.get("mathvariant", default)) for ch in token.text)
    return "".join(sorted(shown - {""}))


def embed_math_font(mathml: Iterable[str], folder: Path) -> EmbeddedFont | None:
    """Write into `folder` a subset of the first installed math font with the glyphs the
    formulas `mathml` use, and their stretchy variants; None for a book without formulas or a
    machine without a math font (then a warning: the book's brackets will not stretch)."""
    characters = math_characters(mathml)
    if not characters:
        return None
    face = _math_face()
    if face is None:
        warn(f"no OpenType math font ({', '.join(MATH_FAMILIES)}) is installed; the EPUB's brackets will "
             "not stretch (`bash tasks.sh build` installs DejaVu Math TeX Gyre)")
        return None
    return EmbeddedFont(css_string(f"{face.family} (qbank math)"), False, _write_subset(face, characters, folder, "Formulas-"))
