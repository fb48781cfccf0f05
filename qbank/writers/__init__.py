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
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Mapping

from .. import progress
from ..document import RenderedBank
from ..model import MissingTool
from ..processes import cpu_budget, die_with_parent, forked_task, name_this_process

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
    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, processes: int = 1) -> Downscaled:
        """Write the output for `doc` to `target` (a temporary path the caller moves into place),
        in up to `processes` processes (the printed outputs lay out chunks of pages side by side)."""
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

    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, processes: int = 1) -> Downscaled:
        return self.writer.write(doc, target, options, processes)


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


def _write_timed(output: Format, doc: RenderedBank, target: Path, options: BuildOptions, processes: int) -> Written:
    started = time.perf_counter()
    try:
        with progress.writing(output.name):
            downscaled = output.write(doc, target, options, processes)
    except OSError as error:
        if error.filename is None and error.errno in WRITE_ERRORS:
            error.filename = str(target)  # a write to an open file names none: say which it was
        raise
    return Written(time.perf_counter() - started, downscaled)


def _start_writer_process(parent: int, queue: object) -> None:
    die_with_parent(parent)
    progress.attach(queue)


def write_outputs(
    doc: RenderedBank, targets: dict[str, Path], options: BuildOptions, processes: int,
    display: progress.ProgressDisplay | None = None, formats: Mapping[str, Format] = WRITERS,
) -> dict[str, Written]:
    """Write each format's output to its target (`targets` by name in `formats`); returns what
    each reports and the seconds it took.

    With more than one process, every writer runs at once in a forked process of its own, and
    the processes they start for CPU-heavy steps share the build's `processes` slots
    (processes.cpu_budget): each chunk of a printed output's layout, each pandoc run of the
    EPUB. Any writer may take every slot, so the one still running last (on a large bank, the
    cheat sheet) lays its chunks out on every core. At most `processes` chunk layouts or pandoc
    runs are in memory at once. The first failure is raised once every writer has stopped, so
    no process is still writing when the caller removes the temporary files. The writer
    processes die with this one, even when it is killed (SIGKILL) and cannot stop them. With a
    `display`, each writer's steps reach it through its queue.
    """
    queue = display.queue if display else None
    if processes <= 1 or len(targets) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        progress.attach(queue)
        try:
            written = {}
            for name, target in targets.items():
                written[name] = _write_timed(formats[name], doc, target, options, processes)
                if display:
                    display.finished(name)
            return written
        finally:
            progress.attach(None)
    context = multiprocessing.get_context("fork")

    def write(output: tuple[str, Path]) -> Written:
        name_this_process(f"qbank {output[0]}")
        return _write_timed(formats[output[0]], doc, output[1], options, processes)

    with forked_task(write) as inherited, cpu_budget(processes), ProcessPoolExecutor(
        max_workers=len(targets), mp_context=context,
        initializer=_start_writer_process, initargs=(os.getpid(), queue),
    ) as pool:  # with fork, all its processes start at the first submit, inside both blocks
        futures = {name: pool.submit(inherited, (name, target)) for name, target in targets.items()}
        if display:
            for name, future in futures.items():
                future.add_done_callback(lambda _, name=name: display.finished(name))
        try:
            return {name: future.result() for name, future in futures.items()}
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
