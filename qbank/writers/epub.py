"""The EPUB writer: an EPUB 3 book for e-readers, made by pandoc from the rendered bank.

The book is one HTML document from templates/epub/book.html that pandoc splits into pages:
a title page, the contents, the preface, then per item a question page and an answer page
linked to each other (so a reader can test themselves before turning the page), then the
closing. pandoc writes each page through templates/epub/page.xhtml; a book of more than
PAGES_PER_PART pages (the writer's pages_per_part) is made in parts, each by its own pandoc
run, and joined into the very book pandoc would have made whole (joined_epub.py). The book is made to be
read with a screen reader too: it claims EPUB Accessibility 1.1 at WCAG AA, which the tests
check with Ace by DAISY.

pandoc reads images, the stylesheet and fonts from disk, and a bank must not be able to make
it read anything else (an image pointing at /etc/passwd would otherwise be packed into the
book). pandoc's --sandbox would also block the book's own images and stylesheet, so instead
pandoc runs in a fresh folder that holds only what we put there: the vetted media files under
their flat names, the stylesheet and the font subsets. It reads the book from stdin and gets
an empty data folder, so neither the machine's pandoc settings nor its clock change the book.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Sequence
from xml.etree.ElementTree import Element

from markupsafe import Markup

from ..pandoc import run_pandoc
from ..processes import Budget
from ..progress import SILENT, Progress
from ..document import RenderedBank, RenderedItem
from ..templating import TEMPLATES, render_template
from .epub_fonts import embed_fonts, embed_math_font
from .fonts import ShownText, font_stack, require_coverage, shown_text
from .formulas import with_mathml
from .images import SCREEN, fitted_media
from .epub_titles import TitleFormulas, declare_mathml, marked_headings
from .epub_package import PACKAGE_DOCUMENT, child, package_bytes, read_package, set_children
from .epub_sections import SECTION_CHANGES
from .joined_epub import BookPart, book_parts, join_epubs, page_file
from . import BuildOptions, Downscaled, Writer

# What the working folder holds besides the media files (whose names are content hashes).
TEMPLATE_FOLDER = "epub"  # templates/epub/
STYLESHEET = "book.css"
FONT_FOLDER = "fonts"  # pandoc packs embedded fonts under EPUB/fonts/, next to EPUB/styles/
PANDOC_DATA = "pandoc-data"  # empty: pandoc uses no file of the user's
MATH_FILTER = Path(__file__).with_name("epub_math.lua")  # the math spans -> MathJax's MathML
PAGE_TEMPLATE = TEMPLATES / TEMPLATE_FOLDER / "page.xhtml"  # pandoc's template for each XHTML file
PAGE_TITLES_FILTER = TEMPLATES / TEMPLATE_FOLDER / "page-titles.lua"  # <h1>s as plain text, for <title>
# A book of more pages is made in parts of this many (joined_epub.py): pandoc's time to split
# a book into pages grows faster than their number, and its memory (0.2 MB a page) with them.
PAGES_PER_PART = 300
# ... and of at most this many characters of HTML (or one page, if that is longer): pandoc's
# memory grows with a part's text, about 0.2 MB per KB on top of 130 MB (300 pages of items
# are some 150,000 characters).
CHARACTERS_PER_PART = 200_000
# The contents list this many items per page: one page of 10,000 entries would be a megabyte
# of XHTML for an e-reader to open at once, and pandoc would need 340 MB to write it.
CONTENTS_ENTRIES_PER_PAGE = 500
NAVIGATION_LABELS = ("title_page", "first_question")  # the landmarks: written by pandoc, not book.html

# Stable across builds and machines, so a reader recognises a rebuilt book as the same book.
IDENTIFIER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://qbank.invalid/epub")

# schema.org accessibility vocabulary (EPUB Accessibility 1.1). The book is text with real
# headings, a navigation document and a reading order; images add a visual mode, and the
# alternativeText feature when every image has alt text (from the bank's Markdown).
ACCESSIBILITY_FEATURES = ("structuralNavigation", "tableOfContents", "readingOrder", "displayTransformability")
# What the book claims (EPUB Accessibility 1.1, section 5.1) and who checked it: the tests run
# Ace by DAISY and epubcheck on books of this writer. A book with an image that has no alt text
# cannot meet WCAG's "non-text content" for sure (the image may carry meaning), so it claims nothing.
CONFORMANCE = "EPUB Accessibility 1.1 - WCAG 2.2 Level AA"
EVALUATOR = "qbank (Ace by DAISY and epubcheck in its test suite)"
IMAGE_TAG = re.compile(r"<img\b[^>]*>")
ALT_TEXT = re.compile(r'\balt="[^"]*\S[^"]*"')
BANK_HEADING = re.compile(r"<(/?)h([1-6])\b")
EMPTY_HEADER_CELL = re.compile(r"<th\b([^>]*)></th>")


def _placed(html: Markup, level: int) -> Markup:
    """Bank HTML placed under one of the book's headings of `level`.

    The book's <h1>s make its pages and navigation, so a Markdown heading in a question must
    not start a page of its own; and a screen reader's outline must not skip a level, so the
    field's heading levels, whatever they are, become level + 1, level + 2, … in their order.
    An empty header cell (a table's corner) is a plain cell: a header with nothing to say.
    Raw HTML is disabled in the render step, so every "<hN" or "<th" in its output is a real
    tag (text would read "&lt;h1").
    """
    used = sorted({int(number) for _, number in BANK_HEADING.findall(html)})
    new_level = {number: min(level + rank, 6) for rank, number in enumerate(used, start=1)}
    html = BANK_HEADING.sub(lambda tag: f"<{tag[1]}h{new_level[int(tag[2])]}", html)
    return Markup(EMPTY_HEADER_CELL.sub(r'<th role="cell"\1></th>', html))


def contents_pages(doc: RenderedBank, entries_per_page: int) -> list[Sequence[RenderedItem]]:
    """The items each page of the book's contents lists (book.html: after the title page)."""
    return [doc.items[start:start + entries_per_page] for start in range(0, len(doc.items), entries_per_page)]


def book_html(doc: RenderedBank, contents_entries_per_page: int = CONTENTS_ENTRIES_PER_PAGE) -> str:
    """The whole book as one HTML document, which pandoc splits into pages."""
    return render_template(
        f"{TEMPLATE_FOLDER}/book.html",
        doc=doc, labels=doc.labels, author=doc.html.author, placed=_placed,
        contents_pages=contents_pages(doc, contents_entries_per_page),
    )


def _make_epub(html: str, arguments: list[str], environment: dict[str, str], work: Path, made: Path,
               budget: Budget) -> None:
    """One pandoc run from the book's HTML (or a part's) to an EPUB, holding a slot of the budget."""
    with budget.slot():
        made.write_bytes(run_pandoc(arguments, html.encode("utf-8"), env=environment, cwd=str(work)))


def _write_in_parts(parts: list[BookPart], book: str, arguments: list[str], environment: dict[str, str], work: Path,
                    budget: Budget, target: Path) -> None:
    """The book made by one pandoc run per part (side by side, as many as the budget allows,
    each holding one of its slots), joined into `target`."""
    files = [work / f"part-{index}.epub" for index in range(len(parts))]
    with ThreadPoolExecutor(max(1, budget.processes)) as pandocs:
        list(pandocs.map(lambda part, made: _make_epub(part.html, arguments, environment, work, made, budget),
                         parts, files))
    join_epubs(list(zip(parts, files)), book, target)


def _book_identifier(bank_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(IDENTIFIER_NAMESPACE, bank_id)}"


def _claims_conformance(book: str) -> bool:
    """Whether the book may claim CONFORMANCE: every image has alt text (or there is none)."""
    return all(ALT_TEXT.search(tag) for tag in IMAGE_TAG.findall(book))


def _accessibility_arguments(book: str, claim: bool) -> list[str]:
    """pandoc options declaring how the book can be read (EPUB Accessibility 1.1 metadata).

    pandoc itself always declares text alone sufficient (schema:accessModeSufficient). That
    holds: an image without alt text is written with alt="", i.e. as decorative.
    """
    images = IMAGE_TAG.findall(book)
    modes = ["textual", "visual"] if images else ["textual"]
    values = [
        *(("accessModes", mode) for mode in modes),
        *(("accessibilityFeatures", feature) for feature in ACCESSIBILITY_FEATURES),
        *([("accessibilityFeatures", "alternativeText")] if images and claim else []),
        ("accessibilityHazards", "none"),
    ]
    # pandoc collects a key given several times into a list.
    return [f"--metadata={key}={value}" for key, value in values]


def _finished(book: Path, target: Path, claim: bool, titles: TitleFormulas | None, sections: bool) -> None:
    """pandoc's `book` finished into `target`: with the conformance claim in its package
    metadata if `claim`, the formulas of its headings in place (epub_titles.py), and, for a
    bank in `sections`, its navigation and NCX nested by section (epub_sections.py).

    pandoc (3.9; 3.10 neither) has no option for dcterms:conformsTo or a11y:certifiedBy,
    while it writes the rest of the accessibility metadata; so this adds the two, and nothing
    else changes: same entries in the same order, same dates and compression methods. It
    copies an entry at a time: a large bank's book is tens of MB.
    """
    with zipfile.ZipFile(book) as made, zipfile.ZipFile(target, "w") as finished:
        headed = {name for name in made.namelist() if titles and titles.in_headings(name, partial(made.read, name))}
        for entry in made.infolist():
            data = made.read(entry)
            if entry.filename == PACKAGE_DOCUMENT:
                package = read_package(data)
                if claim:
                    metadata = child(package, "metadata")
                    set_children(metadata, [*metadata, _meta("dcterms:conformsTo", CONFORMANCE),
                                            _meta("a11y:certifiedBy", EVALUATOR)])
                declare_mathml(package, headed)
                data = package_bytes(package)
            else:
                data = titles.finished(entry.filename, data) if titles else data
                if sections and entry.filename in SECTION_CHANGES:
                    data = SECTION_CHANGES[entry.filename](data)
            finished.writestr(entry, data)


def _meta(name: str, value: str) -> Element:
    meta = Element("meta", {"property": name})
    meta.text = value
    return meta


def _pandoc_arguments(doc: RenderedBank, book: str, fonts: list[str], contents: int, claim: bool) -> list[str]:
    """pandoc's options for the book, whose contents take `contents` pages (`claim`: it may
    claim CONFORMANCE)."""
    date = datetime.fromtimestamp(doc.modified, timezone.utc).date().isoformat()
    labels = doc.labels
    return [
        # The book comes back on standard output: a full disk or a read-only folder is then
        # reported like any other output's, and pandoc never writes in dist/.
        "--from=html", "--to=epub3", "--output=-", f"--template={PAGE_TEMPLATE}",
        f"--lua-filter={MATH_FILTER}", f"--lua-filter={PAGE_TITLES_FILTER}",
        f"--data-dir={PANDOC_DATA}", "--resource-path=.", f"--css={STYLESHEET}",
        *(f"--epub-embed-font={FONT_FOLDER}/{name}" for name in fonts),
        "--epub-title-page=false",  # book.html has its own title page
        "--split-level=1", "--toc-depth=1",
        # Values we control; bank text (title, author) reaches pandoc through the HTML <head>.
        f"--metadata=lang={doc.lang}",
        f"--metadata=identifier={_book_identifier(doc.id)}",
        f"--metadata=date={date}",
        *_accessibility_arguments(book, claim),
        # The landmarks (page.xhtml). Variables go into the template as they are: escaped here.
        f"--variable=landmark-title-page={escape(labels['title_page'])}",
        f"--variable=landmark-contents={escape(labels['contents'])}",
        f"--variable=landmark-first-question={escape(labels['first_question'])}",
        f"--variable=title-page-file={page_file(1)}",
        f"--variable=contents-file={page_file(2)}",
        # The page after the title page, the contents' pages, the preface and the first section's.
        f"--variable=first-item-file={page_file(1 + contents + bool(doc.description) + bool(doc.sections) + 1)}",
    ]


@dataclass(frozen=True)
class EpubWriter(Writer):
    pages_per_part: int = PAGES_PER_PART
    characters_per_part: int = CHARACTERS_PER_PART
    contents_entries_per_page: int = CONTENTS_ENTRIES_PER_PAGE

    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, budget: Budget = Budget(),
              progress: Progress = SILENT) -> Downscaled:
        progress.report(0, None, "checking the fonts")
        stack = font_stack(doc.lang)
        require_coverage(doc, stack)
        book = book_html(with_mathml(doc), self.contents_entries_per_page)
        # Everything a reader shows comes from the book's HTML, except the navigation's labels.
        shown = shown_text(book)
        shown = ShownText(shown.prose.union(*(doc.labels[key] for key in NAVIGATION_LABELS)), shown.code)
        book, titles = marked_headings(book)  # after the characters are counted: the TeX is shown too
        with tempfile.TemporaryDirectory(prefix="qbank-epub-") as folder, fitted_media(doc.media, SCREEN) as media:
            work = Path(folder)
            (work / FONT_FOLDER).mkdir()
            (work / PANDOC_DATA).mkdir()
            progress.report(0, None, "subsetting the fonts")
            fonts, font_stacks = embed_fonts(stack, shown, work / FONT_FOLDER)
            math_font = embed_math_font((formula.mathml for formula in doc.formulas.values()), work / FONT_FOLDER)
            fonts += [math_font] if math_font else []
            stylesheet = render_template(f"{TEMPLATE_FOLDER}/book.css", fonts=fonts, math_font=math_font, **font_stacks)
            (work / STYLESHEET).write_text(stylesheet, encoding="utf-8")
            for name, source in media.files.items():
                shutil.copyfile(source, work / name)
            # A minimal environment: SOURCE_DATE_EPOCH fixes the zip entries' dates and
            # dcterms:modified; nothing else from the user's environment reaches pandoc.
            environment = {"SOURCE_DATE_EPOCH": str(doc.modified), "LANG": "C.UTF-8"}
            contents = len(contents_pages(doc, self.contents_entries_per_page))
            claim = _claims_conformance(book)
            arguments = _pandoc_arguments(doc, book, [font.file for font in fonts], contents, claim)
            progress.report(0, None, f"pandoc writing {len(doc.items)} items")
            parts = book_parts(book, self.pages_per_part, self.characters_per_part)
            made = work / "book.epub"
            if len(parts) == 1:
                _make_epub(book, arguments, environment, work, made, budget)
            else:
                _write_in_parts(parts, book, arguments, environment, work, budget, made)
            if claim or titles or doc.sections:
                _finished(made, target, claim, titles, bool(doc.sections))
            else:
                shutil.copyfile(made, target)
        return media.downscaled


WRITER = EpubWriter()
