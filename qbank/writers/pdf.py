"""The print-ready cheat sheet: every item on a few pages, for reading the evening before."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..document import RenderedBank
from ..processes import Budget
from ..progress import SILENT, Progress
from .fonts import font_stack, require_coverage
from .formulas import with_typeset_math
from .images import Box, fitted_media
from .paged import LayoutPlan, PagedLayout, PageNumbers, chunk_numbers
from .printing import (ITEMS_PER_CHUNK, PAPERS, STAMP_OPTIONS, Paper, print_context, render_document,
                       write_document)
from . import BuildOptions, Downscaled, Writer

# templates/print/cheatsheet.css: the page margins (top, right, bottom, left) and the gap
# between its two columns, which bound an image (`img { max-width: 100% }`).
PAGE_MARGINS_MM = (13.0, 11.0, 12.0, 11.0)
COLUMN_GAP_MM = 6.0
# A large bank's page labels are laid out in runs of at most this many pages, each in a process
# of its own: WeasyPrint holds every page of a layout, and 1,650 pages of labels hold 210 MB.
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
    inside_section: bool = False  # the chunk starts inside a section that began in the chunk before


def _chunks(doc: RenderedBank, plan: LayoutPlan) -> list[Chunk]:
    """The bank in the plan's chunks: an excerpt each, if more than one."""
    spans = plan.chunked(range(len(doc.items)))
    if len(spans) == 1:
        return [Chunk(doc, first=True, last=True)]
    return [Chunk(doc.excerpt(doc.items[span.start:span.stop]), first=span.start == 0, last=span.stop >= len(doc.items),
                  inside_section=_starts_inside_section(doc, span.start))
            for span in spans]


def _starts_inside_section(doc: RenderedBank, position: int) -> bool:
    section = doc.section_of(doc.items[position])
    return section is not None and section.items.start != position


def _chunk_context(chunk: Chunk, context: dict) -> dict:
    return {**context, "items": chunk.doc.items, "first_chunk": chunk.first, "last_chunk": chunk.last,
            "labels_only": False}


def _write_chunk(media: dict[str, Path], context: dict, chunk: Chunk, target: Path, progress: Progress) -> int:
    """Lay out and write one chunk without page labels; returns its page count."""
    document = render_document(chunk.doc, media, "cheatsheet.html", "cheatsheet.css", progress=progress,
                               **{**_chunk_context(chunk, context), "page_label": None})
    write_document(chunk.doc, document, target, progress=progress)
    return len(document.pages)


def _write_page_labels(doc: RenderedBank, context: dict, run: tuple[PageNumbers, int], target: Path,
                       progress: Progress) -> None:
    """A run of pages that show only their page labels, where the cheat sheet shows them."""
    numbers, pages = run
    document = render_document(doc, {}, "page-labels.html", "cheatsheet.css", numbers, STAMP_OPTIONS, progress,
                               **{**context, "pages": pages, "labels_only": True, "first_chunk": True})
    write_document(doc, document, target, STAMP_OPTIONS, progress)


def _label_runs(pages: int, per_run: int) -> list[tuple[PageNumbers, int]]:
    """The page labels of a document of `pages` pages, in runs of at most `per_run` pages."""
    counts = [min(per_run, pages - first) for first in range(0, pages, per_run)]
    return list(zip(chunk_numbers(counts), counts))


@dataclass(frozen=True)
class CheatSheetWriter(Writer):
    items_per_chunk: int = ITEMS_PER_CHUNK
    label_pages_per_run: int = LABEL_PAGES_PER_RUN

    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, budget: Budget = Budget(),
              progress: Progress = SILENT) -> Downscaled:
        doc = with_typeset_math(doc)
        require_coverage(doc, font_stack(doc.lang))
        context = print_context(doc, options.paper)
        plan = LayoutPlan(self.items_per_chunk, preload=(__name__,))
        chunks = _chunks(doc, plan)
        with fitted_media(doc.media, column_box(PAPERS[options.paper])) as media:
            if len(chunks) == 1:
                document = render_document(doc, media.files, "cheatsheet.html", "cheatsheet.css", progress=progress,
                                           **_chunk_context(chunks[0], context))
                write_document(doc, document, target, progress=progress)
                return media.downscaled
            # Each chunk starts on a fresh page. A page label ("page 3 of 40") needs the pages of
            # every chunk before and of the whole, so the chunks are laid out without labels, and
            # the labels, laid out on their own (in runs) once the page counts are known, are
            # stamped on.
            with PagedLayout(plan, target, budget, progress) as layout:
                parts = layout.lay_out(partial(_write_chunk, media.files, context), chunks)
                runs = _label_runs(sum(pages for _, pages in parts), self.label_pages_per_run)
                stamps = layout.lay_out(partial(_write_page_labels, doc.excerpt([]), context), runs, "labels")
                layout.join([part for part, _ in parts], stamps=[stamp for stamp, _ in stamps],
                            continuing={index for index, chunk in enumerate(chunks) if chunk.inside_section})
        return media.downscaled


WRITER = CheatSheetWriter()
