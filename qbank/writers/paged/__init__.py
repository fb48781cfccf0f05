"""Paged layout in chunks: a large document laid out a piece at a time, side by side, and joined.

WeasyPrint holds a whole document's boxes in memory (about 0.9 MB per item), so a printed
output of a large bank is laid out in chunks: each in a fresh process of its own (pool.py),
written as a PDF of its own in a temporary folder beside the target, and the chunks' PDFs
joined into one (join.py). The writer decides what a chunk is and how to lay it out; the
plan says how large chunks are and which modules the chunks' processes import; the writer's
budget says how many processes lay them out at once, and the slots they hold.

A chunk's task gets the chunk, the path of the PDF to write and the writer's progress, and is
pickled with the chunk: a chunk carries an excerpt of the bank (RenderedBank.excerpt), never
the whole, so a chunk process's memory does not grow with the bank.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack, closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Container, Iterator, Sequence, TypeVar

from ...processes import Budget
from ...progress import SILENT, Progress
from .join import join_pdfs
from .pool import hosts

Chunk = TypeVar("Chunk")
Result = TypeVar("Result")
Task = Callable[[Chunk, Path, Progress], Result]


@dataclass(frozen=True)
class LayoutPlan:
    """How a writer's document is cut and laid out."""

    items_per_chunk: int
    preload: tuple[str, ...] = ()  # the modules a chunk's task needs, imported before any chunk

    def chunked(self, things: Sequence[Chunk], whole: int = 1) -> list[Sequence[Chunk]]:
        """`things` in chunks of the plan's size, rounded down to a multiple of `whole` (at
        least one whole: the flashcards' chunks are whole sheets)."""
        return chunked(things, max(1, self.items_per_chunk // whole) * whole)


@dataclass(frozen=True)
class PageNumbers:
    """Where a chunk's pages sit in the whole document."""

    first: int  # the number of the chunk's first page (from 1)
    total: int  # the whole document's page count


def chunk_numbers(page_counts: Sequence[int]) -> list[PageNumbers]:
    """The page numbers of chunks of these page counts, laid end to end."""
    firsts = [1 + sum(page_counts[:index]) for index in range(len(page_counts))]
    return [PageNumbers(first, sum(page_counts)) for first in firsts]


def chunked(things: Sequence[Chunk], size: int) -> list[Sequence[Chunk]]:
    """`things` cut into consecutive runs of `size` (at least one run, if empty)."""
    return [things[start:start + size] for start in range(0, len(things), size)] or [things]


class PagedLayout:
    """One document laid out in chunks into `target`, in a temporary folder beside it (with).

    Each chunk runs in a process of its own, even with one process to spare, so the memory of
    a layout goes back to the system after it, up to `budget.processes` at once, each holding
    one of its slots; a single chunk is laid out here, in the caller's process, without a slot.
    """

    def __init__(self, plan: LayoutPlan, target: Path, budget: Budget = Budget(), progress: Progress = SILENT):
        self.plan = plan
        self.target = target
        self.budget = budget
        self.progress = progress
        self._stack = ExitStack()

    def __enter__(self) -> PagedLayout:
        with ExitStack() as stack:
            self._folder = stack.enter_context(tempfile.TemporaryDirectory(dir=self.target.parent, prefix=".chunks-"))
            self._hosts = stack.enter_context(hosts(self.budget, self.progress))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def lay_out(self, task: Task, chunks: Sequence[Chunk], name: str = "part") -> list[tuple[Path, Result]]:
        """Each chunk's PDF, laid out by task(chunk, path, progress), with what the task returned."""
        parts = self._parts(len(chunks), name)
        return list(zip(parts, self._as_done(task, chunks, parts)))

    def lay_out_joined(self, task: Task, chunks: Sequence[Chunk]) -> list[Result]:
        """Lay the chunks out and join them into the target, each as soon as it and those before
        it are done, while the next ones are laid out; what each task returned."""
        parts, results = self._parts(len(chunks), "part"), []
        with closing(self._as_done(task, chunks, parts)) as done:
            join_pdfs(_recorded(parts, done, results), self.target)
        return results

    def join(self, parts: Sequence[Path], stamps: Sequence[Path] = (), continuing: Container[int] = ()) -> None:
        """Join laid-out chunks into the target; with `stamps`, PDFs of as many pages in all,
        each page drawn over the page of the same number; `continuing`: the parts whose first
        outline entry goes on the previous part's last (join.py)."""
        join_pdfs(parts, self.target, stamps=stamps, continuing=continuing)

    def _parts(self, count: int, name: str) -> list[Path]:
        return [Path(self._folder) / f"{name}-{index}.pdf" for index in range(count)]

    def _as_done(self, task: Task, chunks: Sequence[Chunk], parts: list[Path]) -> Iterator[Result]:
        pairs = list(zip(chunks, parts))
        if len(pairs) <= 1:
            return (task(chunk, part, self.progress) for chunk, part in pairs)
        return self._hosts.map(partial(_to_part, task), pairs, self.plan.preload)


def _to_part(task: Task, chunk_and_part: tuple[Chunk, Path], progress: Progress) -> Result:
    return task(*chunk_and_part, progress)


def _recorded(parts: list[Path], done: Iterator[Result], results: list[Result]) -> Iterator[Path]:
    """Each chunk's PDF as soon as its chunk is laid out, what its task returned added to `results`."""
    for part, result in zip(parts, done):
        results.append(result)
        yield part
