"""build.py preview in a real browser: Debian's Chromium, driven by Playwright.

Locally, `pytest -m "not browser"` skips these; CI runs them (tasks.sh installs chromium).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import yaml
from conftest import ROOT, SEED_BANK, SEED_ITEMS, PreviewServer, copy_bank, running_preview
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright's own browser builds are never used
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox cannot start
    "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
WAIT_MS = 15_000  # generous: a slow machine must not fail a test; speed is bench/'s business

# Collects what the page's Content-Security-Policy refused, and any script a bank got to run.
WATCH_PAGE = """
window.__refused = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__refused.push(event.violatedDirective + " " + event.blockedURI);
});
"""

# Anki's reviewer at a phone's width: its card page (reviewer.css: `body { margin: 20px }`),
# the card's own body classes, and the cards of one side of a bank, each as Anki shows it.
PHONE_WIDTH = 390  # an iPhone's CSS pixels
AS_ANKIS_REVIEWER = """([side, night]) => {
  const cards = [...document.querySelectorAll(`#preview .card.${side}`)];
  for (const card of cards) {
    card.dataset.card = card.closest(".preview-card").dataset.card;
    card.hidden = false;
    card.classList.toggle("nightMode", night);
    card.classList.toggle("night_mode", night);
  }
  const frame = document.createElement("style");
  frame.textContent = "body { margin: 20px; overflow-wrap: break-word; } img { max-width: 100%; }";
  document.querySelector('link[rel="stylesheet"]').remove();  // the preview page's own chrome
  document.body.replaceChildren(frame, document.querySelector("#preview > style"), ...cards);
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.add_init_script(WATCH_PAGE)
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def _bank_ids(bank) -> list[str]:
    return [item["id"] for item in yaml.safe_load(bank.read_text(encoding="utf-8"))["items"]]


def test_every_seed_item_is_shown_and_a_card_flips(preview_server, page: Page) -> None:
    page.goto(preview_server.page("ai-startup-interview"))
    items = page.locator("article.item")
    expect(items).to_have_count(SEED_ITEMS)
    assert items.evaluate_all("(items) => items.map((item) => item.dataset.item)") == _bank_ids(preview_server.seed_bank)
    card = page.locator(".preview-card").nth(2)
    expect(card.locator(".front")).to_be_visible()
    expect(card.locator(".back")).to_be_hidden()
    card.get_by_role("button", name="Flip").click()
    expect(card.locator(".back")).to_be_visible()
    expect(card.locator(".front")).to_be_hidden()
    # Anki's back: the front again ({{FrontSide}}), then the labelled answer in the bank's language.
    back = card.locator(".back")
    expect(back.locator("h1.title")).to_have_count(1)
    expect(back.locator("h2.label").first).to_have_text("答案")
    assert page.evaluate("window.__refused") == []  # the page itself, MathJax included, needs nothing refused


def test_night_mode_is_set_on_every_card_as_anki_sets_it(preview_server, page: Page) -> None:
    page.goto(preview_server.page("ai-startup-interview"))
    card = page.locator(".card").first
    day = card.evaluate("(card) => getComputedStyle(card).backgroundColor")
    page.get_by_label("Night mode").check()
    expect(card).to_have_class("card card1 side front nightMode night_mode")
    night = card.evaluate("(card) => getComputedStyle(card).backgroundColor")
    assert (day, night) == ("rgb(255, 255, 255)", "rgb(44, 44, 44)")
    page.get_by_label("Phone width").check()
    assert page.locator(".preview-card").first.evaluate("(card) => card.getBoundingClientRect().width") <= 377


def test_a_saved_edit_appears_in_place_keeping_scroll_and_flipped_cards(preview_server, page: Page) -> None:
    bank = preview_server.seed_bank
    original = bank.read_text(encoding="utf-8")
    page.goto(preview_server.page("ai-startup-interview"))
    expect(page.locator("article.item")).to_have_count(SEED_ITEMS)
    target = page.locator("article.item").nth(19)
    item_id = target.get_attribute("data-item")
    target.scroll_into_view_if_needed()
    target.get_by_role("button", name="Flip").click()
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 1000
    question = yaml.safe_load(original)["items"][19]["question"].strip()
    try:
        bank.write_text(original.replace(question, "这是刚刚保存的新问题。", 1), encoding="utf-8")
        saved = time.monotonic()
        expect(target.locator(".front .question")).to_have_text("这是刚刚保存的新问题。", timeout=WAIT_MS)
        print(f"\nthe edit appeared in the open page {time.monotonic() - saved:.2f} s after the file was saved")
        assert page.evaluate("window.__sameDocument") is True
        assert abs(page.evaluate("window.scrollY") - scrolled) <= 1
        expect(page.locator(f'[data-card="{item_id}/1"] .back')).to_be_visible()
    finally:
        bank.write_text(original, encoding="utf-8")
    expect(target.locator(".front .question")).to_have_text(question, timeout=WAIT_MS)


def test_a_bank_with_errors_lists_them_above_its_last_good_preview(preview_server, page: Page) -> None:
    bank = preview_server.seed_bank
    original = bank.read_text(encoding="utf-8")
    page.goto(preview_server.page("ai-startup-interview"))
    problems = page.locator("#problems")
    expect(problems).to_be_hidden()
    lines = original.splitlines(keepends=True)
    broken_line = next(number for number, line in enumerate(lines) if line == "  answer:\n")  # the first item's
    lines[broken_line] = "  anwser:\n"
    try:
        bank.write_text("".join(lines), encoding="utf-8")
        expect(problems).to_be_visible(timeout=WAIT_MS)
        entries = problems.locator("li")
        expect(entries.filter(has_text="anwser")).to_have_count(1)
        entry = entries.filter(has_text="anwser")
        expect(entry.locator(".where")).to_have_text(f"{bank}:{broken_line + 1}:3")
        expect(entry.locator(".item")).to_have_text(" [item scalable-architecture]")
        expect(page.locator("article.item")).to_have_count(SEED_ITEMS)  # the last good preview stays
    finally:
        bank.write_text(original, encoding="utf-8")
    expect(problems).to_be_hidden(timeout=WAIT_MS)


def test_a_hostile_bank_runs_no_script_and_shows_its_markup_as_text(preview_server, page: Page) -> None:
    page.goto(preview_server.page("markup"))
    expect(page.locator("article.item")).to_have_count(2)
    page.get_by_label("Show all answers").check()
    expect(page.locator(".card h1.title").first).to_have_text('<script>alert(“item title”)</script>')
    image = page.locator('.card img[src$=".png"]').first
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("(image) => image.naturalWidth") == 4  # the bank's own 4x4 pixel.png, served
    # Even markup that got past the render step could not run: the policy refuses inline code.
    page.evaluate("""() => {
        const preview = document.getElementById("preview");
        preview.insertAdjacentHTML("beforeend", '<img src="/nothing.png" onerror="window.__ran = 1">');
        const script = document.createElement("script");
        script.textContent = "window.__ran = 2";
        preview.append(script);
    }""")
    page.wait_for_function("window.__refused.length >= 2", timeout=WAIT_MS)
    assert page.evaluate("window.__ran") is None
    assert page.dialogs == []


def test_math_is_typeset_by_mathjax_as_in_anki(preview_server, page: Page) -> None:
    page.goto(preview_server.page("math"))
    page.get_by_label("Show all answers").check()
    expect(page.locator(".front .question mjx-container")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator('.back .answer mjx-container[display="true"]')).to_have_count(1, timeout=WAIT_MS)
    assert "\\(" not in page.locator(".front .question").inner_text()
    assert page.evaluate("window.__refused") == []


@pytest.fixture(scope="module")
def both_banks_preview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreviewServer]:
    """`build.py preview --cloze` on copies of both banks of source/: every card there is."""
    folder = tmp_path_factory.mktemp("phone")
    banks = [copy_bank(bank, folder / "banks") for bank in (SEED_BANK, ROOT / "source" / "ml-coding-interview.yaml")]
    with running_preview(folder, banks, "--cloze") as server:
        yield server


def _as_anki_shows_it_on_a_phone(browser: Browser, server: PreviewServer, bank: str, side: str, night: bool) -> Page:
    page = browser.new_page(viewport={"width": PHONE_WIDTH, "height": 844})
    page.goto(server.page(bank))
    page.wait_for_function("window.MathJax && window.MathJax.startup && window.MathJax.startup.promise", timeout=WAIT_MS)
    page.evaluate("MathJax.startup.promise")  # every formula typeset
    assert "\\(" not in page.locator("#preview").inner_text()
    page.evaluate(AS_ANKIS_REVIEWER, [side, night])
    return page


@pytest.mark.parametrize("night", [False, True], ids=["day", "night"])
@pytest.mark.parametrize("side", ["front", "back"])
@pytest.mark.parametrize("bank", ["ai-startup-interview", "ml-coding-interview"])
def test_no_card_is_wider_than_a_phone(both_banks_preview, browser: Browser, bank: str, side: str, night: bool) -> None:
    page = _as_anki_shows_it_on_a_phone(browser, both_banks_preview, bank, side, night)
    try:
        cards = page.locator(".card")
        expect(cards).to_have_count(2 * len(_bank_ids(both_banks_preview.folder / "banks" / f"{bank}.yaml")))
        too_wide = cards.evaluate_all("""(cards) => cards.filter((card) => card.scrollWidth > card.clientWidth)
            .map((card) => `${card.dataset.card}: ${card.scrollWidth} px in ${card.clientWidth} px`)""")
        assert too_wide == []
        assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("innerWidth")
        # A formula's box, which clips, holds its whole height: no glyph (MathJax sizes each
        # glyph's element to the glyph's ink) reaches above or below it.
        assert page.locator("mjx-container").evaluate_all("""(boxes) => boxes.filter((box) => {
            const outer = box.getBoundingClientRect();
            return [...box.querySelectorAll("mjx-math, mjx-math *")].some((glyph) => {
              const inner = glyph.getBoundingClientRect();
              return inner.top < outer.top - 1 || inner.bottom > outer.bottom + 1;
            });
          }).map((box) => box.textContent)""") == []
    finally:
        page.close()


def test_a_formula_wider_than_a_phone_scrolls_in_its_own_box(both_banks_preview, browser: Browser) -> None:
    page = _as_anki_shows_it_on_a_phone(browser, both_banks_preview, "ml-coding-interview", "back", False)
    try:
        formulas = page.locator('[data-card="softmax-overflow/1"] .explanation mjx-container')
        expect(formulas).to_have_count(2)
        log_softmax = formulas.nth(1)  # the log-softmax, the second formula
        width, box = log_softmax.evaluate("(box) => [box.scrollWidth, box.clientWidth]")
        assert width > box  # wider than the phone's card...
        assert log_softmax.evaluate("(box) => getComputedStyle(box).overflowX") == "auto"  # ...so it scrolls
        log_softmax.evaluate("(box) => { box.scrollLeft = box.scrollWidth; }")
        assert log_softmax.evaluate("(box) => box.scrollLeft") > 0
    finally:
        page.close()
