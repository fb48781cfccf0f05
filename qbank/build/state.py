"""Skipping outputs whose inputs did not change (files.py writes them atomically)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from .. import __version__, templating
from .files import write_atomically

STATE_FILE = ".qbank-state.json"
CODE = Path(__file__).resolve().parent.parent  # the qbank package


def _digest_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def media_digest(media: list[Path]) -> str:
    return _digest_files(sorted(media))


def _code_digest() -> str:
    return _digest_files(sorted(p for p in CODE.rglob("*") if p.is_file() and "__pycache__" not in p.parts))


class BuildState:
    """What each output in a folder was last built from (dist/.qbank-state.json).

    The key covers the bank file and its lock, this package's code and templates, the options
    and SOURCE_DATE_EPOCH; the images a build used are recorded and re-hashed on the next run.
    It is computed before the render step, so a no-op rebuild never starts pandoc.
    """

    def __init__(self, folder: Path):
        self.path = folder / STATE_FILE
        self.entries: dict[str, dict] = _read_state(self.path)
        self.templates = templating.digests()  # the lock's template times are dated by these too
        self._shared = _code_digest() + json.dumps(self.templates, sort_keys=True)

    def key(self, bank: bytes, lock: bytes | None, options: object) -> str:
        """What a bank's outputs are built from: the bytes of the bank and its lock as this
        build read them (and the lock again as it saved it), so an edit made while a build
        runs is never recorded as built."""
        parts = [
            __version__, self._shared, json.dumps(asdict(options), sort_keys=True),
            os.environ.get("SOURCE_DATE_EPOCH", ""), hashlib.sha256(bank).hexdigest(),
            hashlib.sha256(lock).hexdigest() if lock is not None else "",
        ]
        return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()

    @staticmethod
    def _entry_name(bank_path: Path, writer_name: str) -> str:
        return f"{bank_path.resolve()}::{writer_name}"

    def current_output(self, bank_path: Path, writer_name: str, key: str) -> Path | None:
        """The output last built from exactly these inputs, if it is still there; else None.

        Looked up by bank file and format, so a no-op rebuild need not even read the bank.
        """
        entry = self.entries.get(self._entry_name(bank_path, writer_name))
        if not entry or entry["key"] != key:
            return None
        output = Path(entry["output"])
        try:
            if output.stat().st_size != entry["size"]:
                return None
            if media_digest([Path(p) for p in entry["media"]]) != entry["media_digest"]:
                return None
        except OSError:  # the output or an image is gone (or unreadable): build it again
            return None
        return output

    def record(
        self, bank_path: Path, writer_name: str, key: str, output: Path, size: int, media: list[Path], digest: str
    ) -> None:
        """Note that `output` (`size` bytes) was built from `key` and the images `media`, whose
        `media_digest` was `digest` when they were used."""
        self.entries[self._entry_name(bank_path, writer_name)] = {
            "key": key, "output": str(output), "size": size,
            "media": [str(p) for p in sorted(media)], "media_digest": digest,
        }

    def save(self) -> None:
        write_atomically(self.path, json.dumps(self.entries, indent=1, sort_keys=True).encode("utf-8"))


_ENTRY_FIELDS = {"key": str, "output": str, "size": int, "media": list, "media_digest": str}


def _read_state(path: Path) -> dict[str, dict]:
    """The state file's entries; a missing, damaged or foreign file counts as empty (and so
    every output is rebuilt and the file written anew), and so does any entry not of our shape."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):  # ValueError: not UTF-8 or not JSON
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        name: entry for name, entry in data.items()
        if isinstance(entry, dict)
        and all(isinstance(entry.get(field), kind) for field, kind in _ENTRY_FIELDS.items())
        and all(isinstance(media, str) for media in entry["media"])
    }
