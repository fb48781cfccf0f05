"""The print-ready cheat sheet: every item on a few pages, for reading the evening before."""

from __future__ import annotations

from pathlib import Path

from ..document import RenderedBank
from .fonts import font_stack, require_coverage
from .formulas import with_typeset_math
from .printing import print_context, render_document, write_document
from . import BuildOptions, Writer


class CheatSheetWriter(Writer):
    def write(self, doc: RenderedBank, target: Path, options: BuildOptions) -> None:
        doc = with_typeset_math(doc)
        require_coverage(doc, font_stack(doc.lang))
        document = render_document(doc, "cheatsheet.html", "cheatsheet.css", **print_context(doc, options.paper))
        write_document(doc, document, target)


WRITER = CheatSheetWriter()
