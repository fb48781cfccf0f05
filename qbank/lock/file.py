"""Reading a lock file strictly, repairing a git merge conflict in it, and writing it.

Being source, the lock gets broken the ways source does: a git merge conflict, a hand edit, a
file cut short. A merge conflict whose two sides are each a whole lock is repaired (each
entry keeps the side with the newer time, which can only move notes forward) and the repair
is announced; anything else is refused with the line and what to do. A broken lock is never
silently replaced: its times are what keeps learners' collections updating.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..model import CannotBuild, shown_path
from .entries import LockEntries, names_a_deck, problem

LOCK_VERSION = 1
CONFLICT_MARKER = re.compile(r"^(<{7}|\|{7}|={7}|>{7})(?: |$)")


class LockError(CannotBuild):
    """The lock file cannot be read as a lock: one line with its place and what to do."""


def serialized(entries: LockEntries) -> bytes:
    text = json.dumps({"version": LOCK_VERSION, "entries": entries.to_json()}, indent=1, sort_keys=True) + "\n"
    return text.encode("utf-8")


def read_entries(path: Path, data: bytes) -> tuple[LockEntries, str | None]:
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
        return LockEntries.from_json(reader.entries(text)), None
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
    return LockEntries.from_json(entries), note


def _restore_hint(path: Path) -> str:
    return f"restore it with 'git checkout -- {shown_path(path)}'"


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


class _Reader:
    """Reads one lock's text into its entries as spelled, refusing (LockError) anything that is not a lock."""

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
            wrong = problem(key, entry)
            if wrong:
                raise self.fail(self._line_of_key(text, key), f"entry '{key}': {wrong}; fix it, or delete the "
                                "entry and the next build gives that content a new time")
        return entries

    @staticmethod
    def _line_of_key(text: str, key: str) -> int | None:
        for quoted in (json.dumps(key, ensure_ascii=False), json.dumps(key)):
            found = re.search(re.escape(quoted) + r"\s*:", text)
            if found:
                return _line_of(text, found.start())
        return None


# json.loads does not say where a key was repeated: these tokens find it.
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
            # Matches no content: re-stamped (the deck keeps a name until then).
            merged[key] = {"hash": "", "modified": a["modified"]} | ({"value": a["value"]} if names_a_deck(key) else {})
        else:
            merged[key] = max(a, b, key=lambda entry: entry["modified"])
    return merged, differed
