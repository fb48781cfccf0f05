"""The font stack (templates/fonts.yaml) in every output: a bank with emoji, math symbols, a
CJK Extension B character and code with a Chinese comment builds everywhere, each character
drawn from a face that has it; a character no installed face has still stops the build.

Judged by real readers: pypdf for the PDFs' fonts and text runs, epubcheck and fontTools for
the book's embedded subsets, Anki's own engine for the deck.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader

from conftest import FIXTURES, copy_bank, run_build, traced_memory
from pdfread import fonts, is_embedded, page_text, squeezed, text_runs
from ankiread import col, import_apkg, notes_by_item  # noqa: F401 - col is a fixture
from qbank.writers.fonts import shown_text
from epubread import Book, embedded_fonts, epubcheck

SYMBOLS_BANK = FIXTURES / "symbols" / "bank.yaml"
SYMBOLS = yaml.safe_load(SYMBOLS_BANK.read_text(encoding="utf-8"))
# What each part of the stack must draw, and the face that has it on the setup's Debian.
ROCKET, REAL, EXTENSION_B, ELEMENT_OF = "🚀", "ℝ", "\U0002000B", "∈"


@pytest.fixture(scope="module")
def symbols_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("symbols")
    bank = copy_bank(SYMBOLS_BANK, folder / "bank")
    result = run_build(bank, "--out", folder / "dist")
    assert result.returncode == 0, result.stderr
    return folder / "dist"


def _base_names(reader: PdfReader) -> set[str]:
    """The fonts' names without the subset tag (ABCDEF+Noto-Sans -> Noto-Sans)."""
    return {name.lstrip("/").split("+", 1)[-1] for name in fonts(reader)}


def _faces_of(runs: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Each character drawn, and every font it was drawn in."""
    faces: dict[str, set[str]] = {}
    for text, font in runs:
        for ch in text:
            faces.setdefault(ch, set()).add(font)
    return faces


@pytest.mark.parametrize("output", ["symbols.pdf", "symbols.cards.pdf"])
def test_emoji_symbols_and_extension_b_print_from_faces_that_have_them(symbols_dist: Path, output: str) -> None:
    reader = PdfReader(symbols_dist / output)
    assert all(is_embedded(font) for font in fonts(reader).values())
    names = _base_names(reader)
    for face in ("Noto-Sans", "Noto-Sans-Math", "Noto-Sans-CJK-SC", "Noto-Color-Emoji", "Noto-Sans-Mono"):
        assert face in names, (face, names)
    runs = [run for page in reader.pages for run in text_runs(page)]
    faces_of = _faces_of(runs)
    assert {face.removesuffix("-Bold") for face in faces_of[ROCKET]} == {"Noto-Color-Emoji"}
    assert faces_of[ELEMENT_OF] == {"Noto-Sans-Math"}
    assert faces_of[REAL] == {"Noto-Sans", "Noto-Sans-Mono"}, "prose in the Latin face, code in the monospace one"
    assert faces_of[EXTENSION_B] == {"Noto-Sans-CJK-SC"}
    assert faces_of["发"] == {"Noto-Sans-CJK-SC"}, "the Chinese comment in code falls back to the CJK face"
    assert [font for text, font in runs if text.startswith("def")] == ["Noto-Sans-Mono"]
    text = "".join(page_text(page) for page in reader.pages)
    for item in SYMBOLS["items"]:
        assert squeezed(item["title"]) in text


def test_two_builds_with_emoji_are_byte_identical(symbols_dist: Path, tmp_path: Path) -> None:
    # WeasyPrint re-saves the emoji font with fontTools, which dates it by the clock unless
    # told otherwise; this build runs seconds after the fixture's, from the lock it wrote.
    bank = copy_bank(symbols_dist.parent / "bank" / SYMBOLS_BANK.name, tmp_path / "bank")
    result = run_build(bank, "--out", tmp_path / "dist")
    assert result.returncode == 0, result.stderr
    for output in ("symbols.apkg", "symbols.pdf", "symbols.cards.pdf", "symbols.epub"):
        assert (tmp_path / "dist" / output).read_bytes() == (symbols_dist / output).read_bytes(), output


def test_an_english_bank_prints_in_a_latin_face_first(symbols_dist: Path) -> None:
    first_text, first_font = text_runs(PdfReader(symbols_dist / "symbols.pdf").pages[0])[0]
    assert first_text.startswith(SYMBOLS["title"].split()[0])
    assert first_font in ("Noto-Sans", "Noto-Sans-Bold"), first_font


def test_a_chinese_bank_keeps_its_cjk_face_and_borrows_only_the_symbols(tmp_path: Path) -> None:
    data = yaml.safe_load(SYMBOLS_BANK.read_text(encoding="utf-8"))
    data["lang"] = "zh-CN"
    data["title"] = "符号与表情：" + data["title"]
    bank = tmp_path / "bank" / "bank.yaml"
    bank.parent.mkdir()
    bank.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = run_build(bank, "--out", tmp_path / "dist", "--format", "pdf")
    assert result.returncode == 0, result.stderr
    runs = text_runs(PdfReader(tmp_path / "dist" / "symbols.pdf").pages[0])
    assert runs[0][1].startswith("Noto-Sans-CJK-SC"), runs[0]
    faces_of = _faces_of(runs)
    assert "Noto-Sans-CJK-SC" in faces_of["x"] and "Noto-Sans" not in faces_of["x"], "Latin stays in the CJK face"
    assert faces_of[REAL] == {"Noto-Sans-Math", "Noto-Sans-Mono"}, "Noto Sans CJK has no ℝ"
    assert {face.removesuffix("-Bold") for face in faces_of[ROCKET]} == {"Noto-Color-Emoji"}


def test_the_book_embeds_each_face_only_for_what_earlier_faces_lack(symbols_dist: Path) -> None:
    book_path = symbols_dist / "symbols.epub"
    epubcheck(book_path)
    book = Book(book_path)
    shown = set()
    for path in [*book.spine, book.nav_path]:
        shown |= set(book.text(path))
    shown -= {" "}
    assert {ROCKET, REAL, EXTENSION_B, ELEMENT_OF, "发"} <= shown
    css = " ".join(book.zip.read(book._href(item)).decode() for item in book.manifest.values()
                   if item.get("media-type") == "text/css")
    declared = re.findall(r'@font-face\s*{\s*font-family:\s*"([^"]+)";[^}]*font-weight:\s*(\w+);[^}]*src:\s*url\("\.\./([^"]+)"\)', css)
    embedded = embedded_fonts(book)
    by_file = {Path(path).name: font for path, font in embedded.items()}
    assert {Path(file).name for _, _, file in declared} == set(by_file)
    regular = {family: set(map(chr, by_file[Path(file).name].getBestCmap()))
               for family, weight, file in declared if weight == "normal"}
    assert set(regular) == {f"{name} (qbank subset)" for name in (
        "Noto Sans", "Noto Sans Math", "Noto Sans Symbols2", "Noto Sans CJK SC", "Noto Color Emoji", "Noto Sans Mono")}
    missing = {ch for ch in shown if not any(ch in characters for characters in regular.values())}
    assert not missing
    # Prose faces share no character: each holds only what the faces before it lack.
    prose = [characters for family, characters in regular.items() if "Mono" not in family]
    for index, characters in enumerate(prose):
        for other in prose[index + 1:]:
            assert not characters & other
    assert EXTENSION_B in regular["Noto Sans CJK SC (qbank subset)"]
    assert ROCKET in regular["Noto Color Emoji (qbank subset)"]
    assert "d" in regular["Noto Sans Mono (qbank subset)"] and "发" not in regular["Noto Sans Mono (qbank subset)"]
    # Prose names its subsets first, in the stack's order; code starts with the monospace one.
    body = re.search(r"body\s*{[^}]*font-family:\s*([^;]+);", css).group(1)
    code = re.search(r"code, pre, kbd, samp\s*{[^}]*font-family:\s*([^;]+);", css).group(1)
    assert body.startswith('"Noto Sans (qbank subset)", "Noto Sans"') and body.endswith("sans-serif")
    assert code.startswith('"Noto Sans Mono (qbank subset)", "Noto Sans Mono"') and code.endswith("monospace")


def test_the_deck_carries_every_character_and_the_stacks_in_its_css(symbols_dist: Path, col) -> None:  # noqa: F811
    import_apkg(col, symbols_dist / "symbols.apkg")
    notes = notes_by_item(col)
    assert set(notes) == {item["id"] for item in SYMBOLS["items"]}
    fields = " ".join(field for note in notes.values() for field in note.fields)
    for ch in (ROCKET, REAL, EXTENSION_B, "发"):
        assert ch in fields
    css = next(model["css"] for model in col.models.all() if model["name"].startswith("qbank"))
    card = re.search(r"\.card\s*{[^}]*font-family:\s*([^;]+);", css).group(1)
    assert card.startswith('"Noto Sans"') and "Noto Sans Math" in card and "Noto Color Emoji" in card
    code = re.search(r"\.qbank code,[^{]*{[^}]*font-family:\s*([^;]+);", css).group(1)
    assert code.startswith('"Noto Sans Mono"') and "Noto Sans CJK SC" in code and code.endswith("monospace")


@pytest.mark.parametrize("output_format", ["pdf", "cards", "epub"])
def test_a_character_no_face_has_fails_naming_its_item(tmp_path: Path, output_format: str) -> None:
    bank = copy_bank(SYMBOLS_BANK, tmp_path / "bank")
    # U+0378 is unassigned: no font has it. Placed in code, it is judged by the monospace stack.
    text = bank.read_text(encoding="utf-8").replace("# ℝ → ℝ", "# ℝ → ℝ \u0378")
    bank.write_text(text, encoding="utf-8")
    result = run_build(bank, "--out", tmp_path / "dist", "--format", output_format)
    assert result.returncode == 1
    assert "[item code-comment]" in result.stderr and "U+0378" in result.stderr
    assert "Traceback" not in result.stderr
    assert not [path for path in (tmp_path / "dist").glob("*") if not path.name.startswith(".")]


def test_the_shown_characters_are_gathered_without_the_text() -> None:
    """A large bank's book is tens of MB of text: what the font checks need is its set of
    characters, gathered without holding the text piece by piece."""
    html = "<p>问题 <code>x = 1</code></p>\n" * 100_000
    with traced_memory() as memory:
        shown = shown_text(html)
    assert shown.prose == frozenset("问题 \n") and shown.code == frozenset("x = 1")
    assert memory.peak < len(html) / 10
