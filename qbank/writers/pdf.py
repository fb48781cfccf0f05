"""The print-ready cheat sheet: every item on a few pages, for reading the evening before."""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

from ..document import RenderedBank
from .fonts import font_stack, require_coverage
from .formulas import with_typeset_math
from .images import Box, fitted_media
from . import printing
from .joined_pdf import join_pdfs
from .printing import PAPERS, Paper, chunked, map_chunks, print_context, render_document, write_document
from . import BuildOptions, Downscaled, Writer

# templates/print/cheatsheet.css: the page margins (top, right, bottom, left) and the gap
# between its two columns, which bound an image (`img { max-width: 100% }`).
PAGE_MARGINS_MM = (13.0, 11.0, 12.0, 11.0)
COLUMN_GAP_MM = 6.0


def column_box(paper: Paper) -> Box:
    """The pixels an image needs to print as wide as a column (and at most a page high)."""
    top, right, bottom, left = PAGE_MARGINS_MM
    return Box.printed((paper.width_mm - left - right - COLUMN_GAP_MM) / 2, paper.height_mm - top - bottom)


def _chunk_context(doc: RenderedBank, context: dict, span: range) -> dict:
    """The template's context for the items in `span` (positions in doc.items)."""
    return {**context, "items": doc.items[span.start:span.stop], "first_chunk": span.start == 0,
            "last_chunk": span.stop >= len(doc.items), "labels_only": False}


def _write_chunk(doc: RenderedBank, media: dict[str, Path], context: dict, chunk: tuple[range, Path]) -> int:
    """Lay out and write the items in a span without page labels; returns its page count."""
    span, target = chunk
    document = render_document(doc, media, "cheatsheet.html", "cheatsheet.css",
                               **{**_chunk_context(doc, context, span), "page_label": None})
    write_document(doc, document, target)
    return len(document.pages)


def _write_page_labels(doc: RenderedBank, context: dict, pages: int, target: Path) -> None:
    """`pages` pages that show only their page labels, where the cheat sheet shows them."""
    document = render_document(doc, {}, "page-labels.html", "cheatsheet.css", options=printing.STAMP_OPTIONS,
                               **{**context, "pages": pages, "labels_only": True, "first_chunk": True})
    write_document(doc, document, target, printing.STAMP_OPTIONS)


class CheatSheetWriter(Writer):
    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, processes: int = 1) -> Downscaled:
        doc = with_typeset_math(doc)
        require_coverage(doc, font_stack(doc.lang))
        context = print_context(doc, options.paper)
        chunks = chunked(range(len(doc.items)), printing.ITEMS_PER_CHUNK)
        with fitted_media(doc.media, column_box(PAPERS[options.paper])) as media:
            if len(chunks) == 1:
                document = render_document(doc, media.files, "cheatsheet.html", "cheatsheet.css",
                                           **_chunk_context(doc, context, chunks[0]))
                write_document(doc, document, target)
                return media.downscaled
            # Each chunk starts on a fresh page. A page label ("page 3 of 40") needs the pages of
            # every chunk before and of the whole, so the chunks are laid out without labels, and
            # the labels, laid out on their own once the page counts are known, are stamped on.
            with tempfile.TemporaryDirectory(dir=target.parent, prefix=".chunks-") as folder:
                parts = [Path(folder) / f"{index}.pdf" for index in range(len(chunks))]
                page_counts = map_chunks(partial(_write_chunk, doc, media.files, context), list(zip(chunks, parts)),
                                         processes)
                labels = Path(folder) / "page-labels.pdf"
                _write_page_labels(doc, context, sum(page_counts), labels)
                join_pdfs(parts, target, stamps=labels)
        return media.downscaled


WRITER = CheatSheetWriter()
