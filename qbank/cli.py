"""The command line: read -> render -> write, for every bank and format asked for.

Exit codes: 0 ok, 1 an invalid bank or a failed build, 2 bad usage.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import traceback
from contextlib import ExitStack
from pathlib import Path

from .importer import ArticleShapeError, article_to_yaml
from .lint import lint_bank
from .lock import Lock
from .model import BankError, MissingTool
from .output import BuildState, atomic_target
from .reader import load_bank
from .render import render_bank
from .writers import WRITERS, BuildOptions, write_outputs

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT / "source"
DEFAULT_OUT = ROOT / "dist"
WATCH_INTERVAL_SECONDS = 0.5


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="build.py",
        description="Compile question banks (YAML) into an Anki deck, a PDF cheat sheet and an EPUB.",
        epilog="Import an article: build.py import ARTICLE.md --id BANK_ID --lang zh-CN [-o BANK.yaml]",
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
        help="write up to N outputs at once, each in its own process (default: the number of CPUs; "
        "1 keeps memory lowest)",
    )
    parser.add_argument("--paper", choices=("a4", "letter"), default="a4", help="paper size of the PDFs")
    parser.add_argument("--cloze", action="store_true", default=None, help="add the 'recall the key points' cloze card")
    parser.add_argument(
        "--shift-backs", type=float, default=0.0, metavar="MM",
        help="flashcards: shift the back pages horizontally by MM millimetres to match a duplex printer",
    )
    return parser


def _import_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py import", description="Turn a Markdown article into a bank YAML.")
    parser.add_argument("article", type=Path)
    parser.add_argument("--id", required=True, help="the bank's id (a slug, e.g. ai-startup-interview)")
    parser.add_argument("--lang", required=True, help="BCP 47 language of the article, e.g. zh-CN")
    parser.add_argument("-o", "--output", type=Path, help="where to write the YAML (default: standard output)")
    args = parser.parse_args(argv)
    try:
        text = article_to_yaml(args.article, args.id, args.lang)
    except (ArticleShapeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.output:
        with atomic_target(args.output) as temporary:
            temporary.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


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


def check_bank(path: Path) -> None:
    bank = load_bank(path)
    doc = render_bank(bank, Lock.open(path))  # vets links and images; the lock is not saved
    warnings = lint_bank(bank)
    _report(warnings, "warning")
    print(f"{path}: {len(bank.items)} items, valid ({len(warnings)} warnings); "
          f"a build would make: {_changes(doc.changes)}")


def build_bank(
    path: Path, formats: list[str], out: Path, options: BuildOptions, force: bool, processes: int
) -> None:
    """Build the requested outputs of one bank; unchanged outputs are left alone.

    All outputs are written to temporary files first and moved into place together at the
    end, so a failure in any of them leaves every previous output of the bank as it was.
    """
    state = BuildState(out)
    key = state.key(path, options)
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
    bank = load_bank(path)
    lock = Lock.open(path)
    doc = render_bank(bank, lock)
    print(f"{path}: {len(doc.items)} items rendered in {time.perf_counter() - started:.2f} s; "
          f"since the lock: {_changes(doc.changes)}")
    out.mkdir(parents=True, exist_ok=True)  # only now: an invalid bank leaves no trace, not even the folder
    with ExitStack() as moves:
        targets = {name: out / WRITERS[name].output_name(bank.id) for name in stale}
        temporaries = {name: moves.enter_context(atomic_target(target)) for name, target in targets.items()}
        seconds = write_outputs(doc, temporaries, options, processes)
        sizes = {name: temporary.stat().st_size for name, temporary in temporaries.items()}
    lock.save()
    key = state.key(path, options)  # after the lock was saved
    for name, target in targets.items():
        state.record(path, name, key, target, list(doc.media.values()))
        print(f"{target}  {len(doc.items)} items  {_size(sizes[name])}  {seconds[name]:.2f} s")
    state.save()


def _run(args: argparse.Namespace) -> int:
    formats = [] if args.check else _formats(args.format)
    banks = _banks(args.banks)
    options = BuildOptions(paper=args.paper, cloze=args.cloze, shift_backs_mm=args.shift_backs)
    status = 0
    for path in banks:
        try:
            if args.check:
                check_bank(path)
            else:
                build_bank(path, formats, args.out, options, args.force, args.jobs)
        except BankError as error:
            _report(error.problems, "error")
            print(f"{path}: {len(error.problems)} error(s); nothing was written for this bank", file=sys.stderr)
            status = 1
        except MissingTool as error:
            print(f"error: {error}", file=sys.stderr)
            status = 1
        except Exception:  # a fault of ours or of a tool, not of the bank: keep the details
            traceback.print_exc()
            print(f"{path}: the build failed; previous outputs are unchanged", file=sys.stderr)
            status = 1
    return status


def _watched_files(banks: list[Path]) -> dict[Path, float]:
    files = [*banks, *(ROOT / "templates").rglob("*")]
    return {f: f.stat().st_mtime_ns for f in files if f.is_file()}


def _watch(args: argparse.Namespace) -> int:
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # One line per output as it is written, also when piped (a log, tee, an editor's --watch pane).
    if isinstance(sys.stdout, io.TextIOWrapper):  # not when a caller has replaced it
        sys.stdout.reconfigure(line_buffering=True)
    if argv[:1] == ["import"]:
        return _import_command(argv[1:])
    args = _parser().parse_args(argv)
    try:
        return _watch(args) if args.watch else _run(args)
    except UsageError as error:
        print(f"build.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; outputs already written are complete, the rest are unchanged", file=sys.stderr)
        return 130
