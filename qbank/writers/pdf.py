"""The print-ready cheat sheet: every item on a few pages, for reading the evening before."""

from __future__ import annotations

from pathlib import Path

from ..printing import PAPERS, checked_font_stack, page_counter_content, render_document, w3c_date, write_document
from ..render import RenderedBank, plain_text
from . import BuildOptions, Writer


class CheatSheetWriter(Writer):
    name = "pdf"
    suffix = ".pdf"
    order = 20
    template_folder = "print"

    def write(self, doc: RenderedBank, target: Path, options: BuildOptions) -> None:
        font_stack = checked_font_stack(doc)
        document = render_document(
            doc, "cheatsheet.html", "cheatsheet.css",
            paper=PAPERS[options.paper],
            font_stack=font_stack,
            page_label=page_counter_content(doc.labels["page"]),
            plain_text=plain_text,
            date=w3c_date(doc.modified),
        )
        write_document(doc, document, target)


WRITER = CheatSheetWriter()
