"""The processes that lay out chunks: each chunk in a fresh process that ends after it.

A process forked from a writer would count all of the writer's memory (the whole rendered bank)
as its own, and a process that laid out chunk after chunk keeps a heap grown by each. So a
layout starts hosts: processes started fresh (multiprocessing's "spawn") that import the layout
code and hold nothing else. A host forks one process per chunk it is given, which gets the
chunk (an excerpt of the bank) from it, lays it out and ends.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import traceback
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Any, Callable, Iterator, Sequence

from ... import progress
from ...processes import build_slots, die_with_parent, name_this_process, watch_parent

CAN_FORK = "fork" in multiprocessing.get_all_start_methods()

# In a host: the build's slots, which each chunk's process holds while it runs.
_slots: Any = None
# In a main process: the hosts kept for the next layout, by their number.
_kept: dict[int, tuple[tuple, Hosts]] = {}


class Hosts:
    """Up to `processes` hosts, started when first needed and stopped at the end of the block
    (with). A host imports the modules a layout preloads before it forks that layout's first
    chunk process, and keeps them for the next layouts."""

    def __init__(self, processes: int):
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def map(self, task: Callable[[Any], Any], items: Sequence[Any], preload: tuple[str, ...] = ()) -> Iterator[Any]:
        """task(item) for every item, in order, each in a fresh process of its own, up to
        `processes` at once, each holding one of the build's slots while it runs. The results
        come as they are done, in order; closing the iterator cancels the items not yet
        started and waits for the others. `task` and the items are pickled.

        A process that dies (the system's out-of-memory killer) raises BrokenProcessPool here.
        Without fork (Windows), the items are done here, one after another.
        """
        if not CAN_FORK:
            yield from map(task, items)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max(1, self.processes), mp_context=multiprocessing.get_context("spawn"), initializer=_start_host,
                initargs=(os.getpid(), build_slots(), progress.reporting()))
        futures = [self._pool.submit(_in_forked_process, preload, task, item) for item in items]
        try:
            for future in futures:
                yield future.result()
        except BrokenProcessPool:
            self.__exit__()
            self._pool = None
            raise
        finally:
            for future in futures:
                future.cancel()
            wait(futures)


@contextmanager
def hosts(processes: int) -> Iterator[Hosts]:
    """Hosts for one layout. A main process (a build of one writer, --watch, a test) keeps them
    for its next layout with the same build's slots and progress. A process of the build's own
    (a writer's) stops them after the layout: multiprocessing's exit of such a process waits
    for its children, and idle hosts never end."""
    if multiprocessing.parent_process() is not None:
        with Hosts(processes) as fresh:
            yield fresh
        return
    started_with = (build_slots(), progress.reporting())
    kept = _kept.get(processes)
    if kept is None or kept[0] != started_with:
        if kept is not None:
            kept[1].__exit__(None, None, None)
        kept = _kept[processes] = (started_with, Hosts(processes))
    yield kept[1]


def in_fresh_processes(task: Callable[[Any], Any], items: Sequence[Any], processes: int,
                       preload: tuple[str, ...] = ()) -> Iterator[Any]:
    """hosts(processes) mapping task over items."""
    with hosts(processes) as started:
        yield from started.map(task, items, preload)


def _start_host(parent: int, slots: Any, reporting: tuple) -> None:
    """Start-up of a host: it exits once the process that started it has (a process waiting for
    a slot would otherwise wait forever for slots that died with their holders)."""
    global _slots
    watch_parent(parent)
    _slots = slots
    progress.attach(*reporting)
    name_this_process(f"{reporting[1]} layout")


class ChunkTraceback(Exception):
    """Where a chunk's process failed: its traceback, as text."""

    def __str__(self) -> str:
        return f"\n{self.args[0]}"


def _in_forked_process(preload: tuple[str, ...], task: Callable[[Any], Any], item: Any) -> Any:
    """In a host: task(item) in a process forked for it, which holds one slot of the build's."""
    for module in preload:
        importlib.import_module(module)
    fork = multiprocessing.get_context("fork")
    with _slots if _slots is not None else nullcontext():
        reader, writer = fork.Pipe(duplex=False)
        process = fork.Process(target=_run_and_send, args=(partial(task, item), writer, os.getpid()))
        process.start()
        writer.close()
        try:
            outcome = reader.recv()
        except EOFError:  # it died before it sent its result
            outcome = None
        finally:
            reader.close()
            process.join()
    if outcome is None:
        raise BrokenProcessPool(f"the process laying out a chunk died ({process.exitcode})")
    done, value, where = outcome
    if done:
        return value
    raise value from ChunkTraceback(where)


def _run_and_send(call: Callable[[], Any], connection: multiprocessing.connection.Connection, host: int) -> None:
    die_with_parent(host)
    name_this_process(f"{progress.reporting()[1]} chunk")
    try:
        outcome = (True, call(), None)
    except BaseException as error:  # noqa: BLE001 - sent to the host, which raises it
        outcome = (False, error, traceback.format_exc())
    connection.send(outcome)
