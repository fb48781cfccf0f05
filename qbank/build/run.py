"""Several banks built into one output folder, each holding the build locks of its folders.

The output folder is locked for the whole run, each bank's folder (its lock file) while that
bank is built: one bank folder at a time, always after the output folder, so two builds can
never wait for each other. Taking a folder's lock also removes the temporary files that
killed builds left in it (files.remove_stale_temporaries).
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterator, Mapping

from ..model import CannotBuild
from ..writers import BuildOptions, Format
from .builder import build_bank
from .diagnostics import check_bank_path, describe_os_error, note, shown_folder
from .files import TEMPORARY, FolderLock, hold_folder, remove_stale_temporaries
from .state import BuildState


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        status = folder.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


@contextmanager
def _holding(
    folder: Path, waiting: str, create: bool = True, unless: FolderLock | None = None
) -> Iterator[FolderLock]:
    """Hold the build lock of `folder` (see files.hold_folder), and remove the temporary files
    that killed builds left in it."""
    if unless is not None and unless.identity() is not None and unless.identity() == _identity(folder):
        yield unless  # already held: the bank's folder is the output folder
        return
    held = hold_folder(folder, lambda: note(waiting), create=create)
    try:
        removed = remove_stale_temporaries(folder)
        if removed:
            pids = sorted({TEMPORARY.match(path.name)["pid"] for path in removed}, key=int)
            note(f"removed {len(removed)} temporary file(s) left in {shown_folder(folder)} by a build that was killed "
                 f"(process {', '.join(pids)})")
        yield held
    finally:
        held.release()


@contextmanager
def building(
    out: Path, formats: Mapping[str, Format], options: BuildOptions, force: bool, processes: int
) -> Iterator[Callable[[Path], None]]:
    """Hold the lock of `out` for the block, which builds each bank with the function yielded
    (build_bank, while it holds the lock of the bank's folder)."""
    with ExitStack() as held:
        try:
            out_lock = held.enter_context(_holding(out, f"another build is writing to {shown_folder(out)}; waiting for it"))
        except OSError as failure:  # the folder cannot be made or opened
            raise CannotBuild(describe_os_error(failure, out)) from None
        state = BuildState(out)

        def build(path: Path) -> None:
            check_bank_path(path)
            folder = path.parent
            with _holding(folder, f"another build is using the banks in {shown_folder(folder)}; waiting for it",
                          create=False, unless=out_lock):
                build_bank(path, formats, out, options, force, processes, state)

        yield build
