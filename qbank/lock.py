"""The bank's lock file: when each piece of content last changed, committed beside the bank.

Anki applies an incoming note only if its modification time is newer than the one in the
collection, so a note's time must move forward exactly when its item changes, and otherwise
stay put across rebuilds (and across machines) so that builds are byte-identical. The lock
records, per item (and per template folder), a hash of its content and the time it was first
seen with that hash. The clock is read only when a hash changes; that time is then written
down and becomes part of the source, like a package lock file.

SOURCE_DATE_EPOCH, when set, stands in for the clock.

Being source, the lock gets broken the ways source does: a git merge conflict, a hand edit, a
file cut short. A merge conflict whose two sides are each a whole lock is repaired (each
entry keeps the side with the newer time, which can only move notes forward) and the repair
is announced; anything else is refused with the line and what to do. A broken lock is never
silently replaced: its times are what keeps learners' collections updating.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import schema, templating
from .files import write_atomically
from .model import Bank, CannotBuild, Item, shown_path

LOCK_VERSION = 1
LATEST_TIME = 4102444800  # 2100-01-01: later times are typing mistakes (and do not fit a zip entry's date)
CONFLICT_MARKER = re.compile(r"^(<{7}|\|{7}|={7}|>{7})(?: |$)")


def content_hash(value: object) -> str:
    """A stable hash of JSON-able content (key order and whitespace do not matter)."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def source_date_epoch() -> int | None:
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(value) if value.isdigit() else None


def lock_path(bank_path: Path) -> Path:
    return bank_path.with_suffix(".lock")


class LockError(CannotBuild):
    """The lock file cannot be read as a lock: one line with its place and what to do."""


def _restore_hint(path: Path) -> str:
    return f"restore it with 'git checkout -- {shown_path(path)}'"


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


class _Reader:
    """Reads one lock's text into entries, refusing (LockError) anything that is not a lock."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, line: int | None, message: str) -> LockError:
        where = f"{shown_path(self.path)}:{line}" if line else shown_path(self.path)
        return LockError(f"{where}: {message}")

    def entries(self, text: str) -> dict[str, dict[str, object]]:
        if not text.strip():
            raise self.fail(None, "the lock file is empty (cut short?); " + _restore_hint(self.path)
                            + ", or delete it to give every item a new time (learners then get every note again)")
        duplicates: list[str] = []

        def no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
            seen: dict[str, object] = {}
            for key, value in pairs:
                if key in seen:
                    duplicates.append(key)
                seen[key] = value
            return seen

        try:
            data = json.loads(text, object_pairs_hook=no_duplicates)
        except json.JSONDecodeError as error:
            end = text.rstrip()
            if error.pos >= len(end) or not end.endswith("}"):  # a lock always ends with "}"
                raise self.fail(_line_of(text, len(end)), "the lock file ends in the middle of an entry (cut "
                                "short?); " + _restore_hint(self.path)) from None
            raise self.fail(error.lineno, f"not valid JSON ({error.msg}, column {error.colno}); fix this line "
                            f"(an edit by hand?) or {_restore_hint(self.path)}") from None
        if duplicates:
            line, key = _first_repeated_key(text)
            raise self.fail(line, f"\"{key}\" is given twice here (both sides of a merge kept?); keep one of the two")
        if not isinstance(data, dict) or "version" not in data or "entries" not in data:
            raise self.fail(1, "this is not a qbank lock file (no \"version\" and \"entries\"); it is where the "
                            "lock of the bank beside it belongs, so move it away and build again")
        version = data["version"]
        if version != LOCK_VERSION:
            if isinstance(version, int) and not isinstance(version, bool) and version > LOCK_VERSION:
                raise self.fail(self._line_of_key(text, "version"), f"written by a newer qbank (lock version "
                                f"{version}, this one reads {LOCK_VERSION}); update qbank to build this bank")
            raise self.fail(self._line_of_key(text, "version"), f"unknown lock version {json.dumps(version)} "
                            f"(this qbank writes {LOCK_VERSION}); {_restore_hint(self.path)}")
        entries = data["entries"]
        if not isinstance(entries, dict):
            raise self.fail(self._line_of_key(text, "entries"), "\"entries\" must be a mapping of content "
                            f"to its hash and time; {_restore_hint(self.path)}")
        for key, entry in entries.items():
            problem = self._entry_problem(entry)
            if problem:
                raise self.fail(self._line_of_key(text, key), f"entry '{key}': {problem}; fix it, or delete the "
                                "entry and the next build gives that content a new time")
        return entries

    @staticmethod
    def _entry_problem(entry: object) -> str | None:
        if not isinstance(entry, dict):
            return "must be a mapping with \"hash\" and \"modified\""
        digest, modified = entry.get("hash"), entry.get("modified")
        if not isinstance(digest, str):
            return "\"hash\" must be text"
        if not isinstance(modified, int) or isinstance(modified, bool) or not 0 <= modified < LATEST_TIME:
            return (f"\"modified\" must be a time in whole seconds since 1970 (before 2100), not "
                    f"{json.dumps(modified, ensure_ascii=False)}")
        return None

    @staticmethod
    def _line_of_key(text: str, key: str) -> int | None:
        for quoted in (json.dumps(key, ensure_ascii=False), json.dumps(key)):
            found = re.search(re.escape(quoted) + r"\s*:", text)
            if found:
                return _line_of(text, found.start())
        return None


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:]')


def _first_repeated_key(text: str) -> tuple[int, str]:
    """The line and name of the first key given twice in one JSON object of `text` (valid JSON)."""
    objects: list[set[str] | None] = []
    tokens = list(_TOKEN.finditer(text))
    for token, following in zip(tokens, tokens[1:] + [None]):
        value = token.group()
        if value in "{[":
            objects.append(set() if value == "{" else None)
        elif value in "}]":
            objects.pop()
        elif value.startswith('"') and following is not None and following.group() == ":" and objects:
            key = json.loads(value)
            keys = objects[-1]
            if keys is not None:
                if key in keys:
                    return _line_of(text, token.start()), key
                keys.add(key)
    raise AssertionError("no repeated key found in a text that has one")


def _sides(text: str) -> tuple[str, str] | None:
    """The two files a git merge conflict joined ("ours", "theirs"), or None if the markers
    are not properly nested. A diff3 base section (|||||||) belongs to neither."""
    ours: list[str] = []
    theirs: list[str] = []
    side = None
    for line in text.splitlines(keepends=True):
        marker = CONFLICT_MARKER.match(line)
        kind = marker.group(1)[0] if marker else None
        if kind == "<" and side is None:
            side = "ours"
        elif kind == "|" and side == "ours":
            side = "base"
        elif kind == "=" and side in ("ours", "base"):
            side = "theirs"
        elif kind == ">" and side == "theirs":
            side = None
        elif kind:
            return None
        else:
            if side in (None, "ours"):
                ours.append(line)
            if side in (None, "theirs"):
                theirs.append(line)
    return None if side else ("".join(ours), "".join(theirs))


def _merged(ours: dict[str, dict], theirs: dict[str, dict]) -> tuple[dict[str, dict], list[str]]:
    """Both sides' entries; where they differ, the newer. Returns the entries and the keys that differed.

    The newer time is the safe one: a learner may hold either side's notes, and Anki updates
    a note only from a newer one. If the bank now has the newer side's content, that time
    stays; if it has the other side's or new content, the hash differs and the build stamps
    a time later still. Two different contents with the same time match neither side.
    """
    merged: dict[str, dict] = {}
    differed = []
    for key in sorted(ours.keys() | theirs.keys()):
        a, b = ours.get(key), theirs.get(key)
        if a is None or b is None or a == b:
            merged[key] = a or b
            continue
        differed.append(key)
        if a["modified"] == b["modified"]:
            merged[key] = {"hash": "", "modified": a["modified"]}  # matches no content: re-stamped
        else:
            merged[key] = max(a, b, key=lambda entry: entry["modified"])
    return merged, differed


def read_entries(path: Path, data: bytes) -> tuple[dict[str, dict[str, object]], str | None]:
    """A lock's entries from its bytes, and, if it held a git merge conflict that was repaired,
    what the repair did (None: there was none)."""
    reader = _Reader(path)
    try:
        text = data.decode("utf-8-sig")  # a BOM from a Windows editor is harmless
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise reader.fail(line, f"not UTF-8 text (byte 0x{data[error.start]:02X}); {_restore_hint(path)}") from None
    first_marker = next((number for number, line in enumerate(text.splitlines(), start=1)
                         if CONFLICT_MARKER.match(line)), None)
    if first_marker is None:
        return reader.entries(text), None
    how = ("keep one side of each conflict, or delete the conflicted entries and the next build gives "
           "their content a new time")
    sides = _sides(text)
    if sides is None:
        raise reader.fail(first_marker, f"a git merge conflict whose markers (<<<<<<< ======= >>>>>>>) "
                          f"do not pair up; {how}")
    try:
        ours, theirs = (reader.entries(side) for side in sides)
    except LockError:
        raise reader.fail(first_marker, f"a git merge conflict that cannot be repaired: one side of it is not a "
                          f"whole lock; {how}") from None
    entries, differed = _merged(ours, theirs)
    shown = ", ".join(differed[:3]) + (f" and {len(differed) - 3} more" if len(differed) > 3 else "")
    note = (f"the sides disagree on {shown}; each keeps the newer time, so learners' notes only move forward"
            if differed else "the sides agree on every entry")
    return entries, note


@dataclass
class Lock:
    path: Path
    entries: dict[str, dict[str, object]]
    touched: set[str] = field(default_factory=set)
    repaired: str | None = None  # a merge conflict was repaired on reading, this way; `save` saves it

    @classmethod
    def open(cls, bank_path: Path, data: bytes | None = None) -> "Lock":
        """The lock beside `bank_path`, read from `data` if given (its bytes, already read).

        Raises LockError if the file is not a whole lock (and cannot be safely repaired)."""
        path = lock_path(bank_path)
        if data is None:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return cls(path, {})
        entries, repaired = read_entries(path, data)
        return cls(path, entries, repaired=repaired)

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

    def serialized(self) -> bytes:
        # Items are remembered for ever: a removed item's entry is how later builds know to
        # retire its note in every collection that has it.
        kept = {key: self.entries[key] for key in sorted(self.entries) if key in self.touched or key.startswith("item:")}
        text = json.dumps({"version": LOCK_VERSION, "entries": kept}, indent=1, sort_keys=True) + "\n"
        return text.encode("utf-8")

    def save(self) -> bool:
        """Write the lock if it changed, atomically; returns whether it did."""
        data = self.serialized()
        try:
            if self.path.read_bytes() == data:
                return False
        except FileNotFoundError:
            pass
        write_atomically(self.path, data)
        return True


# -- what the lock dates: the bank's text, each item, each template folder ------------------------


def bank_stamp(lock: Lock, bank: Bank) -> int:
    """When the bank's own text (its dated keys: title, author, preface, closing) last changed."""
    return lock.stamp("bank", content_hash(schema.content(schema.BANK, bank)))


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
    if bank.deck or "deck" not in lock.entries:
        name = bank.deck or plain_title
        lock.stamp("deck", content_hash(name), value=name)
    lock.touched.add("deck")
    return str(lock.entries["deck"]["value"])


# Folders of templates/ that no output shows (build.py's preview page and starter bank):
# editing them must not date any output, nor add entries to a bank's lock.
TOOL_TEMPLATES = ("preview", "starter")


def template_stamps(lock: Lock) -> dict[str, int]:
    """Each templates/ folder gets a time that moves when any file in it changes, or any file
    beside the folders (labels.yaml, fonts.yaml), which every output shows too."""
    stamps = {}
    templates = templating.TEMPLATES
    shared = {f"../{f.name}": hashlib.sha256(f.read_bytes()).hexdigest()
              for f in sorted(templates.iterdir()) if f.is_file()}
    for folder in sorted(path for path in templates.iterdir() if path.is_dir() and path.name not in TOOL_TEMPLATES):
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
