"""Progress while outputs are written: a bar per output on a terminal, nothing extra elsewhere.

Writers run in forked processes (writers/__init__.py), so they cannot draw on the terminal
themselves: each calls `report()`, which puts the step on a multiprocessing queue that the
building process reads and shows with rich. Reporting never changes what a writer writes;
with no display attached (piped output, CI, a test calling a writer), `report()` does nothing.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from .processes import shared_context

# Set in each process that writes: where to send steps, and which output is being written.
_queue: multiprocessing.queues.Queue | None = None
_output: str | None = None


def attach(queue: multiprocessing.queues.Queue | None, output: str | None = None) -> None:
    """Send this process's steps to `queue` (a writer process's initializer), as `output`'s
    (a chunk process's, with what its writer's reporting() gives)."""
    global _queue, _output
    _queue, _output = queue, output


@contextmanager
def writing(output: str) -> Iterator[None]:
    """Steps reported in the block belong to `output` (a format name)."""
    global _output
    _output = output
    try:
        yield
    finally:
        _output = None


def reporting() -> tuple[multiprocessing.queues.Queue | None, str | None]:
    """Where this process's steps go and for which output: attach()'s arguments for a process
    that is not forked from this one (a host of chunk layouts, writers/paged/pool.py)."""
    return _queue, _output


def active() -> bool:
    """Whether anyone is listening: writers skip the work of measuring progress otherwise."""
    return _queue is not None and _output is not None


def report(done: int, total: int | None, unit: str) -> None:
    """How far the current output is: `done` of `total` `unit` (total None: not known; done 0
    and no total: a step that is not counted, named by `unit`)."""
    if active():
        _queue.put((_output, done, total, unit))


def wanted() -> bool:
    """Bars only for a person at a terminal; logs, pipes and CI get plain lines only."""
    return sys.stdout.isatty() and sys.stderr.isatty() and not os.environ.get("CI")


class ProgressDisplay:
    """The bars, one per output, drawn on standard error while the writers run, then erased
    (the build then prints its one line per output, as without a terminal)."""

    def __init__(self, outputs: dict[str, str]):  # format name -> what the bar is called
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # a terminal's cost only
        from rich.console import Console

        # Shared with the hosts of chunk layouts, which are not forked (processes.shared_context).
        self.queue: multiprocessing.queues.Queue = shared_context().Queue()
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[step]}"), TimeElapsedColumn(),
            console=Console(file=sys.stderr), transient=True,
        )
        # A task's clock starts with its writer's first step: a writer may wait for a share of the CPU.
        self._tasks = {name: self._progress.add_task(label, total=None, step="waiting", start=False)
                       for name, label in outputs.items()}
        self._reader = threading.Thread(target=self._read, name="progress", daemon=True)

    def _read(self) -> None:
        while (step := self.queue.get()) is not None:
            output, done, total, unit = step
            self._progress.start_task(self._tasks[output])  # no-op once started
            if done is None:
                self._progress.update(self._tasks[output], completed=1, total=1, step="done")
            else:
                shown = f"{done}/{total} {unit}" if total else f"{done} {unit}" if done else unit
                self._progress.update(self._tasks[output], completed=done, total=total, step=shown)

    def finished(self, output: str) -> None:
        """`output` is written. Sent through the queue, behind the steps its writer reported."""
        self.queue.put((output, None, None, ""))

    def __enter__(self) -> "ProgressDisplay":
        self._progress.start()
        self._reader.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.queue.put(None)
        self._reader.join()
        self._progress.stop()
