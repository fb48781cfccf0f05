"""The build as a whole: reproducible, atomic, incremental (issue 6), for every format there is."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass
import time
from pathlib import Path

import pytest
from pypdf import PdfReader
from conftest import ROOT, SEED_BANK, copy_bank, run_build

from qbank import cli
from qbank.writers import WRITERS, Format

BANK_ID = "ai-startup-interview"


def outputs(folder: Path) -> dict[str, bytes]:
    """Every file in an output folder (hidden ones included), by name."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def expected_names() -> set[str]:
    return {writer.output_name(BANK_ID) for writer in WRITERS.values()}


def test_every_format_is_built_by_default(seed_dist: Path) -> None:
    assert expected_names() <= set(outputs(seed_dist))
    assert {"apkg", "pdf", "cards", "epub"} <= set(WRITERS)


def test_two_builds_of_the_same_source_are_byte_identical(tmp_path: Path) -> None:
    bank = copy_bank(SEED_BANK, tmp_path / "bank")
    # The second build writes one output at a time: side by side or not, the bytes are the same.
    for out, jobs in (("first", "2"), ("second", "1")):
        result = run_build(bank, "--out", tmp_path / out, "--force", "--jobs", jobs)
        assert result.returncode == 0, result.stderr
    first, second = outputs(tmp_path / "first"), outputs(tmp_path / "second")
    for name in expected_names():
        assert first[name] == second[name], f"{name} differs between two builds"


def test_source_date_epoch_is_honoured_and_reproducible(tmp_path: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    for out in ("a", "b"):
        bank = copy_bank(SEED_BANK, tmp_path / f"bank-{out}")
        assert run_build(bank, "--out", tmp_path / out, env=env).returncode == 0
    with_epoch, again = outputs(tmp_path / "a"), outputs(tmp_path / "b")
    for name in expected_names():
        assert with_epoch[name] == again[name], name
    # The documents are dated by SOURCE_DATE_EPOCH (2023-11-14T22:13:20Z), as their readers see it.
    with zipfile.ZipFile(tmp_path / "a" / f"{BANK_ID}.epub") as book:
        package = next(name for name in book.namelist() if name.endswith(".opf"))
        assert "2023-11-14T22:13:20Z" in book.read(package).decode("utf-8")
    info = PdfReader(tmp_path / "a" / f"{BANK_ID}.pdf").metadata
    assert info.creation_date.year == 2023 and info.creation_date.month == 11


def test_the_committed_lock_is_current_so_builds_never_read_the_clock(tmp_path: Path) -> None:
    """A clean clone builds from the committed lock alone: the build must not need to add a
    single time to it. (After editing a bank or templates/, build once and commit the lock.)"""
    bank = copy_bank(SEED_BANK, tmp_path / "bank")
    lock_before = bank.with_suffix(".lock").read_bytes()
    assert run_build(bank, "--out", tmp_path / "dist").returncode == 0
    assert bank.with_suffix(".lock").read_bytes() == lock_before


def test_an_edit_moves_only_that_items_time_in_the_lock(seed_copy: Path, tmp_path: Path) -> None:
    import json

    assert run_build(seed_copy, "--out", tmp_path / "dist", "--format", "apkg").returncode == 0
    lock_file = seed_copy.with_suffix(".lock")
    before = json.loads(lock_file.read_text())["entries"]
    text = seed_copy.read_text(encoding="utf-8")
    seed_copy.write_text(text.replace("请简要描述如何设计", "请简要说明如何设计", 1), encoding="utf-8")
    assert run_build(seed_copy, "--out", tmp_path / "dist", "--format", "apkg").returncode == 0
    after = json.loads(lock_file.read_text())["entries"]
    changed = {key for key in after if after[key] != before.get(key)}
    assert changed == {"item:scalable-architecture"}
    assert after["item:scalable-architecture"]["modified"] > before["item:scalable-architecture"]["modified"]


def test_an_invalid_bank_leaves_the_previous_outputs_exactly_as_they_were(seed_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert run_build(seed_copy, "--out", out).returncode == 0
    before = outputs(out)
    seed_copy.write_text(seed_copy.read_text(encoding="utf-8").replace("question:", "questoin:", 1), encoding="utf-8")
    result = run_build(seed_copy, "--out", out, "--force")
    assert result.returncode == 1
    assert "questoin" in result.stderr and "Traceback" not in result.stderr
    assert outputs(out) == before


@dataclass(frozen=True)
class _ExplodingFormat(Format):
    """Writes half a file, then fails: the way a crash or Ctrl-C stops a real writer."""

    error: BaseException = RuntimeError()

    def write(self, doc, target, options, budget=None, progress=None) -> None:  # noqa: ANN001
        # The writers run side by side: fail once every other one is writing its temporary file.
        deadline = time.monotonic() + 120
        while len(list(target.parent.glob(".*.tmp"))) < len(WRITERS) - 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        target.write_bytes(b"half a file")
        raise self.error


@pytest.mark.parametrize("error", [RuntimeError("writer crashed"), KeyboardInterrupt()], ids=["crash", "ctrl-c"])
def test_a_failing_writer_leaves_no_trace(
    error: BaseException, seed_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dist"
    assert cli.main([str(seed_copy), "--out", str(out)]) == 0
    before = outputs(out)
    formats = {**WRITERS, "boom": _ExplodingFormat("boom", ".boom", "none", error)}
    # The failing writer fails once every real writer is writing its temporary file.
    status = cli.main([str(seed_copy), "--out", str(out), "--force", "--format", ",".join(formats)], formats)
    assert status == (130 if isinstance(error, KeyboardInterrupt) else 1)
    assert outputs(out) == before, "a previous output was replaced or a temporary file was left"
    capsys.readouterr()


def test_a_no_op_rebuild_says_unchanged_and_rewrites_nothing(seed_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert run_build(seed_copy, "--out", out).returncode == 0
    stamps = {path.name: path.stat().st_mtime_ns for path in out.iterdir()}
    result = run_build(seed_copy, "--out", out)
    assert result.returncode == 0
    unchanged = [line for line in result.stdout.splitlines() if line.endswith("unchanged")]
    assert len(unchanged) == len(WRITERS), result.stdout
    assert {path.name: path.stat().st_mtime_ns for path in out.iterdir()} == stamps


def test_force_and_changed_inputs_rebuild(seed_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert run_build(seed_copy, "--out", out, "--format", "apkg,pdf").returncode == 0
    forced = run_build(seed_copy, "--out", out, "--format", "apkg,pdf", "--force")
    written = [line for line in forced.stdout.splitlines() if line.endswith(" s") and "  30 items  " in line]
    assert "unchanged" not in forced.stdout and len(written) == 2, forced.stdout
    letter = run_build(seed_copy, "--out", out, "--format", "apkg,pdf", "--paper", "letter")
    # The paper size is an input of both (the options are), so neither is taken as current.
    assert "unchanged" not in letter.stdout
    same = run_build(seed_copy, "--out", out, "--format", "apkg,pdf", "--paper", "letter")
    assert same.stdout.count("unchanged") == 2
    (out / f"{BANK_ID}.apkg").unlink()
    deleted = run_build(seed_copy, "--out", out, "--format", "apkg,pdf", "--paper", "letter")
    assert f"{BANK_ID}.apkg  30 items" in deleted.stdout and deleted.stdout.count("unchanged") == 1


def test_output_lines_name_path_items_size_and_seconds(seed_dist: Path) -> None:
    # seed_dist was built by the same command; build one format again to read its line.
    bank = copy_bank(SEED_BANK, seed_dist.parent / "again")
    result = run_build(bank, "--out", seed_dist.parent / "again-dist", "--format", "apkg")
    line = next(line for line in result.stdout.splitlines() if line.endswith(" s") and ".apkg" in line)
    path, items, size, seconds = (part.strip() for part in line.split("  "))
    assert path.endswith(f"{BANK_ID}.apkg") and items == "30 items"
    assert size.endswith(("KB", "MB")) and float(seconds[:-2]) >= 0


def _lines_of(process: subprocess.Popen[str]) -> "queue.Queue[str]":
    """The process's output lines, read by a thread so that waiting for one can time out."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    return lines


def _wait_for(lines: "queue.Queue[str]", wanted, limit_seconds: float = 120) -> None:  # noqa: ANN001
    deadline = time.monotonic() + limit_seconds
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if wanted(line):
            return
    pytest.fail(f"--watch never printed the expected line; it printed: {seen}")


def test_watch_rebuilds_when_the_bank_is_saved(seed_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), str(seed_copy), "--out", str(out), "--format", "apkg", "--watch"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        # Started with SIGINT ignored, as a script's background job is: Ctrl-C must still stop it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        lines = _lines_of(process)
        _wait_for(lines, lambda line: "watching" in line)
        first = (out / f"{BANK_ID}.apkg").read_bytes()
        text = seed_copy.read_text(encoding="utf-8")
        seed_copy.write_text(text.replace("请简要描述如何设计", "请简要说明如何设计", 1), encoding="utf-8")
        _wait_for(lines, lambda line: ".apkg" in line and line.rstrip().endswith(" s"))
        assert (out / f"{BANK_ID}.apkg").read_bytes() != first
    finally:
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(timeout=30) == 0
        finally:
            process.kill()
