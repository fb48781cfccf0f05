"""The seed bank is faithful to the article it was made from (tests/fixtures/seed-article.md).

The article is parsed here with its own small parser, on purpose independent of
qbank.importer (which produced the bank): checking the importer's output with the importer
would only prove it agrees with itself. Every field and every bullet is compared, so one
transcription slip - a dropped bullet, an edited word, two items swapped - fails a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, SEED_BANK, SEED_ITEMS, shown_text as plain_text, tiny_png

from qbank.lock import Lock
from qbank.model import Bank, BankError
from qbank.reader import load_bank
from qbank.render import RenderPlan, render_bank

ARTICLE = FIXTURES / "seed-article.md"
# The issue counted 151 bullets; the article has 150: 28 items with five, one with six (item 4)
# and one with four (item 29). `grep -c '^- \*\*'` on the article agrees.
ARTICLE_BULLETS = 150


@dataclass
class ArticleItem:
    number: int
    title: str
    question: str = ""
    lead: str = ""
    bullets: list[tuple[str, str]] = field(default_factory=list)
    explanation: str = ""


@dataclass
class Article:
    title: str = ""
    preface: list[str] = field(default_factory=list)
    items: list[ArticleItem] = field(default_factory=list)
    closing_title: str = ""
    closing: list[str] = field(default_factory=list)


def _after(line: str, label: str) -> str:
    """The text after a bold label such as '**面试题：**'."""
    assert line.startswith(label), (label, line)
    return line[len(label):].strip()


def parse_article(text: str) -> Article:
    """A line-by-line reading of this one article's layout, nothing more general."""
    article = Article()
    section = "start"
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        if line.startswith("#### "):
            number, _, title = line[len("#### "):].partition(". ")
            article.items.append(ArticleItem(int(number), title.strip()))
            section = "item"
        elif line.startswith("### "):
            if section == "start":
                article.title, section = line[len("### "):].strip(), "preface"
            else:
                article.closing_title, section = line[len("### "):].strip(), "closing"
        elif section == "preface":
            article.preface.append(line)
        elif section == "closing":
            article.closing.append(line)
        else:
            item = article.items[-1]
            if line.startswith("**面试题：**"):
                item.question = _after(line, "**面试题：**")
            elif line.startswith("**答案：**"):
                item.lead = _after(line, "**答案：**")
            elif line.startswith("**解析：**"):
                item.explanation = _after(line, "**解析：**")
            elif line.startswith("- **"):
                term, separator, rest = line[len("- **"):].partition("：**")
                assert separator, f"a bullet without '：**': {line}"
                item.bullets.append((term.strip(), rest.strip()))
            else:
                raise AssertionError(f"unexpected line in item {item.number}: {line}")
    return article


@pytest.fixture(scope="module")
def article() -> Article:
    return parse_article(ARTICLE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank(SEED_BANK)  # reading only: nothing here builds from source/


def test_the_article_parses_into_30_numbered_items_and_150_bullets(article: Article) -> None:
    assert [item.number for item in article.items] == list(range(1, SEED_ITEMS + 1))
    assert sum(len(item.bullets) for item in article.items) == ARTICLE_BULLETS
    assert ARTICLE.read_text(encoding="utf-8").count("\n- **") == ARTICLE_BULLETS
    assert all(item.title and item.question and item.lead and item.explanation for item in article.items)


def test_the_bank_loads_with_30_items(bank: Bank) -> None:
    assert len(bank.items) == SEED_ITEMS
    assert [item.number for item in bank.items] == list(range(1, SEED_ITEMS + 1))
    assert sum(len(item.answer.points) for item in bank.items) == ARTICLE_BULLETS


def test_bank_title_preface_and_closing_match_the_article(bank: Bank, article: Article) -> None:
    assert bank.id == "ai-startup-interview"
    assert bank.lang == "zh-CN"
    assert bank.title == article.title
    assert bank.description == "\n\n".join(article.preface)
    assert bank.closing is not None
    assert bank.closing.title == article.closing_title == "总结"
    assert bank.closing.text == "\n\n".join(article.closing)


@pytest.mark.parametrize("number", range(1, SEED_ITEMS + 1))
def test_item_matches_the_article(number: int, bank: Bank, article: Article) -> None:
    item, source = bank.items[number - 1], article.items[number - 1]
    assert item.title == source.title
    assert item.question == source.question
    assert item.answer.lead == source.lead
    assert [(point.term, point.text) for point in item.answer.points] == source.bullets
    assert item.explanation == source.explanation


def test_every_item_has_a_slug_id_and_tags(bank: Bank) -> None:
    # Ids were chosen by hand from the titles (the importer gives q01, q02, ...); tags are not in
    # the article, so they are the bank's own addition and each item needs at least one.
    assert len({item.id for item in bank.items}) == SEED_ITEMS
    assert not any(item.id.startswith("q0") for item in bank.items)
    assert all(item.tags for item in bank.items)


def test_the_rendered_text_is_still_the_article_text(bank: Bank, article: Article, tmp_path) -> None:
    """Markdown must not eat anything: a '*' or a leading '1.' in the text would change it."""
    doc = render_bank(bank, Lock.open(tmp_path / "scratch.yaml"))  # a lock that is never saved
    assert plain_text(doc.title) == article.title
    for item, source in zip(doc.items, article.items):
        assert plain_text(item.title) == source.title
        assert plain_text(item.question) == source.question
        assert plain_text(item.answer.lead) == source.lead
        assert [(plain_text(p.term), plain_text(p.text)) for p in item.answer.points] == source.bullets
        assert plain_text(item.explanation) == source.explanation


def _bank_of_pictures(folder: Path, link: str) -> Path:
    """Five items, each with its own picture (a different size each), and `link` in the last."""
    (folder / "pictures").mkdir(parents=True)
    items = []
    for number in range(1, 6):
        (folder / "pictures" / f"p{number}.png").write_bytes(tiny_png(number, number))
        items.append({"id": f"i{number}", "title": f"Item **{number}**", "question": f"![p{number}](pictures/p{number}.png)",
                      "answer": {"lead": f"Lead {number}, $x^{number}$"},
                      "explanation": f"See [this]({link})." if number == 5 else "Nothing."})
    path = folder / "bank.yaml"
    path.write_text(yaml.safe_dump({"id": "pictures", "title": "Pictures", "lang": "en", "items": items}), encoding="utf-8")
    return path


def test_a_bank_rendered_in_many_pandoc_calls_is_rendered_as_in_one(tmp_path: Path) -> None:
    # A large bank's fields go to pandoc in calls of the plan's fields_per_call; the fields'
    # HTML, the images' names and the places blamed for a refused link must not depend on the cut.
    bank = load_bank(_bank_of_pictures(tmp_path / "ok", "https://example.org"))
    whole = render_bank(bank, Lock.open(bank.path))
    cut = render_bank(bank, Lock.open(bank.path), RenderPlan(processes=3, fields_per_call=3))  # the calls side by side
    assert cut.fields == whole.fields and cut.media == whole.media
    assert len(set(whole.media)) == 5

    refused = load_bank(_bank_of_pictures(tmp_path / "refused", "file:///etc/passwd"))
    with pytest.raises(BankError) as failure:
        render_bank(refused, Lock.open(refused.path), RenderPlan(processes=3, fields_per_call=3))
    (problem,) = failure.value.problems
    assert problem.item_id == "i5"
    assert "/etc/passwd" in refused.path.read_text(encoding="utf-8").splitlines()[problem.location.line - 1]
