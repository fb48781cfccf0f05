"""Waiting for saves: the one polling watcher behind `build.py --watch` and the preview.

A `Watcher` compares the modification times of a set of files (which may change from one
poll to the next) with those it last answered for; `changes` polls several at a fixed
interval and yields each whose files changed and then stayed still for its settle time.
Polling needs nothing but stat(2), one call per file and poll, on every system and file system.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable, Hashable, Iterable, Iterator, TypeVar

Key = TypeVar("Key", bound=Hashable)


def stamps(paths: Iterable[Path]) -> dict[str, int]:
    """Each path's modification time in nanoseconds; -1 for one that is missing or unreadable."""
    found = {}
    for path in paths:
        try:
            found[str(path)] = path.stat().st_mtime_ns
        except OSError:
            found[str(path)] = -1
    return found


class Watcher:
    """The files `files()` names, as they were when this was made or last said they changed."""

    def __init__(self, files: Callable[[], Iterable[Path]], settle_seconds: float = 0.0):
        self._files = files
        self._settle_seconds = settle_seconds
        self._answered = self._seen = stamps(files())
        self._changed_at: float | None = None

    def changed(self) -> bool:
        """Poll once: whether the files differ from when this last answered yes, and have not
        changed for `settle_seconds` (so an editor's save in several writes is taken once). The
        stamps are those of this poll, taken before the caller acts on the answer: a save made
        while it does is seen by the next poll."""
        now, polled_at = stamps(self._files()), time.monotonic()
        if now != self._seen:
            self._seen, self._changed_at = now, polled_at
        if self._changed_at is None or polled_at - self._changed_at < self._settle_seconds:
            return False
        self._changed_at = None
        if now == self._answered:  # changed and changed back
            return False
        self._answered = now
        return True


def changes(watchers: dict[Key, Watcher], poll_seconds: float, stop: threading.Event | None = None) -> Iterator[Key]:
    """The key of each watcher whose files changed, polled every `poll_seconds` until `stop` is set."""
    stop = stop or threading.Event()
    while not stop.wait(poll_seconds):
        for key, watcher in watchers.items():
            if watcher.changed():
                yield key
