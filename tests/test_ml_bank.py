"""The second real bank, source/ml-coding-interview.yaml (English, with math, code in three
languages, a table, a long link, an emoji, ℝ and an image): it builds in every format and
every output holds every item, judged by the readers a learner uses (Anki's engine, an EPUB
reading system's navigation, a PDF viewer's outline and fonts)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml
from PIL import Image
from pypdf import PdfReader

from conftest import ROOT, SEED_BANK, copy_bank, run_build
from pdfread import text_runs
from ankiread import col, import_apkg, log_counts, notes_by_item  # noqa: F401 - col is a fixture
from epubread import Book, epubcheck
from test_technical import (TEX_SOURCE, assert_every_glyph_in_its_column, assert_every_glyph_on_its_card,
                            assert_no_tex_outside_mathml, book_pages)
from pdfread import page_text

ML_BANK = ROOT / "source" / "ml-coding-interview.yaml"
BANK = yaml.safe_load(ML_BANK.read_text(encoding="utf-8"))
ITEMS = BANK["items"]
IMAGE = ROOT / "source" / "images" / "attention.png"


@pytest.fixture(scope="module")
def ml_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ml")
    bank = copy_bank(ML_BANK, folder / "bank")
    lock_before = bank.with_suffix(".lock").read_bytes()
    result = run_build(bank, "--out", folder / "dist")
    assert result.returncode == 0, result.stderr
    # The committed lock is current: a clean clone builds without reading the clock.
    assert bank.with_suffix(".lock").read_bytes() == lock_before
    return folder / "dist"


def test_the_bank_is_what_the_brief_asks_for() -> None:
    assert BANK["lang"] == "en" and 12 <= len(ITEMS) <= 20
    markdown = yaml.safe_dump(BANK, allow_unicode=True)
    for needed in ("$$", "\\frac", "```python", "```sql", "```cpp", "|---", "https://", "🚀", "ℝ", "images/attention.png"):
        assert needed in markdown, needed
    assert all(item.get("tags") and item["answer"].get("points") and item.get("explanation") for item in ITEMS)


def test_both_banks_are_valid_and_the_english_one_has_no_lint_warning() -> None:
    result = run_build("--check")  # no bank named: every bank in source/, as `python build.py` builds
    assert result.returncode == 0, result.stderr
    assert f"{ML_BANK.relative_to(ROOT)}: {len(ITEMS)} items, valid (0 warnings)" in result.stdout
    assert f"{SEED_BANK.relative_to(ROOT)}: 30 items, valid" in result.stdout


@pytest.mark.parametrize(("output", "numbered"), [("ml-coding-interview.pdf", True), ("ml-coding-interview.cards.pdf", False)])
def test_each_pdf_has_one_bookmark_per_item_and_prints_latin_first(ml_dist: Path, output: str, numbered: bool) -> None:
    reader = PdfReader(ml_dist / output)
    titles = [f"{n}. {item['title']}" if numbered else item["title"] for n, item in enumerate(ITEMS, 1)]
    assert [entry.title for entry in reader.outline] == titles
    first_text, first_font = text_runs(reader.pages[0])[0]
    assert first_font.startswith("Noto-Sans") and "CJK" not in first_font, (first_text, first_font)
    images = [x.get_object() for page in reader.pages
              for x in (page["/Resources"].get("/XObject") or {}).values() if x.get_object()["/Subtype"] == "/Image"]
    assert (760, 250) in [(image["/Width"], image["/Height"]) for image in images]


def test_the_book_is_valid_and_its_navigation_lists_every_item(ml_dist: Path) -> None:
    epubcheck(ml_dist / "ml-coding-interview.epub")
    book = Book(ml_dist / "ml-coding-interview.epub")
    # The preface, every item numbered as in the bank, and the closing (docs/epub.md).
    items = [f"{n}. {item['title']}" for n, item in enumerate(ITEMS, 1)]
    assert [text for text, _ in book.toc_entries()] == ["Preface", *items, BANK["closing"]["title"]]
    assert any(name.endswith(".png") and book.zip.read(name) == IMAGE.read_bytes() for name in book.zip.namelist())


def test_anki_imports_one_note_per_item_with_the_image(ml_dist: Path, col) -> None:  # noqa: F811
    log = import_apkg(col, ml_dist / "ml-coding-interview.apkg")
    assert log_counts(log) == {"new": len(ITEMS), "updated": 0, "duplicate": 0, "conflicting": 0}
    assert col.note_count() == len(ITEMS)
    assert set(notes_by_item(col)) == {item["id"] for item in ITEMS}
    media = Path(col.media.dir())
    assert [path.read_bytes() for path in media.iterdir()] == [IMAGE.read_bytes()]


def test_the_diagram_is_what_its_script_draws() -> None:
    # The committed PNG and its source must not drift apart. Pixels, not bytes: another
    # Pillow's PNG encoder may compress differently.
    spec = importlib.util.spec_from_file_location("draw_attention", IMAGE.with_name("draw_attention.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with Image.open(IMAGE) as committed:
        assert committed.tobytes() == script.draw().tobytes()


def test_math_is_typeset_in_every_output_and_no_tex_is_shown(ml_dist: Path, col) -> None:  # noqa: F811
    """The issue's checks on the English bank itself: Anki's fields in Anki's delimiters, MathML
    in the book with no TeX outside it, no TeX in either PDF's text."""
    import_apkg(col, ml_dist / "ml-coding-interview.apkg")
    fields = "".join(field for note in notes_by_item(col).values() for field in note.fields)
    assert r"\(" in fields and r"\[" in fields and "$" not in fields.replace("\\$", "")
    pages = book_pages(ml_dist / "ml-coding-interview.epub")
    assert any(page.iter("{http://www.w3.org/1998/Math/MathML}math") for page in pages.values())
    assert_no_tex_outside_mathml(pages)
    for name in ("ml-coding-interview.pdf", "ml-coding-interview.cards.pdf"):
        text = "".join(page_text(page) for page in PdfReader(ml_dist / name).pages)
        assert not TEX_SOURCE.search(text), (name, TEX_SOURCE.search(text))


def test_no_glyph_leaves_its_column_or_card(ml_dist: Path) -> None:
    assert_every_glyph_in_its_column(ml_dist / "ml-coding-interview.pdf")
    assert_every_glyph_on_its_card(ml_dist / "ml-coding-interview.cards.pdf")
