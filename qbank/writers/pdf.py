"""The print-ready cheat sheet: every item on a few pages, for reading the evening before."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..document import RenderedBank
from .fonts import font_stack, require_coverage
from .formulas import with_typeset_math
from .images import Box, fitted_media
from . import printing
from .joined_pdf import join_pdfs
from .printing import (PAPERS, PageNumbers, Paper, chunk_numbers, chunked, map_chunks, print_context, render_document,
                       write_document)
from . import BuildOptions, Downscaled, Writer

# templates/print/cheatsheet.css: the page margins (top, right, bottom, left) and the gap
# between its two columns, which bound an image (`img { max-width: 100% }`).
PAGE_MARGINS_MM = (13.0, 11.0, 12.0, 11.0)
COLUMN_GAP_MM = 6.0
# A large bank's page labels are laid out in runs of at most this many pages, each in a process
# of its own: WeasyPrint holds every page of a layout, and 1,650 pages of labels (10,000 items)
# took 210 MB at once.
LABEL_PAGES_PER_RUN = 200


def column_box(paper: Paper) -> Box:
    """The pixels an image needs to print as wide as a column (and at most a page high)."""
    top, right, bottom, left = PAGE_MARGINS_MM
    return Box.printed((paper.width_mm - left - right - COLUMN_GAP_MM) / 2, paper.height_mm - top - bottom)


@dataclass(frozen=True)
class Chunk:
    """Consecutive items laid out as one piece, each chunk starting on a fresh page."""

    doc: RenderedBank  # the bank, or an excerpt of it holding the chunk's items
    first: bool  # the chunk opens the sheet (with the title block)
    last: bool  # the chunk ends it (with the closing)


def _chunks(doc: RenderedBank) -> list[Chunk]:
    """The bank in chunks of printing.ITEMS_PER_CHUNK items: an excerpt each, if more than one."""
    spans = chunked(range(len(doc.items)), printing.ITEMS_PER_CHUNK)
    if len(spans) == 1:
        return [Chunk(doc, first=True, last=True)]
    return [Chunk(doc.excerpt(doc.items[span.start:span.stop]), first=span.start == 0, last=span.stop >= len(doc.items))
            for span in spans]


def _chunk_context(chunk: Chunk, context: dict) -> dict:
    return {**context, "items": chunk.doc.items, "first_chunk": chunk.first, "last_chunk": chunk.last,
            "labels_only": False}


def _write_chunk(media: dict[str, Path], context: dict, chunk_and_target: tuple[Chunk, Path]) -> int:
    """Lay out and write one chunk without page labels; returns its page count."""
    chunk, target = chunk_and_target
    document = render_document(chunk.doc, media, "cheatsheet.html", "cheatsheet.css",
                               **{**_chunk_context(chunk, context), "page_label": None})
    write_document(chunk.doc, document, target)
    return len(document.pages)


def _write_page_labels(doc: RenderedBank, context: dict, run: tuple[PageNumbers, int, Path]) -> None:
    """A run of `pages` pages that show only their page labels, where the cheat sheet shows them."""
    numbers, pages, target = run
    document = render_document(doc, {}, "page-labels.html", "cheatsheet.css", numbers, printing.STAMP_OPTIONS,
                               **{**context, "pages": pages, "labels_only": True, "first_chunk": True})
    write_document(doc, document, target, printing.STAMP_OPTIONS)


def _label_runs(pages: int, folder: Path) -> list[tuple[PageNumbers, int, Path]]:
    """The page labels of a document of `pages` pages, in runs of at most LABEL_PAGES_PER_RUN."""
    counts = [min(LABEL_PAGES_PER_RUN, pages - first) for first in range(0, pages, LABEL_PAGES_PER_RUN)]
    return [(numbers, count, folder / f"labels-{index}.pdf")
            for index, (numbers, count) in enumerate(zip(chunk_numbers(counts), counts))]


class CheatSheetWriter(Writer):
    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, processes: int = 1) -> Downscaled:
        doc = with_typeset_math(doc)
        require_coverage(doc, font_stack(doc.lang))
        context = print_context(doc, options.paper)
        chunks = _chunks(doc)
        with fitted_media(doc.media, column_box(PAPERS[options.paper])) as media:
            if len(chunks) == 1:
                document = render_document(doc, media.files, "cheatsheet.html", "cheatsheet.css",
                                           **_chunk_context(chunks[0], context))
                write_document(doc, document, target)
                return media.downscaled
            # Each chunk starts on a fresh page. A page label ("page 3 of 40") needs the pages of
            # every chunk before and of the whole, so the chunks are laid out without labels, and
            # the labels, laid out on their own (in runs) once the page counts are known, are
            # stamped on.
            with tempfile.TemporaryDirectory(dir=target.parent, prefix=".chunks-") as folder:
                parts = [Path(folder) / f"{index}.pdf" for index in range(len(chunks))]
                page_counts = map_chunks(partial(_write_chunk, media.files, context), list(zip(chunks, parts)),
                                         processes)
                runs = _label_runs(sum(page_counts), Path(folder))
                map_chunks(partial(_write_page_labels, doc.excerpt([]), context), runs, processes)
                join_pdfs(parts, target, stamps=[path for _, _, path in runs])
        return media.downscaled


WRITER = CheatSheetWriter()
