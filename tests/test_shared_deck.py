"""A real shared deck through `build.py import` and back, judged by Anki's engine: Ultimate
Geography (tests/fixtures/real/ultimate-geography, public domain text), four of its language
editions as a learner who imported them holds them: each note with its real GUID, its note
type's fields and card templates as the deck's sources declare them, some cards reviewed. The
collection is exported by Anki, imported into a bank, built, and the build imported back into
the same collection: no note is added, no note id changes, every review is kept."""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import pytest
import yaml
from anki.collection import Collection  # first: anki's modules import in a cycle
from ankiread import col, export, import_apkg, log_counts, reviews, study  # noqa: F401 - col is a fixture
from conftest import run_build, tiny_png

SOURCE = Path(__file__).parent / "fixtures" / "real" / "ultimate-geography"
LANGUAGES = ("EN", "DE", "FR", "NB")  # the editions whose recipe deck is "Ultimate Geography"
DECK = "Ultimate Geography"
# Field -> (file in data/, its column with the language's suffix), as recipes/source_to_anki.yaml maps them
COLUMNS = {"Country": "country", "Country info": "country_info", "Capital": "capital",
           "Capital info": "capital_info", "Capital hint": "capital_hint", "Flag similarity": "flag_similarity"}


def _rows(name: str) -> dict[str, dict[str, str]]:
    with (SOURCE / "data" / f"{name}.csv").open(encoding="utf-8", newline="") as file:
        return {row["country"]: row for row in csv.DictReader(file)}


def _column(name: str, language: str) -> str:
    base = name.replace("_", " ")
    return base if language == "EN" else f"{base}:{language.lower()}"


def _notetype(col: Collection, language: str) -> dict:
    """The edition's note type as utils/generate_and_build.py renders it from the base templates
    (Brain Brew's html files: the front, a line `--`, the back); its CSS is left out."""
    with (SOURCE / "templates" / "translations.csv").open(encoding="utf-8", newline="") as file:
        tokens = next(row for row in csv.DictReader(file) if row["__LANGUAGE_CODE__"] == language)

    def rendered(text: str) -> str:
        for token, value in tokens.items():
            text = text.replace(token, value)
        return text.replace("name: Ultimate Geography [EN]", "name: Ultimate Geography")

    declared = yaml.safe_load(rendered((SOURCE / "templates" / "Ultimate_Geography_[__LANGUAGE_CODE__].yaml")
                                       .read_text(encoding="utf-8")))
    notetype = col.models.new(declared["name"])
    for field in declared["fields"]:
        col.models.add_field(notetype, col.models.new_field(field["name"]))
    for template in declared["templates"]:
        html = rendered((SOURCE / "templates" / f"{template['name']} [__LANGUAGE_CODE__].html")
                        .read_text(encoding="utf-8"))
        front, back = re.split(r"\n--\n", html, maxsplit=1)
        card = col.models.new_template(template["name"])
        card["qfmt"], card["afmt"] = front.strip(), back.strip()
        col.models.add_template(notetype, card)
    col.models.add(notetype)
    return col.models.by_name(declared["name"])


def _stand_in_images(col: Collection, main: dict[str, dict[str, str]]) -> None:
    """A learner's collection holds the deck's flags (SVG) and maps (PNG); the fixture leaves
    the real ones out (their licences are not the text's), so each is a stand-in of its type."""
    for row in main.values():
        for name in re.findall(r'src="([^"]+)"', row["flag"] + row["map"]):
            data = tiny_png(4, 3) if name.endswith(".png") else b'<svg xmlns="http://www.w3.org/2000/svg"/>'
            col.media.write_data(name, data)


def shared_deck(col: Collection) -> list[int]:
    """Every note of the four editions, in the deck, each with its GUID from data/guid.csv."""
    main, guids = _rows("main"), _rows("guid")
    _stand_in_images(col, main)
    data = {field: _rows(name) for field, name in COLUMNS.items()}
    deck_id, added = col.decks.id(DECK), []
    for language in LANGUAGES:
        notetype = _notetype(col, language)
        for country, row in main.items():
            note = col.new_note(notetype)
            note.guid = guids[country][_column("guid", language)]
            for field, name in COLUMNS.items():
                note[field] = data[field].get(country, {}).get(_column(name, language), "")
            note["Flag"], note["Map"] = row["flag"], row["map"]
            note.tags = row["tags"].split()
            col.add_note(note, deck_id)
            added.append(note.id)
    return added


@pytest.mark.slow
def test_ultimate_geography_imported_and_built_adds_no_note_and_keeps_every_review(col: Collection,
                                                                                   tmp_path: Path) -> None:
    notes = shared_deck(col)
    assert len(notes) >= 1000 and len({col.get_note(nid).guid for nid in notes}) == len(notes)
    study(col, 20)  # a default day's new cards
    before, log_before = reviews(col), col.db.all("SELECT * FROM revlog ORDER BY id")
    assert len(log_before) == 20
    package = export(col, tmp_path / "ultimate-geography.apkg", legacy=False)

    bank_file = tmp_path / "bank" / "ultimate-geography.yaml"
    started = time.monotonic()
    result = run_build("import", package, "--id", "ultimate-geography", "--lang", "en", "-o", bank_file)
    imported = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "the fields the front of the note's first card shows are the question" in result.stdout
    assert result.stderr.splitlines() == [  # the SVG flags, said once
        "note: 227 images are not PNG, JPEG or GIF files: left out, their notes show their alt text "
        "('ug-flag-england.svg', 'ug-flag-scotland.svg', 'ug-flag-united_kingdom.svg', …)"]
    items = yaml.safe_load(bank_file.read_text(encoding="utf-8"))["items"]
    assert len(items) == len(notes)
    assert {item["guid"] for item in items} == {col.get_note(nid).guid for nid in notes}
    by_guid = {item["guid"]: item for item in items}
    guids = _rows("guid")
    # Read from its first card, Country - Capital: the country (and its info) asks, the capital tells
    england = by_guid[guids["England"]["guid"]]
    assert england["question"] == "England\n\nConstituent country of the United Kingdom."
    assert england["answer"] == {"lead": "London"} and england["tags"] == ["UG::Europe"]
    assert england["explanation"] == ("**Capital hint**\n\nNot a sovereign country\n\n"
                                      "**Map**\n\n![](images/ug-map-england.png)")  # the SVG flag cannot come
    assert by_guid[guids["England"]["guid:de"]]["answer"] == {"lead": "London"}
    # No capital, no flag: read from Map - Country, the map asks
    pacific = by_guid[guids["Pacific Ocean"]["guid:fr"]]
    assert pacific["question"] == "![](images/ug-map-pacific_ocean-nobox.png)"
    assert pacific["answer"] == {"lead": "Océan Pacifique"}

    started = time.monotonic()
    built = run_build(bank_file, "--out", tmp_path / "dist", "--format", "apkg")
    building = time.monotonic() - started
    assert built.returncode == 0, built.stderr
    started = time.monotonic()
    log = import_apkg(col, tmp_path / "dist" / "ultimate-geography.apkg")
    reimported = time.monotonic() - started
    counts = log_counts(log)
    print(f"\n{len(notes)} notes: import {imported:.1f} s, build {building:.1f} s, "
          f"Anki's re-import {reimported:.1f} s: {counts}")
    assert counts["new"] == 0
    assert sorted(col.find_notes("")) == sorted(notes)
    assert reviews(col) == before
    assert col.db.all("SELECT * FROM revlog ORDER BY id") == log_before

    # Pulled back from the collection as it now is: the notes are still the deck's own, each
    # edition's items are said once, and nothing is taken for deleted
    pulled = run_build("pull", export(col, tmp_path / "after.apkg", legacy=False), bank_file)
    assert pulled.returncode == 0 and pulled.stdout.strip() == "nothing to pull", pulled.stderr
    assert pulled.stderr.splitlines() == [
        f"note: 323 items (first {first}): their notes are still of note type '{notetype}', so the build does "
        "not update them and nothing is pulled from them (docs/anki.md: Change Note Type)"
        for first, notetype in [("england", DECK), ("england-2", f"{DECK} [DE]"), ("angleterre", f"{DECK} [FR]"),
                                ("england-3", f"{DECK} [NB]")]]
