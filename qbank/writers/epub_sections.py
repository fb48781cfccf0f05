"""A book in sections: its navigation and NCX list the items under their section (two levels).

Every page of the book starts at an <h1>, the sections' opening pages as the items' (so the
book is split, and made in parts, the same way whatever it holds), and pandoc lists them all
on one level. Here the entries of the items that follow a section's entry become its children,
in the navigation document (an <ol> inside the section's <li>) and in the NCX (navPoints inside
its navPoint), edited as XML (epub_package.py's reading and writing, as pandoc writes it).
"""

from __future__ import annotations

from typing import Callable
from xml.etree.ElementTree import Element

from .epub_package import NAVIGATION, NCX, child, read_package, xml_bytes

SECTION_ID = "section-"  # templates/epub/book.html: a section's page is <h1 id="section-…">
ITEM_ID = "item-"  # … an item's question page <h1 id="item-…">
NAVIGATION_DOCTYPE = "<!DOCTYPE html>\n"


def _target(href: str | None) -> str:
    """The id a link points at (after the '#')."""
    return (href or "").partition("#")[2]


def _nested(entries: list[Element], target: Callable[[Element], str], adopt: Callable[[Element, list[Element]], None]
            ) -> list[Element]:
    """`entries` (one level) with each run of items' entries after a section's entry handed to
    it by `adopt`; the others stay where they are."""
    kept: list[Element] = []
    section: Element | None = None
    run: list[Element] = []
    for entry in entries:
        points_at = target(entry)
        if section is not None and points_at.startswith(ITEM_ID):
            run.append(entry)
            continue
        if section is not None:
            adopt(section, run)
        section, run = (entry, []) if points_at.startswith(SECTION_ID) else (None, [])
        kept.append(entry)
    if section is not None:
        adopt(section, run)
    return kept


def nested_navigation(data: bytes) -> bytes:
    """The navigation document with the items' entries inside their section's."""
    root = read_package(data)
    toc = next(nav for nav in root.iter("nav") if nav.get("id") == "toc")
    listed = child(toc, "ol")

    def adopt(section: Element, run: list[Element]) -> None:
        if run:
            items = Element("ol")
            items[:] = run
            section.append(items)

    listed[:] = _nested(list(listed), lambda li: _target(child(li, "a").get("href")), adopt)
    return xml_bytes(root, NAVIGATION_DOCTYPE)


def nested_ncx(data: bytes) -> bytes:
    """The NCX with the items' navPoints inside their section's, and its depth two."""
    root = read_package(data)
    navigation_map = child(root, "navMap")
    indent = navigation_map.text or "\n"  # before each navPoint: the line and indentation pandoc put there

    def adopt(section: Element, run: list[Element]) -> None:
        if run:
            end = section[-1].tail
            for point in run:
                _indent(point)
                point.tail = indent + "  "
            section[-1].tail = indent + "  "
            section.extend(run)
            section[-1].tail = end

    points = _nested(list(navigation_map), lambda point: _target(child(point, "content").get("src")), adopt)
    navigation_map[:] = points
    if points:
        points[-1].tail = "\n  "
    for meta in child(root, "head"):
        if meta.get("name") == "dtb:depth":
            meta.set("content", "2")
    return xml_bytes(root)


def _indent(element: Element, by: str = "  ") -> None:
    """Move `element`'s lines inside it `by` further right, as a level deeper."""
    for inner in element.iter():
        if inner.text and "\n" in inner.text:
            inner.text += by
        if inner is not element and inner.tail and "\n" in inner.tail:
            inner.tail += by


# What a book in sections changes in the EPUB pandoc made, by file.
SECTION_CHANGES = {NAVIGATION: nested_navigation, NCX: nested_ncx}
