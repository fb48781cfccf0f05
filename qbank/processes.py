"""Child processes that die with the build: no writer or pandoc goes on alone after it; and
forked processes that inherit their task instead of unpickling a copy of it.

A build killed with SIGKILL (an out-of-memory kill, a CI time-out, a closed laptop) cannot
stop its children itself. On Linux the kernel does it: each child asks, right after it
starts, to be sent SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG). Elsewhere a writer
process watches its parent's id instead and exits once it has changed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

_PR_SET_PDEATHSIG = 1
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


def die_with_parent(parent: int) -> None:
    """Start-up of a forked worker process whose parent is `parent`."""
    if not ask_to_die_with_parent():
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before we asked
        os._exit(1)


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
    holding the rendered bank would copy the whole bank through a pipe for each output and each
    chunk (at 10,000 items, hundreds of MB per process). The stand-in is a plain module
    function; the processes find `task` in this module, as they inherited it when forked.
    """
    global _forked_task
    previous, _forked_task = _forked_task, task
    try:
        yield _run_forked_task
    finally:
        _forked_task = previous
