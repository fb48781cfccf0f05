"""Reading decks with Anki's own engine: import a built .apkg into a temporary collection,
study with the real scheduler, and look at what the importer did. Shared by the deck tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anki.lang
import pytest
import yaml
from anki.collection import Collection, ExportAnkiPackageOptions, ImportAnkiPackageRequest  # first: anki's modules import in a cycle
from anki.cards import Card
from anki.scheduler.v3 import CardAnswer
from conftest import run_build

BANK_ID = "ai-startup-interview"


def build_apkg(bank: Path, out: Path, *args: str) -> Path:
    result = run_build(bank, "--out", out, "--format", "apkg", "--force", *args)
    assert result.returncode == 0, result.stderr
    return out / f"{yaml.safe_load(bank.read_text(encoding='utf-8'))['id']}.apkg"


def import_apkg(col: Collection, apkg: Path, **changed: object):
    """Import with the options Anki's import dialog offers on a fresh profile, or `changed` ones."""
    options = col._backend.get_import_anki_package_presets()
    for name, value in changed.items():
        setattr(options, name, value)
    log = col.import_anki_package(ImportAnkiPackageRequest(package_path=str(apkg), options=options)).log
    col.models._clear_cache()  # pylib caches note types; Anki's GUI drops the cache after an import too
    return log


def log_counts(log) -> dict[str, int]:
    return {kind: len(getattr(log, kind)) for kind in ("new", "updated", "duplicate", "conflicting")}


@pytest.fixture
def col(tmp_path: Path) -> Iterator[Collection]:
    anki.lang.set_lang("en")  # as Anki does at start-up; strip_html needs it
    (tmp_path / "profile").mkdir()
    collection = Collection(str(tmp_path / "profile" / "collection.anki2"))
    yield collection
    collection.close()


def notes_by_item(col: Collection) -> dict[str, object]:
    notes = [col.get_note(nid) for nid in col.find_notes("")]
    return {note["ItemId"]: note for note in notes}


def snapshot(col: Collection) -> dict[str, object]:
    """Everything a re-import could disturb: notes, cards with their scheduling, note types, decks."""
    notes = {nid: (n.guid, n.mid, n.mod, tuple(n.fields), tuple(n.tags)) for nid in col.find_notes("")
             for n in [col.get_note(nid)]}
    cards = {cid: (c.nid, c.did, c.ord, c.mod, c.type, c.queue, c.due, c.ivl, c.reps, c.lapses, c.factor)
             for cid in col.find_cards("") for c in [col.get_card(cid)]}
    notetypes = {m["id"]: (m["mod"], m["css"], [(t["name"], t["qfmt"], t["afmt"]) for t in m["tmpls"]])
                 for m in col.models.all()}
    decks = {d["id"]: (d["name"], d.get("desc")) for d in col.decks.all()}
    return {"notes": notes, "cards": cards, "notetypes": notetypes, "decks": decks}


def open_bank_deck(col: Collection) -> None:
    """Click the bank's deck, as a learner does before studying it."""
    col.decks.select(col.get_card(col.find_cards("")[0]).did)


def study(col: Collection, count: int) -> dict[int, tuple[int, int]]:
    """Answer the next `count` cards 'Easy' with the real scheduler; returns card id -> (reps, ivl)."""
    open_bank_deck(col)
    studied = {}
    for _ in range(count):
        queued = col.sched.get_queued_cards().cards[0]
        card = Card(col)
        card._load_from_backend_card(queued.card)
        card.start_timer()
        col.sched.answer_card(col.sched.build_answer(card=card, states=queued.states, rating=CardAnswer.EASY))
        card.load()
        studied[card.id] = (card.reps, card.ivl)
    assert all(reps == 1 and ivl > 0 for reps, ivl in studied.values())
    return studied


def export(col: Collection, target: Path, legacy: bool = False) -> Path:
    """The collection exported by Anki as a learner shares it: with scheduling and media."""
    col.export_anki_package(out_path=str(target), limit=None, options=ExportAnkiPackageOptions(
        with_scheduling=True, with_deck_configs=False, with_media=True, legacy=legacy))
    return target


def reviews(col: Collection) -> dict[int, tuple]:
    """Each card's note, template, scheduling and deck, by card id."""
    return {cid: (c.nid, c.ord, c.type, c.queue, c.due, c.ivl, c.reps, c.did)
            for cid in col.find_cards("") for c in [col.get_card(cid)]}
