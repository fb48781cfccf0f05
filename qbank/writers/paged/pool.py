"""The processes that lay out chunks: each chunk in a fresh process that ends after it.

A process forked from a writer would count all of the writer's memory (the whole rendered bank)
as its own, and a process that laid out chunk after chunk keeps a heap grown by each. So a
layout starts hosts: processes started fresh (multiprocessing's "spawn") that import the layout
code and hold nothing else. A host forks one process per chunk it is given, which gets the
chunk (an excerpt of the bank) from it, lays it out and ends.

What a host needs, the writer's budget (its slots) and progress, it gets as it starts, as
arguments; a chunk's process inherits them from its host, and its task gets the progress as an
argument. Nothing crosses between processes through a module's variables.
"""

from __future__ import annotations

import atexit
import importlib
import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import partial
from queue import Empty, SimpleQueue
from typing import Any, Callable, Iterator, Sequence

from ...processes import Budget, Forked, result_of, name_this_process, watch_parent
from ...progress import SILENT, Progress

CAN_FORK = "fork" in multiprocessing.get_all_start_methods()
# task(item, progress): what a host runs for an item, in a process of its own.
HostTask = Callable[[Any, Progress], Any]


class _Host:
    """A process started fresh that runs the tasks it is sent, one at a time, each in a process
    it forks for it, which holds one of the budget's slots while it runs."""

    def __init__(self, budget: Budget, progress: Progress):
        spawn = multiprocessing.get_context("spawn")
        self._connection, theirs = spawn.Pipe()
        self._process = spawn.Process(target=_serve, args=(os.getpid(), budget, progress, theirs))
        self._process.start()
        theirs.close()

    def run(self, preload: tuple[str, ...], task: HostTask, item: Any) -> tuple | None:
        """The outcome (processes.Forked.outcome) of task(item, progress) in a process of its own;
        raises BrokenProcessPool if the host died."""
        try:
            self._connection.send((preload, task, item))
            return self._connection.recv()
        except (EOFError, OSError):
            raise BrokenProcessPool(f"a process hosting chunk layouts died ({self._process.exitcode})") from None

    def stop(self) -> None:
        self._connection.close()  # the host reads the end of its tasks, and ends
        self._process.join()


class Hosts:
    """Up to `budget.processes` hosts, started when first needed and stopped at the end of the
    block (with). A host imports the modules a layout preloads before it forks that layout's
    first chunk process, and keeps them for the next layouts."""

    def __init__(self, budget: Budget, progress: Progress = SILENT):
        self.budget = budget
        self.progress = progress
        self._idle: SimpleQueue[_Host] = SimpleQueue()
        self._started: list[_Host] = []
        self._lock = threading.Lock()
        self._threads: ThreadPoolExecutor | None = None

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=True)
            self._threads = None
        with self._lock:
            started, self._started, self._idle = self._started, [], SimpleQueue()
        for host in started:
            host.stop()

    def map(self, task: HostTask, items: Sequence[Any], preload: tuple[str, ...] = ()) -> Iterator[Any]:
        """task(item, progress) for every item, in order, each in a fresh process of its own, up
        to `budget.processes` at once, each holding one of the budget's slots while it runs. The
        results come as they are done, in order; closing the iterator cancels the items not yet
        started and waits for the others. `task` and the items are pickled.

        A process that dies (the system's out-of-memory killer) raises BrokenProcessPool here.
        Without fork (Windows), the items are done here, one after another.
        """
        if not CAN_FORK:
            yield from (task(item, self.progress) for item in items)
            return
        if self._threads is None:  # one thread per host, each waiting for its host's answers
            self._threads = ThreadPoolExecutor(max(1, self.budget.processes), thread_name_prefix="chunk host")
        futures = [self._threads.submit(self._run, preload, task, item) for item in items]
        broken = False
        try:
            for future in futures:
                yield result_of(future.result(), "the process laying out a chunk died")
        except BrokenProcessPool:
            broken = True
            raise
        finally:
            for future in futures:
                future.cancel()
            wait(futures)
            if broken:
                self.__exit__()

    def _run(self, preload: tuple[str, ...], task: HostTask, item: Any) -> tuple | None:
        """In one of the threads: item's outcome from an idle host, or a new one (there are never
        more hosts than threads)."""
        try:
            host = self._idle.get_nowait()
        except Empty:
            host = _Host(self.budget, self.progress)
            with self._lock:
                self._started.append(host)
        outcome = host.run(preload, task, item)
        self._idle.put(host)
        return outcome


# In a main process (a build of one writer, --watch, a test): the hosts kept for the next
# layout, by their number. Never handed to another process.
_kept: dict[int, Hosts] = {}


@contextmanager
def hosts(budget: Budget, progress: Progress = SILENT) -> Iterator[Hosts]:
    """Hosts for one layout. A main process keeps them for its next layout with the same budget
    and progress. A process of the build's own (a writer's) stops them after the layout:
    multiprocessing's exit of such a process waits for its children, and idle hosts never end."""
    if multiprocessing.parent_process() is not None:
        with Hosts(budget, progress) as fresh:
            yield fresh
        return
    kept = _kept.get(budget.processes)
    if kept is None or (kept.budget, kept.progress) != (budget, progress):
        if kept is not None:
            kept.__exit__()
        kept = _kept[budget.processes] = Hosts(budget, progress)
    yield kept


@atexit.register  # before multiprocessing's own exit, which waits for every child
def _stop_kept() -> None:
    while _kept:
        _kept.popitem()[1].__exit__()


def in_fresh_processes(task: Callable[[Any], Any], items: Sequence[Any], budget: Budget,
                       preload: tuple[str, ...] = ()) -> Iterator[Any]:
    """hosts(budget) mapping task(item) over items."""
    with hosts(budget) as started:
        yield from started.map(partial(_without_progress, task), items, preload)


def _without_progress(task: Callable[[Any], Any], item: Any, progress: Progress) -> Any:
    return task(item)


def _serve(parent: int, budget: Budget, progress: Progress, connection: multiprocessing.connection.Connection) -> None:
    """A host: exits once the process that started it has (a process waiting for a slot would
    otherwise wait forever for slots that died with their holders), or once it is sent no more."""
    watch_parent(parent)
    name_this_process(f"{progress.output} layout")
    while True:
        try:
            preload, task, item = connection.recv()
        except EOFError:
            return
        for module in preload:
            importlib.import_module(module)
        with budget.slot():
            outcome = Forked(partial(task, item, progress), f"{progress.output} chunk").outcome()
        connection.send(outcome)
