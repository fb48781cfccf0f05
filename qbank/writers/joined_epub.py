"""A book cut into parts of its pages, and one EPUB from the EPUBs pandoc made of the parts.

pandoc's time to split a book into pages grows faster than the number of pages, and its
memory with the book: a large bank's book is made in parts of a bounded number of pages and
characters, each by its own pandoc run, and joined here a file at a time.

Every part is made from the same <head>, options and stylesheet, so the parts differ only in
their pages. pandoc names a part's pages ch001.xhtml, ch002.xhtml, … from its first page: the
join renames them to the names pandoc gives the same pages in the whole book (the part's
first page's number onwards), everywhere they are named (links, the package's manifest and
spine, the navigation); the package document is joined as XML (epub_package.py). A link to a page of another part is left by pandoc as a bare "#id":
the join points it at the page that holds the id. The first part brings everything else (the
package metadata, the landmarks, the stylesheet, the fonts); every part brings its pages, its
images, and its entries of the table of contents.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence
from xml.etree.ElementTree import Element

from .epub_package import (NAVIGATION, NCX, PACKAGE_DOCUMENT, PAGES_FOLDER, child, package_bytes, read_package,
                           set_children)

MEDIA_FOLDER = "EPUB/media/"
PAGE_NAME = re.compile(r"\bch(\d{3,})(?=\.xhtml\b|_xhtml\b)")
# pandoc's name of an image: in a page's src, as a file; in the package document, as an item's
# id or href.
MEDIA_NAME = re.compile(r'(src="\.\./media/file|^EPUB/media/file)(\d+)(?=[._])')
PACKAGE_MEDIA_NAME = re.compile(r"^(file|media/file)(\d+)(?=[._])")
BARE_LINK = re.compile(r'href="#([^"]+)"')
# In the book's HTML: a page starts at each <h1> starting a line (raw HTML is off in the bank's
# fields and their headings are placed below the book's); every id is an attribute of ours.
PAGE_START = r"^<h1\b"
PAGE_OR_ID = re.compile(PAGE_START + r'|\sid="([^"]+)"', re.MULTILINE)
IMAGE_SOURCE = re.compile(r'<img\b[^>]*?\ssrc="([^"]+)"')


def page_file(number: int) -> str:
    """pandoc's name for the book's `number`th XHTML file, counted from 1: one per <h1>."""
    return f"ch{number:03d}.xhtml"


@dataclass(frozen=True)
class BookPart:
    """The book's <head> and a run of its pages: cut from the book when asked for, so that the
    parts do not hold a second copy of a large book (tens of MB) while pandoc makes them."""

    book: str = field(repr=False)
    head_end: int
    start: int  # where its pages are in the book
    end: int
    first_page: int  # the number of its first page in the book, from 1

    @property
    def html(self) -> str:
        return self.book[:self.head_end] + self.book[self.start:self.end]


def book_parts(book: str, pages_per_part: int, characters_per_part: int) -> list[BookPart]:
    """The book's HTML cut into parts of at most `pages_per_part` pages and, unless a page alone
    is longer, `characters_per_part` characters, each part with the book's <head>."""
    starts = [match.start() for match in re.finditer(PAGE_START, book, re.MULTILINE)]
    parts, first = [], 0  # the index of the current part's first page
    for index, (start, end) in enumerate(zip(starts, [*starts[1:], len(book)])):
        if index > first and (index - first == pages_per_part or end - starts[first] > characters_per_part):
            parts.append(BookPart(book, starts[0], starts[first], start, first_page=1 + first))
            first = index
    return [*parts, BookPart(book, starts[0], starts[first], len(book), first_page=1 + first)]


@dataclass(frozen=True)
class _Made:
    """A part as pandoc made it, and how its names become the whole book's."""

    path: Path  # the part's EPUB
    first_page: int
    images: dict[int, int]  # pandoc's number of each of its images (media/fileN) -> the whole book's


def _page_of_id(book: str) -> dict[str, int]:
    """The number of the page (from 1) that holds each id of the book's HTML."""
    pages, found = 0, {}
    for match in PAGE_OR_ID.finditer(book):
        if match[1] is None:
            pages += 1
        else:
            found.setdefault(match[1], pages)
    return found


def _image_order(html: str) -> dict[str, int]:
    """Each image file of `html` by the order of its first use, from 0: pandoc names the images
    of an EPUB media/file0, media/file1, … in that order."""
    return {src: number for number, src in enumerate(dict.fromkeys(IMAGE_SOURCE.findall(html)))}


def _renamed(text: str, part: _Made, media_name: re.Pattern[str] = MEDIA_NAME) -> str:
    """`text` with the part's names of pages and images replaced by the whole book's."""
    text = PAGE_NAME.sub(lambda name: f"ch{int(name[1]) + part.first_page - 1:03d}", text)
    return media_name.sub(lambda name: f"{name[1]}{part.images[int(name[2])]}", text) if part.images else text


def _renamed_package(data: bytes, part: _Made) -> Element:
    """A part's package document, its manifest and spine naming pages and images as the whole book does."""
    package = read_package(data)
    for element in (*child(package, "manifest"), *child(package, "spine")):
        for attribute in ("id", "href", "idref"):
            if attribute in element.attrib:
                element.set(attribute, _renamed(element.get(attribute), part, PACKAGE_MEDIA_NAME))
    return package


def _linked(page: str, page_of_id: dict[str, int]) -> str:
    """A page's links to ids on other parts' pages, pointed at those pages."""
    return BARE_LINK.sub(lambda link: f'href="{page_file(page_of_id[link[1]])}#{link[1]}"'
                         if link[1] in page_of_id else link[0], page)


def _joined_package(packages: list[Element]) -> bytes:
    """The first part's package document with every part's pages, images and spine."""
    manifests = [list(child(package, "manifest")) for package in packages]
    pages = [item for manifest in manifests for item in manifest if _is_page(_file_of(item))]
    others: dict[tuple, Element] = {}  # the other items of all parts, each once
    for item in (item for manifest in manifests for item in manifest if not _is_page(_file_of(item))):
        others.setdefault(tuple(item.attrib.items()), item)
    first = manifests[0]
    before_pages = first[:next(index for index, item in enumerate(first) if _is_page(_file_of(item)))]
    listed = {tuple(item.attrib.items()) for item in before_pages}
    after_pages = sorted((item for key, item in others.items() if key not in listed), key=_listed_after_pages)
    set_children(child(packages[0], "manifest"), before_pages + pages + after_pages)
    set_children(child(packages[0], "spine"), [ref for package in packages for ref in child(package, "spine")])
    return package_bytes(packages[0])


def _listed_after_pages(item: Element) -> int:
    """The images before the fonts, the last used first: pandoc lists them so."""
    file = _file_of(item)
    return -int(MEDIA_NAME.search(file)[2]) if _is_image(file) else 1


def _file_of(item: Element) -> str:
    """The file a manifest item names, as it is named in the EPUB's zip."""
    return posixpath.join(posixpath.dirname(PACKAGE_DOCUMENT), item.get("href", ""))


@dataclass(frozen=True)
class _ListSyntax:
    """How pandoc writes a list of the navigation (or the NCX): its entries, their numbers, and
    the list when it is empty and when it is not (around its entries)."""

    entry: re.Pattern[str]
    number: re.Pattern[str]
    empty: str
    filled: str


TOC_LIST = _ListSyntax(re.compile(r'<li id="toc-li-\d+">(.*?)</li>', re.DOTALL), re.compile(r'(<li id="toc-li-)\d+'),
                       '<ol class="toc" />', '<ol class="toc">%s</ol>')
NCX_LIST = _ListSyntax(re.compile(r'^ *<navPoint id="navPoint-\d+">.*?</navPoint>\n', re.DOTALL | re.MULTILINE),
                       re.compile(r'(<navPoint id="navPoint-)\d+'), "<navMap />", "<navMap>\n%s  </navMap>")


def _joined_list(parts: list[str], syntax: _ListSyntax) -> str:
    """The first part's navigation (or NCX) listing every part's entries, numbered anew. The
    first part may list nothing: a large bank's contents pages, which are unlisted, can fill it."""
    first = parts[0]
    entries = [found[0] for part in parts for found in syntax.entry.finditer(part)]
    counter = iter(range(1, len(entries) + 1))
    numbered = "".join(syntax.number.sub(lambda prefix: f"{prefix[1]}{next(counter)}", found, count=1)
                       for found in entries)
    spans = [found.span() for found in syntax.entry.finditer(first)]
    if spans:
        return first[:spans[0][0]] + numbered + first[spans[-1][1]:]
    if first.count(syntax.empty) != 1:
        raise ValueError(f"pandoc wrote an unexpected list: no entries, and not one {syntax.empty}")
    return first.replace(syntax.empty, syntax.filled % numbered)


def join_epubs(made: Sequence[tuple[BookPart, Path]], book: str, target: Path) -> None:
    """Join the EPUBs pandoc made of the consecutive parts of `book` (its HTML) into `target`."""
    book_images = _image_order(book)
    parts = [_Made(path, part.first_page, {local: book_images[src] for local, src in enumerate(_image_order(part.html))})
             for part, path in made]
    page_of_id = _page_of_id(book)
    with ExitStack() as opened, zipfile.ZipFile(target, "w") as out:
        books = [opened.enter_context(zipfile.ZipFile(part.path)) for part in parts]
        # Each part's files by their names in the whole book.
        files = [{_renamed(entry.filename, part) if _is_renamed(entry.filename) else entry.filename: entry
                  for entry in book.infolist()} for part, book in zip(parts, books)]
        lists = [[_renamed(book.read(name).decode("utf-8"), part) for name in (NAVIGATION, NCX)]
                 for part, book in zip(parts, books)]
        joined = {
            PACKAGE_DOCUMENT: _joined_package([_renamed_package(book.read(PACKAGE_DOCUMENT), part)
                                               for part, book in zip(parts, books)]),
            NAVIGATION: _joined_list([navigation for navigation, _ in lists], TOC_LIST).encode(),
            NCX: _joined_list([ncx for _, ncx in lists], NCX_LIST).encode(),
        }
        # pandoc's order: the package, navigation and stylesheet; the images, the last used first;
        # the pages; the fonts. An image is taken from the first part that has it.
        first_names = list(files[0])
        front = first_names[:next(index for index, name in enumerate(first_names) if _is_page(name))]
        order = [(0, name) for name in front if not _is_image(name)]
        images = {name: index for index in reversed(range(len(files))) for name in files[index] if _is_image(name)}
        order += [(images[name], name) for name in sorted(images, key=lambda name: -int(MEDIA_NAME.search(name)[2]))]
        order += [(index, name) for index, names in enumerate(files) for name in names if _is_page(name)]
        order += [(index, name) for index, names in enumerate(files) for name in names if not _is_page(name)]
        written: set[str] = set()
        for index, name in order:
            if name in written:
                continue
            entry = files[index][name]
            if _is_page(name):
                data = _linked(_renamed(books[index].read(entry).decode("utf-8"), parts[index]), page_of_id).encode()
            else:
                data = joined[name] if name in joined else books[index].read(entry)
            entry.filename = name
            out.writestr(entry, data)
            written.add(name)


def _is_page(name: str) -> bool:
    return name.startswith(PAGES_FOLDER)


def _is_image(name: str) -> bool:
    return name.startswith(MEDIA_FOLDER)


def _is_renamed(name: str) -> bool:
    return _is_page(name) or _is_image(name)
