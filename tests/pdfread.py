"""Reading our PDFs back with pypdf, the way any PDF reader would: text and where it stands,
fonts and whether they are embedded, and thin drawn lines (crop marks)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from pypdf import PageObject, PdfReader
from pypdf.generic import ContentStream

MM = 72 / 25.4  # PDF points per millimetre


@dataclass(frozen=True)
class Chunk:
    """One run of text as drawn: its start (PDF points, origin bottom-left) and its text."""

    x: float
    y: float
    text: str


def squeezed(text: str) -> str:
    """Text without any whitespace: CJK lines break anywhere, so compare text this way."""
    return "".join(text.split())


def chunks(page: PageObject) -> list[Chunk]:
    found: list[Chunk] = []

    def visit(text: str, cm: list[float], tm: list[float], *_: object) -> None:
        if text.strip():
            x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
            y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
            found.append(Chunk(x, y, text.strip()))

    page.extract_text(visitor_text=visit)
    return found


def text_runs(page: PageObject) -> list[tuple[str, str]]:
    """(text, font name without its subset tag) of each run of text drawn on the page, in order."""
    found: list[tuple[str, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if text.strip() and font is not None:
            found.append((text.strip(), str(font["/BaseFont"]).lstrip("/").split("+", 1)[-1]))

    page.extract_text(visitor_text=visit)
    return found


def page_text(page: PageObject) -> str:
    return squeezed(page.extract_text())


def fonts(reader: PdfReader) -> dict[str, object]:
    """Every font the pages use (also inside form XObjects), by base name."""
    found: dict[str, object] = {}

    def walk(resources: object) -> None:
        if not resources:
            return
        resources = resources.get_object()
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            found[str(font.get("/BaseFont"))] = font
        for xobject in (resources.get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Form":
                walk(xobject.get("/Resources"))

    for page in reader.pages:
        walk(page.get("/Resources"))
    return found


def is_embedded(font: object) -> bool:
    if font.get("/Subtype") == "/Type0":
        font = font["/DescendantFonts"][0].get_object()
    descriptor = font.get("/FontDescriptor")
    if descriptor is None:
        return False
    descriptor = descriptor.get_object()
    return any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))


def _multiply(a: list[float], b: list[float]) -> list[float]:
    """The PDF matrix product a x b (apply a, then b)."""
    return [
        a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5],
    ]


def filled_boxes(reader: PdfReader, page: PageObject) -> list[tuple[float, float, float, float]]:
    """Bounding boxes (x0, y0, x1, y1 in points) of every filled path drawn on the page."""
    ctm, stack, path, boxes = [1.0, 0, 0, 1.0, 0, 0], [], [], []
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        values = [float(value) for value in operands if isinstance(value, (int, float))]
        if operator == b"q":
            stack.append(ctm)
        elif operator == b"Q":
            ctm = stack.pop()
        elif operator == b"cm":
            ctm = _multiply(values, ctm)
        elif operator in (b"m", b"l"):
            x, y = values
            path.append((ctm[0] * x + ctm[2] * y + ctm[4], ctm[1] * x + ctm[3] * y + ctm[5]))
        elif operator == b"re":
            x, y, width, height = values
            for px, py in ((x, y), (x + width, y + height)):
                path.append((ctm[0] * px + ctm[2] * py + ctm[4], ctm[1] * px + ctm[3] * py + ctm[5]))
        elif operator in (b"f", b"f*", b"F", b"B", b"B*", b"b", b"b*"):
            if path:
                xs, ys = [x for x, _ in path], [y for _, y in path]
                boxes.append((min(xs), min(ys), max(xs), max(ys)))
            path = []
        elif operator in (b"n", b"S", b"s"):
            path = []
    return boxes


@dataclass(frozen=True)
class Glyph:
    """Where one glyph is drawn: its advance box (PDF points, origin bottom-left), from a
    little below the baseline to a little under the font size above it."""

    x0: float
    y0: float
    x1: float
    y1: float


def _cid_widths(font: object) -> tuple[dict[int, float], float]:
    """A Type0 font's glyph widths by code (Identity-H: the code is the CID), and the default."""
    descendant = font["/DescendantFonts"][0].get_object()
    widths: dict[int, float] = {}
    entries = list(descendant.get("/W") or [])
    index = 0
    while index < len(entries):
        first = int(entries[index])
        following = entries[index + 1]
        if isinstance(following, list):
            for offset, width in enumerate(following):
                widths[first + offset] = float(width)
            index += 2
        else:
            for code in range(first, int(following) + 1):
                widths[code] = float(entries[index + 2])
            index += 3
    return widths, float(descendant.get("/DW", 1000))


def _apply(matrix: list[float], x: float, y: float) -> tuple[float, float]:
    return matrix[0] * x + matrix[2] * y + matrix[4], matrix[1] * x + matrix[3] * y + matrix[5]


def _operations(reader: PdfReader, page: PageObject) -> Iterator[tuple[list, bytes, list[float]]]:
    """The page's content-stream operations other than q, Q and cm, each with the current
    transformation matrix those three set (the graphics state's only part read here)."""
    ctm, stack = [1.0, 0, 0, 1.0, 0, 0], []
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"q":
            stack.append(ctm)
        elif operator == b"Q":
            ctm = stack.pop()
        elif operator == b"cm":
            ctm = _multiply([float(value) for value in operands], ctm)
        else:
            yield operands, operator, ctm


def glyph_boxes(reader: PdfReader, page: PageObject) -> list[Glyph]:
    """Every glyph the page's text operators draw, placed with the fonts' own widths.

    Reads WeasyPrint's way of writing text: Type0 fonts with Identity-H codes (two bytes per
    glyph), positioned by Tm and TJ arrays whose numbers adjust the advance; a TJ after another
    in the same BT (a fallback font's run) continues where the first ended."""
    fonts_by_name = {name: font.get_object() for name, font in (page["/Resources"].get("/Font") or {}).items()}
    text_matrix, font, size = [1.0, 0, 0, 1.0, 0, 0], None, 0.0
    glyphs: list[Glyph] = []
    for operands, operator, ctm in _operations(reader, page):
        if operator == b"BT":
            text_matrix = [1.0, 0, 0, 1.0, 0, 0]
        elif operator == b"Tm":
            text_matrix = [float(value) for value in operands]
        elif operator == b"Tf":
            font_dict = fonts_by_name[operands[0]]
            assert font_dict.get("/Encoding") == "/Identity-H", font_dict.get("/Encoding")
            font, size = _cid_widths(font_dict), float(operands[1])
        elif operator in (b"TJ", b"Tj"):
            assert font is not None
            widths, default = font
            to_page = _multiply(text_matrix, ctm)
            advance = 0.0
            for part in (operands[0] if operator == b"TJ" else operands):
                if isinstance(part, (int, float)):
                    advance -= float(part) / 1000 * size
                    continue
                data = getattr(part, "original_bytes", None) or bytes(part)
                for high, low in zip(data[::2], data[1::2]):
                    width = widths.get(high << 8 | low, default) / 1000 * size
                    corners = [_apply(to_page, x, y) for x in (advance, advance + width)
                               for y in (-0.15 * size, 0.75 * size)]
                    xs, ys = [x for x, _ in corners], [y for _, y in corners]
                    glyphs.append(Glyph(min(xs), min(ys), max(xs), max(ys)))
                    advance += width
            # The next text operator goes on where this one ended.
            text_matrix = _multiply([1.0, 0, 0, 1.0, advance, 0], text_matrix)
        elif operator in (b"Td", b"TD", b"T*", b"'", b'"', b"Tc", b"Tw", b"Tz", b"TL"):
            raise AssertionError(f"text operator {operator!r} is not read here")
    return glyphs


def overlapping(glyphs: list[Glyph], tolerance: float = 0.3) -> list[tuple[Glyph, Glyph]]:
    """Pairs of glyphs whose boxes share more than `tolerance` points both ways."""
    cell = 10.0
    grid: dict[tuple[int, int], list[int]] = {}
    for index, glyph in enumerate(glyphs):
        for gx in range(int(glyph.x0 // cell), int(glyph.x1 // cell) + 1):
            for gy in range(int(glyph.y0 // cell), int(glyph.y1 // cell) + 1):
                grid.setdefault((gx, gy), []).append(index)
    pairs = set()
    for members in grid.values():
        for position, first in enumerate(members):
            for second in members[position + 1:]:
                a, b = glyphs[first], glyphs[second]
                if (min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance
                        and min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance):
                    pairs.add((min(first, second), max(first, second)))
    return [(glyphs[first], glyphs[second]) for first, second in sorted(pairs)]


@dataclass(frozen=True)
class DrawnImage:
    """An image XObject as a page draws it: its pixels and its size on paper (points)."""

    pixels: tuple[int, int]
    width: float
    height: float


def drawn_images(reader: PdfReader, page: PageObject) -> list[DrawnImage]:
    """Every image the page's content stream draws, in order (images inside form XObjects are not followed)."""
    images = page["/Resources"].get("/XObject") or {}
    found = []
    for operands, operator, ctm in _operations(reader, page):
        if operator == b"Do" and operands[0] in images:
            image = images[operands[0]].get_object()
            if image["/Subtype"] == "/Image":
                # An image fills the unit square: the matrix's columns are its sides.
                found.append(DrawnImage((int(image["/Width"]), int(image["/Height"])),
                                        math.hypot(ctm[0], ctm[1]), math.hypot(ctm[2], ctm[3])))
    return found


def figures(reader: PdfReader) -> list[dict]:
    """Every Figure of the PDF's structure tree, in document order."""
    found = []

    def walk(node: object) -> None:
        node = node.get_object()
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif hasattr(node, "get"):
            if node.get("/S") == "/Figure":
                found.append(node)
            if "/K" in node:
                walk(node["/K"])

    walk(reader.trailer["/Root"]["/StructTreeRoot"])
    return found


def alt_texts(reader: PdfReader) -> list[str]:
    """The /Alt of every Figure in the PDF's structure tree, in document order."""
    return [str(figure.get("/Alt")) for figure in figures(reader)]


def outline_tree(reader: PdfReader, entries: list | None = None) -> list[tuple[str, list]]:
    """The PDF's outline (bookmarks) as (title, [its children, alike]) pairs, in order."""
    shown: list = []
    for entry in reader.outline if entries is None else entries:
        if isinstance(entry, list):  # pypdf lists an entry's children right after it
            shown[-1] = (shown[-1][0], outline_tree(reader, entry))
        else:
            shown.append((entry.title, []))
    return shown


def outline_leaves(reader: PdfReader) -> list[str]:
    """The titles of the outline's entries that have no children, in order."""
    def leaves(tree: list[tuple[str, list]]) -> list[str]:
        return [found for title, children in tree for found in (leaves(children) if children else [title])]

    return leaves(outline_tree(reader))
