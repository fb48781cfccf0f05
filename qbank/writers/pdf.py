"""The print-ready cheat sheet: every item on a few pages, for reading the evening before."""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

from ..document import RenderedBank
from .fonts import font_faces, require_coverage
from .formulas import with_typeset_math
from . import printing
from .printing import (PageNumbers, chunk_numbers, chunked, join_pdfs, map_chunks, print_context,
                       render_document, write_document)
from . import BuildOptions, Writer


def _chunk_context(doc: RenderedBank, context: dict, span: range) -> dict:
    """The template's context for the items in `span` (positions in doc.items)."""
    return {**context, "items": doc.items[span.start:span.stop], "first_chunk": span.start == 0,
            "last_chunk": span.stop >= len(doc.items)}


def _page_count(doc: RenderedBank, context: dict, span: range) -> int:
    return len(render_document(doc, "cheatsheet.html", "cheatsheet.css", **_chunk_context(doc, context, span)).pages)


def _write_chunk(doc: RenderedBank, context: dict, chunk: tuple[range, PageNumbers, Path]) -> None:
    span, numbers, target = chunk
    document = render_document(doc, "cheatsheet.html", "cheatsheet.css", numbers, **_chunk_context(doc, context, span))
    write_document(doc, document, target)


class CheatSheetWriter(Writer):
    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, processes: int = 1) -> None:
        doc = with_typeset_math(doc)
        require_coverage(doc, font_faces(doc.lang))
        context = print_context(doc, options.paper)
        chunks = chunked(range(len(doc.items)), printing.ITEMS_PER_CHUNK)
        if len(chunks) == 1:
            document = render_document(doc, "cheatsheet.html", "cheatsheet.css", **_chunk_context(doc, context, chunks[0]))
            write_document(doc, document, target)
            return
        # Each chunk starts on a fresh page, and its page labels need the whole's page count:
        # a first pass lays the chunks out only to count their pages.
        page_counts = map_chunks(partial(_page_count, doc, context), chunks, processes)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".chunks-") as folder:
            parts = [Path(folder) / f"{index}.pdf" for index in range(len(chunks))]
            map_chunks(partial(_write_chunk, doc, context), list(zip(chunks, chunk_numbers(page_counts), parts)), processes)
            join_pdfs(parts, target)


WRITER = CheatSheetWriter()
