"""The Anki deck (.apkg): one note per item, built to be re-imported for weeks.

Every rebuild is imported into collections that already hold review history, so identity
never depends on the text or on the clock:

- the deck and note-type ids are derived from the bank id, each note's GUID from the bank id
  and the item id (never from its text);
- field and card-template names are frozen (Anki forks a note type whose names change);
- a note's modification time is when its item last changed (the lock file), so Anki's
  importer ("update if newer") takes an edited note and leaves every other note alone, a
  learner's own edit included; the note type's time is when templates/anki/ last changed;
- the package itself is byte-identical for the same source: the SQLite file is made in
  memory and zipped with fixed entry dates, order and compression.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
import time
import zipfile
from pathlib import Path

import genanki
from markupsafe import escape

from ..document import RenderedBank, RenderedItem
from ..model import Item
from ..processes import Budget
from ..progress import SILENT, Progress
from ..lock import RetiredItem
from ..templating import render_template
from .fonts import font_stack, template_font_stacks
from .images import SCREEN, fitted_media
from . import BuildOptions, Downscaled, Writer

NOTE_TYPE_FOLDER = "anki"  # card templates and CSS: their changes update the note type
FIELDS_FOLDER = "anki-fields"  # how fields are assembled: their changes update every note

# FROZEN: these names are the note type's schema in every learner's collection. Renaming,
# reordering, removing or adding one makes Anki's default import create a second note type,
# and the notes already studied stop receiving updates (docs/anki.md).
FIELD_NAMES = ("ItemId", "Title", "Question", "Answer", "Explanation", "KeyPoints")
CARD_TEMPLATES = (  # FROZEN names, with the templates/anki/ files for front and back
    ("Question", "front.html", "back.html"),
    ("Key points", "key_points_front.html", "key_points_back.html"),
)

RETIRED_TAG = "retired"  # under the bank's tag: <bank>::retired finds every retired note
NOTE_TYPE_PREFIX = "qbank: "  # a bank's note type is named after it: "qbank: <bank id>"

# Zip entries carry DOS dates, which cannot go before 1980.
ZIP_EPOCH = 315532800


def _hashed(*names: str) -> int:
    """A positive 63-bit number that depends only on `names`."""
    digest = hashlib.sha256("\x1f".join(("qbank", *names)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def stable_id(kind: str, bank_id: str, *names: str) -> int:
    """A deck or note-type id, in the range genanki recommends (Anki's own ids are larger);
    `names`: a section's id, for its subdeck.

    FROZEN like the names below: a different derivation gives every bank a new note type.
    """
    return (1 << 30) + _hashed(kind, bank_id, *names) % (1 << 30)


def _schema_id(kind: str, name: str) -> int:
    """A field or card-template id: Anki 23.10+ matches them by id when it merges note types."""
    return _hashed(kind, name)


def anki_tags(bank_id: str, tags: tuple[str, ...]) -> list[str]:
    """The bank's own tag, then each item tag under it (Anki's `::` hierarchy)."""
    return [bank_id, *(f"{bank_id}::{tag}" for tag in tags)]


def key_points_enabled(doc: RenderedBank, options: BuildOptions) -> bool:
    return options.cloze if options.cloze is not None else doc.html.options.cloze


def note_type(doc: RenderedBank) -> genanki.Model:
    """The note type: fields, the card templates (Anki's {{Field}} syntax) and the CSS."""
    stack = font_stack(doc.lang)
    context = {"lang": doc.lang, "labels": doc.labels, **template_font_stacks(stack.text, stack.mono)}
    templates = [
        {
            "name": name,
            "id": _schema_id("template", name),
            "qfmt": render_template(f"{NOTE_TYPE_FOLDER}/{front}", **context).strip() + "\n",
            "afmt": render_template(f"{NOTE_TYPE_FOLDER}/{back}", **context).strip() + "\n",
        }
        for name, front, back in CARD_TEMPLATES
    ]
    fields = [
        {"name": name, "id": _schema_id("field", name), "font": stack.text[0]}
        for name in FIELD_NAMES
    ]
    return genanki.Model(
        model_id=stable_id("notetype", doc.id),
        name=f"{NOTE_TYPE_PREFIX}{doc.id}",
        fields=fields,
        templates=templates,
        css=render_template(f"{NOTE_TYPE_FOLDER}/card.css", **context),
        sort_field_index=FIELD_NAMES.index("ItemId"),
    )


def note_fields(doc: RenderedBank, item: RenderedItem, key_points: bool) -> dict[str, str]:
    """Each field of the item's note, by name, as the deck carries it (the preview shows the same)."""
    # The field templates call the answer `item` (item.lead, item.points): renaming that in
    # templates/anki-fields/ would re-date every note in every collection for no change.
    context = {"item": item.answer, "labels": doc.labels}
    values = {
        "ItemId": item.id,  # a slug (the reader checks), so already plain HTML
        "Title": str(item.title),
        "Question": str(item.question),
        "Answer": render_template(f"{FIELDS_FOLDER}/answer.html", **context).strip(),
        "Explanation": str(item.explanation),
        # Anki makes the key-points card only for notes whose KeyPoints field is filled.
        "KeyPoints": render_template(f"{FIELDS_FOLDER}/key_points.html", **context).strip()
        if key_points and item.answer.points else "",
    }
    return {name: values[name] for name in FIELD_NAMES}


def note_modified(doc: RenderedBank, item: RenderedItem, key_points: bool) -> int:
    """When this note last changed, as Anki compares it on import.

    The item's own time, unless the field templates changed later. Switching the key-points
    card on fills a field without changing the item, so it adds one second: the note is then
    newer than the copy a collection holds and is updated (switching it off again subtracts
    the second, so collections keep the cards they already study).
    """
    return modified_as_built(doc, item.modified, key_points)


def modified_as_built(doc: RenderedBank, item_modified: int, key_points: bool) -> int:
    """A note's time, as note_modified gives it, for an item last changed at `item_modified`."""
    return max(item_modified, doc.template_stamps[FIELDS_FOLDER]) + (1 if key_points else 0)


def note_guid(bank_id: str, item: Item | RenderedItem) -> str:
    """The GUID of an item's note: the note it was imported from, else the id it was first built with."""
    return item.guid or genanki.guid_for(bank_id, item.identity)


def _retired_fields(doc: RenderedBank, retired: RetiredItem) -> list[str]:
    """A retired item's note: its id emptied, so that the card templates (which show nothing
    without an ItemId) leave its cards blank for Anki's Tools > Empty Cards to delete, and its
    title kept beside a notice, so the learner can tell which question left and why."""
    live = {item.id: item for item in doc.items}
    notice = render_template(f"{FIELDS_FOLDER}/retired.html", labels=doc.labels,
                             merged_into=live.get(retired.merged_into)).strip()
    values = dict.fromkeys(FIELD_NAMES, "") | {"Title": str(escape(retired.title)), "Question": notice}
    return [values[name] for name in FIELD_NAMES]


def _deck_name(name: str) -> str:
    # "::" would make Anki nest decks; a bank title is one deck, a section's title one subdeck.
    return name.replace("::", ":")


def subdecks_enabled(doc: RenderedBank) -> bool:
    return bool(doc.html.sections) and not doc.html.options.one_deck


def _subdecks(doc: RenderedBank, deck: genanki.Deck) -> dict[str, genanki.Deck]:
    """A subdeck of `deck` per section (`Bank::Section`), by section id; its name is kept in
    the lock as the bank's deck's is, so that a new section title does not start a new one."""
    return {section.id: genanki.Deck(deck_id=stable_id("deck", doc.id, section.id),
                                     name=f"{deck.name}::{_deck_name(doc.subdecks[section.id])}",
                                     description=str(section.intro))
            for section in doc.html.sections}


def collection_bytes(doc: RenderedBank, key_points: bool, progress: Progress = SILENT) -> bytes:
    """The package's collection.anki2 (SQLite), made in memory so no file date leaks in; each
    note written is reported to `progress`."""
    model = note_type(doc)
    deck = genanki.Deck(deck_id=stable_id("deck", doc.id), name=_deck_name(doc.deck_name),
                        description=str(doc.description))
    deck.add_model(model)
    subdecks = _subdecks(doc, deck) if subdecks_enabled(doc) else {}
    # Ids matter only for notes a collection does not hold yet (existing ones are found by
    # GUID). Counting up from the document's date makes them unique and reproducible, and
    # ascending in source order, which is the order Anki's importer gives new cards.
    ids = itertools.count(doc.modified * 1000)
    connection = sqlite3.connect(":memory:")
    try:
        cursor = connection.cursor()
        genanki.Package([deck, *subdecks.values()]).write_to_db(cursor, doc.template_stamps[NOTE_TYPE_FOLDER], ids)
        for item in doc.items:
            deck_id = subdecks[doc.section_of(item).id].deck_id if subdecks else deck.deck_id
            fields = note_fields(doc, item, key_points)
            note = genanki.Note(
                model=model,
                fields=[fields[name] for name in FIELD_NAMES],
                tags=anki_tags(doc.id, item.tags),
                guid=note_guid(doc.id, item),
                due=item.number,  # new cards come up in source order
            )
            note.write_to_db(cursor, note_modified(doc, item, key_points), deck_id, ids)
            progress.report(item.number, len(doc.items), "notes")
        for retired in doc.retired:
            note = genanki.Note(model=model, fields=_retired_fields(doc, retired),
                                tags=[doc.id, f"{doc.id}::{RETIRED_TAG}"], guid=genanki.guid_for(doc.id, retired.identity))
            note.write_to_db(cursor, max(retired.modified, doc.template_stamps[FIELDS_FOLDER]), deck.deck_id, ids)
        connection.commit()
        return connection.serialize()
    finally:
        connection.close()


def _zip_entry(name: str, stamp: int) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, time.gmtime(max(stamp, ZIP_EPOCH))[:6])
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.create_system = 3  # as written on Unix, whatever the build machine
    entry.external_attr = 0o644 << 16
    return entry


def write_package(target: Path, collection: bytes, media: dict[str, Path], stamp: int) -> None:
    """An .apkg: the collection, the media index, then each media file under its number."""
    names = sorted(media)
    index = {str(number): name for number, name in enumerate(names)}
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(_zip_entry("collection.anki2", stamp), collection)
        archive.writestr(_zip_entry("media", stamp), json.dumps(index, ensure_ascii=False))
        for number, name in index.items():
            archive.writestr(_zip_entry(number, stamp), media[name].read_bytes())


class AnkiWriter(Writer):
    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, budget: Budget = Budget(),
              progress: Progress = SILENT) -> Downscaled:
        collection = collection_bytes(doc, key_points_enabled(doc, options), progress)
        with fitted_media(doc.media, SCREEN) as media:  # cards are studied on phones
            write_package(target, collection, media.files, doc.modified)
        return media.downscaled


WRITER = AnkiWriter()
