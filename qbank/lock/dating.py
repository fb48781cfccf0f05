"""The dating policy: when each piece of a bank last changed, from the lock as it was read.

Anki applies an incoming note only if its modification time is newer than the one in the
collection, so a note's time must move forward exactly when its item changes, and otherwise
stay put across rebuilds (and across machines) so that builds are byte-identical. An entry
keeps its time while its content's hash is the same; the clock is read only when a hash
changes (SOURCE_DATE_EPOCH, when set, stands in for it), and the build writes that time down.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, replace

from .. import schema
from ..model import Bank, Item
from .entries import Dated, DeckEntry, ItemEntry, LockEntries

# Folders of templates/ that no output shows (build.py's preview page and starter bank):
# editing them must not date any output, nor add entries to a bank's lock.
TOOL_TEMPLATES = ("preview", "starter")


def content_hash(value: object) -> str:
    """A stable hash of JSON-able content (key order and whitespace do not matter)."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def source_date_epoch() -> int | None:
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(value) if value.isdigit() else None


@dataclass(frozen=True)
class RetiredItem:
    """An item the bank no longer has, whose note learners may still hold."""

    identity: str  # its note's GUID comes from this
    title: str  # plain text, as it was last built
    merged_into: str | None  # the id of the live item that absorbed it
    modified: int


@dataclass(frozen=True)
class Dates:
    """When each part of a bank last changed, and the lock entries that record it."""

    entries: LockEntries  # the lock as this build leaves it
    bank: int  # the bank's own text
    items: tuple[int, ...]  # each item's, in the bank's order
    retired: tuple[RetiredItem, ...]
    deck_name: str
    subdecks: dict[str, str]  # each section's subdeck name, by section id
    templates: dict[str, int]  # by folder of templates/
    changes: dict[str, int]  # what the build changes for learners (item_changes)

    @property
    def modified(self) -> int:
        """The document's date: SOURCE_DATE_EPOCH, else the newest change of the bank or an item."""
        return source_date_epoch() or max(self.bank, *self.items, *(item.modified for item in self.retired))


def date_bank(before: LockEntries, bank: Bank, plain_title: str, item_titles: list[str],
              templates: dict[str, str], section_titles: list[str] | None = None) -> Dates:
    """The dates of `bank` (whose title, items' and sections' titles are `plain_title`,
    `item_titles`, `section_titles` as plain text), given the lock as read and the digest of
    each file in templates/ (by its path there, templating.digests)."""
    items = dict(before.items)
    times = []
    for item, title in zip(bank.items, item_titles):
        items[item.identity] = _item_entry(items.get(item.identity), item, title)
        times.append(items[item.identity].modified)
    retired = _retire(items, bank)
    deck = _deck(before.deck, bank.deck, plain_title)
    sections = dict(before.sections)
    for section, title in zip(bank.sections, section_titles or []):
        sections[section.id] = _deck(sections.get(section.id), section.deck, title)
    stamped = {folder: _dated(before.templates.get(folder), digest)
               for folder, digest in _template_hashes(templates).items()}
    after = LockEntries(bank=_dated(before.bank, bank_hash(bank)), deck=deck, sections=sections, items=items,
                        templates=stamped)
    return Dates(
        entries=after, bank=after.bank.modified, items=tuple(times), retired=retired, deck_name=deck.value,
        subdecks={section.id: sections[section.id].value for section in bank.sections},
        templates={folder: entry.modified for folder, entry in stamped.items()},
        changes=item_changes(before.items, items),
    )


def bank_hash(bank: Bank) -> str:
    """The bank's own text: its dated keys, as the schema declares them (title, author,
    preface, closing), so a new bank-level key re-dates the bank without a line here."""
    return content_hash(schema.content(schema.BANK, bank))


def _later_than(entry: Dated | None) -> int:
    now = source_date_epoch() or int(time.time())
    return max(now, entry.modified + 1) if entry else now


def _dated(entry: Dated | None, digest: str) -> Dated:
    """`entry` while its content is the same; else the content's hash, dated now."""
    return entry if entry and entry.hash == digest else Dated(digest, _later_than(entry))


def _item_entry(entry: ItemEntry | None, item: Item, title: str) -> ItemEntry:
    """Every field the schema declares, and its tags; and its id when it was renamed (the
    note's ItemId field changes). An item that comes back from retirement is dated anew."""
    renamed = item.id if item.id != item.identity else None
    digest = content_hash({**schema.content(schema.ITEM, item), **({"id": renamed} if renamed else {})})
    if entry and entry.hash == digest and not entry.retired:
        return replace(entry, title=title, id=renamed or entry.id)
    return ItemEntry(digest, _later_than(entry), title=title, id=renamed)


def _retire(items: dict[str, ItemEntry], bank: Bank) -> tuple[RetiredItem, ...]:
    """Every item the lock has seen that is no longer in the bank, retired in `items`. Its time
    moves forward once, when it leaves (or is merged into another), so its note is updated
    with the notice once."""
    live = {item.identity for item in bank.items}
    absorbed_by = {old_id: item.id for item in bank.items for old_id in item.absorbs}
    retired = []
    for identity in sorted(items.keys() - live):
        entry, merged_into = items[identity], absorbed_by.get(identity)
        if not (entry.retired and entry.merged_into == merged_into):
            entry = items[identity] = replace(entry, retired=True, merged_into=merged_into, modified=_later_than(entry))
        title = entry.title if entry.title is not None else identity
        retired.append(RetiredItem(identity, title, merged_into, entry.modified))
    return tuple(retired)


def _deck(entry: DeckEntry | None, chosen: str, plain_title: str) -> DeckEntry:
    """An Anki deck's name (the bank's, or a section's subdeck): `chosen` when the bank sets it
    (`deck:`), else the title at the first build.

    Anki's importer finds decks by name: a new title would otherwise leave every learner's
    cards in the old deck and add an empty one beside it.
    """
    if entry and not chosen:
        return entry
    name = chosen or plain_title
    digest = content_hash(name)
    if entry and entry.hash == digest:
        return replace(entry, value=name)
    return DeckEntry(digest, _later_than(entry), value=name)


def _template_hashes(templates: dict[str, str]) -> dict[str, str]:
    """Each templates/ folder's hash: of its files, and of the files beside the folders
    (labels.yaml, fonts.yaml), which every output shows too."""
    shared = {f"../{path}": digest for path, digest in templates.items() if "/" not in path}
    folders: dict[str, dict[str, str]] = {}
    for path, digest in templates.items():
        folder, _, inside = path.partition("/")
        if inside and folder not in TOOL_TEMPLATES:
            folders.setdefault(folder, {})[inside] = digest
    return {folder: content_hash(files | shared) for folder, files in sorted(folders.items())}


def item_changes(before: dict[str, ItemEntry], after: dict[str, ItemEntry]) -> dict[str, int]:
    """What a build changes for learners, counted from the lock's items before and after it:
    {"changed": 3, "added": 1, ...}, leaving out what did not happen."""
    counts = dict.fromkeys(("changed", "added", "renamed", "merged", "retired", "revived"), 0)
    for identity, entry in after.items():
        old = before.get(identity)
        if old is None:
            counts["added"] += 1
        elif old.retired and not entry.retired:
            counts["revived"] += 1
        elif entry.retired:
            if not old.retired or old.merged_into != entry.merged_into:
                counts["merged" if entry.merged_into else "retired"] += 1
        elif old.id != entry.id:
            counts["renamed"] += 1
        elif old.modified != entry.modified:
            counts["changed"] += 1
    return {kind: count for kind, count in counts.items() if count}
