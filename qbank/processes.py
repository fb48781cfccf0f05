"""Child processes that die with the build: no writer or pandoc goes on alone after it;
forked processes that inherit their task instead of unpickling a copy of it; and the build's
budget of slots for CPU-heavy work, shared by all of them.

A build killed with SIGKILL (an out-of-memory kill, a CI time-out, a closed laptop) cannot
stop its children itself. On Linux the kernel does it: each child asks, right after it
starts, to be sent SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG). Elsewhere a writer
process watches its parent's id instead and exits once it has changed.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
WATCH_SECONDS = 0.2


def _load_prctl():  # noqa: ANN202 - a ctypes function, or None
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Looked up once, before any fork: a forked child calls it without loading anything.
_prctl = _load_prctl()


def ask_to_die_with_parent() -> bool:
    """In a child process: be killed when the parent dies. Returns whether the kernel agreed."""
    return _prctl is not None and _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0


def name_this_process(name: str) -> None:
    """Show this process as `name` (at most 15 bytes are kept) in ps, top and /proc/PID/comm
    (Linux): a build's processes are all Python's, and this tells which output each works on."""
    if _prctl is not None:
        _prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def die_with_parent(parent: int) -> None:
    """Start-up of a forked worker process whose parent is `parent`."""
    if not ask_to_die_with_parent():
        watch_parent(parent)
    if os.getppid() != parent:  # the parent died before we asked
        os._exit(1)


def watch_parent(parent: int) -> None:
    """Start-up of a forked worker process: exit once `parent` has died, by watching its id.

    For the processes of a pool that starts its replacement processes from a thread of its own
    (a process per task): the kernel's signal comes when the *thread* that forked a process
    ends, which happens while the pool shuts down: idle processes killed then may hold the lock
    of the pool's task queue, and the shutdown waits for that lock forever.
    """
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(1)


def subprocess_dies_with_parent() -> dict:
    """Keyword arguments for subprocess.run/Popen: the program is killed if we die (Linux)."""
    return {"preexec_fn": ask_to_die_with_parent} if _prctl is not None else {}


# The task of the processes forked in a forked_task() block (see there).
_forked_task: Callable[[Any], Any] | None = None


def _run_forked_task(argument: Any) -> Any:
    return _forked_task(argument)


@contextmanager
def forked_task(task: Callable[[Any], Any]) -> Iterator[Callable[[Any], Any]]:
    """A stand-in for `task` to hand to a pool of processes forked in the block.

    A pool pickles its task for every call and each process unpickles its own copy: a task
    holding the rendered bank would copy the whole bank through a pipe for each writer (at
    10,000 items, hundreds of MB per process). The stand-in is a plain module function; the
    processes find `task` in this module, as they inherited it when forked. (A chunk's process
    is not forked from its writer, and gets only an excerpt of the bank: writers/paged/.)
    """
    global _forked_task
    previous, _forked_task = _forked_task, task
    try:
        yield _run_forked_task
    finally:
        _forked_task = previous


def shared_context() -> multiprocessing.context.BaseContext:
    """The context for locks and queues shared with forked processes and with processes started
    fresh: these get them pickled, which a lock of the fork context refuses (forked processes
    inherit them all the same)."""
    return multiprocessing.get_context("spawn")


# The build's slots for CPU-heavy work (see cpu_budget), inherited by the processes forked in
# its block; None outside a build of several writers.
_slots: multiprocessing.synchronize.BoundedSemaphore | None = None


@contextmanager
def cpu_budget(slots: int) -> Iterator[None]:
    """At most `slots` of the processes the build starts for CPU-heavy steps (cpu_slot: a chunk's
    layout, a pandoc run) at once, across the writers started in the block.

    The writers run side by side and each may take every slot, so a writer left alone keeps
    every core busy; this bounds the memory too, at one chunk's layout or one pandoc run per
    slot. A writer's own work (planning, joining, a bank small enough for one chunk laid out in
    the writer itself) holds no slot: the writers' processes run anyway, one per output, and a
    slot held for it would leave a core idle on a small bank. Only the steps hold slots, and
    none of them waits for another, so the slots cannot deadlock. The semaphore wakes its
    waiters in no set order, but none starves: a holder keeps its slot for one step.
    """
    global _slots
    previous, _slots = _slots, shared_context().BoundedSemaphore(slots)
    try:
        yield
    finally:
        _slots = previous


def build_slots() -> multiprocessing.synchronize.BoundedSemaphore | None:
    """The slots of the build running in this process (cpu_budget), or None: to hand to a
    process that is not forked from this one, which holds them by itself."""
    return _slots


@contextmanager
def cpu_slot() -> Iterator[None]:
    """Hold one of the build's slots in the block (one CPU-heavy step); without a budget, the
    block just runs."""
    if _slots is None:
        yield
        return
    with _slots:
        yield
