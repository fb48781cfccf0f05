"""A bank in sections (tests/fixtures/sections/sections-bank.yaml): read into one list of items
numbered across its sections, and shown as its readers expect in each output, judged by the
real readers (Anki's engine, pypdf, epubcheck)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from anki.collection import Collection  # first: anki's modules import in a cycle
from ankiread import build_apkg, col, import_apkg, log_counts, notes_by_item, study  # noqa: F401 (col: a fixture)
from conftest import FIXTURES, copy_bank

from qbank import schema
from qbank.model import BankError
from qbank.reader import load_bank

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
    sectioned.write_text(sectioned.read_text(encoding="utf-8").replace("sections:", "options:\n  one_deck: true\nsections:"),
                         encoding="utf-8")
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
