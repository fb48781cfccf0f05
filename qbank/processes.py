"""Child processes that die with the build: no writer or pandoc goes on alone after it;
forked processes that inherit their task instead of unpickling a copy of it; fresh processes
from a fork server, which hold none of the build's memory; and the build's budget of slots
for CPU-heavy work, shared by all of them.

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
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any, Callable, Iterator, Sequence

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
    is not forked from its writer, and gets only an excerpt of the bank: printing.map_chunks.)
    """
    global _forked_task
    previous, _forked_task = _forked_task, task
    try:
        yield _run_forked_task
    finally:
        _forked_task = previous


_HAS_FORK_SERVER = "forkserver" in multiprocessing.get_all_start_methods()


def shared_context() -> multiprocessing.context.BaseContext:
    """The context for locks and queues shared with forked processes and with those a fork
    server starts: these get them pickled, which a lock of the fork context refuses (forked
    processes inherit them all the same)."""
    return multiprocessing.get_context("forkserver" if _HAS_FORK_SERVER else "spawn")

# The build's slots for CPU-heavy work (see cpu_budget), inherited by the processes forked in
# its block and handed to those of a fork server; None outside a build of several writers.
_slots: multiprocessing.synchronize.BoundedSemaphore | None = None


@contextmanager
def cpu_budget(slots: int) -> Iterator[None]:
    """At most `slots` of the processes the build starts for CPU-heavy steps (cpu_slot: a chunk's
    layout, a pandoc run) at once, across the writers started in the block.

    The writers run side by side and each may take every slot, so a writer left alone keeps
    every core busy; this bounds the memory too, at one chunk's layout or one pandoc run per
    slot. A writer's own work (planning, joining, a bank small enough for one chunk laid out in
    the writer itself) holds no slot: the writers' processes run anyway, one per output, and a
    slot held for it left a core idle on a small bank (the seed's four writers, taking turns,
    took 0.15 s longer than side by side). Only the steps hold slots, and none of them waits
    for another, so the slots cannot deadlock. The semaphore wakes its waiters in no set order,
    but none starves: a holder keeps its slot for one step.
    """
    global _slots
    previous, _slots = _slots, shared_context().BoundedSemaphore(slots)
    try:
        yield
    finally:
        _slots = previous


@contextmanager
def cpu_slot() -> Iterator[None]:
    """Hold one of the build's slots in the block (one CPU-heavy step); without a budget, the
    block just runs."""
    if _slots is None:
        yield
        return
    with _slots:
        yield


def map_in_fresh_processes(task: Callable[[Any], Any], items: Sequence[Any], processes: int, preload: list[str],
                           start: Callable[..., None], start_arguments: tuple) -> Iterator[Any]:
    """task(item) for every item, in order, each in a process of its own that ends after it, up
    to `processes` at once, each holding one of the build's slots while it runs; each process
    first calls start(*start_arguments). The results come as they are done, in order, so the
    caller can use each while the next are made.

    The processes are forked from a fork server (multiprocessing's "forkserver"): a fresh
    process that has imported the modules `preload` names and holds nothing else. A process
    forked from the caller would count all of the caller's memory as its own (shared until
    written to, but resident all the same). So `task` and the items are pickled. Without fork
    servers (Windows), the items are done here, one after another.

    A process that dies (the system's out-of-memory killer) breaks the pool: BrokenProcessPool
    is raised here, where a multiprocessing.Pool would wait for its result forever. A caller
    that stops early (closes the iterator) cancels the items not yet started.
    """
    if not _HAS_FORK_SERVER:
        for item in items:
            yield task(item)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload)
    with ProcessPoolExecutor(max(1, min(processes, len(items))), mp_context=context,
                             initializer=_start_fresh_process, initargs=(_slots, start, start_arguments),
                             max_tasks_per_child=1) as workers:
        yield from workers.map(partial(_in_slot, task), items)


def _start_fresh_process(slots: multiprocessing.synchronize.BoundedSemaphore | None, start: Callable[..., None],
                         start_arguments: tuple) -> None:
    """Start-up of a process from a fork server: it takes its slots from the build's budget and
    exits once its parent, the fork server, has. The server ends with the process that started
    it, and a process waiting for a slot would otherwise wait forever for slots that died with
    their holders."""
    global _slots
    _slots = slots
    watch_parent(os.getppid())
    start(*start_arguments)


def _in_slot(task: Callable[[Any], Any], item: Any) -> Any:
    with cpu_slot():
        return task(item)


def _forget_the_parents_fork_server() -> None:
    """In a forked process: start a fork server of our own when one is needed. multiprocessing
    would reuse the parent's, but first checks that it is alive with waitpid(), which only the
    server's parent may call (ChildProcessError elsewhere: e.g. in a writer process forked from
    a build that has laid chunks out itself)."""
    server = multiprocessing.forkserver._forkserver  # the one the "forkserver" context uses
    if server._forkserver_alive_fd is not None:
        os.close(server._forkserver_alive_fd)  # held open, it would keep the parent's server alive
    server._forkserver_pid = server._forkserver_address = server._forkserver_alive_fd = None


if _HAS_FORK_SERVER:
    import multiprocessing.forkserver

    os.register_at_fork(after_in_child=_forget_the_parents_fork_server)
