"""One EPUB from the EPUBs pandoc made of consecutive parts of one book.

pandoc's time to split a book into pages grows faster than the number of pages (1,000 pages:
3.4 s, 4,000: 29 s), and its memory with the book: a large bank's book is made in parts of a
bounded number of pages, each by its own pandoc run, and joined here a file at a time.

Every part is made from the same <head>, options and stylesheet, so the parts differ only in
their pages. pandoc names a part's pages ch001.xhtml, ch002.xhtml, … from its first page: the
join renames them to the names pandoc gives the same pages in the whole book (the part's
first page's number onwards), everywhere they are named (links, the package's manifest and
spine, the navigation). A link to a page of another part is left by pandoc as a bare "#id":
the join points it at the page that holds the id. The first part brings everything else (the
package metadata, the landmarks, the stylesheet, the fonts); every part brings its pages, its
images, and its entries of the table of contents.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

PACKAGE = "EPUB/content.opf"
NAVIGATION = "EPUB/nav.xhtml"
NCX = "EPUB/toc.ncx"
PAGES_FOLDER = "EPUB/text/"
MEDIA_FOLDER = "EPUB/media/"
PAGE_NAME = re.compile(r"\bch(\d{3,})(?=\.xhtml\b|_xhtml\b)")
# pandoc's name of an image: in a page's src, in the manifest's id and href, as a file.
MEDIA_NAME = re.compile(r'(src="\.\./media/file|href="media/file|<item id="file|^EPUB/media/file)(\d+)(?=[._])')
BARE_LINK = re.compile(r'href="#([^"]+)"')
PAGE_ITEM = re.compile(r'^ *<item id="ch\d+_xhtml".*\n', re.MULTILINE)
MANIFEST_ITEM = re.compile(r'^ *<item .*\n', re.MULTILINE)
SPINE_ITEM = re.compile(r'^ *<itemref .*\n', re.MULTILINE)
TOC_ENTRY = re.compile(r'<li id="toc-li-\d+">(.*?)</li>', re.DOTALL)
NCX_POINT = re.compile(r'^ *<navPoint id="navPoint-\d+">.*?</navPoint>\n', re.DOTALL | re.MULTILINE)


def page_file(number: int) -> str:
    """pandoc's name for the book's `number`th XHTML file, counted from 1: one per <h1>."""
    return f"ch{number:03d}.xhtml"


@dataclass(frozen=True)
class Part:
    path: Path  # the part's EPUB, as pandoc wrote it
    first_page: int  # the number of its first page in the whole book (from 1)
    images: dict[int, int]  # pandoc's number of each of its images (media/fileN) -> the whole book's


def _renamed(text: str, part: Part) -> str:
    """`text` with the part's names of pages and images replaced by the whole book's."""
    text = PAGE_NAME.sub(lambda name: f"ch{int(name[1]) + part.first_page - 1:03d}", text)
    return MEDIA_NAME.sub(lambda name: f"{name[1]}{part.images[int(name[2])]}", text) if part.images else text


def _linked(page: str, page_of_id: dict[str, int]) -> str:
    """A page's links to ids on other parts' pages, pointed at those pages."""
    return BARE_LINK.sub(lambda link: f'href="{page_file(page_of_id[link[1]])}#{link[1]}"'
                         if link[1] in page_of_id else link[0], page)


def _joined_package(package: str, parts: list[str]) -> str:
    """The first part's package document with every part's pages, images and spine."""
    pages = "".join(item for part in parts for item in PAGE_ITEM.findall(part))
    others = list(dict.fromkeys(item for part in parts for item in MANIFEST_ITEM.findall(part)
                                if not PAGE_ITEM.match(item)))
    # The images before the fonts, the last used first: pandoc lists them so.
    others.sort(key=lambda item: -int(number[2]) if (number := MEDIA_NAME.search(item)) else 1)
    spine = "".join(item for part in parts for item in SPINE_ITEM.findall(part))
    manifest_start = package.index("  <manifest>\n") + len("  <manifest>\n")
    manifest_end = package.index("  </manifest>")
    spine_start = package.index("  <spine") + package[package.index("  <spine"):].index("\n") + 1
    spine_end = package.index("  </spine>")
    first_items = MANIFEST_ITEM.findall(package[manifest_start:manifest_end])
    before_pages = first_items[:next(index for index, item in enumerate(first_items) if PAGE_ITEM.match(item))]
    after_pages = [item for item in others if item not in before_pages]
    return (package[:manifest_start] + "".join(before_pages) + pages + "".join(after_pages)
            + package[manifest_end:spine_start] + spine + package[spine_end:])


def _joined_list(first: str, parts: list[str], entry: re.Pattern[str], number: re.Pattern[str]) -> str:
    """The first part's navigation (or NCX) listing every part's entries, numbered anew."""
    entries = [found[0] for part in parts for found in entry.finditer(part)]
    counter = iter(range(1, len(entries) + 1))
    numbered = [number.sub(lambda prefix: f"{prefix[1]}{next(counter)}", found, count=1) for found in entries]
    spans = [found.span() for found in entry.finditer(first)]
    return first[:spans[0][0]] + "".join(numbered) + first[spans[-1][1]:]


def join_epubs(parts: Sequence[Part], page_of_id: dict[str, int], target: Path) -> None:
    """Join the EPUBs of consecutive parts of one book into `target`."""
    controls = []  # each part's package, navigation and NCX, renamed (a few KB per page)
    for part in parts:
        with zipfile.ZipFile(part.path) as book:
            controls.append([_renamed(book.read(name).decode("utf-8"), part) for name in (PACKAGE, NAVIGATION, NCX)])
    package = _joined_package(controls[0][0], [control[0] for control in controls])
    navigation = _joined_list(controls[0][1], [control[1] for control in controls], TOC_ENTRY,
                              re.compile(r'(<li id="toc-li-)\d+'))
    ncx = _joined_list(controls[0][2], [control[2] for control in controls], NCX_POINT,
                       re.compile(r'(<navPoint id="navPoint-)\d+'))
    joined = {PACKAGE: package, NAVIGATION: navigation, NCX: ncx}
    names = _names(parts[0])
    front = {name for name in names[:next(index for index, name in enumerate(names) if _is_page(name))]
             if not _is_image(name)}
    # Where each image is first found: pandoc writes the images the last used first.
    images = {}
    for part in parts:
        for name in _names(part):
            if _is_image(name):
                images.setdefault(_renamed(name, part), part)
    written: set[str] = set()
    with zipfile.ZipFile(target, "w") as out:

        def copy(part: Part, wanted: Callable[[str], bool]) -> None:
            """Copy the part's wanted files: pages and images renamed, pages' links completed."""
            with zipfile.ZipFile(part.path) as book:
                for entry in book.infolist():
                    renaming = _is_page(entry.filename) or _is_image(entry.filename)
                    name = _renamed(entry.filename, part) if renaming else entry.filename
                    if not wanted(name) or name in written:  # an image an earlier part has too
                        continue
                    if _is_page(name):
                        data = _linked(_renamed(book.read(entry).decode("utf-8"), part), page_of_id).encode("utf-8")
                    else:
                        data = joined[name].encode("utf-8") if name in joined else book.read(entry)
                    entry.filename = name
                    out.writestr(entry, data)
                    written.add(name)

        # pandoc's order: the package, navigation and stylesheet; the images; the pages; the fonts.
        copy(parts[0], front.__contains__)
        for name in sorted(images, key=lambda name: -int(MEDIA_NAME.search(name)[2])):
            copy(images[name], name.__eq__)
        for part in parts:
            copy(part, _is_page)
        for part in parts:
            copy(part, lambda name: not _is_page(name))


def _names(part: Part) -> list[str]:
    with zipfile.ZipFile(part.path) as book:
        return book.namelist()


def _is_page(name: str) -> bool:
    return name.startswith(PAGES_FOLDER)


def _is_image(name: str) -> bool:
    return name.startswith(MEDIA_FOLDER)
