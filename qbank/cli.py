"""The command line: arguments to calls, and whatever they raise to one line and an exit code.

Subcommands: `build.py [BANK ...]` builds (the default, with qbank/build/), `build.py import
ARTICLE` imports, `build.py pull DECK.apkg` brings Anki's edits back, `build.py new` starts a
bank, `build.py preview` serves the live preview.
Each is a function from its arguments to an exit code, listed in COMMANDS (add one there).

Exit codes: 0 ok, 1 an invalid bank or a failed build, 2 bad usage (130 interrupted).

Every mistake a user or the machine can cause (a missing path, a folder where a file belongs,
a full or read-only disk, a broken lock or template) is reported by `_failed`, the one place
that turns an exception into words: one line naming the path and saying what to do; the
build leaves the outputs and the lock as they were. A traceback is printed only for a bug of
ours, and then it says so.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
import traceback
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, Mapping

from . import __version__
from .build.builder import check_bank
from .build.diagnostics import UNCHANGED, describe_os_error, note, report
from .build.run import building
from .importers import FORMATS, ImportRefused, default_format, read_source, write_bank
from .model import BankError, CannotBuild, shown_path
from .starter import StarterRefused, write_starter_bank
from .watch import Watcher, changes
from .writers import WRITERS, BuildOptions, Format

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT / "source"
DEFAULT_OUT = ROOT / "dist"
WATCH_INTERVAL_SECONDS = 0.5
BUG_REPORT = (
    "this is a bug in qbank, not a mistake of yours; please report it in the project's issue tracker, with "
    "the traceback above and what 'python build.py --version' prints"
)


class UsageError(Exception):
    pass


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


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


def _parser(formats: Mapping[str, Format]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="build.py",
        description="Compile question banks (YAML) into an Anki deck, a PDF cheat sheet and an EPUB.",
        epilog="Other commands: " + "; ".join(command.usage for command in COMMANDS.values()),
    )
    parser.add_argument("banks", nargs="*", type=Path, help="bank files (default: every *.yaml in source/)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: dist/)")
    parser.add_argument(
        "--format",
        default=",".join(formats),
        help=f"comma-separated formats to build (default: all of {', '.join(formats)})",
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


def _formats(value: str, known: Mapping[str, Format]) -> dict[str, Format]:
    """The formats --format names, in its order."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise UsageError(f"unknown format {', '.join(unknown) or '(none)'}; available: {', '.join(known)}")
    return {name: known[name] for name in names}


def _banks(paths: list[Path]) -> list[Path]:
    if paths:
        return paths
    found = sorted(DEFAULT_SOURCE.glob("*.yaml"))
    if not found:
        raise UsageError(f"no banks given and none in {DEFAULT_SOURCE}")
    return found


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


def _run(args: argparse.Namespace, known: Mapping[str, Format]) -> int:
    formats = {} if args.check else _formats(args.format, known)
    banks = _banks(args.banks)
    options = BuildOptions(paper=args.paper, cloze=args.cloze, shift_backs_mm=args.shift_backs)
    if args.check:  # reads only: no build lock needed (every file a build writes is replaced whole)
        return max(_each_bank(path, None, lambda path=path: check_bank(path, args.jobs)) for path in banks)
    out = _out_folder(args.out)
    with building(out, formats, options, args.force, args.jobs) as build:
        return max(_each_bank(path, out, lambda path=path: build(path)) for path in banks)


def _stop_on_ctrl_c() -> None:
    """Let SIGINT stop a command that runs until it is stopped (--watch, preview), even when it
    was started with SIGINT ignored (in the background of a script, by some CI runners): Python
    leaves an ignored SIGINT ignored, and Ctrl-C or `kill -INT` would not stop it."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _watch(args: argparse.Namespace, formats: Mapping[str, Format]) -> int:
    _stop_on_ctrl_c()
    banks = _banks(args.banks)
    templates = ROOT / "templates"
    watcher = Watcher(lambda: [*banks, *(path for path in templates.rglob("*") if path.is_file())])
    _run(args, formats)
    print("watching for changes (Ctrl-C to stop)")
    try:
        for _ in changes({"banks and templates": watcher}, WATCH_INTERVAL_SECONDS):
            _run(args, formats)
    except KeyboardInterrupt:
        return 0


def build_command(argv: list[str], formats: Mapping[str, Format] = WRITERS) -> int:
    """A build of the `formats` (all of them by default) that the arguments choose."""
    args = _parser(formats).parse_args(argv)
    return _watch(args, formats) if args.watch else _run(args, formats)


# -- the other commands ------------------------------------------------------------------------


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
        raise CannotBuild(f"cannot listen on 127.0.0.1:{args.port}: {failure.strerror or failure}") from None


def import_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py import", description="Turn questions you already have into a bank YAML.")
    parser.add_argument("article", type=Path, help="the file to import")
    parser.add_argument("--format", choices=FORMATS, help="article: the numbered interview article; qa: a Markdown "
                        "document of bold or heading questions with free answers; csv: CSV/TSV as Anki exports it or a "
                        "spreadsheet saves it; apkg: an Anki deck or collection (.apkg, .colpkg, collection.anki2), each "
                        "note's GUID kept (default: csv for .csv, .tsv, .txt, apkg for .apkg, .colpkg, .anki2, else article)")
    parser.add_argument("--id", required=True, help="the bank's id (a slug, e.g. ai-startup-interview)")
    parser.add_argument("--lang", required=True, help="BCP 47 language of the article, e.g. zh-CN")
    parser.add_argument("-o", "--output", type=Path, help="where to write the YAML (default: standard output)")
    args = parser.parse_args(argv)
    try:
        imported = read_source(args.article, args.format or default_format(args.article), args.id, args.lang)
    except ImportRefused as failure:
        raise CannotBuild(str(failure)) from None
    except OSError as failure:
        raise CannotBuild(f"cannot read the article: {describe_os_error(failure)}") from None
    if args.output and args.output.is_dir():
        raise CannotBuild(f"{shown_path(args.output)} is a folder; give -o the bank file to write")
    if args.output:  # a file system's error here is the build's own one line
        try:
            write_bank(imported, args.output, args.article)
        except ImportRefused as failure:
            raise CannotBuild(str(failure)) from None
    for line in imported.notes:
        note(line)
    if args.output:
        print(f"wrote {args.output}: {imported.items} items, {len(imported.images)} images ({imported.rule})")
    else:
        sys.stdout.write(imported.yaml)
    return 0


def pull_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py pull", description="Bring edits made in Anki back to the bank: "
                                     "print them as a change to the YAML; --write makes it.")
    parser.add_argument("package", type=Path, help="the deck exported from Anki (.apkg, .colpkg) or a closed "
                        "profile's collection.anki2")
    parser.add_argument("bank", type=Path, nargs="?", help="the bank (default: the bank of source/ whose note type "
                        "the deck holds)")
    parser.add_argument("--write", action="store_true", help="apply the change to the YAML")
    args = parser.parse_args(argv)
    from .importers.pull import pull_into  # pandoc and the render step load only for this command

    try:
        return pull_into(args.package, args.bank, _banks([]) if args.bank is None else [], args.write)
    except ImportRefused as failure:
        raise CannotBuild(str(failure)) from None


# -- the entry point and the error boundary ----------------------------------------------------


@dataclass(frozen=True)
class Command:
    run: Callable[[list[str]], int]  # its arguments -> the exit code
    usage: str  # one line for `build.py --help`


# `build.py NAME ...` runs COMMANDS[NAME]; anything else is a build.
COMMANDS: dict[str, Command] = {
    "import": Command(import_command, "build.py import ARTICLE.md --id BANK_ID --lang zh-CN [-o BANK.yaml] turns an "
                      "article into a bank"),
    "new": Command(new_command, "build.py new BANK_ID --lang LANG starts a bank"),
    "pull": Command(pull_command, "build.py pull DECK.apkg [BANK.yaml] [--write] brings edits made in Anki back"),
    "preview": Command(preview_command, "build.py preview [BANK.yaml] shows it live in a browser"),
}


def _failed(failure: Exception, bank: Path | None = None, out: Path | None = None) -> int:
    """Tell what stopped a command, or one bank's build or check (`bank`, into `out`), and return
    the exit code. A bank's failure also says that its outputs and lock were left as they were;
    the next bank is built all the same."""
    if isinstance(failure, UsageError):
        print(f"build.py: error: {failure}", file=sys.stderr)
        return 2
    if isinstance(failure, BankError):  # a bank's, or one an import would write
        report(failure.problems, "error")
        if bank is not None:
            print(f"{bank}: {len(failure.problems)} error(s); nothing was written for this bank", file=sys.stderr)
    elif isinstance(failure, CannotBuild):
        error(str(failure))
    elif isinstance(failure, BrokenProcessPool):
        error(f"a process of the build died (killed by the system for lack of memory?); try again with --jobs 1, which "
              f"needs less memory; {UNCHANGED}")
    elif isinstance(failure, BrokenPipeError) and bank is None:
        # The reader went away (`build.py --version | head -1`): nothing to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    elif isinstance(failure, OSError):
        error(describe_os_error(failure, out) + (f"; {UNCHANGED}" if bank else ""))
    else:  # a fault of ours or of a tool, not of the bank: keep the details
        traceback.print_exception(failure)
        print(f"build.py: {BUG_REPORT}", file=sys.stderr)
        if bank:
            print(f"{bank}: the build failed; previous outputs are unchanged", file=sys.stderr)
    return 1


def _each_bank(path: Path, out: Path | None, work: Callable[[], None]) -> int:
    try:
        work()
        return 0
    except Exception as failure:  # noqa: BLE001 - told, and the next bank goes on
        return _failed(failure, path, out)


def _guarded(command: Callable[[list[str]], int], argv: list[str]) -> int:
    try:
        return command(argv)
    except KeyboardInterrupt:
        print("interrupted; outputs already written are complete, the rest are unchanged", file=sys.stderr)
        return 130
    except Exception as failure:  # noqa: BLE001 - told in one line (a traceback for a bug)
        return _failed(failure)


def main(argv: list[str] | None = None, formats: Mapping[str, Format] = WRITERS) -> int:
    """Run the command `argv` names; a build chooses among `formats`."""
    argv = sys.argv[1:] if argv is None else argv
    # One line per output as it is written, also when piped (a log, tee, an editor's --watch pane).
    if isinstance(sys.stdout, io.TextIOWrapper):  # not when a caller has replaced it
        sys.stdout.reconfigure(line_buffering=True)
    command = COMMANDS.get(argv[0]) if argv else None
    return _guarded(command.run, argv[1:]) if command else _guarded(lambda argv: build_command(argv, formats), argv)
