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

    def stamp(self, key: str, digest: str) -> int:
        """The modification time (epoch seconds) of `key`, moved forward if its hash changed."""
        self.touched.add(key)
        entry = self.entries.get(key)
        if entry and entry["hash"] == digest:
            return int(entry["modified"])
        now = source_date_epoch() or int(time.time())
        previous = int(entry["modified"]) if entry else 0
        modified = max(now, previous + 1)
        self.entries[key] = {"hash": digest, "modified": modified}
        return modified

    def serialized(self) -> str:
        kept = {key: self.entries[key] for key in sorted(self.touched)}
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


def item_stamp(lock: Lock, item: Item) -> int:
    """When this item's content last changed: every field the schema declares, and its tags."""
    return lock.stamp(f"item:{item.id}", content_hash(schema.content(schema.ITEM, item)))


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
