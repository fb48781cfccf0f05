"""The bank's lock file: when each piece of content last changed, committed beside the bank.

Anki applies an incoming note only if its modification time is newer than the one in the
collection, so a note's time must move forward exactly when its item changes, and otherwise
stay put across rebuilds (and across machines) so that builds are byte-identical. The lock
records, per item (and per template folder), a hash of its content and the time it was first
seen with that hash. The clock is read only when a hash changes; that time is then written
down and becomes part of the source, like a package lock file.

SOURCE_DATE_EPOCH, when set, stands in for the clock.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import schema, templating
from .model import Bank, Item

LOCK_VERSION = 1


def content_hash(value: object) -> str:
    """A stable hash of JSON-able content (key order and whitespace do not matter)."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def source_date_epoch() -> int | None:
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(value) if value.isdigit() else None


def lock_path(bank_path: Path) -> Path:
    return bank_path.with_suffix(".lock")


@dataclass
class Lock:
    path: Path
    entries: dict[str, dict[str, object]]
    touched: set[str] = field(default_factory=set)

    @classmethod
    def open(cls, bank_path: Path) -> "Lock":
        path = lock_path(bank_path)
        entries: dict[str, dict[str, object]] = {}
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == LOCK_VERSION:
                entries = data["entries"]
        return cls(path, entries)

    def stamp(self, key: str, digest: str, **facts: object) -> int:
        """The modification time (epoch seconds) of `key`, moved forward if its hash changed
        or it comes back from retirement. `facts` (an item's title and id) are kept with it,
        for what a later build must say about the item once it is gone."""
        self.touched.add(key)
        entry = self.entries.get(key)
        if entry and entry["hash"] == digest and not entry.get("retired"):
            entry.update(facts)
            return int(entry["modified"])
        self.entries[key] = {"hash": digest, "modified": self._later_than(entry), **facts}
        return int(self.entries[key]["modified"])

    def retire(self, key: str, merged_into: str | None) -> int:
        """Mark an item that left the bank (deleted, or merged into another); its time moves
        forward once, when that happens, so its note is updated with the notice once."""
        self.touched.add(key)
        entry = self.entries[key]
        if entry.get("retired") and entry.get("merged_into") == merged_into:
            return int(entry["modified"])
        entry.pop("merged_into", None)
        entry.update(retired=True, modified=self._later_than(entry), **({"merged_into": merged_into} if merged_into else {}))
        return int(entry["modified"])

    @staticmethod
    def _later_than(entry: dict | None) -> int:
        now = source_date_epoch() or int(time.time())
        return max(now, int(entry["modified"]) + 1) if entry else now

    def remember(self, key: str, value: str) -> str:
        """A value fixed at the first build and kept after (the deck's name), unless `value` is given."""
        self.touched.add(key)
        entry = self.entries.setdefault(key, {"value": value})
        return str(entry["value"])

    def serialized(self) -> str:
        # Items are remembered for ever: a removed item's entry is how later builds know to
        # retire its note in every collection that has it.
        kept = {key: self.entries[key] for key in sorted(self.entries) if key in self.touched or key.startswith("item:")}
        return json.dumps({"version": LOCK_VERSION, "entries": kept}, indent=1, sort_keys=True) + "\n"

    def save(self) -> bool:
        """Write the lock if it changed; returns whether it did."""
        text = self.serialized()
        if self.path.exists() and self.path.read_text(encoding="utf-8") == text:
            return False
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(self.path)
        return True


# -- what the lock dates: the bank's text, each item, each template folder ------------------------


def bank_stamp(lock: Lock, bank: Bank) -> int:
    """When the bank's own text (title, preface, closing, author) last changed."""
    closing = [bank.closing.title, bank.closing.text] if bank.closing else None
    digest = {"title": bank.title, "description": bank.description, "author": bank.author, "closing": closing}
    return lock.stamp("bank", content_hash(digest))


def item_stamp(lock: Lock, item: Item, plain_title: str) -> int:
    """When this item's note last changed: every field the schema declares, and its tags; and
    its id when it was renamed (the note's ItemId field changes)."""
    content = schema.content(schema.ITEM, item)
    renamed = {"id": item.id} if item.id != item.identity else {}
    return lock.stamp(f"item:{item.identity}", content_hash({**content, **renamed}), title=plain_title, **renamed)


@dataclass(frozen=True)
class RetiredItem:
    """An item the bank no longer has, whose note learners may still hold."""

    identity: str  # its note's GUID comes from this
    title: str  # plain text, as it was last built
    merged_into: str | None  # the id of the live item that absorbed it
    modified: int


def retire_items(lock: Lock, bank: Bank) -> tuple[RetiredItem, ...]:
    """Every item the lock has seen that is no longer in the bank, retired in the lock."""
    live = {item.identity for item in bank.items}
    absorbed_by = {old_id: item.id for item in bank.items for old_id in item.absorbs}
    retired = []
    for key in sorted(key for key in lock.entries if key.startswith("item:")):
        identity = key.removeprefix("item:")
        if identity in live:
            continue
        merged_into = absorbed_by.get(identity)
        modified = lock.retire(key, merged_into)
        retired.append(RetiredItem(identity, str(lock.entries[key].get("title", identity)), merged_into, modified))
    return tuple(retired)


def deck_name(lock: Lock, bank: Bank, plain_title: str) -> str:
    """The Anki deck's name: `deck:` when the bank sets it, else the title at the first build.

    Anki's importer finds decks by name: a new title would otherwise leave every learner's
    cards in the old deck and add an empty one beside it.
    """
    if bank.deck:
        lock.entries["deck"] = {"value": bank.deck}
    return lock.remember("deck", plain_title)


def template_stamps(lock: Lock) -> dict[str, int]:
    """Each templates/ folder gets a time that moves when any file in it changes, or any file
    beside the folders (labels.yaml, fonts.yaml), which every output shows too."""
    stamps = {}
    templates = templating.TEMPLATES
    shared = {f"../{f.name}": hashlib.sha256(f.read_bytes()).hexdigest()
              for f in sorted(templates.iterdir()) if f.is_file()}
    for folder in sorted(path for path in templates.iterdir() if path.is_dir()):
        files = {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
                 for f in sorted(folder.rglob("*")) if f.is_file()} | shared
        stamps[folder.name] = lock.stamp(f"templates:{folder.name}", content_hash(files))
    return stamps


def item_changes(before: dict[str, dict], after: dict[str, dict]) -> dict[str, int]:
    """What a build changes for learners, counted from the lock's item entries before and after
    it: {"changed": 3, "added": 1, ...}, leaving out what did not happen."""
    counts = dict.fromkeys(("changed", "added", "renamed", "merged", "retired", "revived"), 0)
    for key, entry in after.items():
        if not key.startswith("item:"):
            continue
        old = before.get(key)
        if old is None:
            counts["added"] += 1
        elif old.get("retired") and not entry.get("retired"):
            counts["revived"] += 1
        elif entry.get("retired"):
            if not old.get("retired") or old.get("merged_into") != entry.get("merged_into"):
                counts["merged" if entry.get("merged_into") else "retired"] += 1
        elif old.get("id", key) != entry.get("id", key):
            counts["renamed"] += 1
        elif old["modified"] != entry["modified"]:
            counts["changed"] += 1
    return {kind: count for kind, count in counts.items() if count}
