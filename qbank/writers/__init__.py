"""One writer per output format, like Sphinx's builders around one parsed environment.

Each format is one module here defining WRITER, an instance of a Writer subclass, plus one
line in WRITERS below: the one list of formats, which the build and the preview read. As in Sphinx's builder registry, the module is imported only when
its format is built: the writers pull in WeasyPrint, genanki and fontTools, which take a
second to import, and a no-op rebuild must not pay for them.
"""

from __future__ import annotations

import errno
import importlib
import multiprocessing
import multiprocessing.connection
import time
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Mapping

from ..document import RenderedBank
from ..model import MissingTool
from ..processes import Budget, Forked, result_of
from ..progress import SILENT, Progress, ProgressDisplay

# Errors of writing a file that name no file: a writer writes only its target, so they are its.
WRITE_ERRORS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG, errno.EROFS, errno.EIO}


@dataclass(frozen=True)
class BuildOptions:
    """Choices made on the command line that change what a writer produces."""

    paper: str = "a4"  # a4 | letter, for the printed outputs
    cloze: bool | None = None  # None: as the bank's options say
    shift_backs_mm: float = 0.0  # flashcards: move the backs to calibrate a duplex printer


@dataclass(frozen=True)
class Downscaled:
    """The images an output got scaled-down copies of (qbank/writers/images.py)."""

    images: int = 0
    saved_bytes: int = 0  # the originals' sizes less the copies'


@dataclass(frozen=True)
class Written:
    """What the command line reports about an output it wrote."""

    seconds: float
    downscaled: Downscaled


class Writer:
    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, budget: Budget = Budget(),
              progress: Progress = SILENT) -> Downscaled:
        """Write the output for `doc` to `target` (a temporary path the caller moves into place),
        in the processes `budget` allows (the printed outputs lay out chunks of pages side by
        side), telling `progress` its steps."""
        raise NotImplementedError


@dataclass(frozen=True)
class Format:
    """An output format: what the command line needs to know without loading its writer."""

    name: str  # the --format value
    suffix: str  # the output is <out>/<bank id><suffix>
    module: str  # the module in qbank/writers/ that defines WRITER

    def output_name(self, bank_id: str) -> str:
        return f"{bank_id}{self.suffix}"

    @cached_property
    def writer(self) -> Writer:
        try:
            return importlib.import_module(f"{__name__}.{self.module}").WRITER
        except (ImportError, OSError) as error:  # a library, or a system library it loads, is missing
            raise MissingTool(
                f"the {self.name} writer cannot start: {error}; run 'bash tasks.sh build', which installs what it needs"
            ) from None

    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, budget: Budget = Budget(),
              progress: Progress = SILENT) -> Downscaled:
        return self.writer.write(doc, target, options, budget, progress)


# Format name -> Format, in build order.
WRITERS: dict[str, Format] = {
    fmt.name: fmt
    for fmt in (
        Format("apkg", ".apkg", "anki"),
        Format("pdf", ".pdf", "pdf"),
        Format("cards", ".cards.pdf", "cards"),
        Format("epub", ".epub", "epub"),
    )
}


def _write_timed(output: Format, doc: RenderedBank, target: Path, options: BuildOptions, budget: Budget,
                 progress: Progress) -> Written:
    started = time.perf_counter()
    try:
        downscaled = output.write(doc, target, options, budget, progress)
    except OSError as error:
        if error.filename is None and error.errno in WRITE_ERRORS:
            error.filename = str(target)  # a write to an open file names none: say which it was
        raise
    return Written(time.perf_counter() - started, downscaled)


def write_outputs(
    doc: RenderedBank, targets: dict[str, Path], options: BuildOptions, processes: int,
    display: ProgressDisplay | None = None, formats: Mapping[str, Format] = WRITERS,
) -> dict[str, Written]:
    """Write each format's output to its target (`targets` by name in `formats`); returns what
    each reports and the seconds it took.

    With more than one process, every writer runs at once in a forked process of its own, and
    the processes they start for CPU-heavy steps share the build's `processes` slots
    (processes.Budget.shared): each chunk of a printed output's layout, each pandoc run of the
    EPUB. Any writer may take every slot, so the one still running last (on a large bank, the
    cheat sheet) lays its chunks out on every core. At most `processes` chunk layouts or pandoc
    runs are in memory at once. The first failure is raised once every writer has stopped, so
    no process is still writing when the caller removes the temporary files. The writer
    processes die with this one, even when it is killed (SIGKILL) and cannot stop them. With a
    `display`, each writer's steps reach it through its queue.
    """
    def progress(name: str) -> Progress:
        # Without a display nobody listens, but the output's name still names its processes.
        return display.progress(name) if display else Progress(output=name)

    if processes <= 1 or len(targets) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        written = {}
        for name, target in targets.items():
            written[name] = _write_timed(formats[name], doc, target, options, Budget(processes), progress(name))
            if display:
                display.finished(name)
        return written
    budget = Budget.shared(processes)
    running = {name: Forked(partial(_write_timed, formats[name], doc, target, options, budget, progress(name)),
                            f"qbank {name}") for name, target in targets.items()}
    outcomes = {}
    try:
        waiting = {forked.connection: name for name, forked in running.items()}
        while waiting:
            for connection in multiprocessing.connection.wait(list(waiting)):
                name = waiting.pop(connection)
                outcomes[name] = running[name].outcome()
                if display:
                    display.finished(name)
    finally:  # interrupted: wait for every writer to stop all the same
        for name, forked in running.items():
            if name not in outcomes:
                forked.outcome()
    return {name: result_of(outcomes[name], f"the process writing the {name} output died ({running[name].exitcode})")
            for name in targets}
