"""The build's budget of processes for CPU-heavy work (processes.Budget): writers side by
side never run more steps at once than the build has processes, and a writer whose companions
are done uses every one of them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest

from qbank.processes import Budget
from qbank.writers import BuildOptions, Downscaled, Format, epub, write_outputs
from qbank.writers.paged.pool import in_fresh_processes

PROCESSES = 2
PATIENCE = 10  # seconds a chunk waits for another of its writer's to run beside it (never, with a fixed share)


def _lay_out(folder: Path, writer: str, meets: bool, chunk: int) -> int:
    """A stand-in for a chunk's layout that leaves, in `folder`, the time it ran (while it held
    a slot), and a marker while it runs. Chunk processes come from hosts started fresh, so they share
    no memory with the test: files are what all of them see.

    A chunk of the writer that `meets` stays until a second chunk of its own writer runs beside
    it: the other writer's chunks are short, so once they are done that writer has both slots.
    """
    running = folder / f"{writer}-{chunk}.running"
    running.touch()
    started = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process
    if meets:
        while len(list(folder.glob(f"{writer}-*.running"))) < 2 and time.monotonic() < started + PATIENCE:
            time.sleep(0.01)
    time.sleep(0.05)
    (folder / f"{writer}-{chunk}.ran").write_text(f"{started} {time.monotonic()}")
    running.unlink()
    return chunk


def _most_at_once(folder: Path, writer: str = "*") -> int:
    """The most chunks (of `writer`) that ran at the same moment."""
    events = []
    for ran in folder.glob(f"{writer}-*.ran"):
        start, end = map(float, ran.read_text().split())
        events += [(start, 1), (end, -1)]
    running = most = 0
    for _, change in sorted(events):  # at a tie an end sorts first: touching is not overlapping
        running += change
        most = max(most, running)
    return most


def _waited_in_vain(folder: Path) -> bool:
    return any(end - start >= PATIENCE for start, end in
               (map(float, ran.read_text().split()) for ran in folder.glob("*.ran")))


def _double(chunk: int) -> int:
    return chunk * 2


@dataclass(frozen=True)
class _ChunkedFormat(Format):
    """A writer that lays out its chunks in processes, as the printed outputs do."""

    folder: Path = Path()
    chunks: int = 4
    meets: bool = False

    def write(self, doc, target, options, budget=Budget(), progress=None) -> Downscaled:  # noqa: ANN001
        task = partial(_lay_out, self.folder, self.name, self.meets)
        assert list(in_fresh_processes(task, range(self.chunks), budget)) == list(range(self.chunks))
        target.write_text("written")
        return Downscaled()


def test_writers_side_by_side_share_the_processes_and_one_alone_gets_them_all(tmp_path: Path) -> None:
    folder = tmp_path / "chunks"
    folder.mkdir()
    formats = {"short": _ChunkedFormat("short", ".short", "none", folder, chunks=6),
               "long": _ChunkedFormat("long", ".long", "none", folder, chunks=4, meets=True)}
    targets = {name: tmp_path / name for name in formats}
    written = write_outputs(None, targets, BuildOptions(), PROCESSES, formats=formats)
    assert set(written) == set(targets) and all(target.read_text() == "written" for target in targets.values())
    assert _most_at_once(folder) <= PROCESSES  # both writers' chunks together
    assert _most_at_once(folder, "long") == PROCESSES and not _waited_in_vain(folder)  # its old share was 1


@dataclass(frozen=True)
class _OwnWorkFormat(Format):
    """A writer doing its own work, as a bank of one chunk is laid out in the writer itself:
    it stays until every such writer is working beside it."""

    folder: Path = Path()
    writers: int = 3

    def write(self, doc, target, options, budget=None, progress=None) -> Downscaled:  # noqa: ANN001
        (self.folder / f"{self.name}.working").touch()
        started = time.monotonic()
        while len(list(self.folder.glob("*.working"))) < self.writers and time.monotonic() < started + PATIENCE:
            time.sleep(0.01)
        target.write_text("written" if time.monotonic() < started + PATIENCE else "waited in vain")
        return Downscaled()


def test_a_writers_own_work_takes_no_slot(tmp_path: Path) -> None:
    """More writers than slots all work at once: the seed's four writers taking turns for two
    slots left a core idle at the end of the build."""
    folder = tmp_path / "work"
    folder.mkdir()
    names = ("one", "two", "three")
    formats = {name: _OwnWorkFormat(name, f".{name}", "none", folder, len(names)) for name in names}
    targets = {name: tmp_path / name for name in names}
    write_outputs(None, targets, BuildOptions(), PROCESSES, formats=formats)
    assert [target.read_text() for target in targets.values()] == ["written"] * len(names)


def test_a_pool_larger_than_the_budget_runs_no_more_chunks_at_once(tmp_path: Path) -> None:
    larger = replace(Budget.shared(PROCESSES), processes=2 * PROCESSES)
    laid_out = in_fresh_processes(partial(_lay_out, tmp_path, "one", False), range(6), larger)
    assert list(laid_out) == list(range(6))
    assert _most_at_once(tmp_path) <= PROCESSES


def test_the_epub_writers_pandoc_runs_take_the_builds_slots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    running, most, lock = [0], [0], threading.Lock()

    def pandoc(arguments: list[str], stdin: bytes, **options: object) -> bytes:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return b"a part"

    monkeypatch.setattr(epub, "run_pandoc", pandoc)
    monkeypatch.setattr(epub, "join_epubs", lambda parts, book, target: target.write_bytes(b"the book"))
    parts = [SimpleNamespace(html="<h1>part</h1>")] * 6
    epub._write_in_parts(parts, "", [], {}, tmp_path, replace(Budget.shared(1), processes=3), tmp_path / "book.epub")
    assert (tmp_path / "book.epub").read_bytes() == b"the book"
    assert most[0] == 1
