"""Progress while outputs are written: a bar per output on a terminal, nothing extra elsewhere.

Writers run in forked processes (writers/__init__.py), so they cannot draw on the terminal
themselves: each is given a Progress, whose `report()` puts the step on a multiprocessing
queue that the building process reads and shows with rich. Reporting never changes what a
writer writes; with no display (piped output, CI, a test calling a writer), it does nothing.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from dataclasses import dataclass

from .processes import shared_context


@dataclass(frozen=True)
class Progress:
    """Where a writer sends its steps: `queue`, as `output`'s (a format name). Handed to each
    process that writes, as an argument: forked ones inherit it, fresh ones (the hosts of chunk
    layouts) get it pickled as they start. Without a queue, nobody listens."""

    queue: multiprocessing.queues.Queue | None = None
    output: str | None = None

    @property
    def active(self) -> bool:
        """Whether anyone is listening: writers skip the work of measuring progress otherwise."""
        return self.queue is not None and self.output is not None

    def report(self, done: int, total: int | None, unit: str) -> None:
        """How far the output is: `done` of `total` `unit` (total None: not known; done 0 and
        no total: a step that is not counted, named by `unit`)."""
        if self.active:
            self.queue.put((self.output, done, total, unit))


SILENT = Progress()


def wanted() -> bool:
    """Bars only for a person at a terminal; logs, pipes and CI get plain lines only."""
    return sys.stdout.isatty() and sys.stderr.isatty() and not os.environ.get("CI")


class ProgressDisplay:
    """The bars, one per output, drawn on standard error while the writers run, then erased
    (the build then prints its one line per output, as without a terminal)."""

    def __init__(self, outputs: dict[str, str]):  # format name -> what the bar is called
        from rich.progress import BarColumn, Progress as Bars, TextColumn, TimeElapsedColumn  # a terminal's cost only
        from rich.console import Console

        # Shared with the hosts of chunk layouts, which are not forked (processes.shared_context).
        self.queue: multiprocessing.queues.Queue = shared_context().Queue()
        self._progress = Bars(
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

    def progress(self, output: str) -> Progress:
        """Where `output`'s writer sends its steps."""
        return Progress(self.queue, output)

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
