"""The command line: read -> render -> write, for every bank and format asked for.

Subcommands: `build.py [BANK ...]` builds (the default), `build.py import ARTICLE` imports.
Each is a function from its arguments to an exit code, listed in COMMANDS (add one there);
all run inside one error boundary (`_guarded`), and speak through `error` and `note`.

Exit codes: 0 ok, 1 an invalid bank or a failed build, 2 bad usage (130 interrupted).

Every mistake a user or the machine can cause (a missing path, a folder where a file belongs,
a full or read-only disk, a broken lock or template) is reported as one line naming the path
and saying what to do, and leaves the outputs and the lock as they were. A traceback is
printed only for a bug of ours, and then it says so.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import io
import os
import signal
import stat
import sys
import time
import traceback
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterator

from . import __version__
from .files import FolderLock, atomic_target, hold_folder, remove_stale_temporaries, target_of
from .importers import FORMATS, ImportRefused, default_format, read_source, write_bank
from .lint import lint_bank
from . import progress
from .lock import Lock, lock_path
from .model import BankError, CannotBuild, shown_path
from .output import BuildState, media_digest
from .progress import ProgressDisplay
from .reader import MAX_FILE_BYTES, load_bank
from .starter import StarterRefused, write_starter_bank
from .render import render_bank
from .writers import WRITERS, BuildOptions, Downscaled, write_outputs

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT / "source"
DEFAULT_OUT = ROOT / "dist"
WATCH_INTERVAL_SECONDS = 0.5
UNCHANGED = "nothing was changed"
BUG_REPORT = (
    "this is a bug in qbank, not a mistake of yours; please report it in the project's issue tracker, with "
    "the traceback above and what 'python build.py --version' prints"
)


class UsageError(Exception):
    pass


# -- messages ----------------------------------------------------------------------------------


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def _folder(path: Path) -> str:
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
        where, doing = _folder(target.parent), f" (writing {target.name})"
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


def _bug() -> None:
    traceback.print_exc()
    print(f"build.py: {BUG_REPORT}", file=sys.stderr)


# -- paths given on the command line ------------------------------------------------------------


def _no_such_bank(path: Path) -> CannotBuild:
    folder = path.parent
    if not folder.is_dir():
        return CannotBuild(f"{shown_path(path)}: no such file (nor the folder {_folder(folder)}); check the path")
    banks = sorted(p.name for p in folder.glob("*.yaml"))
    close = difflib.get_close_matches(path.name, banks, n=1)
    if close:
        hint = f"did you mean {shown_path(folder / close[0])}?"
    elif banks:
        hint = f"the banks in {_folder(folder)} are {', '.join(banks[:5])}" + (" …" if len(banks) > 5 else "")
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


def read_bank(path: Path) -> bytes:
    """The bank file's bytes, read once for the whole build (the state key and the reader)."""
    if check_bank_path(path).st_size > MAX_FILE_BYTES:
        load_bank(path)  # refuses it for its size, as a BankError, without reading it
    try:
        return path.read_bytes()
    except OSError as failure:
        raise CannotBuild(f"cannot read the bank: {describe_os_error(failure)}") from None


def _out_folder(out: Path) -> Path:
    """`out`, or a UsageError if it (or a folder it would be made in) is not a folder."""
    for candidate in (out, *out.parents):
        if candidate.exists() or candidate.is_symlink():
            if not candidate.is_dir():
                what = "is a file" if candidate == out else f"would be made inside {shown_path(candidate)}, a file"
                raise UsageError(f"--out {shown_path(out)} {what}, not a folder; give a folder (it is created "
                                 "if missing)")
            break
    return out


# -- --version ---------------------------------------------------------------------------------


def versions() -> list[str]:
    """qbank's version and those of the tools that make its outputs."""
    lines = [f"qbank {__version__} ({ROOT})"]
    try:
        from .pandoc import pandoc_path
        import pypandoc

        lines.append(f"pandoc {pypandoc.get_pandoc_version()} ({pandoc_path()})")
    except Exception as failure:  # noqa: BLE001 - a missing tool is what --version is asked to show
        lines.append(f"pandoc: not found ({failure})")
    for name, distribution in (("WeasyPrint", "weasyprint"), ("genanki", "genanki")):
        try:
            lines.append(f"{name} {metadata.version(distribution)}")
        except metadata.PackageNotFoundError:
            lines.append(f"{name}: not installed; run 'bash tasks.sh build'")
    lines.append(f"Python {sys.version.split()[0]} ({sys.executable})")
    return lines


class _Version(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, **kwargs: object):
        super().__init__(option_strings, dest, nargs=0, help="print the versions of qbank, pandoc, WeasyPrint and genanki")

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001, ANN204
        print("\n".join(versions()))
        parser.exit()


# -- build -------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="build.py",
        description="Compile question banks (YAML) into an Anki deck, a PDF cheat sheet and an EPUB.",
        epilog="Other commands: " + "; ".join(command.usage for command in COMMANDS.values()),
    )
    parser.add_argument("banks", nargs="*", type=Path, help="bank files (default: every *.yaml in source/)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: dist/)")
    parser.add_argument(
        "--format",
        default=",".join(WRITERS),
        help=f"comma-separated formats to build (default: all of {', '.join(WRITERS)})",
    )
    parser.add_argument("--check", action="store_true", help="validate and lint only; write nothing")
    parser.add_argument("--force", action="store_true", help="rebuild outputs even if their inputs are unchanged")
    parser.add_argument("--watch", action="store_true", help="rebuild whenever a bank or template is saved")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
        help="use up to N processes' worth of CPU at once, shared by the outputs (default: the number of CPUs; "
        "1 writes one output at a time and keeps memory lowest)",
    )
    parser.add_argument("--paper", choices=("a4", "letter"), default="a4", help="paper size of the PDFs")
    parser.add_argument("--cloze", action="store_true", default=None, help="add the 'recall the key points' cloze card")
    parser.add_argument(
        "--shift-backs", type=float, default=0.0, metavar="MM",
        help="flashcards: shift the back pages horizontally by MM millimetres to match a duplex printer",
    )
    parser.add_argument("--version", action=_Version)
    return parser


def new_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py new", description="Write a commented starter bank that builds as it is.")
    parser.add_argument("bank_id", metavar="BANK_ID", help="the bank's id, a slug such as my-bank (also its file name)")
    parser.add_argument("--lang", required=True, help="BCP 47 language of the bank, e.g. en or zh-CN")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the banks' folder (default: source/)")
    args = parser.parse_args(argv)
    try:
        path = write_starter_bank(args.source, args.bank_id, args.lang)
    except StarterRefused as failure:
        parser.error(str(failure))
    print(f"wrote {path}; build it with: python build.py {path}")
    return 0


def preview_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="build.py preview",
        description="Show every item as its Anki card in a browser, updated whenever the bank or a template is saved.",
    )
    parser.add_argument("banks", nargs="*", type=Path, help="bank files (default: every *.yaml in source/)")
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default: 8000; 0 picks a free one)")
    parser.add_argument("--open", action="store_true", help="open the preview in the default browser")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the built outputs to link are (default: dist/)")
    parser.add_argument("--cloze", action="store_true", default=None, help="show the 'recall the key points' card")
    args = parser.parse_args(argv)
    try:
        banks = _banks(args.banks)
    except UsageError as failure:
        parser.error(str(failure))
    from .preview import serve  # the server's modules load only for this command

    _stop_on_ctrl_c()
    try:
        return serve(banks, args.out, BuildOptions(cloze=args.cloze), args.port, args.open)
    except OSError as failure:  # the port is taken, or not ours to use
        error(f"cannot listen on 127.0.0.1:{args.port}: {failure.strerror or failure}")
        return 1


def _formats(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in WRITERS]
    if unknown or not names:
        raise UsageError(f"unknown format {', '.join(unknown) or '(none)'}; available: {', '.join(WRITERS)}")
    return names


def _banks(paths: list[Path]) -> list[Path]:
    if paths:
        return paths
    found = sorted(DEFAULT_SOURCE.glob("*.yaml"))
    if not found:
        raise UsageError(f"no banks given and none in {DEFAULT_SOURCE}")
    return found


def _report(problems: list, kind: str) -> None:
    for problem in problems:
        print(f"{kind}: {problem}", file=sys.stderr)


def _size(nbytes: int) -> str:
    return f"{nbytes / 1024:,.1f} KB" if nbytes < 1024 * 1024 else f"{nbytes / 1024 / 1024:,.2f} MB"


def _changes(changes: dict[str, int]) -> str:
    """'3 changed, 1 added, 1 retired', or that nothing changed for learners."""
    return ", ".join(f"{count} {kind}" for kind, count in changes.items()) or "no item changed"


def _downscaled(downscaled: Downscaled) -> str:
    if not downscaled.images:
        return ""
    images = "1 image" if downscaled.images == 1 else f"{downscaled.images} images"
    # A flat-colour screenshot can grow: scaling blends its few colours into many.
    change = "saved" if downscaled.saved_bytes >= 0 else "added"
    return f"  ({images} downscaled, {_size(abs(downscaled.saved_bytes))} {change})"


def check_bank(path: Path, processes: int) -> None:
    data = read_bank(path)
    bank = load_bank(path, read=lambda _: data)
    lock = Lock.open(path)
    if lock.repaired:
        note(f"{shown_path(lock.path)}: has a git merge conflict that the next build repairs ({lock.repaired})")
    doc = render_bank(bank, lock, processes)  # vets links and images; the lock is not saved
    warnings = lint_bank(bank)
    _report(warnings, "warning")
    print(f"{path}: {len(bank.items)} items, valid ({len(warnings)} warnings); "
          f"a build would make: {_changes(doc.changes)}")


def build_bank(
    path: Path, formats: list[str], out: Path, options: BuildOptions, force: bool, processes: int,
    state: BuildState | None = None,
) -> None:
    """Build the requested outputs of one bank; unchanged outputs are left alone.

    All outputs are written to temporary files first; the lock is saved, then the outputs are
    moved into place together, only when all succeeded: a failure in any of them leaves every
    previous output of the bank, and the lock, as they were. The caller holds the build locks.
    """
    state = state or BuildState(out)
    bank_bytes = read_bank(path)
    try:
        lock_bytes: bytes | None = lock_path(path).read_bytes()
    except FileNotFoundError:
        lock_bytes = None
    key = state.key(bank_bytes, lock_bytes, options)
    stale = []
    for name in formats:
        current = None if force else state.current_output(path, name, key)
        if current:
            print(f"{current}  unchanged")
        else:
            stale.append(name)
    if not stale:
        return
    started = time.perf_counter()
    lock = Lock.open(path, lock_bytes) if lock_bytes is not None else Lock.open(path)
    # The bank as read is not kept: its Markdown would stay in every writer's process.
    doc = render_bank(load_bank(path, read=lambda _: bank_bytes), lock, processes)
    print(f"{path}: {len(doc.items)} items rendered in {time.perf_counter() - started:.2f} s; "
          f"since the lock: {_changes(doc.changes)}")
    out.mkdir(parents=True, exist_ok=True)
    media = list(doc.media.values())
    targets = {name: out / WRITERS[name].output_name(doc.id) for name in stale}
    for target in targets.values():
        if target.is_dir():  # the move into place would fail only after others were made
            raise CannotBuild(f"{shown_path(target)} is a folder where this output belongs; move it away, or choose "
                              f"another --out; {UNCHANGED}")
    with ExitStack() as moves:
        temporaries = {name: moves.enter_context(atomic_target(target)) for name, target in targets.items()}
        display = ProgressDisplay({name: target.name for name, target in targets.items()}) if progress.wanted() else None
        with display or nullcontext():
            written = write_outputs(doc, temporaries, options, processes, display)
        sizes = {name: temporary.stat().st_size for name, temporary in temporaries.items()}
        digest = media_digest(media)  # the images as they were used, before anything is moved
        if not path.is_file():
            raise CannotBuild(f"{shown_path(path)}: the bank was moved or deleted during the build; {UNCHANGED}")
        lock.save()  # before the outputs: if it fails, they stay as they were too
    if lock.repaired:
        note(f"{shown_path(lock.path)}: repaired a git merge conflict ({lock.repaired}); commit the repaired lock")
    key = state.key(bank_bytes, lock.serialized(), options)  # the lock as saved
    for name, target in targets.items():
        state.record(path, name, key, target, sizes[name], media, digest)
        print(f"{target}  {len(doc.items)} items  {_size(sizes[name])}  {written[name].seconds:.2f} s"
              f"{_downscaled(written[name].downscaled)}")
    try:
        state.save()
    except OSError as failure:
        raise CannotBuild(f"{describe_os_error(failure, out)}; the outputs and the lock were saved, but not the "
                          "record of what they were built from, so the next build makes them again") from None


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
            pids = sorted({path.name.rsplit(".", 2)[1] for path in removed}, key=int)
            note(f"removed {len(removed)} temporary file(s) left in {_folder(folder)} by a build that was killed "
                 f"(process {', '.join(pids)})")
        yield held
    finally:
        held.release()


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        status = folder.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _each_bank(path: Path, out: Path | None, work: Callable[[], None]) -> int:
    """Run one bank's work; report its failure (one line, or its problems) and return 0 or 1."""
    try:
        work()
        return 0
    except BankError as failure:
        _report(failure.problems, "error")
        print(f"{path}: {len(failure.problems)} error(s); nothing was written for this bank", file=sys.stderr)
    except CannotBuild as failure:
        error(str(failure))
    except BrokenProcessPool:
        error(f"a process of the build died (killed by the system for lack of memory?); try again with --jobs 1, which "
              f"needs less memory; {UNCHANGED}")
    except OSError as failure:
        error(f"{describe_os_error(failure, out)}; {UNCHANGED}")
    except Exception:  # a fault of ours or of a tool, not of the bank: keep the details
        _bug()
        print(f"{path}: the build failed; previous outputs are unchanged", file=sys.stderr)
    return 1


def _run(args: argparse.Namespace) -> int:
    formats = [] if args.check else _formats(args.format)
    banks = _banks(args.banks)
    options = BuildOptions(paper=args.paper, cloze=args.cloze, shift_backs_mm=args.shift_backs)
    if args.check:  # reads only: no build lock needed (every file a build writes is replaced whole)
        return max(_each_bank(path, None, lambda path=path: check_bank(path, args.jobs)) for path in banks)
    out = _out_folder(args.out)
    status = 0
    # The output folder is locked for the whole run, each bank's folder (its lock file) while
    # that bank is built: one bank folder at a time, always after the output folder, so two
    # builds can never wait for each other.
    with ExitStack() as held:
        try:
            out_lock = held.enter_context(_holding(out, f"another build is writing to {_folder(out)}; waiting for it"))
        except OSError as failure:  # the folder cannot be made or opened
            raise CannotBuild(describe_os_error(failure, out)) from None
        state = BuildState(out)

        def build(path: Path) -> None:
            check_bank_path(path)
            folder = path.parent
            with _holding(folder, f"another build is using the banks in {_folder(folder)}; waiting for it",
                          create=False, unless=out_lock):
                build_bank(path, formats, out, options, args.force, args.jobs, state)

        for path in banks:
            status = max(status, _each_bank(path, out, lambda path=path: build(path)))
    return status


def _watched_files(banks: list[Path]) -> dict[Path, float]:
    files = [*banks, *(ROOT / "templates").rglob("*")]
    return {f: f.stat().st_mtime_ns for f in files if f.is_file()}


def _stop_on_ctrl_c() -> None:
    """Let SIGINT stop a command that runs until it is stopped (--watch, preview), even when it
    was started with SIGINT ignored (in the background of a script, by some CI runners): Python
    leaves an ignored SIGINT ignored, and Ctrl-C or `kill -INT` would not stop it."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _watch(args: argparse.Namespace) -> int:
    _stop_on_ctrl_c()
    banks = _banks(args.banks)
    seen = _watched_files(banks)
    _run(args)
    print("watching for changes (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(WATCH_INTERVAL_SECONDS)
            now = _watched_files(banks)
            if now != seen:
                seen = now
                _run(args)
    except KeyboardInterrupt:
        return 0


def build_command(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return _watch(args) if args.watch else _run(args)


# -- import ------------------------------------------------------------------------------------


def import_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py import", description="Turn questions you already have into a bank YAML.")
    parser.add_argument("article", type=Path, help="the file to import")
    parser.add_argument("--format", choices=FORMATS, help="article: the numbered interview article; qa: a Markdown "
                        "document of bold or heading questions with free answers; csv: CSV/TSV as Anki exports it or a "
                        "spreadsheet saves it (default: csv for .csv, .tsv, .txt, else article)")
    parser.add_argument("--id", required=True, help="the bank's id (a slug, e.g. ai-startup-interview)")
    parser.add_argument("--lang", required=True, help="BCP 47 language of the article, e.g. zh-CN")
    parser.add_argument("-o", "--output", type=Path, help="where to write the YAML (default: standard output)")
    args = parser.parse_args(argv)
    try:
        imported = read_source(args.article, args.format or default_format(args.article), args.id, args.lang)
    except ImportRefused as failure:
        error(str(failure))
        return 1
    except OSError as failure:
        error(f"cannot read the article: {describe_os_error(failure)}")
        return 1
    if args.output and args.output.is_dir():
        raise CannotBuild(f"{shown_path(args.output)} is a folder; give -o the bank file to write")
    try:
        if args.output:  # a file system's error here is the build's own one line (_guarded)
            write_bank(imported, args.output, args.article)
    except ImportRefused as failure:
        error(str(failure))
        return 1
    except BankError as failure:
        _report(failure.problems, "error")
        return 1
    for line in imported.notes:
        note(line)
    if args.output:
        print(f"wrote {args.output}: {imported.items} items, {len(imported.images)} images ({imported.rule})")
    else:
        sys.stdout.write(imported.yaml)
    return 0


# -- the entry point ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    run: Callable[[list[str]], int]  # its arguments -> the exit code
    usage: str  # one line for `build.py --help`


# `build.py NAME ...` runs COMMANDS[NAME]; anything else is a build.
COMMANDS: dict[str, Command] = {
    "import": Command(import_command, "build.py import ARTICLE.md --id BANK_ID --lang zh-CN [-o BANK.yaml] turns an "
                      "article into a bank"),
    "new": Command(new_command, "build.py new BANK_ID --lang LANG starts a bank"),
    "preview": Command(preview_command, "build.py preview [BANK.yaml] shows it live in a browser"),
}


def _guarded(command: Callable[[list[str]], int], argv: list[str]) -> int:
    """Run a subcommand; whatever escapes it becomes one line and an exit code."""
    try:
        return command(argv)
    except UsageError as failure:
        print(f"build.py: error: {failure}", file=sys.stderr)
        return 2
    except CannotBuild as failure:
        error(str(failure))
        return 1
    except BrokenPipeError:  # the reader went away (`build.py --version | head -1`): nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as failure:
        error(describe_os_error(failure))
        return 1
    except KeyboardInterrupt:
        print("interrupted; outputs already written are complete, the rest are unchanged", file=sys.stderr)
        return 130
    except Exception:
        _bug()
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # One line per output as it is written, also when piped (a log, tee, an editor's --watch pane).
    if isinstance(sys.stdout, io.TextIOWrapper):  # not when a caller has replaced it
        sys.stdout.reconfigure(line_buffering=True)
    command = COMMANDS.get(argv[0]) if argv else None
    return _guarded(command.run, argv[1:]) if command else _guarded(build_command, argv)
