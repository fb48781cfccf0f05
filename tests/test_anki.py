"""The Anki deck, judged by Anki's own engine: import into a temporary collection, study,
edit the bank, rebuild, re-import, and check that nothing a learner owns is lost.

Builds go through `build.py --format apkg`, as a user runs it; only the template-change test
builds in-process, to point the build at a private copy of templates/.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import genanki
import pytest
import yaml
from anki.utils import strip_html
from anki.collection import Collection  # first: anki's modules import in a cycle
from ankiread import (BANK_ID, build_apkg, col, import_apkg, log_counts, notes_by_item,  # noqa: F401 (col: a fixture)
                      open_bank_deck, snapshot, study)
from conftest import FIXTURES, SEED_ITEMS, copy_bank

from qbank import render, templating
from qbank.lock import Lock
from qbank.reader import load_bank
from qbank.writers import WRITERS, BuildOptions

def source_items(bank: Path) -> list[dict]:
    return yaml.safe_load(bank.read_text(encoding="utf-8"))["items"]


# --- the deck as built --------------------------------------------------------------------


def test_one_note_and_one_card_per_item_with_all_its_text(seed_copy: Path, tmp_path: Path, col: Collection) -> None:
    apkg = build_apkg(seed_copy, tmp_path / "dist")
    log = import_apkg(col, apkg)
    assert log_counts(log) == {"new": SEED_ITEMS, "updated": 0, "duplicate": 0, "conflicting": 0}
    assert col.note_count() == SEED_ITEMS and col.card_count() == SEED_ITEMS

    notes = notes_by_item(col)
    for item in source_items(seed_copy):
        note = notes[item["id"]]
        assert note.guid == genanki.guid_for(BANK_ID, item["id"])  # identity from ids, never from text
        text = strip_html(" ".join(note.fields))
        assert item["question"].strip() in text
        for point in item["answer"]["points"]:
            assert point["term"] in text and point["text"] in text
        assert sorted(note.tags) == sorted([BANK_ID, *(f"{BANK_ID}::{tag}" for tag in item.get("tags", []))])


def test_one_deck_named_after_the_bank_with_its_preface(seed_copy: Path, tmp_path: Path, col: Collection) -> None:
    bank = yaml.safe_load(seed_copy.read_text(encoding="utf-8"))
    import_apkg(col, build_apkg(seed_copy, tmp_path / "dist"))
    deck_ids = {col.get_card(cid).did for cid in col.find_cards("")}
    assert len(deck_ids) == 1
    deck = col.decks.get(deck_ids.pop())
    assert deck["name"] == bank["title"]
    assert bank["description"] in strip_html(deck["desc"])


def test_cards_show_the_question_then_the_labelled_answer(seed_copy: Path, tmp_path: Path, col: Collection) -> None:
    import_apkg(col, build_apkg(seed_copy, tmp_path / "dist"))
    item = source_items(seed_copy)[0]
    card = notes_by_item(col)[item["id"]].cards()[0]
    front, back = strip_html(card.question()), strip_html(card.answer())
    assert item["title"] in front and item["question"].strip() in front
    assert item["answer"]["points"][0]["text"] not in front
    # The back in the bank's language: 答案 (answer) then the terms in bold, then 解析 (explanation).
    assert back.index("答案") < back.index(item["answer"]["points"][0]["term"]) < back.index("解析")
    assert f"<strong class=\"term\">{item['answer']['points'][0]['term']}</strong>：" in card.answer()
    assert item["explanation"] in back


def test_new_cards_come_up_in_source_order(seed_copy: Path, tmp_path: Path, col: Collection) -> None:
    import_apkg(col, build_apkg(seed_copy, tmp_path / "dist"))
    open_bank_deck(col)
    queued = col.sched.get_queued_cards(fetch_limit=10).cards
    order = [col.get_note(col.get_card(q.card.id).nid)["ItemId"] for q in queued]
    assert order == [item["id"] for item in source_items(seed_copy)][:10]


def test_cards_carry_no_script_and_no_colour(seed_copy: Path, tmp_path: Path, col: Collection) -> None:
    """Night mode stays right only if nothing sets a colour but highlighted code, which has one
    for each mode, and mid-grey shades that read on both; a shared deck must never run code."""
    import_apkg(col, build_apkg(seed_copy, tmp_path / "dist"))
    notetype = col.models.get(col.get_note(col.find_notes("")[0]).mid)
    html = [t[key] for t in notetype["tmpls"] for key in ("qfmt", "afmt")]
    html += [field for nid in col.find_notes("") for field in col.get_note(nid).fields]
    for fragment in html:
        assert not re.search(r"<script|javascript:|\son\w+\s*=|style\s*=", fragment, re.IGNORECASE), fragment
    colour = re.compile(r"(?<![-\w])(colou?r|background(-color)?)\s*:([^;]*)", re.IGNORECASE)
    day, night = set(), set()
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", notetype["css"], flags=re.DOTALL)):
        for _, _, value in colour.findall(body):
            if "rgba(128, 128, 128" in value:
                continue
            tokens = set(re.findall(r"code span\.(\w+)", selectors))
            assert tokens, selectors  # only highlighted code is coloured
            (night if ".nightMode" in selectors else day).update(tokens)
    assert day and day == night
    assert "Noto Sans CJK SC" in notetype["css"]


def test_two_builds_of_the_same_source_are_identical_bytes(seed_copy: Path, tmp_path: Path) -> None:
    first = build_apkg(seed_copy, tmp_path / "first").read_bytes()
    second = build_apkg(seed_copy, tmp_path / "second").read_bytes()
    assert first == second


# --- rebuilds and re-imports ------------------------------------------------------------


def test_an_edited_item_updates_its_note_in_place_and_keeps_history(
    seed_copy: Path, tmp_path: Path, col: Collection
) -> None:
    import_apkg(col, build_apkg(seed_copy, tmp_path / "v1"))
    notetypes_before = {m["id"] for m in col.models.all()}
    studied = study(col, 3)  # the first three items, the edited one among them
    before = snapshot(col)

    edited = source_items(seed_copy)[1]
    old_text = edited["answer"]["points"][0]["text"]
    new_text = "对训练数据集进行预处理（这一句在重建前被修改过）。"
    seed_copy.write_text(seed_copy.read_text(encoding="utf-8").replace(old_text, new_text), encoding="utf-8")
    log = import_apkg(col, build_apkg(seed_copy, tmp_path / "v2"))

    assert log_counts(log) == {"new": 0, "updated": 1, "duplicate": SEED_ITEMS - 1, "conflicting": 0}
    assert col.note_count() == SEED_ITEMS and col.card_count() == SEED_ITEMS
    assert {m["id"] for m in col.models.all()} == notetypes_before  # no forked note type
    note = notes_by_item(col)[edited["id"]]
    assert new_text in note["Answer"] and old_text not in note["Answer"]
    for card_id, (reps, ivl) in studied.items():
        card = col.get_card(card_id)
        assert (card.reps, card.ivl) == (reps, ivl)
    assert col.get_note(note.id).cards()[0].id in studied
    after = snapshot(col)
    untouched = {nid: state for nid, state in before["notes"].items() if nid != note.id}
    assert {nid: after["notes"][nid] for nid in untouched} == untouched
    assert after["cards"] == before["cards"]


def test_a_rebuild_without_edits_changes_nothing_in_the_collection(
    seed_copy: Path, tmp_path: Path, col: Collection
) -> None:
    import_apkg(col, build_apkg(seed_copy, tmp_path / "v1"))
    study(col, 2)
    # A learner's own correction in Anki must survive rebuilds that did not touch that item.
    note = col.get_note(col.find_notes("")[5])
    note["Explanation"] += "<p>my own note</p>"
    col.update_note(note)
    before = snapshot(col)

    log = import_apkg(col, build_apkg(seed_copy, tmp_path / "v2"))

    assert log_counts(log) == {"new": 0, "updated": 0, "duplicate": SEED_ITEMS, "conflicting": 0}
    assert snapshot(col) == before


@pytest.mark.parametrize("switch", ["--cloze", "bank option"])
def test_key_points_card_is_off_by_default_and_can_be_switched_on(
    switch: str, seed_copy: Path, tmp_path: Path, col: Collection
) -> None:
    import_apkg(col, build_apkg(seed_copy, tmp_path / "off"))
    assert col.card_count() == SEED_ITEMS
    studied = study(col, 2)

    if switch == "--cloze":
        args = ("--cloze",)
    else:
        args = ()
        text = seed_copy.read_text(encoding="utf-8")
        seed_copy.write_text(text.replace("\nitems:", "\noptions:\n  cloze: true\nitems:", 1), encoding="utf-8")
    log = import_apkg(col, build_apkg(seed_copy, tmp_path / "on", *args))

    # The existing notes are updated (their KeyPoints field filled) and gain their second card.
    assert log_counts(log) == {"new": 0, "updated": SEED_ITEMS, "duplicate": 0, "conflicting": 0}
    assert col.note_count() == SEED_ITEMS and col.card_count() == 2 * SEED_ITEMS
    for card_id, (reps, ivl) in studied.items():
        assert (col.get_card(card_id).reps, col.get_card(card_id).ivl) == (reps, ivl)
    item = source_items(seed_copy)[0]
    key_points = [c for c in notes_by_item(col)[item["id"]].cards() if c.ord == 1][0]
    term, text = item["answer"]["points"][0]["term"], item["answer"]["points"][0]["text"]
    assert 'class="key-points masked"' in key_points.question() and text in key_points.question()
    assert "[…]" in key_points.question()
    assert "masked" not in key_points.answer().split('id="answer"')[1] and term in key_points.answer()


def test_key_points_cards_in_a_fresh_collection(seed_copy: Path, tmp_path: Path, col: Collection) -> None:
    log = import_apkg(col, build_apkg(seed_copy, tmp_path / "dist", "--cloze"))
    assert len(log.new) == SEED_ITEMS
    assert col.note_count() == SEED_ITEMS and col.card_count() == 2 * SEED_ITEMS
    assert sorted(col.get_card(cid).ord for cid in col.find_cards("")) == [0] * SEED_ITEMS + [1] * SEED_ITEMS


def test_images_are_packed_and_shown(tmp_path: Path, col: Collection) -> None:
    bank = copy_bank(FIXTURES / "anki-images" / "bank.yaml", tmp_path / "bank")
    import_apkg(col, build_apkg(bank, tmp_path / "dist"))
    image = (FIXTURES / "anki-images" / "images" / "square.png").read_bytes()
    packed = [p for p in Path(col.media.dir()).iterdir() if p.is_file()]
    assert [p.read_bytes() for p in packed] == [image]  # once, though shown twice
    note = notes_by_item(col)["with-image"]
    assert f'src="{packed[0].name}"' in note.cards()[0].question()
    check = col.media.check()
    assert not check.missing and not check.unused


# --- a template change reaches the collections -------------------------------------------


@pytest.fixture
def private_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of templates/ that in-process builds read instead (the repository's stays untouched)."""
    templates = shutil.copytree(templating.TEMPLATES, tmp_path / "templates")
    monkeypatch.setattr(templating, "TEMPLATES", templates)
    return templates


def build_in_process(bank: Path, target: Path) -> Path:
    doc, lock = render.render_and_date(load_bank(bank), Lock.open(bank))
    lock.save()
    target.parent.mkdir(parents=True, exist_ok=True)
    WRITERS["apkg"].write(doc, target, BuildOptions())
    return target


@pytest.mark.parametrize(
    "changed, notes_updated",
    [("anki/card.css", 0), ("points.html", SEED_ITEMS)],
    ids=["note type css", "field markup"],
)
def test_a_template_change_reaches_the_collection(
    changed: str, notes_updated: int, seed_copy: Path, tmp_path: Path, col: Collection, private_templates: Path,
) -> None:
    import_apkg(col, build_in_process(seed_copy, tmp_path / "v1" / "deck.apkg"))
    notetypes = {m["id"] for m in col.models.all()}
    studied = study(col, 2)

    marker = "qbank-template-change-marker"
    edited = private_templates / changed
    text = edited.read_text(encoding="utf-8")
    if edited.suffix == ".css":
        edited.write_text(text + f"\n.{marker} {{ font-weight: bold; }}\n", encoding="utf-8")
    else:
        edited.write_text(text.replace('class="points"', f'class="points {marker}"'), encoding="utf-8")
    log = import_apkg(col, build_in_process(seed_copy, tmp_path / "v2" / "deck.apkg"))

    assert {m["id"] for m in col.models.all()} == notetypes  # updated in place, not forked
    assert len(log.updated) == notes_updated and len(log.conflicting) == 0
    if edited.suffix == ".css":
        assert marker in col.models.by_name(f"qbank: {BANK_ID}")["css"]
    else:
        assert all(marker in col.get_note(nid)["Answer"] for nid in col.find_notes(""))
    assert col.note_count() == SEED_ITEMS and col.card_count() == SEED_ITEMS
    for card_id, (reps, ivl) in studied.items():
        assert (col.get_card(card_id).reps, col.get_card(card_id).ivl) == (reps, ivl)
