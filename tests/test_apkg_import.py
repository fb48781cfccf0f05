"""`build.py import DECK.apkg`, judged by Anki's engine: a deck a learner already studies
(Basic, Basic and reversed, Cloze, an image note, a subdeck, tags, a formula) is exported by
Anki itself, imported into a bank, built, and the built deck imported back into the same
collection: no note is added, every note keeps its id and its reviews."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import genanki
import pytest
import yaml
from anki.collection import Collection  # first: anki's modules import in a cycle
from anki.import_export_pb2 import ImportAnkiPackageUpdateCondition
from ankiread import BANK_ID, build_apkg, col, export, import_apkg, log_counts, reviews, study  # noqa: F401 - col: a fixture
from conftest import run_build, tiny_png

from qbank.importers.anki_package import open_package

DECK = "Biology"
UPDATE_ALWAYS = ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_ALWAYS


def add_note(col: Collection, notetype: str, deck: str, tags: list[str], **fields: str) -> int:
    note = col.new_note(col.models.by_name(notetype))
    for name, value in fields.items():
        note[name.replace("_", " ")] = value
    note.tags = tags
    col.add_note(note, col.decks.id(deck))
    return note.id


def studied_deck(col: Collection) -> dict[str, int]:
    """A learner's deck, made in Anki's own way, with some cards reviewed: note ids by role."""
    col.media.write_data("cell.png", tiny_png(4, 3))
    notes = {
        "basic": add_note(col, "Basic", DECK, ["cells", "exam::2024"], Front="What is a <b>cell</b>?",
                          Back="<div>The smallest unit of life.</div><div>It has a membrane.</div>"),
        "reversed": add_note(col, "Basic (and reversed card)", DECK, [], Front="Mitochondrion",
                             Back="Makes ATP: \\(E = mc^2\\) is not involved"),
        "cloze": add_note(col, "Cloze", f"{DECK}::Genetics", ["dna"],
                          Text="DNA is made of {{c1::nucleotides}} in a {{c2::double helix::shape}}.",
                          Back_Extra="Watson and Crick, 1953"),
        "image": add_note(col, "Basic", f"{DECK}::Genetics", [], Front='Which organelle is this? <img src="cell.png">',
                          Back="A <i>nucleus</i>[sound:nucleus.mp3]"),
    }
    study(col, 3)
    return notes


@pytest.mark.parametrize("legacy", [False, True], ids=["anki21b", "legacy"])
def test_a_studied_deck_becomes_a_bank_whose_build_adds_no_note(col: Collection, tmp_path: Path, legacy: bool) -> None:
    notes = studied_deck(col)
    package = export(col, tmp_path / "biology.apkg", legacy)
    assert ("collection.anki21b" in zipfile.ZipFile(package).namelist()) is not legacy
    guids = {role: col.get_note(nid).guid for role, nid in notes.items()}
    before = reviews(col)
    assert sum(reps for *_, reps, _ in before.values()) == 3

    bank_file = tmp_path / "bank" / "biology.yaml"
    result = run_build("import", package, "--id", "biology", "--lang", "en", "-o", bank_file)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "Cloze notes: the text with […] for each cloze is the question" in result.stdout
    assert "sounds cannot be shown" in result.stderr
    bank = yaml.safe_load(bank_file.read_text(encoding="utf-8"))
    assert bank["deck"] == DECK and bank["title"] == DECK
    # The subdeck is a section; the notes of the deck itself go into a first one named as the deck.
    assert [(section["title"], len(section["items"])) for section in bank["sections"]] == [(DECK, 2), ("Genetics", 2)]
    items = {item["guid"]: item for section in bank["sections"] for item in section["items"]}
    assert set(items) == set(guids.values())  # every note, each with its GUID
    basic, reversed_, cloze, image = (items[guids[role]] for role in ("basic", "reversed", "cloze", "image"))
    assert basic["title"] == "What is a **cell**?" and basic["question"] == "What is a **cell**?"
    assert basic["answer"]["lead"] == "The smallest unit of life.\n\nIt has a membrane."
    assert basic["tags"] == ["cells", "exam::2024"]
    assert reversed_["answer"]["lead"] == "Makes ATP: $E = mc^2$ is not involved"
    assert cloze["question"] == "DNA is made of \\[...\\] in a \\[shape\\]."
    assert cloze["answer"]["lead"] == "DNA is made of **nucleotides** in a **double helix**."
    assert cloze["explanation"] == "**Back Extra**\n\nWatson and Crick, 1953"
    assert cloze["tags"] == ["dna"]
    assert image["question"] == "Which organelle is this? ![](images/cell.png)"
    assert image["title"] == "Which organelle is this?"
    assert (bank_file.parent / "images" / "cell.png").read_bytes() == tiny_png(4, 3)

    built = run_build(bank_file, "--out", tmp_path / "dist", "--format", "apkg")
    assert built.returncode == 0, built.stderr
    log = import_apkg(col, tmp_path / "dist" / "biology.apkg")
    # Measured: Anki's importer (default options) finds each note by its GUID, sees it belongs
    # to another note type and leaves it as it is ("conflicting"): nothing added, nothing lost.
    assert log_counts(log) == {"new": 0, "updated": 0, "duplicate": 0, "conflicting": len(notes)}
    assert sorted(col.find_notes("")) == sorted(notes.values())
    assert reviews(col) == before
    # The way to let them follow the bank (README): in the browser, Notes > Change Note Type to
    # the bank's (the card "Card 1" becomes "Question"), then import with "Update notes: Always".
    basic_notes = [notes["basic"], notes["image"]]
    time.sleep(1)  # Anki keeps a note's time in seconds: the change comes a second after the build, as it would
    change = col.models.change_notetype_info(old_notetype_id=col.models.by_name("Basic")["id"],
                                             new_notetype_id=col.models.by_name("qbank: biology")["id"]).input
    change.note_ids.extend(basic_notes)
    col.models.change_notetype_of_notes(change)
    log = import_apkg(col, tmp_path / "dist" / "biology.apkg", update_notes=UPDATE_ALWAYS)
    assert log_counts(log) == {"new": 0, "updated": 2, "duplicate": 0, "conflicting": 2}
    updated = col.get_note(notes["basic"])
    assert updated["ItemId"] == basic["id"] and updated["Question"] == "<p>What is a <strong>cell</strong>?</p>"
    assert sorted(col.find_notes("")) == sorted(notes.values())
    assert {cid: card[2:7] for cid, card in reviews(col).items()} == {cid: card[2:7] for cid, card in before.items()}


def test_what_the_package_reader_refuses_is_one_line(tmp_path: Path) -> None:
    not_anki = tmp_path / "x.apkg"
    with zipfile.ZipFile(not_anki, "w") as archive:
        archive.writestr("readme.txt", "hello")
    result = run_build("import", not_anki, "--id", "x", "--lang", "en", "-o", tmp_path / "out" / "x.yaml")
    assert result.returncode == 1 and "not an Anki package" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not (tmp_path / "out" / "x.yaml").exists()
    garbage = tmp_path / "y.apkg"
    with zipfile.ZipFile(garbage, "w") as archive:
        archive.writestr("collection.anki2", b"not sqlite" * 100)
    result = run_build("import", garbage, "--id", "y", "--lang", "en", "-o", tmp_path / "out" / "y.yaml")
    assert result.returncode == 1 and "not a readable Anki deck or collection" in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_media_name_cannot_leave_the_bank_folder(col: Collection, tmp_path: Path) -> None:
    """A package whose media index names ../../x.png: the file lands in images/ under a safe name."""
    add_note(col, "Basic", DECK, [], Front='Q <img src="../../evil.png">', Back="A")
    package = export(col, tmp_path / "a.apkg", legacy=True)
    with zipfile.ZipFile(package) as archive:
        members = {name: archive.read(name) for name in archive.namelist() if name != "media"}
    with zipfile.ZipFile(package, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("media", '{"0": "../../evil.png"}')
        archive.writestr("0", tiny_png())
    with open_package(package) as opened:
        assert opened.media_names() == {"../../evil.png"}
    bank_file = tmp_path / "deep" / "er" / "bank.yaml"
    result = run_build("import", package, "--id", "a", "--lang", "en", "-o", bank_file)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "deep" / "evil.png").exists()
    assert (bank_file.parent / "images" / "evil.png").read_bytes() == tiny_png()


def test_a_qbank_deck_comes_back_with_its_ids_and_its_build_updates_every_note(seed_copy: Path, tmp_path: Path,
                                                                                 col: Collection) -> None:
    """Our own deck (the seed's build), imported as the same bank: same note type, so Anki
    updates the notes in place."""
    import_apkg(col, build_apkg(seed_copy, tmp_path / "dist"))
    study(col, 5)
    before, notes_before = reviews(col), sorted(col.find_notes(""))
    package = export(col, tmp_path / "exported.apkg", legacy=False)
    bank_file = tmp_path / "again" / f"{BANK_ID}.yaml"
    result = run_build("import", package, "--id", BANK_ID, "--lang", "zh-CN", "-o", bank_file)
    assert result.returncode == 0, result.stderr
    assert "qbank notes: ItemId, Title, Question, Answer (its lead and key points) and Explanation as they are" in result.stdout
    items = yaml.safe_load(bank_file.read_text(encoding="utf-8"))["items"]
    original = yaml.safe_load(seed_copy.read_text(encoding="utf-8"))["items"]
    assert [item["id"] for item in items] == [item["id"] for item in original]
    assert [item["title"] for item in items] == [item["title"] for item in original]
    assert [item["guid"] for item in items] == [genanki.guid_for(BANK_ID, item["id"]) for item in original]
    assert [item["answer"] for item in items] == [item["answer"] for item in original]  # its lead and its points
    # Anki keeps a note's tags sorted
    assert [sorted(item.get("tags", [])) for item in items] == [sorted(item.get("tags", [])) for item in original]
    built = run_build(bank_file, "--out", tmp_path / "dist2", "--format", "apkg")
    assert built.returncode == 0, built.stderr
    log = import_apkg(col, tmp_path / "dist2" / f"{BANK_ID}.apkg")
    assert log_counts(log) == {"new": 0, "updated": len(items), "duplicate": 0, "conflicting": 0}
    assert sorted(col.find_notes("")) == notes_before
    assert {cid: card[2:7] for cid, card in reviews(col).items()} == {cid: card[2:7] for cid, card in before.items()}


def test_a_collection_past_the_bound_is_refused_before_it_is_read(col: Collection, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound holds whatever the zip's header says: reads stop at it (here lowered to 4 KB)."""
    from qbank.importers import anki_package
    from qbank.importers.common import ImportRefused

    add_note(col, "Basic", DECK, [], Front="Q", Back="A")
    package = export(col, tmp_path / "a.apkg", legacy=False)
    monkeypatch.setattr(anki_package, "MAX_COLLECTION_BYTES", 4096)
    with pytest.raises(ImportRefused, match="its collection is larger than"):
        with open_package(package):
            pass


def test_a_collection_package_and_a_profile_collection_are_read_too(col: Collection, tmp_path: Path) -> None:
    notes = studied_deck(col)
    guids = {col.get_note(nid).guid for nid in notes.values()}
    colpkg = tmp_path / "all.colpkg"
    col.export_collection_package(str(colpkg), include_media=True, legacy=False)
    for source in (colpkg, tmp_path / "profile" / "collection.anki2"):
        bank_file = tmp_path / source.stem / "bank.yaml"
        result = run_build("import", source, "--id", "biology", "--lang", "en", "-o", bank_file)
        assert result.returncode == 0, result.stderr
        bank = yaml.safe_load(bank_file.read_text(encoding="utf-8"))
        assert {item["guid"] for section in bank["sections"] for item in section["items"]} == guids
        # the image, from the package or from the profile's collection.media folder
        assert (bank_file.parent / "images" / "cell.png").read_bytes() == tiny_png(4, 3)


def test_two_items_with_one_guid_are_refused(tmp_path: Path) -> None:
    bank = tmp_path / "twice.yaml"
    item = "  title: T{n}\n  question: Q{n}\n  answer:\n    lead: A{n}\n  guid: 'I!+-JFqqyI'\n"
    bank.write_text("id: twice\ntitle: Twice\nlang: en\nitems:\n" + "".join(
        f"- id: item-{n}\n" + item.format(n=n) for n in (1, 2)), encoding="utf-8")
    result = run_build(bank, "--check")
    assert result.returncode == 1
    assert "[item item-2] guid 'I!+-JFqqyI' is the guid of item 1 too; one Anki note cannot be two items" in result.stderr


def test_a_note_is_read_the_way_its_first_card_asks_it(col: Collection, tmp_path: Path) -> None:
    """Anki's stock note types: a typed answer's `{{type:Back}}` is the answer, not the question;
    a note type whose first field is not what the card asks is read from its templates."""
    add_note(col, "Basic (type in the answer)", DECK, [], Front="Capital of France?", Back="Paris")
    vocabulary = col.models.new("Vocabulary")
    for name in ("Word", "Notes", "Meaning"):
        col.models.add_field(vocabulary, col.models.new_field(name))
    card = col.models.new_template("Meaning")
    card["qfmt"], card["afmt"] = "{{Word}}", "{{FrontSide}}<hr id=answer>{{Meaning}}"
    col.models.add_template(vocabulary, card)
    col.models.add(vocabulary)
    add_note(col, "Vocabulary", DECK, [], Word="Hund", Notes="masculine", Meaning="dog")
    bank_file = tmp_path / "bank" / "b.yaml"
    result = run_build("import", export(col, tmp_path / "a.apkg", legacy=True), "--id", "b", "--lang", "en",
                       "-o", bank_file)
    assert result.returncode == 0, result.stderr
    typed, word = yaml.safe_load(bank_file.read_text(encoding="utf-8"))["items"]
    assert (typed["question"], typed["answer"]) == ("Capital of France?", {"lead": "Paris"})
    assert (word["question"], word["answer"], word["explanation"]) == ("Hund", {"lead": "dog"},
                                                                       "**Notes**\n\nmasculine")
