"""The EPUB's formulas as a MathML Core reader lays them out: Debian's Chromium, driven by
Playwright, opens the pages of the unpacked book (Apple Books' WebKit renders MathML alike).

Locally, `pytest -m "not browser"` skips these; CI runs them (tasks.sh installs chromium).
"""

from __future__ import annotations

import html
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from test_formulas import BANK_ID, CASES, CTR, built  # noqa: F401 (built: that module's fixture, used here)
from test_preview_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

# The bounding box of the element `selector` finds in the <math> whose annotation is `tex`.
BOX = """([tex, selector]) => {
  const math = [...document.querySelectorAll("math")].find((math) => math.querySelector("annotation").textContent === tex);
  const box = math.querySelector(selector).getBoundingClientRect();
  return {left: box.left, right: box.right, top: box.top, bottom: box.bottom, height: box.height};
}"""


@pytest.fixture(scope="module")
def unpacked(built: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    folder = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(built[0] / f"{BANK_ID}.epub") as archive:
        archive.extractall(folder)
    return folder


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 600, "height": 800})
        browser.close()


def _open_page_with(page: Page, unpacked: Path, tex: str) -> None:
    (path,) = [path for path in sorted(unpacked.rglob("*.xhtml")) if html.escape(tex, quote=False) in path.read_text("utf-8")]
    page.goto(path.as_uri())
    page.evaluate("document.fonts.ready.then(() => true)")


def test_a_tag_number_sits_right_of_its_formula_on_the_same_line(page: Page, unpacked: Path, tmp_path: Path) -> None:
    _open_page_with(page, unpacked, CTR)
    fraction = page.evaluate(BOX, [CTR, "mfrac"])
    label = page.evaluate(BOX, [CTR, "mtd:has(> mtext)"])  # "(7)": in the fraction, Chinese is <mi>
    page.screenshot(path=tmp_path / "tag.png")
    assert label["left"] >= fraction["right"], (label, fraction)
    assert fraction["top"] < (label["top"] + label["bottom"]) / 2 < fraction["bottom"], (label, fraction)


def test_the_brace_of_cases_stretches_over_its_rows(page: Page, unpacked: Path, tmp_path: Path) -> None:
    _open_page_with(page, unpacked, CASES)
    brace = page.evaluate(BOX, [CASES, "mo:has(+ mtable)"])
    text = page.evaluate(BOX, [CASES, "mi"])
    page.screenshot(path=tmp_path / "cases.png")
    assert brace["height"] > 1.5 * text["height"], (brace, text)


def test_double_struck_and_bold_letters_are_drawn_by_the_books_math_font(page: Page, unpacked: Path) -> None:
    tex = r"\boldsymbol{\theta} \in \mathbb{R}^d"
    _open_page_with(page, unpacked, tex)
    session = page.context.new_cdp_session(page)
    session.send("DOM.enable")
    session.send("CSS.enable")
    root = session.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    for letter in ("ℝ", "𝜽"):  # MathML Core ignores mathvariant: the letter itself is styled
        page.evaluate("""([tex, letter]) => [...document.querySelectorAll("math")]
            .find((math) => math.querySelector("annotation").textContent === tex)
            .querySelectorAll("mi").forEach((mi) => mi.toggleAttribute("data-probe", mi.textContent === letter))""", [tex, letter])
        node = session.send("DOM.querySelector", {"nodeId": root, "selector": "mi[data-probe]"})["nodeId"]
        fonts = session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        # the book's subset (a web font), not an installed font a fallback found
        assert [(font["familyName"], font["isCustomFont"]) for font in fonts] == [("DejaVu Math TeX Gyre", True)], (letter, fonts)
