"""The print-ready cheat sheet: every item on a few pages, for reading the evening before."""

from __future__ import annotations

from pathlib import Path

from ..document import RenderedBank
from .fonts import font_stack, require_coverage
from .formulas import with_typeset_math
from .images import Box, fitted_media
from .printing import PAPERS, Paper, print_context, render_document, write_document
from . import BuildOptions, Downscaled, Writer

# templates/print/cheatsheet.css: the page margins (top, right, bottom, left) and the gap
# between its two columns, which bound an image (`img { max-width: 100% }`).
PAGE_MARGINS_MM = (13.0, 11.0, 12.0, 11.0)
COLUMN_GAP_MM = 6.0


def column_box(paper: Paper) -> Box:
    """The pixels an image needs to print as wide as a column (and at most a page high)."""
    top, right, bottom, left = PAGE_MARGINS_MM
    return Box.printed((paper.width_mm - left - right - COLUMN_GAP_MM) / 2, paper.height_mm - top - bottom)


class CheatSheetWriter(Writer):
    def write(self, doc: RenderedBank, target: Path, options: BuildOptions) -> Downscaled:
        doc = with_typeset_math(doc)
        require_coverage(doc, font_stack(doc.lang))
        context = print_context(doc, options.paper)
        with fitted_media(doc.media, column_box(PAPERS[options.paper])) as media:
            document = render_document(doc, media.files, "cheatsheet.html", "cheatsheet.css", **context)
            write_document(doc, document, target)
        return media.downscaled


WRITER = CheatSheetWriter()
