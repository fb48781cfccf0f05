"""The EPUB writer: an EPUB 3 book for e-readers, made by pandoc from the rendered bank.

The book is one HTML document from templates/epub/book.html that pandoc splits into pages:
a title page with the preface, then per item a question page and an answer page linked to
each other (so a reader can test themselves before turning the page), then the closing.

pandoc reads images, the stylesheet and fonts from disk, and a bank must not be able to make
it read anything else (an image pointing at /etc/passwd would otherwise be packed into the
book). pandoc's --sandbox would also block the book's own images and stylesheet, so instead
pandoc runs in a fresh folder that holds only what we put there: the vetted media files under
their flat names, the stylesheet and the font subsets. It reads its input from stdin and gets
an empty data folder, so neither the machine's pandoc settings nor its clock change the book.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

import uharfbuzz as hb
from markupsafe import Markup

from ..pandoc import run_pandoc
from ..document import RenderedBank, plain_text
from ..templating import render_template
from .fonts import FontFace, families_for, font_faces, require_coverage
from . import BuildOptions, Writer

# What the working folder holds besides the media files (whose names are content hashes).
TEMPLATE_FOLDER = "epub"  # templates/epub/
STYLESHEET = "book.css"
FONT_FOLDER = "fonts"  # pandoc packs embedded fonts under EPUB/fonts/, next to EPUB/styles/
PANDOC_DATA = "pandoc-data"  # empty: pandoc uses its built-in templates, not the user's
MATH_FILTER = Path(__file__).with_name("epub_math.lua")  # the render step's math spans -> MathML
# Stable across builds and machines, so a reader recognises a rebuilt book as the same book.
IDENTIFIER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://qbank.invalid/epub")

# schema.org accessibility vocabulary (EPUB Accessibility 1.1). The book is text with real
# headings, a navigation document and a reading order; images add a visual mode, and the
# alternativeText feature when every image has alt text (from the bank's Markdown).
ACCESSIBILITY_FEATURES = ("structuralNavigation", "tableOfContents", "readingOrder", "displayTransformability")
IMAGE_TAG = re.compile(r"<img\b[^>]*>")
ALT_TEXT = re.compile(r'\balt="[^"]*\S[^"]*"')
BANK_HEADING = re.compile(r"<(/?)h([1-6])\b")


def _demoted(html: Markup) -> Markup:
    """Bank HTML with its headings moved below the book's own two levels.

    The book's <h1>s make its pages and navigation, so a Markdown heading in a question must
    not start a page of its own. Raw HTML is disabled in the render step, so every "<hN" in
    its output is a real heading tag (text would read "&lt;h1").
    """
    return Markup(BANK_HEADING.sub(lambda tag: f"<{tag[1]}h{min(int(tag[2]) + 2, 6)}", html))


def book_html(doc: RenderedBank) -> str:
    """The whole book as one HTML document, which pandoc splits into pages."""
    return render_template(
        f"{TEMPLATE_FOLDER}/book.html",
        doc=doc, labels=doc.labels, author=doc.source.author, demoted=_demoted,
    )


def _book_identifier(bank_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(IDENTIFIER_NAMESPACE, bank_id)}"


def _accessibility_arguments(book: str) -> list[str]:
    """pandoc options declaring how the book can be read (EPUB Accessibility 1.1 metadata).

    pandoc itself always declares text alone sufficient (schema:accessModeSufficient). That
    holds: an image without alt text is written with alt="", i.e. as decorative.
    """
    images = IMAGE_TAG.findall(book)
    described = bool(images) and all(ALT_TEXT.search(tag) for tag in images)
    modes = ["textual", "visual"] if images else ["textual"]
    values = [
        *(("accessModes", mode) for mode in modes),
        *(("accessibilityFeatures", feature) for feature in ACCESSIBILITY_FEATURES),
        *([("accessibilityFeatures", "alternativeText")] if described else []),
        ("accessibilityHazards", "none"),
    ]
    # pandoc collects a key given several times into a list.
    return [f"--metadata={key}={value}" for key, value in values]


def _write_subset(face: FontFace, text: str, folder: Path) -> str:
    """Save the glyphs `face` needs for `text` (and nothing else) into `folder`; returns the file name.

    HarfBuzz's subsetter (the one WeasyPrint uses for the PDF) takes 0.1 s where fontTools'
    took 1.3 s per face of Noto Sans CJK. It keeps the font's own head.modified time, so the
    subset, and so the book, is byte-identical across builds.
    """
    face_data = hb.Face(hb.Blob.from_file_path(str(face.path)), face.index)
    request = hb.SubsetInput()
    request.sets(hb.SubsetInputSets.UNICODE).update(ord(ch) for ch in text)
    font = hb.subset(face_data, request)
    if font is None:
        raise RuntimeError(f"HarfBuzz could not subset {face.path}")
    data = font.blob.data
    outlines = ".otf" if data[:4] == b"OTTO" else ".ttf"
    name = f"{re.sub(r'[^A-Za-z0-9]', '', face.family)}-{'Bold' if face.bold else 'Regular'}{outlines}"
    (folder / name).write_bytes(data)
    return name


def _pandoc_arguments(doc: RenderedBank, book: str, target: Path, fonts: list[str]) -> list[str]:
    date = datetime.fromtimestamp(doc.modified, timezone.utc).date().isoformat()
    return [
        "--from=html", "--to=epub3", f"--output={target.resolve()}",
        f"--lua-filter={MATH_FILTER}", "--mathml",
        f"--data-dir={PANDOC_DATA}", "--resource-path=.", f"--css={STYLESHEET}",
        *(f"--epub-embed-font={FONT_FOLDER}/{name}" for name in fonts),
        "--epub-title-page=false",  # the template's title page also holds the preface
        "--split-level=1", "--toc-depth=1",
        # Values we control; bank text (title, author) reaches pandoc through the HTML <head>.
        f"--metadata=lang={doc.lang}",
        f"--metadata=identifier={_book_identifier(doc.id)}",
        f"--metadata=date={date}",
        *_accessibility_arguments(book),
    ]


class EpubWriter(Writer):
    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, processes: int = 1) -> None:
        regular, bold = faces = font_faces(doc.lang)
        require_coverage(doc, faces)
        book = book_html(doc)
        # Everything a reader shows comes from the book's HTML, except the contents title pandoc writes.
        shown_text = plain_text(book) + doc.labels["contents"]
        with tempfile.TemporaryDirectory(prefix="qbank-epub-") as folder:
            work = Path(folder)
            (work / FONT_FOLDER).mkdir()
            (work / PANDOC_DATA).mkdir()
            fonts = [_write_subset(regular, shown_text, work / FONT_FOLDER)]
            if bold != regular:  # without a bold face, readers embolden the regular one themselves
                fonts.append(_write_subset(bold, shown_text, work / FONT_FOLDER))
            stylesheet = render_template(
                f"{TEMPLATE_FOLDER}/book.css",
                embedded_family=f"{regular.family} (qbank subset)",
                regular_font=fonts[0],
                bold_font=fonts[1] if len(fonts) > 1 else None,
                families=families_for(doc.lang),
            )
            (work / STYLESHEET).write_text(stylesheet, encoding="utf-8")
            for name, source in doc.media.items():
                shutil.copyfile(source, work / name)
            # A minimal environment: SOURCE_DATE_EPOCH fixes the zip entries' dates and
            # dcterms:modified; nothing else from the user's environment reaches pandoc.
            environment = {"SOURCE_DATE_EPOCH": str(doc.modified), "LANG": "C.UTF-8"}
            arguments = _pandoc_arguments(doc, book, target, fonts)
            run_pandoc(arguments, book.encode("utf-8"), env=environment, cwd=str(work))


WRITER = EpubWriter()
