"""The EPUB as assistive technology meets it: Ace by DAISY (the accessibility checker publishers
use, axe-core in Chromium on every page plus its checks of the package) and Chromium's
accessibility tree (what a screen reader is given to read).

Both are Node.js programs on Debian's chromium, installed by `bash tasks.sh test` (tests/ace/).
Ace takes about a minute: its tests are marked `ace`, so that a local run can leave them out
with `-m "not ace"`. CI runs them all, and a missing Ace or chromium fails them.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, ROOT, SEED_BANK, SEED_ITEMS, built_copy
from epubread import Book

ACE_FOLDER = ROOT / "tests" / "ace"
ACE = ACE_FOLDER / "node_modules" / ".bin" / "ace-cli"
ACCESSIBILITY_TREE = ACE_FOLDER / "accessibility-tree.js"
# Debian's chromium binary itself (/usr/bin/chromium is a shell script around it), unless
# PUPPETEER_EXECUTABLE_PATH names another Chrome or Chromium.
CHROMIUM = Path(os.environ.get("PUPPETEER_EXECUTABLE_PATH", "/usr/lib/chromium/chromium"))
TECHNICAL_BANK = FIXTURES / "technical" / "bank.yaml"


@dataclass(frozen=True)
class Violation:
    page: str
    rule: str
    impact: str
    where: tuple[str, ...]  # CSS selectors of the elements
    element: str  # their HTML


def _browser_environment(home: Path) -> dict[str, str]:
    """Node finds Debian's chromium; Ace's settings and logs go to `home`, not the user's."""
    return {
        **os.environ, "PUPPETEER_EXECUTABLE_PATH": str(CHROMIUM), "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }


def _ace(book: Path, folder: Path) -> dict:
    """Ace's JSON report on `book`."""
    assert ACE.exists() and CHROMIUM.exists(), "Ace or chromium is missing: run `bash tasks.sh test`"
    result = subprocess.run(
        [str(ACE), "--silent", "--force", "--outdir", str(folder / "report"), str(book)],
        capture_output=True, text=True, env=_browser_environment(folder), check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((folder / "report" / "report.json").read_text(encoding="utf-8"))


def _violations(report: dict) -> list[Violation]:
    return [
        Violation(
            page=page["earl:testSubject"]["url"],
            rule=check["earl:test"]["dct:title"],
            impact=check["earl:test"]["earl:impact"],
            where=tuple(check["earl:result"].get("earl:pointer", {}).get("css", [])),
            element=check["earl:result"].get("html", ""),
        )
        for page in report["assertions"]
        for check in page.get("assertions", [])
        if check["earl:result"]["earl:outcome"] == "fail"
    ]


def _accessibility_trees(files: list[Path], home: Path) -> dict[Path, dict]:
    """Chromium's accessibility tree of each XHTML file."""
    assert CHROMIUM.exists(), "chromium is missing: run `bash tasks.sh test`"
    result = subprocess.run(
        ["node", str(ACCESSIBILITY_TREE), *map(str, files)],
        capture_output=True, text=True, env=_browser_environment(home), cwd=ACE_FOLDER, check=False,
    )
    assert result.returncode == 0, result.stderr
    return {Path(file): tree for file, tree in json.loads(result.stdout).items()}


def _nodes(tree: dict):
    yield tree
    for child in tree.get("children", []):
        yield from _nodes(child)


def _unpacked(book: Path, folder: Path) -> Path:
    with zipfile.ZipFile(book) as archive:
        archive.extractall(folder)
    return folder


@pytest.fixture(scope="module")
def seed_epub(seed_dist: Path) -> Path:
    return seed_dist / "ai-startup-interview.epub"


@pytest.fixture(scope="module")
def technical_epub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_copy(TECHNICAL_BANK, tmp_path_factory.mktemp("technical"), "--format", "epub") / "technical-bank.epub"


@pytest.fixture(scope="module")
def seed_report(seed_epub: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _ace(seed_epub, tmp_path_factory.mktemp("ace-seed"))


@pytest.fixture(scope="module")
def technical_report(technical_epub: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _ace(technical_epub, tmp_path_factory.mktemp("ace-technical"))


@pytest.mark.ace
def test_ace_finds_no_violation_in_the_seed_book(seed_report: dict):
    assert _violations(seed_report) == []
    assert seed_report["earl:result"]["earl:outcome"] == "pass"
    # Ace checked every page of the book, the navigation and the package.
    checked = {page["earl:testSubject"]["url"].lstrip("/").removeprefix("EPUB/") for page in seed_report["assertions"]}
    assert {"nav.xhtml", "content.opf", "text/ch001.xhtml", f"text/ch{3 + 2 * SEED_ITEMS + 1:03d}.xhtml"} <= checked


@pytest.mark.ace
def test_ace_reads_the_accessibility_metadata_and_the_conformance_claim(seed_report: dict):
    metadata = seed_report["a11y-metadata"]
    assert metadata["empty"] == []
    assert {
        "schema:accessMode", "schema:accessModeSufficient", "schema:accessibilityFeature",
        "schema:accessibilityHazard", "schema:accessibilitySummary", "dcterms:conformsTo", "a11y:certifiedBy",
    } <= set(metadata["present"])
    package = seed_report["earl:testSubject"]["metadata"]
    assert package["dcterms:conformsTo"] == "EPUB Accessibility 1.1 - WCAG 2.2 Level AA"


@pytest.mark.ace
def test_ace_finds_no_violation_in_a_technical_book(technical_report: dict):
    # Highlighted code, tables (one with an empty corner cell), inline math, headings that
    # start fields and skip levels, an image with alt text, links.
    assert _violations(technical_report) == []


def test_a_screen_reader_reads_each_contents_entry_once_with_its_number(seed_epub: Path, tmp_path: Path):
    book = Book(seed_epub)
    folder = _unpacked(seed_epub, tmp_path / "book")
    navigation, contents_page = folder / book.nav_path, folder / book.spine[1]
    trees = _accessibility_trees([navigation, contents_page], tmp_path / "home")
    seed = yaml.safe_load(SEED_BANK.read_text(encoding="utf-8"))
    expected = ["前言", *(f"{n}. {item['title']}" for n, item in enumerate(seed["items"], start=1)),
                seed["closing"]["title"]]
    for file, tree in trees.items():
        entries = [node for node in _nodes(tree) if node["role"] == "listitem"]
        # What is read for each entry: its link, and no list marker ("1.") before its own number.
        read = [[(node["role"], node.get("name", "")) for node in entry.get("children", [])] for entry in entries]
        assert read == [[("link", text)] for text in expected], file


def test_a_screen_reader_names_the_item_of_each_question_and_answer_link(seed_epub: Path, tmp_path: Path):
    book = Book(seed_epub)
    folder = _unpacked(seed_epub, tmp_path / "book")
    item_pages = book.spine[3:3 + 2 * SEED_ITEMS]
    trees = _accessibility_trees([folder / path for path in item_pages], tmp_path / "home")
    seed = yaml.safe_load(SEED_BANK.read_text(encoding="utf-8"))
    names = [
        [node["name"] for node in _nodes(trees[folder / path]) if node["role"] == "link"]
        for path in item_pages
    ]
    expected = [[f"{link}：{item['title']}"] for item in seed["items"] for link in ("查看答案", "返回题目")]
    assert names == expected
    assert len({name for (name,) in names}) == 2 * SEED_ITEMS
