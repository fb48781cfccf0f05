"""Shared test helpers: a private copy of a bank to build, and the build command itself.

Tests never build from source/ directly: a build may update the bank's lock file, and the
repository's own lock must only change when a maintainer edits the bank.
"""

from __future__ import annotations

import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import zlib
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import tinyhtml5

ROOT = Path(__file__).resolve().parents[1]
SEED_BANK = ROOT / "source" / "ai-startup-interview.yaml"
FIXTURES = ROOT / "tests" / "fixtures"
SEED_ITEMS = 30


@dataclass
class Traced:
    """Python's allocations in a traced_memory() block, in bytes, once the block has ended."""

    kept: int = 0  # still allocated at the block's end
    peak: int = 0


@contextmanager
def traced_memory() -> Iterator[Traced]:
    """Trace Python's allocations in the block (tracemalloc): the memory tests' one measure."""
    traced = Traced()
    tracemalloc.start()
    try:
        yield traced
        traced.kept, traced.peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG of grey pixels, so a test bank can have a real image of a known size.

    Compressed row by row: a 16000 x 16000 one (a pixel bomb, 256 MB of pixels in a 250 KB
    file) never exists uncompressed.
    """
    compressor = zlib.compressobj()
    row = b"\x00" + b"\x80" * width  # filter type 0, then the grey values
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


def shown_text(html: str) -> str:
    """The text a browser would show, read with an HTML5 parser (WeasyPrint's own), not our code."""
    return " ".join("".join(tinyhtml5.parse(f"<!DOCTYPE html><body>{html}").itertext()).split())


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


def built_copy(bank: Path, folder: Path, *args: object) -> Path:
    """Every output (or those `args` ask for) of a private copy of `bank`, built into
    `folder`/dist as a user builds it; returns that folder (the copy is in `folder`/bank)."""
    out = folder / "dist"
    result = run_build(copy_bank(bank, folder / "bank"), "--out", out, *args)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def seed_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every output of the seed bank, built once per test session; read, do not modify."""
    return built_copy(SEED_BANK, tmp_path_factory.mktemp("seed"))


@pytest.fixture(scope="session")
def seed_doc(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - a RenderedBank
    """The seed bank loaded and rendered, once per test session, from a copy of it (its lock
    is read, never written); read, do not modify."""
    from qbank.lock import Lock  # the product, imported by the tests that use it
    from qbank.reader import load_bank
    from qbank.render import render_bank

    bank = copy_bank(SEED_BANK, tmp_path_factory.mktemp("seed-doc") / "bank")
    return render_bank(load_bank(bank), Lock.open(bank))


@dataclass
class PreviewServer:
    url: str
    port: int
    folder: Path  # holds seed/ (a copy of the seed bank), hostile/ and math/
    process: subprocess.Popen

    @property
    def seed_bank(self) -> Path:
        return self.folder / "seed" / SEED_BANK.name

    def page(self, slug: str) -> str:
        return f"{self.url}bank/{slug}/"


MATH_BANK = """\
id: math-preview
title: Math
lang: en
items:
  - id: inline-math
    title: Inline math
    question: 'What is $e^{i\\pi}$?'
    answer: {lead: 'It is $-1$, and $$e^{i\\pi} + 1 = 0$$'}
"""


@contextmanager
def running_preview(folder: Path, banks: list[Path], *options: str) -> Iterator[PreviewServer]:
    """`build.py preview` on `banks` (copies in `folder`), as a user starts it, until the block ends."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "preview", "--port", "0", "--out", str(folder / "dist"),
         *options, *map(str, banks)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
    )
    first = process.stdout.readline()
    match = re.match(r"preview: (http://127\.0\.0\.1:(\d+)/)", first)
    if not match:
        process.kill()
        pytest.fail(f"build.py preview did not start: {first}{process.stdout.read()}")
    # Keep reading its output, so a full pipe never blocks the server.
    threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()
    try:
        yield PreviewServer(match.group(1), int(match.group(2)), folder, process)
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl-C: the server closes its socket and exits
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def preview_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreviewServer]:
    """One `build.py preview` for the whole session, on copies of the seed bank, the hostile
    markup bank and a bank with math; tests that edit a bank put it back before they end."""
    folder = tmp_path_factory.mktemp("preview")
    seed = copy_bank(SEED_BANK, folder / "seed")
    hostile = copy_bank(FIXTURES / "hostile" / "markup.yaml", folder / "hostile")
    (folder / "math").mkdir()
    math = folder / "math" / "math.yaml"
    math.write_text(MATH_BANK, encoding="utf-8")
    with running_preview(folder, [seed, hostile, math]) as server:
        yield server
