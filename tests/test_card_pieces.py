"""Cutting an answer's HTML into pieces for flashcards: where it cuts, and that every piece,
and every run of pieces joined back, is well-formed HTML holding all the text in order."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pypandoc

from conftest import shown_text
from qbank.document import plain_text
from qbank.writers.card_pieces import cut_inline, joined, units

LONG = 10_000  # wider than any text here: nothing is cut for length


def _html(markdown: str) -> str:
    return pypandoc.convert_text(markdown, "html", format="markdown")


def _well_formed(html: str) -> ET.Element:
    return ET.fromstring(f"<root>{html.replace('&nbsp;', ' ')}</root>")  # raises if a tag is left open


def _all_runs_well_formed(html: str, max_width: float = LONG) -> list:
    cut = units(html, len, max_width)
    for start in range(len(cut)):
        for stop in range(start + 1, len(cut) + 1):
            _well_formed(joined(cut[start:stop]))
    assert shown_text(joined(cut)).split() == shown_text(html).split(), "no text lost, none added"
    return cut


def test_blocks_list_items_table_rows_and_code_lines_are_pieces() -> None:
    html = _html("A paragraph.\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\n"
                 "```python\ndef f(x):\n    return x\n```\n\n> a quote\n")
    cut = _all_runs_well_formed(html)
    assert [plain_text(unit.html) for unit in cut] == ["A paragraph.", "one", "two", "1 2", "3 4", "def f(x):",
                                                       "return x", "a quote"]
    rows = joined(cut[4:5])
    assert "<th>a</th>" in rows and "<td>3</td>" in rows and "<td>1</td>" not in rows, "the header repeats"
    line = joined(cut[6:7])
    assert line.startswith('<div class="sourceCode"') and "<code" in line and '<span class="cf">return</span>' in line


def test_a_continued_ordered_list_keeps_its_numbers() -> None:
    cut = _all_runs_well_formed(_html("3. three\n4. four\n5. five\n"))
    assert [unit.number for unit in cut] == [3, 4, 5]
    assert joined(cut[1:]).startswith('<ol start="4" style="counter-reset: list-item 3"')
    assert joined(cut[:1]).startswith('<ol start="3" style="counter-reset: list-item 2"')
    one = _all_runs_well_formed(_html("1. one\n2. two\n"))
    assert joined(one[:1]).startswith('<ol type="1">') and joined(one[1:]).startswith('<ol start="2"')


def test_a_long_paragraph_is_cut_at_sentences_with_its_inline_tags_balanced() -> None:
    html = _html("First sentence here. Second *emphasised sentence. Still emphasised* end! Third; more.")
    cut = _all_runs_well_formed(html, max_width=30)
    assert len(cut) > 1 and all(unit.opening == "<p>" for unit in cut)
    assert all(unit.html.rstrip().endswith((".", "!", ";", "</em>")) for unit in cut[:-1]), "cut after sentences"
    assert "<em>" in cut[2].html and cut[1].html.endswith("</em>"), "the emphasis closes before a cut, reopens after"


def test_cjk_sentences_then_characters_and_latin_words() -> None:
    cjk = cut_inline("第一句很长。第二句也很长！第三句？", len, 7)
    assert cjk == ["第一句很长。", "第二句也很长！", "第三句？"]
    unbroken = cut_inline("一二三四五六七八九十", len, 4)
    assert "".join(unbroken) == "一二三四五六七八九十" and all(len(piece) <= 4 for piece in unbroken)
    words = cut_inline("many words without any sentence end at all", len, 12)
    assert " ".join(piece.strip() for piece in words) == "many words without any sentence end at all"
    assert all(len(piece.strip()) <= 12 for piece in words)


def test_a_formula_and_an_entity_are_never_cut() -> None:
    html = "Before. <svg><text>a. b. c. d.</text></svg> After &amp; more. End."
    pieces = cut_inline(html, len, 8)
    assert len(pieces) > 2 and shown_text("".join(pieces)).split() == shown_text(html).split()
    assert sum("<svg><text>a. b. c. d.</text></svg>" in p for p in pieces) == 1
    assert not any(p.endswith("&amp") or p.startswith("amp;") for p in pieces)
