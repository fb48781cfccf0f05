"""A bank maintained for years: renames, merges, retirements, revivals, re-titles and
reorderings, each judged by Anki's own engine against a collection with review history.

Every case builds the seed bank, imports it and studies some cards, then edits the bank as a
maintainer would, rebuilds, re-imports and asserts what Anki's importer did.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from anki.collection import Collection
from anki.utils import strip_html
from conftest import SEED_ITEMS, run_build
from ankiread import BANK_ID, build_apkg, col, import_apkg, log_counts, notes_by_item, study  # noqa: F401 (col: a fixture)

RETIRED = f"{BANK_ID}::retired"


def edit(bank: Path, change) -> dict:
    data = yaml.safe_load(bank.read_text(encoding="utf-8"))
    change(data)
    bank.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return data


def imported(updated: int, unchanged: int) -> dict[str, int]:
    """What Anki's importer logs: no new note, `updated` updated, the rest found unchanged
    (the log calls them duplicates)."""
    return {"new": 0, "updated": updated, "duplicate": unchanged, "conflicting": 0}


def item_index(data: dict, item_id: str) -> int:
    return next(index for index, item in enumerate(data["items"]) if item["id"] == item_id)


def scheduling(col: Collection) -> dict[str, tuple]:
    """Each note's cards' scheduling, by the note's GUID (ids and text may change, GUIDs may not)."""
    found = {}
    for cid in col.find_cards(""):
        card = col.get_card(cid)
        found[card.note().guid] = (card.reps, card.ivl, card.due, card.queue, card.did)
    return found


@pytest.fixture
def studied(seed_copy: Path, tmp_path: Path, col: Collection) -> tuple[Path, Collection, dict]:
    """The seed bank built, imported and five cards studied; returns the bank, the collection
    and the scheduling before any edit."""
    import_apkg(col, build_apkg(seed_copy, tmp_path / "v1"))
    study(col, 5)
    return seed_copy, col, scheduling(col)


def rebuild(bank: Path, tmp_path: Path, name: str) -> tuple[Path, str]:
    result = run_build(bank, "--out", tmp_path / name, "--format", "apkg")
    assert result.returncode == 0, result.stderr
    return tmp_path / name / f"{BANK_ID}.apkg", result.stdout


def test_a_renamed_item_keeps_its_note_and_history(studied, tmp_path: Path) -> None:
    bank, col, before = studied
    first = yaml.safe_load(bank.read_text(encoding="utf-8"))["items"][0]["id"]

    def rename(data: dict) -> None:
        data["items"][0]["id"] = "scalable-model-architecture"
        data["items"][0]["former_ids"] = [first]

    edit(bank, rename)
    apkg, stdout = rebuild(bank, tmp_path, "v2")
    assert "since the lock: 1 renamed" in stdout
    log = import_apkg(col, apkg)
    assert log_counts(log) == imported(updated=1, unchanged=SEED_ITEMS - 1)
    notes = notes_by_item(col)
    assert "scalable-model-architecture" in notes and first not in notes
    assert col.note_count() == SEED_ITEMS and scheduling(col) == before


def test_a_retired_item_is_marked_blanked_and_deletable_and_can_come_back(studied, tmp_path: Path) -> None:
    bank, col, before = studied
    removed: dict = {}
    edit(bank, lambda data: removed.update(data["items"].pop(2)))
    apkg, stdout = rebuild(bank, tmp_path, "v2")
    assert "since the lock: 1 retired" in stdout
    log = import_apkg(col, apkg)
    assert log_counts(log) == imported(updated=1, unchanged=SEED_ITEMS - 1)
    assert col.note_count() == SEED_ITEMS and scheduling(col) == before  # Anki's import never deletes
    [retired_id] = col.find_notes(f"tag:{RETIRED}")
    note = col.get_note(retired_id)
    assert note["ItemId"] == "" and strip_html(note["Title"]) == removed["title"]
    assert "此题已从题库中删除" in strip_html(note["Question"])
    [card] = note.cards()
    # Nothing left to study: Anki shows its own "The front of this card is blank" instead.
    assert "front of this card is blank" in strip_html(card.question())
    assert removed["question"][:20] not in strip_html(card.question() + card.answer())
    # Tools > Empty Cards lists it: a note with no valid card left.
    report = col.get_empty_cards()
    assert [(entry.note_id, list(entry.card_ids), entry.will_delete_note) for entry in report.notes] == [
        (retired_id, [card.id], True)
    ]

    edit(bank, lambda data: data["items"].insert(2, removed))  # revived, with its history
    apkg, stdout = rebuild(bank, tmp_path, "v3")
    assert "since the lock: 1 revived" in stdout
    log = import_apkg(col, apkg)
    assert log_counts(log) == imported(updated=1, unchanged=SEED_ITEMS - 1)
    assert not col.find_notes(f"tag:{RETIRED}")
    assert notes_by_item(col)[removed["id"]]["Title"] and scheduling(col) == before


def test_retired_notes_are_deleted_in_one_step_by_their_tag(studied, tmp_path: Path) -> None:
    """docs/anki.md: Browse, search tag:<bank>::retired, select all, Delete."""
    bank, col, before = studied
    edit(bank, lambda data: data["items"].pop(2))
    import_apkg(col, rebuild(bank, tmp_path, "v2")[0])
    [retired] = col.find_notes(f"tag:{RETIRED}")
    guid = col.get_note(retired).guid
    col.remove_notes(col.find_notes(f"tag:{RETIRED}"))
    assert col.note_count() == SEED_ITEMS - 1
    assert scheduling(col) == {key: state for key, state in before.items() if key != guid}


def test_merged_items_point_at_the_item_that_absorbed_them(studied, tmp_path: Path) -> None:
    bank, col, before = studied

    def merge(data: dict) -> None:  # the lint's cluster 7/23/26: keep 7, absorb 23 and 26
        keeper = data["items"][item_index(data, "class-imbalance")]
        keeper["absorbs"] = ["data-skew", "sample-imbalance"]
        keeper["explanation"] += "（合并了数据倾斜与样本不均衡两题。）"
        data["items"] = [item for item in data["items"] if item["id"] not in keeper["absorbs"]]

    data = edit(bank, merge)
    apkg, stdout = rebuild(bank, tmp_path, "v2")
    assert "since the lock: 1 changed, 2 merged" in stdout
    again, stdout = rebuild(bank, tmp_path, "v2-again")
    assert "no item changed" in stdout and again.read_bytes() == apkg.read_bytes()  # retired notes too
    log = import_apkg(col, apkg)
    assert log_counts(log) == imported(updated=3, unchanged=SEED_ITEMS - 3)
    keeper_title = data["items"][item_index(data, "class-imbalance")]["title"]
    retired = [col.get_note(nid) for nid in col.find_notes(f"tag:{RETIRED}")]
    assert len(retired) == 2
    assert all(f"此题已合并到“{keeper_title}”" in strip_html(note["Question"]) for note in retired)
    assert scheduling(col) == before


def test_a_new_title_keeps_the_deck(studied, tmp_path: Path) -> None:
    bank, col, before = studied
    decks_before = sorted(deck["name"] for deck in col.decks.all())
    edit(bank, lambda data: data.update(title="AI大模型创业面试题（第二版）"))
    apkg, _ = rebuild(bank, tmp_path, "v2")
    import_apkg(col, apkg)
    assert sorted(deck["name"] for deck in col.decks.all()) == decks_before, "a ghost deck appeared"
    assert scheduling(col) == before


def test_reordering_changes_new_learners_order_only(studied, tmp_path: Path) -> None:
    bank, col, before = studied
    data = edit(bank, lambda data: data["items"].reverse())
    apkg, stdout = rebuild(bank, tmp_path, "v2")
    assert "no item changed" in stdout
    import_apkg(col, apkg)
    assert scheduling(col) == before
    fresh = Collection(str(tmp_path / "fresh" / "collection.anki2")) if (tmp_path / "fresh").mkdir() is None else None
    try:
        import_apkg(fresh, apkg)
        new_cards = sorted((fresh.get_card(cid) for cid in fresh.find_cards("")), key=lambda card: card.due)
        assert [card.note()["ItemId"] for card in new_cards] == [item["id"] for item in data["items"]]
    finally:
        fresh.close()


@pytest.mark.parametrize("change, says", [
    (lambda data: data["items"][0].update(former_ids=[data["items"][1]["id"]]), "is the id of a live item"),
    (lambda data: [data["items"][n].update(former_ids=["old-name"]) for n in (0, 1)], "is already claimed"),
    (lambda data: data["items"][0].update(absorbs=[data["items"][0]["id"]]), "is the id of a live item"),
], ids=["former id is live", "claimed twice", "absorbs itself"])
def test_lifecycle_mistakes_are_refused_at_their_line(seed_copy: Path, tmp_path: Path, change, says: str) -> None:
    edit(seed_copy, change)
    result = run_build(seed_copy, "--out", tmp_path / "dist")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if says in line]
    assert line.startswith(f"error: {seed_copy}:") and "[item " in line
    assert not (tmp_path / "dist").exists()
