"""Formulas in the EPUB's page headings: MathJax's MathML on the page, their TeX where only text may go.

pandoc copies each <h1>'s content into three places that hold text alone: the page's <title>
(what a screen reader announces), the navigation document's table of contents, and the
EPUB 2 toc.ncx. MathML there would be invalid (epubcheck: OPF-014 in the navigation), and
pandoc's filters see one heading for all four. So each formula of a heading goes through pandoc
as a marker (a per-book random token and its number, which bank text cannot guess), and the
finished book has, for each marker, the formula's MathML in the heading on its page, and its
TeX, as a reader would write it, everywhere else. The TeX is also the formula's annotation in
its MathML, and what toc.ncx showed before (pandoc's text of a formula is its TeX).
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass
from typing import Callable
from xml.etree.ElementTree import Element

from .epub_package import NAVIGATION, NCX, PAGES_FOLDER, child

HEADING = re.compile(r"(<h1\b[^>]*>)(.*?)(</h1>)", re.DOTALL)
# A formula as writers/formulas.py's with_mathml gives it to the EPUB: its MathML (escaped) and its TeX.
MATH_SPAN = re.compile(r'<span class="math (?:inline|display)" data-mathml="([^"]*)">\\[(\[](.*?)\\[)\]]</span>', re.DOTALL)
PAGE_TITLE = re.compile(r"<title>.*?</title>", re.DOTALL)
TEXT_ONLY_FILES = (NAVIGATION, NCX)


@dataclass(frozen=True)
class TitleFormulas:
    """The formulas of the book's headings, each by the number its marker holds."""

    token: str
    formulas: tuple[tuple[str, str], ...]  # (TeX, MathML)

    def _sub(self, text: str, shown: int) -> str:
        """`text` with each marker replaced by its formula's TeX (`shown` 0, escaped) or MathML (1)."""
        return re.sub(rf"{self.token}(\d+)x",
                      lambda marker: self.formulas[int(marker[1])][shown] if shown else html.escape(
                          self.formulas[int(marker[1])][0], quote=False), text)

    def in_headings(self, name: str, read: Callable[[], bytes]) -> bool:
        """Whether the book's file `name` (its bytes from `read`, called for pages only: the
        others are fonts and images) is a page with a formula in its heading."""
        return name.startswith(PAGES_FOLDER) and self.token.encode() in read()

    def finished(self, name: str, data: bytes) -> bytes:
        """A file of the book pandoc made, its markers replaced as the module says."""
        if self.token.encode() not in data:
            return data
        text = data.decode("utf-8")
        if name in TEXT_ONLY_FILES:
            return self._sub(text, 0).encode("utf-8")
        text = PAGE_TITLE.sub(lambda title: self._sub(title[0], 0), text, count=1)
        return self._sub(text, 1).encode("utf-8")


def marked_headings(book: str) -> tuple[str, TitleFormulas | None]:
    """The book's HTML with each formula of an <h1> as a marker, and the formulas; None if
    its headings hold none. Bank text cannot write an <h1> (raw HTML is off, and its headings
    are placed below the book's): every <h1> is the book's own."""
    token = "QBTITLEMATH" + secrets.token_hex(8) + "n"
    formulas: list[tuple[str, str]] = []

    def marker(span: re.Match[str]) -> str:
        formulas.append((html.unescape(span[2]), html.unescape(span[1])))
        return f"{token}{len(formulas) - 1}x"

    marked = HEADING.sub(lambda heading: heading[1] + MATH_SPAN.sub(marker, heading[2]) + heading[3], book)
    return (marked, TitleFormulas(token, tuple(formulas))) if formulas else (book, None)


def declare_mathml(package: Element, pages: set[str]) -> None:
    """The package's manifest declaring MathML ("mathml" in properties) for `pages` (file names
    in the book), whose headings now hold some: pandoc declared it only for the pages whose
    MathML it wrote itself."""
    for item in child(package, "manifest"):
        properties = item.get("properties", "").split()
        if f"EPUB/{item.get('href')}" in pages and "mathml" not in properties:
            item.set("properties", " ".join([*properties, "mathml"]))
