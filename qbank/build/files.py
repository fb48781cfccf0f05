"""Files that must stay whole: the one atomic writer, stale temporaries, and build locks.

Every file a build writes (the outputs, the bank's lock, the output folder's state file) goes
through `atomic_target`: the content is written to `.<name>.<pid>.tmp` beside the target and
moved over it in one rename, so a reader sees the old file or the new one, never half of one,
whatever stops the build (an error, Ctrl-C, SIGKILL, a full disk, a power cut).

A build killed with SIGKILL cannot remove its temporary files; the next build does, and only
those whose process is gone (never the file of a build that is still running).

Two builds must not write the same files at once, so a build holds an exclusive lock on the
folders it writes in (`hold_folder`). It is a flock(2) on the folder itself: no lock file to
leave behind, and the operating system releases it when the process dies, however it dies.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows: builds there are not serialized (WSL, the tested path, has fcntl)
    fcntl = None  # type: ignore[assignment]

TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]+)\.tmp$")


def temporary_path(target: Path) -> Path:
    """Where `atomic_target` writes `target` first: a hidden name carrying this process's id."""
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def target_of(path: Path) -> Path:
    """The file a temporary path stands for (a temporary's target; any other path itself)."""
    match = TEMPORARY.match(path.name)
    return path.with_name(match["name"]) if match else path


@contextmanager
def atomic_target(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; move it into place only if the block succeeds.

    On any failure (including Ctrl-C) the temporary file is removed and `target` keeps its
    previous content, so a failed build never leaves a half-written or missing file. The data
    reaches the disk before the rename, so a power cut cannot leave an empty file in place.
    """
    temporary = temporary_path(target)
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomically(target: Path, data: bytes) -> None:
    with atomic_target(target) as temporary:
        temporary.write_bytes(data)


def _process_is_gone(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files in `folder` left by processes that no longer exist; returns them.

    A temporary file's name carries the id of the process writing it: while that process runs,
    its file is left alone (it may be another build, writing right now). A process id reused by
    an unrelated process keeps its file until that process ends too: safe, if untidy.
    """
    if os.name != "posix":  # os.kill(pid, 0) would end the process on Windows
        return []
    removed = []
    try:
        names = sorted(entry.name for entry in os.scandir(folder) if entry.is_file(follow_symlinks=False))
    except FileNotFoundError:
        return []
    for name in names:
        match = TEMPORARY.match(name)
        if match and _process_is_gone(int(match["pid"])):
            try:
                (folder / name).unlink()
            except FileNotFoundError:  # another build removed it first
                continue
            removed.append(folder / name)
    return removed


class FolderLock:
    """An exclusive flock(2) on a folder, held by this process until `release` (or its death)."""

    def __init__(self, folder: Path, descriptor: int | None, created: list[Path]):
        self.folder = folder
        self._descriptor = descriptor
        self._created = created  # folders made for this lock, deepest last: removed if left empty

    def identity(self) -> tuple[int, int] | None:
        if self._descriptor is None:
            return None
        status = os.fstat(self._descriptor)
        return status.st_dev, status.st_ino

    def release(self) -> None:
        # An output folder made for a build that then wrote nothing (an invalid bank) is removed
        # again, so a failed build leaves no trace; rmdir refuses a folder that is not empty.
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                break
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing releases the lock
            self._descriptor = None


def _missing_folders(folder: Path) -> list[Path]:
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    return list(reversed(missing))


def hold_folder(folder: Path, waiting: Callable[[], None], create: bool = True) -> FolderLock:
    """Lock `folder` (creating it first if `create`), waiting for another process that holds it
    (after calling `waiting` once, so the user knows why nothing happens). Raises OSError if the
    folder cannot be created or opened."""
    while True:
        created = _missing_folders(folder) if create else []
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            return FolderLock(folder, None, created)
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                waiting()
                waiting = lambda: None  # noqa: E731 - said once, however long it takes
                fcntl.flock(descriptor, fcntl.LOCK_EX)
        except OSError as error:
            os.close(descriptor)
            if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                # A file system without locks (some network mounts): build unserialized.
                print(f"warning: {folder} cannot be locked ({error.strerror}); do not run two builds "
                      "of it at once", file=sys.stderr)
                return FolderLock(folder, None, created)
            raise
        # The build we waited for may have removed the folder (it had made it, then wrote
        # nothing); the lock is then on a folder that no longer exists: start again.
        try:
            current = os.stat(folder)
        except FileNotFoundError:
            current = None
        locked = os.fstat(descriptor)
        if current and (current.st_dev, current.st_ino) == (locked.st_dev, locked.st_ino):
            return FolderLock(folder, descriptor, created)
        os.close(descriptor)
