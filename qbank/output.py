"""Writing outputs safely: atomic replacement, and skipping outputs whose inputs did not change."""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

from . import __version__
from .lock import lock_path
from .templating import TEMPLATES

STATE_FILE = ".qbank-state.json"
CODE = Path(__file__).resolve().parent


@contextmanager
def atomic_target(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; move it into place only if the block succeeds.

    On any failure (including Ctrl-C) the temporary file is removed and `target` keeps its
    previous content, so a failed build never leaves a half-written or missing output.
    """
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _digest_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _code_and_templates_digest() -> str:
    files = sorted(p for root in (CODE, TEMPLATES) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return _digest_files(files)


class BuildState:
    """What each output in a folder was last built from (dist/.qbank-state.json).

    The key covers the bank file and its lock, this package's code and templates, the options
    and SOURCE_DATE_EPOCH; the images a build used are recorded and re-hashed on the next run.
    It is computed before the render step, so a no-op rebuild never starts pandoc.
    """

    def __init__(self, folder: Path):
        self.path = folder / STATE_FILE
        try:
            self.entries: dict[str, dict] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}
        self._shared = _code_and_templates_digest()

    def key(self, bank_path: Path, options: object) -> str:
        """What a bank's outputs are built from, read once per build (and again after the
        build updated the lock, so the next run matches what this one recorded)."""
        lock = lock_path(bank_path)
        parts = [
            __version__, self._shared, json.dumps(asdict(options), sort_keys=True),
            os.environ.get("SOURCE_DATE_EPOCH", ""), _digest_files([bank_path]),
            _digest_files([lock]) if lock.exists() else "",
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
        if not output.exists() or output.stat().st_size != entry["size"]:
            return None
        media = [Path(p) for p in entry["media"]]
        if not all(p.exists() for p in media) or _digest_files(media) != entry["media_digest"]:
            return None
        return output

    def record(self, bank_path: Path, writer_name: str, key: str, output: Path, media: list[Path]) -> None:
        media = sorted(media)
        self.entries[self._entry_name(bank_path, writer_name)] = {
            "key": key, "output": str(output), "size": output.stat().st_size,
            "media": [str(p) for p in media], "media_digest": _digest_files(media),
        }

    def save(self) -> None:
        with atomic_target(self.path) as temporary:
            temporary.write_text(json.dumps(self.entries, indent=1, sort_keys=True), encoding="utf-8")
