"""The lock beside a bank: opened once per build, saved by the build with the dates it made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..build.files import write_atomically
from .entries import LockEntries
from .file import read_entries, serialized


def lock_path(bank_path: Path) -> Path:
    return bank_path.with_suffix(".lock")


@dataclass(frozen=True)
class Lock:
    path: Path
    entries: LockEntries
    repaired: str | None = None  # a merge conflict was repaired on reading, this way; `save` saves it

    @classmethod
    def open(cls, bank_path: Path, data: bytes | None = None) -> Lock:
        """The lock beside `bank_path`, read from `data` if given (its bytes, already read).

        Raises LockError if the file is not a whole lock (and cannot be safely repaired)."""
        path = lock_path(bank_path)
        if data is None:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return cls(path, LockEntries())
        entries, repaired = read_entries(path, data)
        return cls(path, entries, repaired=repaired)

    def serialized(self) -> bytes:
        return serialized(self.entries)

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
