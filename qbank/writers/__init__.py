"""One writer per output format, like Sphinx's builders around one parsed environment.

Each format is one module here defining WRITER, an instance of a Writer subclass, plus one
line in WRITERS below. As in Sphinx's builder registry, the module is imported only when
its format is built: the writers pull in WeasyPrint, genanki and fontTools, which take a
second to import, and a no-op rebuild must not pay for them.
"""

from __future__ import annotations

import importlib
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..document import RenderedBank


@dataclass(frozen=True)
class BuildOptions:
    """Choices made on the command line that change what a writer produces."""

    paper: str = "a4"  # a4 | letter, for the printed outputs
    cloze: bool | None = None  # None: as the bank's options say
    shift_backs_mm: float = 0.0  # flashcards: move the backs to calibrate a duplex printer


class Writer:
    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, processes: int = 1) -> None:
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
        return importlib.import_module(f"{__name__}.{self.module}").WRITER

    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, processes: int = 1) -> None:
        self.writer.write(doc, target, options, processes)


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


def _write_timed(name: str, doc: RenderedBank, target: Path, options: BuildOptions, processes: int) -> float:
    started = time.perf_counter()
    WRITERS[name].write(doc, target, options, processes)
    return time.perf_counter() - started


def write_outputs(doc: RenderedBank, targets: dict[str, Path], options: BuildOptions, processes: int) -> dict[str, float]:
    """Write each format's output to its target; returns the seconds each took.

    With more than one process, writers run side by side in forked processes: the two PDFs'
    layouts are CPU-bound and independent, so on two cores a build takes about as long as
    its slowest writers rather than their sum. Each process also returns its memory to the
    system when done. Each writer gets an equal share of the processes for its own work (the
    printed outputs lay out chunks of pages side by side), so a build runs at most about
    `processes` busy processes. The first failure is raised once every writer has stopped, so no
    process is still writing when the caller removes the temporary files.
    """
    if processes <= 1 or len(targets) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return {name: _write_timed(name, doc, target, options, processes) for name, target in targets.items()}
    context = multiprocessing.get_context("fork")  # children inherit WRITERS as the parent has it
    side_by_side = min(processes, len(targets))
    share = max(1, processes // side_by_side)
    with ProcessPoolExecutor(max_workers=side_by_side, mp_context=context) as pool:
        futures = {name: pool.submit(_write_timed, name, doc, target, options, share)
                   for name, target in targets.items()}
        try:
            return {name: future.result() for name, future in futures.items()}
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
