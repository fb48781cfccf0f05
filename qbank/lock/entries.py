"""What a lock holds, typed: a dated entry for the bank's text, the deck's name, each section's
subdeck name, each item the bank has ever had, and each templates/ folder; and how those
entries are spelled in the file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

LATEST_TIME = 4102444800  # 2100-01-01: later times are typing mistakes (and do not fit a zip entry's date)

# The file's keys: "bank", "deck", "section:<id>", "item:<identity>", "templates:<folder>".
BANK_KEY = "bank"
DECK_KEY = "deck"
SECTION_PREFIX = "section:"  # a section's subdeck name
ITEM_PREFIX = "item:"
TEMPLATES_PREFIX = "templates:"


@dataclass(frozen=True)
class Dated:
    """Some content as the lock knows it: a hash of it, and when it was first built with that hash."""

    hash: str
    modified: int  # epoch seconds


@dataclass(frozen=True)
class DeckEntry(Dated):
    value: str  # the deck's name


@dataclass(frozen=True)
class ItemEntry(Dated):
    """An item, under the id it was first built with (its note's GUID comes from that)."""

    title: str | None = None  # plain text, as last built: what its note says once it is gone
    id: str | None = None  # its id since it was renamed; None while it has its first one
    retired: bool = False  # gone from the bank; its note is shipped blanked
    merged_into: str | None = None  # the id of the live item that absorbed it


@dataclass(frozen=True)
class LockEntries:
    bank: Dated | None = None
    deck: DeckEntry | None = None
    sections: dict[str, DeckEntry] = field(default_factory=dict)  # subdeck names by section id; kept for ever
    items: dict[str, ItemEntry] = field(default_factory=dict)  # by identity; kept for ever
    templates: dict[str, Dated] = field(default_factory=dict)  # by folder of templates/

    def to_json(self) -> dict[str, dict[str, object]]:
        """The entries as the file spells them (a key is left out while it has no value)."""
        spelled: dict[str, dict[str, object]] = {}
        if self.bank:
            spelled[BANK_KEY] = _spelled(self.bank)
        if self.deck:
            spelled[DECK_KEY] = _spelled(self.deck)
        spelled |= {SECTION_PREFIX + section: _spelled(entry) for section, entry in self.sections.items()}
        spelled |= {ITEM_PREFIX + identity: _spelled(entry) for identity, entry in self.items.items()}
        spelled |= {TEMPLATES_PREFIX + folder: _spelled(entry) for folder, entry in self.templates.items()}
        return spelled

    @classmethod
    def from_json(cls, entries: dict[str, dict[str, object]]) -> LockEntries:
        """Entries checked by `problem`. A key of no known kind is left out: nothing dates it,
        so the next save drops it, as it does a folder gone from templates/."""
        def get(raw: dict[str, object], kind: type[Dated]) -> Dated:
            return kind(**{name: raw[name] for name in _FIELDS[kind] if name in raw})

        bank, deck = entries.get(BANK_KEY), entries.get(DECK_KEY)
        return cls(
            bank=get(bank, Dated) if bank else None,
            deck=get(deck, DeckEntry) if deck else None,  # type: ignore[arg-type]
            sections={key.removeprefix(SECTION_PREFIX): get(raw, DeckEntry)  # type: ignore[misc]
                      for key, raw in entries.items() if key.startswith(SECTION_PREFIX)},
            items={key.removeprefix(ITEM_PREFIX): get(raw, ItemEntry)  # type: ignore[misc]
                   for key, raw in entries.items() if key.startswith(ITEM_PREFIX)},
            templates={key.removeprefix(TEMPLATES_PREFIX): get(raw, Dated)
                       for key, raw in entries.items() if key.startswith(TEMPLATES_PREFIX)},
        )


_FIELDS: dict[type, tuple[str, ...]] = {
    Dated: ("hash", "modified"),
    DeckEntry: ("hash", "modified", "value"),
    ItemEntry: ("hash", "modified", "title", "id", "retired", "merged_into"),
}


def _spelled(entry: Dated) -> dict[str, object]:
    return {name: value for name in _FIELDS[type(entry)]
            if (value := getattr(entry, name)) is not None and value is not False}


def names_a_deck(key: str) -> bool:
    """Whether the entry `key` keeps a deck's name: the bank's deck, or a section's subdeck."""
    return key == DECK_KEY or key.startswith(SECTION_PREFIX)


def _kind(key: str) -> type[Dated]:
    if names_a_deck(key):
        return DeckEntry
    return ItemEntry if key.startswith(ITEM_PREFIX) else Dated


def problem(key: str, entry: object) -> str | None:
    """What is wrong with the entry under `key` of a lock file, or None."""
    if not isinstance(entry, dict):
        return "must be a mapping with \"hash\" and \"modified\""
    digest, modified = entry.get("hash"), entry.get("modified")
    if not isinstance(digest, str):
        return "\"hash\" must be text"
    if not isinstance(modified, int) or isinstance(modified, bool) or not 0 <= modified < LATEST_TIME:
        return (f"\"modified\" must be a time in whole seconds since 1970 (before 2100), not "
                f"{json.dumps(modified, ensure_ascii=False)}")
    kind = _kind(key)
    if kind is DeckEntry and not isinstance(entry.get("value"), str):
        return "\"value\" must be text, the deck's name"
    if kind is ItemEntry:
        for name in ("title", "id", "merged_into"):
            if name in entry and not isinstance(entry[name], str):
                return f"\"{name}\" must be text"
        if "retired" in entry and not isinstance(entry["retired"], bool):
            return "\"retired\" must be true or false"
    return None
