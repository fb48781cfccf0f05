"""A real public bank of a few hundred items goes from its original file through `build.py
import` to all four outputs, with no hand edits, and every item is in every output.

The bank is sudheerj/reactjs-interview-questions' README.md, whole (tests/fixtures/real/
reactjs-interview-questions/SOURCE.md): 416 questions written as headings inside numbered list
items, long answers with code, `<details>` blocks, ten sections, two tables of contents. It is
imported and built once for the module, as a user would (build.py in a subprocess); then each
output is read by the reader a learner uses: Anki's engine, pypdf, epubcheck and the EPUB's
navigation. The build takes minutes: leave it out locally with -m 'not slow'. Last, the other
shape of the same kind of repository, paragraphs that start with a bold number, on a document
written here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from anki.utils import strip_html
from pypdf import PdfReader

from ankiread import col, import_apkg, log_counts, notes_by_item  # noqa: F401 - col is a fixture
from conftest import FIXTURES, run_build
from pdfread import page_text, squeezed
from epubread import NS, Book, epubcheck

SOURCE = FIXTURES / "real" / "reactjs-interview-questions" / "README.md"
BANK_ID = "react-interview"
# Every question of the source, as GitHub shows one: a heading that starts a numbered list item.
SOURCE_QUESTION = re.compile(r"^ {0,3}\d+\.\s+#{1,6}\s+(.+?)\s*$", re.MULTILINE)
WITHOUT_ANSWER = "What are the benefits of preventing the direct state mutations?"  # the source has none
SECTIONS = ["Core React", "React Router", "React Internationalization", "React Testing", "React Redux",
            "React Native", "React supported libraries & Integration", "Miscellaneous",
            "Modern React Features (React 18/19)", "Old Q&A"]  # and "Disclaimer", without questions


@dataclass(frozen=True)
class Built:
    bank: dict
    imported: str  # what the import said (its notes on standard error, its summary on standard output)
    dist: Path

    @property
    def items(self) -> list[dict]:
        return [item for section in self.bank["sections"] for item in section["items"]]


@pytest.fixture(scope="module")
def react(tmp_path_factory: pytest.TempPathFactory) -> Built:
    folder = tmp_path_factory.mktemp(BANK_ID)
    target = folder / "bank" / f"{BANK_ID}.yaml"
    imported = run_build("import", SOURCE, "--format", "qa", "--id", BANK_ID, "--lang", "en", "-o", target)
    assert imported.returncode == 0, imported.stderr
    built = run_build(target, "--out", folder / "dist")
    assert built.returncode == 0, built.stderr
    bank = yaml.safe_load(target.read_text(encoding="utf-8"))
    return Built(bank, imported.stdout + imported.stderr, folder / "dist")


def _plain(title: str) -> str:
    """A title's Markdown (code spans, bold, _emphasis_) as the text the outputs show, but for
    the typographic quotes pandoc makes of straight ones."""
    return re.sub(r"`|\*\*|(?<!\w)_|_(?!\w)", "", title)


def _shown(text: str) -> str:
    """Text as compared with what an output shows: without spaces (lines break anywhere), with
    straight quotes for typographic ones."""
    return squeezed(text).translate(str.maketrans("“”‘’", "\"\"''"))


@pytest.mark.slow
def test_every_question_of_the_source_is_an_item_in_its_section(react: Built) -> None:
    items = react.items
    questions = SOURCE_QUESTION.findall(SOURCE.read_text(encoding="utf-8"))
    assert len(questions) == 416
    assert [_plain(item["title"]) for item in items] == [_plain(q) for q in questions if q != WITHOUT_ANSWER]
    assert f"question '{WITHOUT_ANSWER}' has no answer: left out" in react.imported
    assert f"wrote {react.dist.parent / 'bank' / BANK_ID}.yaml: 415 items" in react.imported
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids) and all(item["answer"]["lead"].strip() for item in items)
    # The document's sections are the bank's, in its order.
    assert [section["title"] for section in react.bank["sections"]] == SECTIONS
    assert "text under the section 'Disclaimer' before its first question was left out" in react.imported


@pytest.mark.slow
def test_navigation_and_html_of_the_web_page_are_not_carried_into_the_bank(react: Built) -> None:
    text = yaml.safe_dump(react.bank, allow_unicode=True)
    # The two tables of contents and the 'Back to Top' links after each answer are left out, said.
    assert "Hide/Show table of contents" not in text and "(#" not in text and "Back to Top" not in text
    assert react.imported.count("the table of contents under 'Table of Contents' was left out") == 2
    assert re.search(r"4\d\d lines that only link into the document, such as "
                     r"'\*\*\[⬆ Back to Top\]\(#table-of-contents\)\*\*', were left out", react.imported)
    # <details> blocks keep what they hold as Markdown, their summary a bold line; no tag is left.
    assert "<details" not in text and "<summary" not in text
    history = next(item for item in react.items if item["id"] == "what-is-the-history-behind-react-evolution")
    assert "\n\n**See deep-dive answer**\n\nThe evolution of React" in history["answer"]["lead"]
    # GitHub starts a list right after a paragraph; pandoc needs the blank line the import adds.
    assert "**2010-2011: The Origins**\n\n- The journey began" in history["answer"]["lead"]


@pytest.mark.slow
def test_anki_imports_one_note_and_one_card_per_item(react: Built, col) -> None:  # noqa: F811
    items = react.items
    log = import_apkg(col, react.dist / f"{BANK_ID}.apkg")
    assert log_counts(log) == {"new": len(items), "updated": 0, "duplicate": 0, "conflicting": 0}
    notes = notes_by_item(col)
    assert set(notes) == {item["id"] for item in items}
    assert col.card_count() == len(items)
    for item in items:
        assert _shown(strip_html(notes[item["id"]]["Title"])) == _shown(_plain(item["title"]))
        assert notes[item["id"]]["Answer"].strip()


@pytest.mark.slow
def test_the_cheat_sheet_and_the_flashcards_carry_every_title(react: Built) -> None:
    titles = [_shown(_plain(item["title"])) for item in react.items]
    sheet = _shown("".join(page_text(page) for page in PdfReader(react.dist / f"{BANK_ID}.pdf").pages))
    assert [title for title in titles if title not in sheet] == []
    cards = PdfReader(react.dist / f"{BANK_ID}.cards.pdf").pages
    fronts = _shown("".join(page_text(page) for page in cards[::2]))
    assert [title for title in titles if title not in fronts] == []
    # Each item's first flashcard, numbered as in the bank; a long answer continues on further
    # cards, each saying so on its front ("(continued, 2 of 3)"); each front has its back. A
    # front's head is its section's title, then its number ("Core React1. Question card 1 of 2").
    section = "|".join(re.escape(title) for title in SECTIONS)
    heads = {side: [(int(number), int(part or 1), int(parts or 1)) for page in cards[first::2]
                    for number, part, parts in re.findall(rf"(?m)^(?:{section})?(\d+)\. {side}(?: card (\d+) of (\d+))?$",
                                                          page.extract_text())]
             for first, side in ((0, "Question"), (1, "Answer"))}
    assert [number for number, part, _ in heads["Question"] if part == 1] == list(range(1, len(titles) + 1))
    assert sorted(heads["Question"]) == sorted(heads["Answer"])
    assert {(number, parts) for number, _, parts in heads["Question"]} == {
        (number, parts) for number, part, parts in heads["Question"] if part == parts}  # no card missing
    continued = [head for head in heads["Question"] if head[1] > 1]
    assert continued and fronts.count("(continued,") == len(continued)
    # The deep-dive answer inside <details> is printed as text, not as its tags.
    assert "2010-2011:TheOrigins" in sheet and "<details>" not in sheet and "<summary>" not in sheet


@pytest.mark.slow
def test_the_book_is_valid_and_carries_every_item(react: Built) -> None:
    items = react.items
    path = react.dist / f"{BANK_ID}.epub"
    epubcheck(path)
    book = Book(path)
    entries = [(text, href.rsplit("#", 1)[-1]) for text, href in book.toc_entries()]
    assert [(_shown(text), target) for text, target in entries if target.startswith("item-")] == [
        (_shown(f"{number}. {_plain(item['title'])}"), f"item-{item['id']}") for number, item in enumerate(items, start=1)]
    text = _shown("".join(book.text(document) for document in book.spine))
    assert [item["id"] for item in items if _shown(_plain(item["title"])) not in text] == []
    # A list right after a paragraph in the source is a list in the book.
    answer = next(document for document in book.spine if "2010-2011: The Origins" in book.text(document))
    points = ["".join(li.itertext()) for li in book.xhtml(answer).iter(f"{{{NS['xhtml']}}}li")]
    assert any(point.startswith("The journey began with XHP") for point in points)


def test_paragraphs_that_start_with_a_bold_number_are_questions(tmp_path: Path) -> None:
    # The shape of alexeygrigorev/data-science-interviews' technical.md: three ways to bold the number.
    source = tmp_path / "technical.md"
    source.write_text(
        "# Technical interview questions\n\n## SQL\n\nSuppose we have a table Ads.\n\n"
        "**1)** The number of active ads.\n\n```sql\nSELECT count(*) FROM Ads;\n```\n\n<br/>\n\n"
        "## Coding (Python)\n\n**1) FizzBuzz.** Print numbers from 1 to 100\n* If it's a multiple of 3, print Fizz\n\n"
        "```python\nprint(1)\n```\n\n**2) Factorial**. Calculate a factorial\nof a number\n\n"
        "**Note:** recursion works too.\n\n**3)** Empty?\n", encoding="utf-8")
    target = tmp_path / "bank" / "technical.yaml"
    result = run_build("import", source, "--format", "qa", "--id", "technical", "--lang", "en", "-o", target)
    assert result.returncode == 0, result.stderr
    sections = yaml.safe_load(target.read_text(encoding="utf-8"))["sections"]
    assert [(section["title"], [item["title"] for item in section["items"]]) for section in sections] == [
        ("SQL", ["The number of active ads."]),
        ("Coding (Python)", ["**FizzBuzz.** Print numbers from 1 to 100", "**Factorial**. Calculate a factorial of a number"])]
    items = [item for section in sections for item in section["items"]]
    assert items[1]["answer"]["lead"] == "* If it's a multiple of 3, print Fizz\n\n```python\nprint(1)\n```"
    assert items[2]["answer"]["lead"] == "**Note:** recursion works too."
    assert "its questions are its paragraphs that start with a bold number" in result.stderr
    assert "text under the section 'SQL' before its first question was left out" in result.stderr
    assert "question 'Empty?' has no answer: left out" in result.stderr
