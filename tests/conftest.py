"""Shared test helpers: a private copy of a bank to build, and the build command itself.

Tests never build from source/ directly: a build may update the bank's lock file, and the
repository's own lock must only change when a maintainer edits the bank.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED_BANK = ROOT / "source" / "ai-startup-interview.yaml"
FIXTURES = ROOT / "tests" / "fixtures"
SEED_ITEMS = 30


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A small valid PNG (grey pixels), so a test bank can have a real image of a known size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def copy_bank(bank: Path, folder: Path) -> Path:
    """Copy a bank file, its lock and its folder's images into `folder`; return the copy's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for sibling in bank.parent.iterdir():
        if sibling.is_dir():
            shutil.copytree(sibling, folder / sibling.name, dirs_exist_ok=True)
    shutil.copy2(bank, folder / bank.name)
    lock = bank.with_suffix(".lock")
    if lock.exists():
        shutil.copy2(lock, folder / lock.name)
    return folder / bank.name


def run_build(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python build.py ARGS` the way a user does; returns the finished process."""
    return subprocess.run(
        [sys.executable, str(ROOT / "build.py"), *map(str, args)],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    """A private copy of the seed bank (with its lock) that a test may edit and build."""
    return copy_bank(SEED_BANK, tmp_path / "bank")


@pytest.fixture(scope="session")
def seed_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every output of the seed bank, built once per test session; read, do not modify."""
    folder = tmp_path_factory.mktemp("seed")
    bank = copy_bank(SEED_BANK, folder / "bank")
    out = folder / "dist"
    result = run_build(bank, "--out", out)
    assert result.returncode == 0, result.stderr
    return out
