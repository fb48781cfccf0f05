"""Progress on long builds: bars on a terminal (a real pseudo-terminal here), plain lines when
piped or in CI, and the same bytes written either way."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, run_build

from qbank.lock import Lock
from qbank.progress import ProgressDisplay
from qbank.reader import load_bank
from qbank.render import render_bank
from qbank.writers import BuildOptions, write_outputs

ESCAPE = "\x1b["
OUTPUT_LINE = r"{path}  30 items  [\d.,]+ [KM]B  [\d.]+ s"


def run_in_terminal(*args: object, env: dict[str, str]) -> tuple[int, str]:
    """Run `python build.py ARGS` with a pseudo-terminal as its standard output and error."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), *map(str, args)],
        stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=env, cwd=ROOT,
    )
    os.close(terminal)
    shown = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 1.0)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the build has exited
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    return process.wait(), shown.decode("utf-8", "replace")


def _without_ci() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "CI"}


def test_a_terminal_sees_each_output_progress_then_one_line_each(seed_copy: Path, tmp_path: Path) -> None:
    status, shown = run_in_terminal(seed_copy, "--out", tmp_path / "terminal", "--format", "apkg,pdf", env=_without_ci())
    assert status == 0, shown
    assert ESCAPE in shown  # rich drew the bars (which steps got drawn depends on timing: see below)
    assert re.search(r"ai-startup-interview\.pdf .* done", shown)
    # The bars are erased; what stays is the line per output a piped build prints.
    last_lines = shown.rsplit("\x1b[2K", 1)[1].splitlines()
    for line, name in zip(last_lines, ("ai-startup-interview.apkg", "ai-startup-interview.pdf"), strict=True):
        assert re.fullmatch(OUTPUT_LINE.format(path=re.escape(str(tmp_path / "terminal" / name))), line), last_lines

    piped = run_build(seed_copy, "--out", tmp_path / "piped", "--format", "apkg,pdf", env=_without_ci())
    assert piped.returncode == 0, piped.stderr
    assert ESCAPE not in piped.stdout + piped.stderr and "laid out" not in piped.stdout + piped.stderr
    for name in ("ai-startup-interview.pdf", "ai-startup-interview.apkg"):
        assert re.search(OUTPUT_LINE.format(path=re.escape(str(tmp_path / "piped" / name))), piped.stdout)
        # Reporting progress changes nothing that is written.
        assert (tmp_path / "terminal" / name).read_bytes() == (tmp_path / "piped" / name).read_bytes()


def test_in_ci_a_terminal_gets_plain_lines_only(seed_copy: Path, tmp_path: Path) -> None:
    status, shown = run_in_terminal(seed_copy, "--out", tmp_path, "--format", "apkg", env={**os.environ, "CI": "true"})
    assert status == 0, shown
    assert ESCAPE not in shown and "notes" not in shown
    assert re.search(OUTPUT_LINE.format(path=re.escape(str(tmp_path / "ai-startup-interview.apkg"))), shown)


def test_writers_report_their_steps_from_their_own_processes(seed_copy: Path, tmp_path: Path) -> None:
    doc = render_bank(load_bank(seed_copy), Lock.open(seed_copy))
    targets = {"apkg": tmp_path / "deck.apkg", "pdf": tmp_path / "sheet.pdf"}
    display = ProgressDisplay({name: target.name for name, target in targets.items()})  # not drawn: read here
    write_outputs(doc, targets, BuildOptions(), processes=2, display=display)
    steps: dict[str, list[tuple]] = {"apkg": [], "pdf": []}
    for _ in range(10_000):
        output, *step = display.queue.get(timeout=10)
        steps[output].append(tuple(step))
        if all(kinds and kinds[-1] == (None, None, "") for kinds in steps.values()):
            break  # both writers said they were done
    assert steps["apkg"] == [(number, 30, "notes") for number in range(1, 31)] + [(None, None, "")]
    pages = [done for done, total, unit in steps["pdf"] if unit == "pages laid out"]
    assert pages == list(range(1, len(pages) + 1)) and len(pages) >= 3  # WeasyPrint's layout, page by page
    assert steps["pdf"][-2:] == [(0, None, "writing the PDF"), (None, None, "")]
