"""Math in the printed outputs and the EPUB: MathJax's own SVG and MathML for each formula.

The render step wrote each formula as <span class="math inline">\\(...\\)</span> (or display,
\\[...\\]), which the deck keeps for Anki's MathJax, and had MathJax typeset each one
(qbank/mathjax.py): RenderedBank.formulas. So every output shows what the deck shows.

- On paper (WeasyPrint draws SVG, but has neither MathML nor a TeX engine), each span becomes
  its inline <svg> of paths; MathJax writes text its font has no glyph for (Chinese inside a
  formula) as SVG text, drawn here from the bank's font stack. The picture references no file
  and no URL; its <title> holds the TeX, which WeasyPrint gives the tagged PDF as the figure's
  alternative text. Inline formulas sit on the text's baseline; a display formula is centred
  and scaled down to fit its column or card (templates/print/content.css).
- In the EPUB, each span carries its MathML (with the TeX as annotation) for pandoc to write
  as it is (epub_math.lua).

A formula MathJax did not typeset (Node.js missing: the render step warned) is shown as its
TeX in a code face, never dropped.
"""

from __future__ import annotations

import html
import re
from typing import Callable

from markupsafe import Markup

from ..document import RenderedBank
from ..mathjax import Formula
from .fonts import css_font_family, font_stack

MATH_SPAN = re.compile(r'<span class="math (inline|display)">\\[(\[](.*?)\\[)\]]</span>', re.DOTALL)
SVG_TEXT_FONT = 'font-family="serif"'  # what MathJax names for text it has no glyph for


def _with_math(doc: RenderedBank, shown: Callable[[Formula, str, str], str]) -> RenderedBank:
    """`doc` with each formula's span replaced by `shown(its formula, its span, its kind)`, or by
    its TeX in a code face if MathJax did not typeset it."""
    def replaced(match: re.Match[str]) -> str:
        tex, kind = html.unescape(match[2]), match[1]
        formula = doc.formulas.get((tex, kind == "display"))
        if formula is None:
            return f'<code class="math-source {kind}">{html.escape(tex)}</code>'
        return shown(formula, match[0], kind)

    return doc.with_html(lambda fragment, path: Markup(MATH_SPAN.sub(replaced, fragment)) if "math" in fragment else fragment)


def with_typeset_math(doc: RenderedBank) -> RenderedBank:
    """`doc` with every formula as its SVG picture, its text in the bank's print fonts."""
    stack = font_stack(doc.lang)
    text_font = f'font-family="{html.escape(str(css_font_family(stack.for_weasyprint(stack.text), "serif")))}"'
    return _with_math(doc, lambda formula, span, kind: formula.svg.replace(SVG_TEXT_FONT, text_font))


def with_mathml(doc: RenderedBank) -> RenderedBank:
    """`doc` with each formula's span carrying its MathML, for the EPUB's math filter."""
    return _with_math(doc, lambda formula, span, kind: span.replace(
        f'class="math {kind}"', f'class="math {kind}" data-mathml="{html.escape(formula.mathml)}"', 1))
