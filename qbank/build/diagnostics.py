"""What went wrong with a path or the disk, in one line that names the path and what to do."""

from __future__ import annotations

import difflib
import errno
import os
import stat
import sys
from pathlib import Path

from ..model import CannotBuild, shown_path
from .files import target_of

UNCHANGED = "nothing was changed"


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def report(problems: list, kind: str) -> None:
    """A bank's problems (`kind` "error") or lint's warnings, one line each."""
    for problem in problems:
        print(f"{kind}: {problem}", file=sys.stderr)


def shown_folder(path: Path) -> str:
    shown = shown_path(path)
    return shown if shown.endswith(os.sep) else shown + os.sep


_REASONS = {
    errno.ENOSPC: "no space left on the device",
    getattr(errno, "EDQUOT", errno.ENOSPC): "the disk quota is used up",
    errno.EFBIG: "the file-size limit (ulimit -f) stopped the write",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "the operation is not permitted",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "a folder stands where a file belongs",
    errno.EIO: "input/output error (a failing disk or a lost network drive?)",
}


def describe_os_error(failure: OSError, out: Path | None = None) -> str:
    """One line for an error of the file system: the path, what happened, what to do."""
    raw = failure.filename
    path = Path(os.fsdecode(raw)) if raw is not None else None
    reason = _REASONS.get(failure.errno, failure.strerror or str(failure))
    if path is None:
        return reason
    target = target_of(path)
    writing = target != path  # the file was a temporary one: an output, the lock or the state file
    space = failure.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG, errno.EROFS)
    folder_at_fault = space or failure.errno in (errno.EACCES, errno.EPERM, errno.ENOENT)
    in_out = out is not None and (target == out or target.parent == out)
    is_lock = target.suffix == ".lock" and not in_out
    if writing and folder_at_fault:  # a new file could not be made or filled: name its folder and the file
        where, doing = shown_folder(target.parent), f" (writing {target.name})"
        if failure.errno == errno.ENOENT:
            reason = "no such folder"
    else:
        where, doing = shown_path(target), ""
    advice = ""
    if failure.errno == errno.EFBIG:
        advice = "raise the limit (ulimit -f unlimited)"
    elif space and is_lock:
        advice = "the lock must be saved beside its bank: build from a writable copy of the bank"
    elif space and failure.errno != errno.EROFS:
        advice = "free some space, or choose another --out" if in_out else "free some space"
    elif failure.errno == errno.EROFS:
        advice = "choose another --out" if in_out else "use a writable copy"
    elif failure.errno in (errno.EACCES, errno.EPERM):
        advice = "make it writable, or choose another --out" if in_out else "check its permissions"
    elif failure.errno == errno.ENOENT:
        advice = "it was moved or deleted during the build" if out is not None else "check the path"
    return f"{where}: {reason}{doing}" + (f"; {advice}" if advice else "")


def _no_such_bank(path: Path) -> CannotBuild:
    folder = path.parent
    if not folder.is_dir():
        return CannotBuild(f"{shown_path(path)}: no such file (nor the folder {shown_folder(folder)}); check the path")
    banks = sorted(p.name for p in folder.glob("*.yaml"))
    close = difflib.get_close_matches(path.name, banks, n=1)
    if close:
        hint = f"did you mean {shown_path(folder / close[0])}?"
    elif banks:
        hint = f"the banks in {shown_folder(folder)} are {', '.join(banks[:5])}" + (" …" if len(banks) > 5 else "")
    else:
        hint = "check the path"
    return CannotBuild(f"{shown_path(path)}: no such file; {hint}")


def check_bank_path(path: Path) -> os.stat_result:
    """The bank file's status, or CannotBuild saying why `path` is not a bank file to read."""
    try:
        status = path.stat()
    except FileNotFoundError:
        raise _no_such_bank(path) from None
    except OSError as failure:
        raise CannotBuild(f"cannot read the bank: {describe_os_error(failure)}") from None
    if stat.S_ISDIR(status.st_mode):
        inside = sorted(path.glob("*.yaml"))
        example = f" ({shown_path(inside[0])})" if inside else ""
        raise CannotBuild(f"{shown_path(path)} is a folder, not a bank file; name a bank in it{example}, or give "
                          "no path to build every bank in source/")
    if not stat.S_ISREG(status.st_mode):
        raise CannotBuild(f"{shown_path(path)} is not a regular file (a device or a pipe?); name a bank file")
    return status
