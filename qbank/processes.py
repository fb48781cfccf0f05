"""Child processes that die with the build: no writer or pandoc goes on alone after it;
forked processes that inherit their task instead of unpickling a copy of it; and the budget
of slots for CPU-heavy work that a build's writers share.

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
import traceback
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
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
    """Start-up of a worker process: exit once `parent` has died, by watching its id.

    For processes started from a thread that may end before them (the hosts of chunk layouts,
    writers/paged/pool.py): the kernel's signal (die_with_parent) comes when the *thread* that
    started a process ends, not the process.
    """
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(1)


def subprocess_dies_with_parent() -> dict:
    """Keyword arguments for subprocess.run/Popen: the program is killed if we die (Linux)."""
    return {"preexec_fn": ask_to_die_with_parent} if _prctl is not None else {}


def shared_context() -> multiprocessing.context.BaseContext:
    """The context for locks and queues shared with forked processes and with processes started
    fresh: these get them pickled, which a lock of the fork context refuses (forked processes
    inherit them all the same)."""
    return multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Budget:
    """What a writer may use of the machine: up to `processes` processes at once, each of its
    CPU-heavy steps (a chunk's layout, a pandoc run) holding one of `slots` while it runs.

    A build of several writers shares one set of slots among them all (Budget.shared): the
    writers run side by side and each may take every slot, so a writer left alone keeps every
    core busy; this bounds the memory too, at one chunk's layout or one pandoc run per slot. A
    writer's own work (planning, joining, a bank small enough for one chunk laid out in the
    writer itself) holds no slot: the writers' processes run anyway, one per output, and a slot
    held for it would leave a core idle on a small bank. Only the steps hold slots, and none of
    them waits for another, so the slots cannot deadlock. The semaphore wakes its waiters in
    no set order, but none starves: a holder keeps its slot for one step. Without slots (a
    writer alone), a step just runs.
    """

    processes: int = 1
    slots: multiprocessing.synchronize.BoundedSemaphore | None = None

    @classmethod
    def shared(cls, processes: int) -> Budget:
        """`processes` slots, for writers to share; the semaphore can be handed to processes
        forked or started fresh (shared_context)."""
        return cls(processes, shared_context().BoundedSemaphore(processes))

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot in the block (one CPU-heavy step)."""
        if self.slots is None:
            yield
            return
        with self.slots:
            yield


class ProcessTraceback(Exception):
    """Where a forked process failed: its traceback, as text."""

    def __str__(self) -> str:
        return f"\n{self.args[0]}"


class Forked:
    """call() in a process forked for it, named `name`, which dies with this one. The call is
    inherited, not pickled: a writer's call holds the whole rendered bank, which a pipe would
    copy to each process (at 10,000 items, hundreds of MB). What it returns or raises comes
    back pickled, through a pipe."""

    def __init__(self, call: Callable[[], Any], name: str):
        fork = multiprocessing.get_context("fork")
        self.connection, theirs = fork.Pipe(duplex=False)
        self._process = fork.Process(target=_run_and_send, args=(call, theirs, os.getpid(), name))
        self._process.start()
        theirs.close()

    def outcome(self) -> tuple[bool, Any, str | None] | None:
        """(True, what it returned, None) or (False, what it raised, its traceback), or None if
        it died before it said; once the process has ended."""
        if self.connection.closed:  # asked before, and interrupted
            self._process.join()
            return None
        try:
            return self.connection.recv()
        except EOFError:
            return None
        finally:
            self.connection.close()
            self._process.join()

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode


def result_of(outcome: tuple[bool, Any, str | None] | None, died: str) -> Any:
    """What a Forked call returned; raises what it raised, or BrokenProcessPool(`died`) if it died."""
    if outcome is None:
        raise BrokenProcessPool(died)
    done, value, where = outcome
    if done:
        return value
    raise value from ProcessTraceback(where)


def _run_and_send(call: Callable[[], Any], connection: multiprocessing.connection.Connection, parent: int,
                  name: str) -> None:
    die_with_parent(parent)
    name_this_process(name)
    try:
        outcome = (True, call(), None)
    except BaseException as error:  # noqa: BLE001 - sent to the parent, which raises it
        outcome = (False, error, traceback.format_exc())
    connection.send(outcome)
    connection.close()
