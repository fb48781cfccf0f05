"""Math on paper: every formula of a bank typeset as vector paths, for both printed outputs.

WeasyPrint has neither MathML nor a TeX engine, but it draws SVG. ziamath typesets TeX into
SVG in pure Python with its own math font (STIX Two Math), so each formula that the render
step wrote as <span class="math inline">\\(...\\)</span> (or display, \\[...\\]) becomes an inline
<svg> of paths: no TeX source is left in the PDF's text, and the picture is made here from
the formula alone, so it references no file and no URL for WeasyPrint to fetch. Its <title>
holds the TeX, which WeasyPrint gives the tagged PDF as the figure's alternative text.

An inline formula is sized in em of the surrounding text and lowered by its depth, so it sits
on the text's baseline; a display formula is centred on a line of its own and scaled down
(templates/print/*.css) when it is wider than its column or card.
"""

from __future__ import annotations

import html
import importlib.resources
import re
import xml.etree.ElementTree as ET
from functools import cache

import ziamath
from fontTools.ttLib import TTFont
from markupsafe import Markup

from ..document import RenderedBank
from ..model import BankError, Problem
from ..schema import Path_

ziamath.config.svg2 = False  # plain <path>s: no <symbol>/<use> ids to collide between formulas
SIZE = 100.0  # typeset at this many units per em; the SVG is then scaled to 1 em of the text
MATH_SPAN = re.compile(r'<span class="math (inline|display)">\\[(\[](.*?)\\[)\]]</span>', re.DOTALL)
TOKEN_ELEMENTS = ("mi", "mn", "mo", "mtext", "ms")


class FormulaError(Exception):
    """ziamath cannot typeset a formula (the message says why)."""


@cache
def _math_font_characters() -> frozenset[str]:
    font_file = importlib.resources.files(ziamath) / "fonts" / "STIXTwoMath-Regular.ttf"
    with importlib.resources.as_file(font_file) as path:
        return frozenset(chr(code) for code in TTFont(path, lazy=True).getBestCmap())


def _check_tokens(mathml: ET.Element) -> None:
    """Refuse what ziamath would draw wrongly without a word: an unknown command (it writes
    its name as a variable) or a character its font has no glyph for (an empty box)."""
    covered = _math_font_characters()
    for element in mathml.iter():
        if element.tag.rsplit("}", 1)[-1] not in TOKEN_ELEMENTS or not element.text:
            continue
        if element.text.startswith("\\"):
            raise FormulaError(f"{element.text} is not a command the math typesetter knows")
        missing = sorted({ch for ch in element.text if ch not in covered and not ch.isspace()})
        if missing:
            shown = " ".join(f"{ch} (U+{ord(ch):04X})" for ch in missing)
            raise FormulaError(f"the math font has no glyph for {shown}; write such text outside the formula")


@cache
def typeset(tex: str, display: bool) -> str:
    """The formula as an inline <svg> element sized in em; raises FormulaError."""
    try:
        formula = ziamath.Latex(tex, size=SIZE, inline=not display, margin=0, title=tex)
    except Exception as error:  # latex2mathml's parse errors share no base class but Exception
        raise FormulaError(f"{type(error).__name__} {error}".strip()) from None
    _check_tokens(formula.mathml)
    svg = formula.svgxml()
    box = formula.node.bbox
    width, height, depth = (box.xmax - box.xmin) / SIZE, (box.ymax - box.ymin) / SIZE, -box.ymin / SIZE
    svg.set("class", f"math {'display' if display else 'inline'}")
    svg.set("role", "img")
    svg.set("width", f"{width:.4f}em")
    svg.set("height", f"{height:.4f}em")
    if not display:
        svg.set("style", f"vertical-align: {-depth:.4f}em")
    return ET.tostring(svg, encoding="unicode")


def with_typeset_math(doc: RenderedBank) -> RenderedBank:
    """`doc` with every formula replaced by its SVG; a BankError names each one that fails, at its field."""
    problems: list[Problem] = []

    def typeset_all(fragment: Markup, path: Path_) -> Markup:
        def replaced(match: re.Match[str]) -> str:
            tex = html.unescape(match[2])
            try:
                return typeset(tex, match[1] == "display")
            except FormulaError as error:
                problems.append(Problem(doc.html.place(path), f"cannot typeset the formula '{tex}' for print: {error}",
                                        doc.owner(path)))
                return ""
        return Markup(MATH_SPAN.sub(replaced, fragment)) if "math" in fragment else fragment

    typeset_doc = doc.with_html(typeset_all)
    if problems:
        raise BankError(problems)
    return typeset_doc
