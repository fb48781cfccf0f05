"""Checking that banks are refused properly: the message's place, exit code 1, no traceback, and
nothing written. Shared by the broken-bank (test_reader) and hostile-bank (test_hostile) tests.

Many banks go through ONE command (`build.py A.yaml B.yaml ...` accepts several), so a table
of refused banks costs one process start; each bank's lines are then picked out of stderr.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from conftest import run_build

from qbank.writers import WRITERS


@dataclass(frozen=True)
class Expected:
    line: int
    column: int
    item: str | None  # the item the message must name; None: a bank-level problem
    says: str  # a fragment of the message


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too) with its bytes; {} if the folder does not exist."""
    if not folder.exists():
        return {}
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@dataclass
class RefusedRun:
    banks: dict[str, Path]  # case -> the bank file that was given to the command
    result: subprocess.CompletedProcess[str]
    folders_before: dict[str, dict[str, bytes]]  # case -> its bank folder before the run
    out: Path
    out_before: dict[str, bytes]

    def errors_of(self, case: str) -> list[str]:
        prefix = f"error: {self.banks[case]}:"
        return [line for line in self.result.stderr.splitlines() if line.startswith(prefix)]

    def assert_reported(self, case: str, expected: list[Expected]) -> None:
        """Exactly `expected`, each at its file:line:col and naming its item, and the summary line."""
        errors = self.errors_of(case)
        bank = self.banks[case]
        for problem in expected:
            where = f"error: {bank}:{problem.line}:{problem.column}:"
            named = f" [item {problem.item}] " if problem.item else " "
            matching = [line for line in errors if line.startswith(where + named) and problem.says in line]
            assert matching, f"no '{where + named}...{problem.says}' in:\n" + "\n".join(errors)
        # No duplicates, nothing unexpected, and bank-level problems do not invent an item.
        assert len(errors) == len(expected), "\n".join(errors)
        assert f"{bank}: {len(expected)} error(s); nothing was written for this bank" in self.result.stderr

    def assert_failed_cleanly(self) -> None:
        assert self.result.returncode == 1, self.result.stderr
        assert "Traceback" not in self.result.stderr
        assert "the build failed" not in self.result.stderr  # that line is for faults of ours

    def assert_nothing_written(self) -> None:
        assert WRITERS, "no output format exists, so 'nothing written' would be checked against nothing"
        assert snapshot(self.out) == self.out_before
        # In particular no lock file: a refused bank has no content whose changes could be dated.
        for case, bank in self.banks.items():
            assert snapshot(bank.parent) == self.folders_before[case], case


def refuse_all(banks: dict[str, Path], out: Path, previous_ids: list[str], *options: object) -> RefusedRun:
    """Run one command over `banks` into `out`, which first receives outputs of an earlier, good
    build (for each bank id in `previous_ids`): a failed build must leave them exactly as they were."""
    out.mkdir()
    for bank_id in previous_ids:
        for writer in WRITERS.values():
            (out / writer.output_name(bank_id)).write_bytes(f"previous {writer.name} output".encode())
    (out / "unrelated.txt").write_text("not ours", encoding="utf-8")
    folders_before = {case: snapshot(bank.parent) for case, bank in banks.items()}
    out_before = snapshot(out)
    result = run_build(*banks.values(), "--out", out, *options)
    return RefusedRun(banks, result, folders_before, out, out_before)
