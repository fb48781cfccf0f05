"""Reading our PDFs back with pypdf, the way any PDF reader would: text and where it stands,
fonts and whether they are embedded, and thin drawn lines (crop marks)."""

from __future__ import annotations

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
