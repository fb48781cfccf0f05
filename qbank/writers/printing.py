"""What both printed outputs (the cheat sheet and the flashcards) need from WeasyPrint.

A restricted URL fetcher (only the print templates and the bank's vetted images), the page
sizes, CSS values made from the bank's labels, and one way to turn HTML into a tagged,
deterministic PDF that never shows an empty box, whole or as one chunk of a larger document
(laid out in chunks by writers/paged/).
"""

from __future__ import annotations

import logging
import os
import string
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Iterator
from urllib.parse import unquote, urlsplit

from markupsafe import Markup
from weasyprint import CSS, HTML, Document
from weasyprint.logger import LOGGER as WEASYPRINT_LOGGER
from weasyprint.logger import PROGRESS_LOGGER as WEASYPRINT_PROGRESS
from weasyprint.urls import URLFetcher, URLFetcherResponse

from ..model import BankError, Problem
from ..document import RenderedBank, plain_text
from ..progress import SILENT, Progress
from ..templating import TEMPLATES, css_string, render_template
from .fonts import font_stack, items_using, template_font_stacks
from .paged import PageNumbers

PRINT_TEMPLATES = TEMPLATES / "print"
# The base that the HTML's relative URLs (the images' flat names, the stylesheets') resolve
# against: a fixed name for templates/print/, which PrintFetcher serves. WeasyPrint names an
# image after its URL, so a real path here would make the PDF's bytes depend on where qbank
# is installed.
BASE_URL = "file:///qbank/print/"
_BASE_FOLDER = PurePosixPath("/qbank/print")

# WeasyPrint's PDF/UA-1 variant: a tagged PDF whose metadata names its title and language
# (CJK text still copies out as the original characters). The file identifier is a hash of
# the content, so two builds of the same bank are byte-identical.
PDF_OPTIONS = {"pdf_variant": "pdf/ua-1", "pdf_tags": True, "pdf_identifier": True}
# Page labels to stamp onto a document's pages (paged/join.py) are pagination artifacts, not
# content: laid out untagged, they mark no content for the structure tree.
STAMP_OPTIONS = {"pdf_identifier": True}

# Items per chunk of a printed output laid out in chunks (the flashcards round it down to whole
# sheets). A chunk's layout peaks at a few hundred MB whatever the bank's size; smaller chunks
# cost more pages left part-empty at the cheat sheet's chunk ends and more work joining.
ITEMS_PER_CHUNK = 150


@dataclass(frozen=True)
class Paper:
    name: str  # the CSS page size keyword
    width_mm: float
    height_mm: float


PAPERS = {"a4": Paper("A4", 210.0, 297.0), "letter": Paper("letter", 215.9, 279.4)}


class RefusedURL(Exception):
    """The document asked for a resource outside the print templates and the bank's images."""


class PrintFetcher(URLFetcher):
    """Serves only templates/print/ and the bank's vetted images: no network, no other file.

    The render step already renamed every image to a flat content-hash name, and the HTML is
    parsed with templates/print/ as its base, so an image reaches us as a file URL in that
    folder whose name is a key of `doc.media`.
    """

    def __init__(self, media: dict[str, Path]):
        # fail_on_errors: a refused URL stops the build instead of leaving a silent gap.
        super().__init__(allowed_protocols={"file"}, allow_redirects=False, fail_on_errors=True)
        self._media = media
        self._root = PRINT_TEMPLATES.resolve()

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise RefusedURL(f"refused to fetch {url}: only the print templates and the bank's images are served")
        path = PurePosixPath(unquote(parts.path))
        if path.is_relative_to(_BASE_FOLDER):
            relative = path.relative_to(_BASE_FOLDER)
            if len(relative.parts) == 1 and relative.name in self._media:
                return URLFetcherResponse(url, self._media[relative.name].read_bytes())
            resolved = (self._root / relative).resolve()
            if resolved.is_relative_to(self._root) and resolved.is_file():
                return URLFetcherResponse(url, resolved.read_bytes())
        raise RefusedURL(f"refused to fetch {url}: only the print templates and the bank's images are served")


def print_context(doc: RenderedBank, paper: str) -> dict[str, object]:
    """What both printed outputs' templates use."""
    stack = font_stack(doc.lang)
    return {
        "paper": PAPERS[paper],
        **template_font_stacks(stack.for_weasyprint(stack.text), stack.for_weasyprint(stack.mono)),
        "page_label": page_counter_content(doc.labels["page"]),
        "date": w3c_date(doc.modified),
        "plain_text": plain_text,
        "css_string": css_string,
    }


def page_counter_content(label: str, total_pages: int | None = None) -> Markup:
    """A label like '第 {page} 页 / 共 {pages} 页' as a CSS `content` value with page counters
    (a chunk of a document gives the whole's page count, which its own counter cannot know)."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(label):
        if literal:
            parts.append(css_string(literal))
        if field == "pages" and total_pages is not None:
            parts.append(css_string(str(total_pages)))
        elif field in ("page", "pages"):
            parts.append(f"counter({field})")
        elif field is not None:
            raise ValueError(f"unknown field {{{field}}} in page label {label!r}")
    return Markup(" ".join(parts))


def w3c_date(epoch_seconds: int) -> str:
    """The W3C date-time WeasyPrint reads from <meta name=dcterms.created> (always UTC)."""
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _NotdefRecorder(logging.Handler):
    """Collects the characters of WeasyPrint's warnings about glyphs no font has (drawn as
    .notdef boxes); the warning passes the character as its first argument."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.characters: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if ".notdef" in str(record.msg) and record.args:
            self.characters.add(str(record.args[0]))


@contextmanager
def refuse_notdef(doc: RenderedBank) -> Iterator[None]:
    """Fail the build if WeasyPrint drew any .notdef glyph (an empty box) while in the block.

    The coverage check before rendering should make this impossible; this catches what it
    cannot see, e.g. fontconfig choosing another face than the one that was checked.
    """
    recorder = _NotdefRecorder()
    WEASYPRINT_LOGGER.addHandler(recorder)
    try:
        yield
    finally:
        WEASYPRINT_LOGGER.removeHandler(recorder)
    if recorder.characters:
        problems = [
            Problem(location, f"the PDF would show an empty box for: {shown}", item_id)
            for item_id, location, shown in items_using(doc, recorder.characters)
        ]
        raise BankError(problems)


class _LayoutProgress(logging.Handler):
    """Passes WeasyPrint's progress log on as the output's progress: the layout page by page
    ("Step 5 - Creating layout - Page %d"), then the PDF being written ("Step 6")."""

    def __init__(self, progress: Progress):
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("Step 5 - Creating layout") and record.args:
            self.progress.report(int(record.args[0]), None, "pages laid out")
        elif str(record.msg).startswith("Step 6"):
            self.progress.report(0, None, "writing the PDF")


@contextmanager
def layout_progress(progress: Progress) -> Iterator[None]:
    """Report WeasyPrint's steps to `progress` while in the block, if anyone is listening."""
    if not progress.active:
        yield
        return
    handler, level = _LayoutProgress(progress), WEASYPRINT_PROGRESS.level
    WEASYPRINT_PROGRESS.addHandler(handler)
    WEASYPRINT_PROGRESS.setLevel(logging.INFO)  # WeasyPrint leaves it at WARNING: its steps are INFO
    try:
        yield
    finally:
        WEASYPRINT_PROGRESS.removeHandler(handler)
        WEASYPRINT_PROGRESS.setLevel(level)


def document_sources(doc: RenderedBank, template: str, stylesheet: str, **context: object) -> tuple[str, str]:
    """The HTML and CSS of a printed output, before WeasyPrint lays them out."""
    return (
        render_template(f"print/{template}", doc=doc, **context),
        render_template(f"print/{stylesheet}", doc=doc, **context),
    )


def _numbering_css(doc: RenderedBank, numbers: PageNumbers) -> str:
    """Both printed outputs print the page label in @bottom-center: here with the chunk's place."""
    return (f"@page :first {{ counter-reset: page {numbers.first}; }}\n"
            f"@page {{ @bottom-center {{ content: {page_counter_content(doc.labels['page'], numbers.total)}; }} }}\n")


def render_document(doc: RenderedBank, media: dict[str, Path], template: str, stylesheet: str,
                    numbers: PageNumbers | None = None, options: dict = PDF_OPTIONS, progress: Progress = SILENT,
                    **context: object) -> Document:
    """Lay out templates/print/<template> styled by templates/print/<stylesheet>, both given
    `context`, with the bank's images from `media` (doc.media as this output ships them);
    with `numbers`, as one chunk of a larger document; its pages reported to `progress`."""
    fetcher = PrintFetcher(media)
    html, css = document_sources(doc, template, stylesheet, **context)
    stylesheets = [CSS(string=css, base_url=BASE_URL, url_fetcher=fetcher)]
    if numbers is not None:
        stylesheets.append(CSS(string=_numbering_css(doc, numbers)))
    with refuse_notdef(doc), layout_progress(progress):
        return HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).render(stylesheets=stylesheets, **options)


@contextmanager
def font_dates_from(epoch_seconds: int) -> Iterator[None]:
    """Date the fonts WeasyPrint re-saves (a colour emoji font, without its bitmaps) by the
    document's date: fontTools stamps a saved font's head.modified with the clock, unless
    SOURCE_DATE_EPOCH is set, and the stamp would make two builds differ."""
    previous = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(epoch_seconds)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = previous


def write_document(doc: RenderedBank, document: Document, target: Path, options: dict = PDF_OPTIONS,
                   progress: Progress = SILENT) -> None:
    """Write a laid-out document as a PDF (tagged, unless `options` say otherwise) with its
    fonts subset and embedded, telling `progress` when it starts."""
    with refuse_notdef(doc), layout_progress(progress), font_dates_from(doc.modified):
        document.write_pdf(target, **options)
