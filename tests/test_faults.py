"""Faults around the bank (issue 13): every mistake a user or the machine can cause is one
line naming the path and saying what to do, with exit code 1 (2 for bad usage), and leaves
dist/ and the lock byte for byte as they were (or correctly updated), with no temporary file.

Paths, disks, templates, the Python that runs build.py, the lock file people break, the state
file, killed builds and two builds at once: one test per case, with real processes where a
process is what fails (SIGKILL, two builds, a full disk, a user without permissions).
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import pytest
from conftest import ROOT, SEED_BANK, copy_bank, run_build
from refusals import snapshot

from qbank import cli
from qbank.build import builder
from qbank.build.files import atomic_target
from qbank.build.state import STATE_FILE, BuildState
from qbank.lock import ItemEntry, Lock
from qbank.writers import WRITERS, Format

BANK_ID = "ai-startup-interview"
QUICK = "apkg,epub"  # two writers (so they run side by side, in processes), one second together
LIMIT = 180  # seconds any one process of these tests may take


def temporaries(*folders: Path) -> list[str]:
    return sorted(str(path) for folder in folders if folder.exists() for path in folder.rglob(".*.tmp"))


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


class Built:
    """A bank copy built once into `out`, with the bytes of both as they were then."""

    def __init__(self, bank: Path, out: Path):
        self.bank, self.out = bank, out
        self.lock = bank.with_suffix(".lock")
        self.out_before = snapshot(out)
        self.bank_folder_before = snapshot(bank.parent)

    def assert_untouched(self) -> None:
        assert snapshot(self.out) == self.out_before, "dist/ changed"
        assert snapshot(self.bank.parent) == self.bank_folder_before, "the bank's folder (its lock) changed"
        assert temporaries(self.out, self.bank.parent) == []


def build_into(bank: Path, out: Path, formats: str = QUICK, **kwargs: object) -> Built:
    result = run_build(bank, "--out", out, "--format", formats, **kwargs)
    assert result.returncode == 0, result.stderr
    return Built(bank, out)


@pytest.fixture
def built(seed_copy: Path, tmp_path: Path) -> Built:
    return build_into(seed_copy, tmp_path / "dist")


# -- paths -------------------------------------------------------------------------------------


def test_a_missing_bank_is_one_line_in_a_build_and_in_check(built: Built) -> None:
    typo = built.bank.with_name("ai-startup-interveiw.yaml")
    for extra in ((), ("--check",)):
        result = run_build(typo, "--out", built.out, *extra)
        assert result.returncode == 1
        assert error_lines(result.stderr) == [f"error: {typo}: no such file; did you mean {built.bank}?"]
    elsewhere = built.bank.parent / "nowhere" / "bank.yaml"
    result = run_build(elsewhere, "--out", built.out)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"error: {elsewhere}: no such file (nor the folder {elsewhere.parent}/); check the path"
    ]
    built.assert_untouched()


def test_a_folder_given_as_a_bank_is_one_line(built: Built) -> None:
    for extra in ((), ("--check",)):
        result = run_build(built.bank.parent, "--out", built.out, *extra)
        assert result.returncode == 1
        assert error_lines(result.stderr) == [
            f"error: {built.bank.parent} is a folder, not a bank file; name a bank in it ({built.bank}), "
            "or give no path to build every bank in source/"
        ]
    built.assert_untouched()


def test_out_naming_a_file_is_a_usage_error(built: Built) -> None:
    afile = built.out.parent / "notes.txt"
    afile.write_text("mine\n")
    for out in (afile, afile / "dist"):
        result = run_build(built.bank, "--out", out)
        assert result.returncode == 2
        what = "is a file" if out == afile else f"would be made inside {afile}, a file"
        assert error_lines(result.stderr) == [
            f"build.py: error: --out {out} {what}, not a folder; give a folder (it is created if missing)"
        ]
    assert afile.read_text() == "mine\n"
    built.assert_untouched()


# Permissions do not stop root: as root, these builds run without the capabilities that let root
# ignore file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), dropped from the bounding set
# before exec. They are still root, so they can run this checkout's Python wherever it lies.
_PR_CAPBSET_DROP, _CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 24, 1, 2


def _as_an_ordinary_user() -> None:
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
            if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                os._exit(77)


def run_restricted(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "build.py"), *map(str, args)], capture_output=True, text=True, cwd=ROOT,
        preexec_fn=_as_an_ordinary_user, timeout=LIMIT, check=False,
    )


@pytest.fixture
def permissions_apply(tmp_path: Path) -> Iterator[None]:
    """Skips unless a restricted build is refused a file its mode refuses; restores modes after."""
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0o000)
    seen = subprocess.run(["cat", str(probe)], preexec_fn=_as_an_ordinary_user, capture_output=True, check=False)
    if seen.returncode == 0:
        pytest.skip("file permissions do not apply to this user here")
    yield
    for path in tmp_path.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_an_unreadable_bank_is_one_line(built: Built, permissions_apply: None) -> None:
    built.bank.chmod(0o000)
    for extra in ((), ("--check",)):
        result = run_restricted(built.bank, "--out", built.out, *extra)
        assert result.returncode == 1
        assert error_lines(result.stderr) == [
            f"error: cannot read the bank: {built.bank}: permission denied; check its permissions"
        ]
    built.bank.chmod(0o644)  # readable again, for the comparison (a user's tests cannot read it otherwise)
    built.assert_untouched()


def test_an_out_folder_that_is_not_writable_is_one_line(built: Built, permissions_apply: None) -> None:
    built.out.chmod(0o555)  # the outputs are there, but the folder takes no new file
    result = run_restricted(built.bank, "--out", built.out, "--format", "apkg", "--force")
    assert result.returncode == 1, result.stderr
    assert error_lines(result.stderr) == [
        f"error: {built.out}/: permission denied (writing {BANK_ID}.apkg); make it writable, or choose another "
        "--out; nothing was changed"
    ]
    built.assert_untouched()
    # A folder that cannot even be made there.
    result = run_restricted(built.bank, "--out", built.out / "sub", "--format", "apkg")
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"error: {built.out / 'sub'}: permission denied; make it writable, or choose another --out"
    ]
    built.assert_untouched()


# -- disks -------------------------------------------------------------------------------------


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator:
    """mount(size_kb) -> a fresh tmpfs of that size (mount.read_only(point) remounts it read-only); needs root, or sudo without a password (the
    test command run by a user with sudo), and is skipped otherwise."""
    mounted: list[Path] = []
    as_root = [] if os.geteuid() == 0 else ["sudo", "-n"]

    def mount(size_kb: int) -> Path:
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        result = subprocess.run([*as_root, "mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(point)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()}); the file-size-limit test covers writes that fail")
        mounted.append(point)
        return point

    def read_only(point: Path) -> None:
        subprocess.run([*as_root, "mount", "-o", "remount,ro", str(point)], check=True)

    mount.read_only = read_only  # type: ignore[attr-defined]
    yield mount
    for point in mounted:
        subprocess.run([*as_root, "umount", "-l", str(point)], check=False)


def test_a_full_disk_is_one_line_and_changes_nothing(seed_copy: Path, tmp_path: Path, mount_tmpfs) -> None:  # noqa: ANN001
    """A real full disk: a tmpfs with room for the outputs once, not for their rebuild beside them."""
    sizes = build_into(copy_bank(SEED_BANK, tmp_path / "probe"), tmp_path / "probe-dist").out_before
    disk = mount_tmpfs(sum(len(data) for data in sizes.values()) * 3 // 2 // 1024)
    built = build_into(seed_copy, disk / "dist")
    result = run_build(seed_copy, "--out", built.out, "--format", QUICK, "--force")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and re.fullmatch(
        rf"error: {re.escape(str(built.out))}/: no space left on the device \(writing {BANK_ID}\.(apkg|epub)\); "
        r"free some space, or choose another --out; nothing was changed", lines[0]), lines
    built.assert_untouched()


def test_a_file_size_limit_is_one_line_and_changes_nothing(built: Built) -> None:
    """Writes that fail without root: RLIMIT_FSIZE makes the write fail with EFBIG (Python
    ignores SIGXFSZ), as a quota or a full disk would fail it with their own error."""

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    result = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), str(built.bank), "--out", str(built.out), "--format", "apkg", "--force"],
        capture_output=True, text=True, cwd=ROOT, preexec_fn=small_files, timeout=LIMIT, check=False,
    )
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"error: {built.out}/: the file-size limit (ulimit -f) stopped the write (writing {BANK_ID}.apkg); "
        "raise the limit (ulimit -f unlimited); nothing was changed"
    ]
    built.assert_untouched()


def test_a_read_only_disk_is_one_line_and_changes_nothing(seed_copy: Path, mount_tmpfs) -> None:  # noqa: ANN001
    disk = mount_tmpfs(4096)
    built = build_into(seed_copy, disk / "dist")
    mount_tmpfs.read_only(disk)
    result = run_build(seed_copy, "--out", built.out, "--format", QUICK, "--force")
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and re.fullmatch(
        rf"error: {re.escape(str(built.out))}/: the file system is read-only \(writing {BANK_ID}\.(apkg|epub)\); "
        r"choose another --out; nothing was changed", lines[0]), lines
    built.assert_untouched()


def test_a_lock_on_a_read_only_disk_is_one_line(tmp_path: Path, mount_tmpfs) -> None:  # noqa: ANN001
    """A read-only checkout builds while its lock is current; when the lock must change, it says so."""
    disk = mount_tmpfs(1024)
    bank = copy_bank(SEED_BANK, disk)
    text = bank.read_text(encoding="utf-8")
    bank.write_text(text.replace("请简要描述如何设计", "请简要说明如何设计", 1), encoding="utf-8")
    mount_tmpfs.read_only(disk)
    before = snapshot(disk)
    result = run_build(bank, "--out", tmp_path / "dist", "--format", "apkg")
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"error: {disk}/: the file system is read-only (writing {BANK_ID}.lock); the lock must be saved beside its "
        "bank: build from a writable copy of the bank; nothing was changed"
    ]
    assert snapshot(disk) == before
    assert not (tmp_path / "dist").exists()  # made for the build, removed again: it wrote nothing


def test_a_bank_that_vanishes_mid_build_is_one_line(
    built: Built, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = builder.write_outputs

    def write_then_vanish(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seconds = real(*args, **kwargs)
        os.rename(built.bank, built.bank.with_suffix(".moved"))  # as `git checkout other-branch` would
        return seconds

    monkeypatch.setattr(builder, "write_outputs", write_then_vanish)
    status = cli.main([str(built.bank), "--out", str(built.out), "--format", QUICK, "--force"])
    assert status == 1
    assert error_lines(capsys.readouterr().err) == [
        f"error: {built.bank}: the bank was moved or deleted during the build; nothing was changed"
    ]
    os.rename(built.bank.with_suffix(".moved"), built.bank)
    built.assert_untouched()


# -- templates/ ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """build.py, qbank/ and templates/ copied, so a test may break a template (and has no .venv/)."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy2(ROOT / "build.py", root)
    for folder in ("qbank", "templates"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def run_copy(root: Path, *args: object, python: tuple[str, ...] = (sys.executable,)) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*python, str(root / "build.py"), *map(str, args)], capture_output=True, text=True,
                          cwd=root, timeout=LIMIT, check=False)


TEMPLATE_CASES = {
    # case: (file, how it is broken, its line and message)
    "broken": ("anki/front.html", lambda text: text + "{% if %}\n",
               ":{end}: template syntax error: Expected an expression, got 'end of statement block'"),
    "binary": ("anki/back.html", lambda text: "\udcff\udcfe\0PNG",
               ": not a UTF-8 text file, as a template must be (byte 0)"),
    "another version": ("anki/front.html", lambda text: text + "{{ item.difficulty }}\n",
                        ":{end}: 'item' is undefined (a template for another version of qbank?)"),
    "labels not a table": ("labels.yaml", lambda text: "- answer\n- explanation\n",
                           ":1: expected a table of languages (zh: ..., en: ...)"),
    "labels broken": ("labels.yaml", lambda text: text + "  - : [\n",
                      ":{end}: not valid YAML (expected <block end>, but found '-')"),
}


@pytest.mark.parametrize("case", TEMPLATE_CASES)
def test_a_broken_or_foreign_template_is_one_line(case: str, project_copy: Path, tmp_path: Path) -> None:
    name, breaking, says = TEMPLATE_CASES[case]
    bank = copy_bank(SEED_BANK, tmp_path / "bank")
    out = tmp_path / "dist"
    assert run_copy(project_copy, bank, "--out", out, "--format", "apkg").returncode == 0
    built = Built(bank, out)
    template = project_copy / "templates" / name
    original = template.read_bytes()
    template.write_bytes(breaking(original.decode("utf-8")).encode("utf-8", "surrogateescape"))
    try:
        result = run_copy(project_copy, bank, "--out", out, "--format", "apkg")
    finally:
        template.write_bytes(original)
    assert result.returncode == 1
    shown = f"templates/{name}"
    says = says.replace("{end}", str(original.count(b"\n") + 1))  # the line the breaking added
    assert error_lines(result.stderr) == [
        f"error: {shown}{says}; fix it, or restore the original with 'git checkout -- {shown}'"
    ]
    built.assert_untouched()


# -- the Python that runs build.py -------------------------------------------------------------


def test_version_names_qbank_pandoc_weasyprint_and_genanki() -> None:
    result = run_build("--version")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == ["qbank", "pandoc", "WeasyPrint", "genanki", "Python"]
    assert re.match(r"qbank \d+\.\d+\.\d+ ", result.stdout)
    assert re.search(r"^pandoc \d+(\.\d+)+ ", result.stdout, re.M)
    assert re.search(r"^WeasyPrint 70\.", result.stdout, re.M) and re.search(r"^genanki 0\.13\.1$", result.stdout, re.M)


def test_a_python_without_the_dependencies_runs_the_build_under_the_venv(built: Built) -> None:
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv/ in this checkout (bash tasks.sh build makes it)")
    # -S: no site-packages, so this Python lacks every dependency, as the system's python3 does.
    result = subprocess.run([sys.executable, "-S", str(ROOT / "build.py"), "--version"],
                            capture_output=True, text=True, cwd=ROOT, timeout=LIMIT, check=False)
    assert result.returncode == 0, result.stderr
    assert f"({ROOT / '.venv' / 'bin' / 'python'})" in result.stdout.splitlines()[-1]
    result = subprocess.run([sys.executable, "-S", str(ROOT / "build.py"), built.bank, "--out", built.out,
                             "--format", QUICK], capture_output=True, text=True, cwd=ROOT, timeout=LIMIT, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("unchanged") == 2
    built.assert_untouched()


def test_a_python_without_the_dependencies_and_no_venv_says_what_to_run(project_copy: Path, built: Built) -> None:
    assert not (project_copy / ".venv").exists()
    result = run_copy(project_copy, built.bank, "--out", built.out, python=(sys.executable, "-S"))
    assert result.returncode == 1
    version = ".".join(map(str, sys.version_info[:3]))
    assert error_lines(result.stderr) == [
        f"build.py: error: {sys.executable} (Python {version}) lacks qbank's dependencies (yaml, jinja2, pypandoc, "
        "weasyprint, genanki, fontTools, uharfbuzz); run 'bash tasks.sh build' first: it makes .venv/ with all that "
        "qbank needs, and builds (README.md)"
    ]
    built.assert_untouched()


def test_a_python_too_old_says_what_to_run(project_copy: Path) -> None:
    # The version check runs before anything else; an old Python is played by patching it.
    play_old = ("import runpy, sys; sys.version_info = (3, 9, 2); sys.argv = ['build.py', '--version']; "
                f"runpy.run_path({str(project_copy / 'build.py')!r}, run_name='__main__')")
    result = subprocess.run([sys.executable, "-S", "-c", play_old], capture_output=True, text=True,
                            timeout=LIMIT, check=False)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"build.py: error: {sys.executable} (Python 3.9.2) is too old: qbank needs Python 3.11 or newer; run "
        "'bash tasks.sh build' first: it makes .venv/ with all that qbank needs, and builds (README.md)"
    ]


# -- the lock file -----------------------------------------------------------------------------


def _entry_line(text: str, key: str) -> int:
    return text[: text.index(f'"{key}":')].count("\n") + 1


def _conflicted(text: str, key: str, theirs: dict) -> str:
    """The lock as git leaves it when both sides changed the entry `key`: ours, then theirs."""
    start, end = _entry_span(text, key)
    ours = text[start:end]
    their_lines = "".join(f'   "{name}": {json.dumps(value)}{"," if name == "hash" else ""}\n'
                          for name, value in theirs.items())
    return text[:start] + f"<<<<<<< HEAD\n{ours}=======\n{their_lines}>>>>>>> other-branch\n" + text[end:]


ITEM = "item:scalable-architecture"


def _entry_span(text: str, key: str) -> tuple[int, int]:
    """Where the body of the entry `key` starts and ends in the lock's text."""
    start = text.index(f'"{key}": {{\n') + len(f'"{key}": {{\n')
    return start, text.index("  }", start)


def _broken_locks(text: str) -> dict[str, tuple[str, int, str]]:
    """case -> (the broken lock, the line the message names, the message after 'PATH:LINE: ')."""
    entries = json.loads(text)["entries"]
    line = _entry_line(text, ITEM)
    start, end = _entry_span(text, ITEM)
    ours = text[start:end]
    newer = {"hash": entries[ITEM]["hash"], "modified": entries[ITEM]["modified"] + 100}
    conflict = _conflicted(text, ITEM, newer)
    theirs = conflict[conflict.index("=======\n") + 8: conflict.index(">>>>>>>")]
    cut = text[: start + 20]
    fix = ("keep one side of each conflict, or delete the conflicted entries and the next build gives their content "
           "a new time")
    restore = "restore it with 'git checkout -- {lock}'"
    return {
        "conflict, one side not whole": (_conflicted(text, ITEM, {"hash": entries[ITEM]["hash"]}), line + 1,
                                         f"a git merge conflict that cannot be repaired: one side of it is not a "
                                         f"whole lock; {fix}"),
        "conflict markers unpaired": (conflict.replace("=======\n", ""), line + 1, "a git merge conflict whose "
                                      f"markers (<<<<<<< ======= >>>>>>>) do not pair up; {fix}"),
        "hand edit, trailing comma": (text.replace('"version": 1', '"version": 1,'), text.count("\n"),
                                      "not valid JSON (Expecting property name enclosed in double quotes, column 1); "
                                      f"fix this line (an edit by hand?) or {restore}"),
        "hand edit, a time as words": (text[:start] + ours.replace(str(entries[ITEM]["modified"]), '"today"')
                                       + text[end:], line, f"entry '{ITEM}': \"modified\" must be a time in whole "
                                       "seconds since 1970 (before 2100), not \"today\"; fix it, or delete the entry "
                                       "and the next build gives that content a new time"),
        "hand edit, a title as a number": (text[:start] + re.sub(r'"title": "[^"]*"', '"title": 5', ours) + text[end:],
                                           line, f"entry '{ITEM}': \"title\" must be text; fix it, or delete the "
                                           "entry and the next build gives that content a new time"),
        "both sides kept": (text[:start] + ours.rstrip("\n") + ",\n" + theirs + text[end:],
                            line + ours.count("\n") + 1,  # theirs' first key, "hash", right after ours
                            "\"hash\" is given twice here (both sides of a merge kept?); keep one of the two"),
        "cut short": (cut, cut.rstrip().count("\n") + 1, f"the lock file ends in the middle of an entry (cut short?); "
                      f"{restore}"),
        "newer qbank": (text.replace('"version": 1', '"version": 2'), text.count("\n") - 1, "written by a newer "
                        "qbank (lock version 2, this one reads 1); update qbank to build this bank"),
        "not a lock": ('{"name": "left-pad", "lockfileVersion": 3}\n', 1, "this is not a qbank lock file (no "
                       "\"version\" and \"entries\"); it is where the lock of the bank beside it belongs, so move it "
                       "away and build again"),
    }


@pytest.fixture(scope="module")
def broken_lock_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every broken lock, each beside its own copy of the seed bank, through ONE build command."""
    folder = tmp_path_factory.mktemp("locks")
    text = SEED_BANK.with_suffix(".lock").read_text(encoding="utf-8")
    banks, expected = [], {}
    for number, (case, (broken, line, says)) in enumerate(_broken_locks(text).items()):
        bank = folder / "source" / f"bank{number}.yaml"
        bank.parent.mkdir(exist_ok=True)
        shutil.copy2(SEED_BANK, bank)
        bank.with_suffix(".lock").write_text(broken, encoding="utf-8")
        banks.append(bank)
        lock = bank.with_suffix(".lock")
        expected[case] = f"error: {lock}:{line}: {says.format(lock=lock)}"
    out = folder / "dist"
    before = snapshot(folder)
    result = run_build(*banks, "--out", out, "--format", "apkg")
    return {"result": result, "expected": expected, "before": before, "folder": folder, "out": out}


@pytest.mark.parametrize("case", list(_broken_locks(SEED_BANK.with_suffix(".lock").read_text(encoding="utf-8"))))
def test_a_broken_lock_is_one_line_with_its_line_and_what_to_do(case: str, broken_lock_run: dict) -> None:
    result = broken_lock_run["result"]
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert broken_lock_run["expected"][case] in lines, "\n".join(lines)
    assert len(lines) == len(broken_lock_run["expected"])  # one line per broken lock, nothing else
    assert "Traceback" not in result.stderr
    assert snapshot(broken_lock_run["folder"]) == broken_lock_run["before"]  # no lock touched, no dist/
    assert not broken_lock_run["out"].exists()


def test_an_empty_lock_is_one_line(built: Built) -> None:
    built.lock.write_bytes(b"")
    built = Built(built.bank, built.out)
    result = run_build(built.bank, "--out", built.out, "--format", QUICK)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"error: {built.lock}: the lock file is empty (cut short?); restore it with 'git checkout -- {built.lock}', "
        "or delete it to give every item a new time (learners then get every note again)"
    ]
    built.assert_untouched()


def test_a_merge_conflict_in_the_lock_is_repaired_keeping_the_newer_times(built: Built) -> None:
    text = built.lock.read_text(encoding="utf-8")
    entries = json.loads(text)["entries"]
    same = entries[ITEM]
    other = "item:class-imbalance"
    # ITEM: both sides have the bank's content, theirs built later: its later time is kept.
    # other: theirs has other content and the later time: the bank's content is stamped later still.
    newer = {"hash": same["hash"], "modified": same["modified"] + 100}
    changed = {"hash": "0" * 64, "modified": entries[other]["modified"] + 50}
    built.lock.write_text(_conflicted(_conflicted(text, ITEM, newer), other, changed), encoding="utf-8")
    check = run_build(built.bank, "--check")
    assert check.returncode == 0
    assert [line for line in error_lines(check.stderr) if not line.startswith("warning:")] == [
        f"note: {built.lock}: has a git merge conflict that the next build repairs (the sides disagree on "
        f"{other}, {ITEM}; each keeps the newer time, so learners' notes only move forward)"
    ]
    result = run_build(built.bank, "--out", built.out, "--format", QUICK, env={**os.environ, "SOURCE_DATE_EPOCH": "1"})
    assert result.returncode == 0, result.stderr
    assert error_lines(result.stderr) == [
        f"note: {built.lock}: repaired a git merge conflict (the sides disagree on {other}, {ITEM}; each keeps the "
        "newer time, so learners' notes only move forward); commit the repaired lock"
    ]
    repaired = json.loads(built.lock.read_text(encoding="utf-8"))["entries"]
    def dated(entry: dict) -> dict:  # what the repair decides; an item's entry also keeps its title
        return {"hash": entry["hash"], "modified": entry["modified"]}

    assert dated(repaired[ITEM]) == newer
    assert dated(repaired[other]) == {"hash": entries[other]["hash"], "modified": changed["modified"] + 1}
    assert {key: value for key, value in repaired.items() if key not in (ITEM, other)} == {
        key: value for key, value in entries.items() if key not in (ITEM, other)}
    assert "<<<<<<<" not in built.lock.read_text(encoding="utf-8")
    assert temporaries(built.out, built.bank.parent) == []


# -- the state file in dist/ -------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "cut short", "foreign JSON", "entries of another shape"])
def test_a_damaged_or_foreign_state_file_is_ignored_and_rebuilt(damage: str, built: Built) -> None:
    state = built.out / STATE_FILE
    text = state.read_text(encoding="utf-8")
    state.write_bytes({
        "garbage": b"\x89PNG\r\n\x1a\n\0\0",
        "cut short": text[: len(text) // 2].encode(),
        "foreign JSON": b'["not", "our", "state"]',
        "entries of another shape": json.dumps({name: {"key": 1} for name in json.loads(text)}).encode(),
    }[damage])
    result = run_build(built.bank, "--out", built.out, "--format", QUICK)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and "unchanged" not in result.stdout  # rebuilt, silently
    assert json.loads(state.read_text(encoding="utf-8")).keys() == json.loads(text).keys()
    built.assert_untouched()  # the same outputs again, and the state file as it was


# -- saves are atomic --------------------------------------------------------------------------


def test_an_interrupted_lock_or_state_save_leaves_the_old_file(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock and the state file go through the one atomic writer: a save that fails halfway
    (a full disk, Ctrl-C) leaves the previous file whole and no temporary file."""
    def half_then_fail(self: Path, data: bytes) -> int:
        with open(self, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise KeyboardInterrupt

    lock = Lock.open(built.bank)
    lock = replace(lock, entries=replace(lock.entries, items={**lock.entries.items, "new": ItemEntry("f" * 64, 1)}))
    state = BuildState(built.out)
    state.entries["another"] = {}
    monkeypatch.setattr(Path, "write_bytes", half_then_fail)
    for save in (lock.save, state.save):
        with pytest.raises(KeyboardInterrupt):
            save()
    monkeypatch.undo()
    built.assert_untouched()


def test_the_one_atomic_writer_removes_its_temporary_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_target(target) as temporary:
        assert temporary.name == f".out.bin.{os.getpid()}.tmp"
        temporary.write_bytes(b"half")
        raise RuntimeError
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


# -- processes: SIGKILL, two builds at once ----------------------------------------------------


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in map(int, children.read_text().split()):
            found |= {child, *_descendants(child)}
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has finished; only its exit status waits to be collected


def _wait_until(condition, limit: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {limit} s for {what}")
        time.sleep(0.05)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc (Linux)")
def test_a_killed_build_takes_its_writers_with_it_and_the_next_build_cleans_up(seed_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    # apkg and epub first: their temporary files are there within a second, the PDFs still being laid out.
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), str(seed_copy), "--out", str(out), "--format", "apkg,epub,pdf,cards",
         "--jobs", "2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until(lambda: temporaries(out) and len(_descendants(process.pid)) >= 2, LIMIT, "the writers to start")
        writers = _descendants(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=LIMIT)
        _wait_until(lambda: not any(map(_running, writers)), 10, f"the writer processes {writers} to die")
    finally:
        process.kill()
    left = temporaries(out)
    assert left and all(f".{process.pid}.tmp" in name for name in left)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == []  # nothing moved into place
    # A temporary file of a live process (a build still writing) must survive; the dead one's lock
    # temporary in the bank's folder must not.
    live = out / f".{BANK_ID}.pdf.{os.getpid()}.tmp"
    live.write_bytes(b"being written")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale_lock = seed_copy.parent / f".{BANK_ID}.lock.{dead.pid}.tmp"
    stale_lock.write_bytes(b"{")
    lock_before = seed_copy.with_suffix(".lock").read_bytes()
    result = run_build(seed_copy, "--out", out, "--format", "apkg,epub,pdf,cards")
    assert result.returncode == 0, result.stderr
    assert error_lines(result.stderr) == [
        f"note: removed {len(left)} temporary file(s) left in {out}/ by a build that was killed (process {process.pid})",
        f"note: removed 1 temporary file(s) left in {seed_copy.parent}/ by a build that was killed (process {dead.pid})",
    ]
    assert temporaries(out, seed_copy.parent) == [str(live)] and live.read_bytes() == b"being written"
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == {
        f"{BANK_ID}.apkg", f"{BANK_ID}.epub", f"{BANK_ID}.pdf", f"{BANK_ID}.cards.pdf"}
    assert seed_copy.with_suffix(".lock").read_bytes() == lock_before


def test_two_builds_at_once_take_turns(seed_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    command = [sys.executable, str(ROOT / "build.py"), str(seed_copy), "--out", str(out), "--format", "apkg,pdf"]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = None
    try:
        _wait_until(lambda: temporaries(out), LIMIT, "the first build to write")  # it holds the lock
        second = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first_out, first_err = first.communicate(timeout=LIMIT)
        second_out, second_err = second.communicate(timeout=LIMIT)
    finally:
        for process in (first, second):
            if process:
                process.kill()
    assert first.returncode == 0 and second.returncode == 0, first_err + second_err
    assert first_err == ""
    assert error_lines(second_err) == [f"note: another build is writing to {out}/; waiting for it"]
    # The second build read the state only after the first had saved it: it found both outputs current.
    assert second_out.splitlines() == [f"{out / BANK_ID}.apkg  unchanged", f"{out / BANK_ID}.pdf  unchanged"]
    assert temporaries(out, seed_copy.parent) == []
    assert seed_copy.with_suffix(".lock").read_bytes() == SEED_BANK.with_suffix(".lock").read_bytes()


def test_a_build_of_a_bank_in_use_waits_even_into_another_folder(seed_copy: Path, tmp_path: Path) -> None:
    """Builds of the same bank into two folders share its lock file: they wait for each other too.
    Here the test itself holds the bank folder's lock, as a running build would."""
    holder = os.open(seed_copy.parent, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    out = tmp_path / "elsewhere"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), str(seed_copy), "--out", str(out), "--format", "apkg"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert select.select([process.stderr], [], [], LIMIT)[0], "the build said nothing while it waited"
        waiting = process.stderr.readline()
        assert waiting == f"note: another build is using the banks in {seed_copy.parent}/; waiting for it\n"
        time.sleep(1)
        assert process.poll() is None and not list(out.glob(f"{BANK_ID}*"))  # nothing written while it waits
    finally:
        os.close(holder)  # releases the lock
    try:
        stdout, stderr = process.communicate(timeout=LIMIT)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert (out / f"{BANK_ID}.apkg").exists() and temporaries(out, seed_copy.parent) == []


# -- bugs of ours, and other commands ----------------------------------------------------------


def test_a_bug_of_ours_shows_its_traceback_and_says_where_to_report_it(
    built: Built, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(builder, "render_and_date", broken)
    assert cli.main([str(built.bank), "--out", str(built.out), "--format", QUICK, "--force"]) == 1
    stderr = capsys.readouterr().err
    assert "Traceback" in stderr and "ZeroDivisionError" in stderr
    assert f"build.py: {cli.BUG_REPORT}" in stderr.splitlines()
    built.assert_untouched()


@dataclass(frozen=True)
class _KilledWriter(Format):
    """A writer whose process is killed, as the system's out-of-memory killer would kill it."""

    def write(self, doc, target, options, budget=None, progress=None) -> None:  # noqa: ANN001
        target.write_bytes(b"half a file")
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_writer_process_killed_by_the_system_is_one_line(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    formats = {**WRITERS, "oom": _KilledWriter("oom", ".oom", "none")}
    status = cli.main([str(built.bank), "--out", str(built.out), "--format", "apkg,oom", "--jobs", "2", "--force"],
                      formats)
    assert status == 1
    assert error_lines(capsys.readouterr().err) == [
        "error: a process of the build died (killed by the system for lack of memory?); try again with --jobs 1, which "
        "needs less memory; nothing was changed"
    ]
    built.assert_untouched()


def test_an_output_path_taken_by_a_folder_is_one_line(built: Built) -> None:
    (built.out / f"{BANK_ID}.epub").unlink()
    (built.out / f"{BANK_ID}.epub").mkdir()
    built = Built(built.bank, built.out)
    result = run_build(built.bank, "--out", built.out, "--format", QUICK, "--force")
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"error: {built.out / BANK_ID}.epub is a folder where this output belongs; move it away, or choose another "
        "--out; nothing was changed"
    ]
    built.assert_untouched()


def test_import_makes_a_missing_folder_but_a_file_in_the_way_is_one_line(tmp_path: Path) -> None:
    """A new bank's folder is made for it, as --out makes the outputs' folder; a path that cannot
    be a folder is one line, and nothing is written."""
    article = ROOT / "tests" / "fixtures" / "seed-article.md"
    target = tmp_path / "new" / "bank.yaml"
    result = run_build("import", article, "--id", "x", "--lang", "zh-CN", "-o", target)
    assert result.returncode == 0, result.stderr
    assert target.read_text(encoding="utf-8").startswith("# yaml-language-server:")
    (tmp_path / "file").write_text("not a folder")
    target = tmp_path / "file" / "bank.yaml"
    result = run_build("import", article, "--id", "x", "--lang", "zh-CN", "-o", target)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [f"error: {target.parent}: a part of the path is a file, not a folder"]
    assert (tmp_path / "file").read_text() == "not a folder"
