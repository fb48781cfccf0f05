"""The duplex flashcards, read back with pypdf: every item's front and back on consecutive
pages in mirrored places, crop marks, the shift for calibrating a printer, and long answers
that shrink or continue (a paragraph, list or code block longer than a card too) but are
never cut off."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader

from conftest import ROOT, SEED_BANK, copy_bank, run_build
from pdfread import MM, Chunk, chunks, filled_boxes, fonts, is_embedded, page_text, squeezed
from qbank.lock import Lock
from qbank.reader import load_bank
from qbank.render import render_bank
from qbank.writers import BuildOptions
from qbank.writers import cards as cards_writer
from qbank.writers.printing import ITEMS_PER_CHUNK

SEED = yaml.safe_load(SEED_BANK.read_text(encoding="utf-8"))
COLUMNS, ROWS = cards_writer.COLUMNS, cards_writer.ROWS
LONG_POINTS = 18
PARAGRAPH_SENTENCES, LIST_LINES, QUESTION_SENTENCES = 70, 22, 120  # _words_bank
PAGE_NUMBER = re.compile(r"^(第\s*\d+\s*页|Page \d+ of)")


@dataclass(frozen=True)
class Face:
    """A card face as found in the PDF: its page, where its number stands, and its text."""

    page: int
    x: float
    y: float
    text: str


def _faces(reader: PdfReader) -> dict[tuple[int, int], list[Face]]:
    """Faces by (page parity: 0 front / 1 back, item number), found from the "N." head of each face.

    A face's text is every chunk in the same column from its head down to the next head.
    """
    found: dict[tuple[int, int], list[Face]] = {}
    for page_number, page in enumerate(reader.pages):
        page_chunks = chunks(page)
        heads = [chunk for chunk in page_chunks if chunk.text.endswith(".") and chunk.text[:-1].isdigit()]
        width = float(page.mediabox.width)
        for head in heads:
            column = head.x > width / 2
            below = [h.y for h in heads if (h.x > width / 2) == column and h.y < head.y - 1]
            floor = max(below, default=0.0)
            text = "".join(
                chunk.text for chunk in page_chunks
                if (chunk.x > width / 2) == column and floor + 1 < chunk.y <= head.y + 1
            )
            found.setdefault((page_number % 2, int(head.text[:-1])), []).append(
                Face(page_number, head.x, head.y, squeezed(text))
            )
    return found


def _long_bank(folder: Path) -> Path:
    """Three seed items; the second has an answer too long for one card, the third a longer one."""
    data = yaml.safe_load(SEED_BANK.read_text(encoding="utf-8"))
    data["id"] = "long-answers"
    data["items"] = data["items"][:3]
    data["items"][1]["answer"]["points"] = [
        {"term": f"要点{n}", "text": f"第{n}条很长的说明，" + "用于检验闪卡在答案很长时缩小字号或续到下一张卡片，而不会被截断。" * 2}
        for n in range(1, LONG_POINTS + 1)
    ]
    data["items"][2]["answer"]["points"] += [
        {"term": f"补充{n}", "text": "中等长度的补充说明，让这张卡片需要稍微缩小字号才能放下。" * 2} for n in range(2)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "long-answers.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def seed_cards(seed_dist: Path) -> PdfReader:
    return PdfReader(seed_dist / "ai-startup-interview.cards.pdf")


@pytest.fixture(scope="module")
def shifted_cards(tmp_path_factory: pytest.TempPathFactory) -> PdfReader:
    folder = tmp_path_factory.mktemp("shifted")
    bank = copy_bank(SEED_BANK, folder / "bank")
    result = run_build(bank, "--out", folder / "dist", "--format", "cards", "--shift-backs", "3")
    assert result.returncode == 0, result.stderr
    return PdfReader(folder / "dist" / "ai-startup-interview.cards.pdf")


@pytest.fixture(scope="module")
def long_cards(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, PdfReader]:
    folder = tmp_path_factory.mktemp("long")
    bank = _long_bank(folder / "bank")
    result = run_build(bank, "--out", folder / "dist", "--format", "cards", "--paper", "letter")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(bank.read_text(encoding="utf-8")), PdfReader(folder / "dist" / "long-answers.cards.pdf")


def _mirror_sums(reader: PdfReader) -> list[float]:
    """For every card, front x + back x of its number: one value if the backs mirror the fronts."""
    faces = _faces(reader)
    return [front.x + back.x for (side, number), fronts in faces.items() if side == 0
            for front, back in zip(fronts, faces[(1, number)])]


def test_every_item_has_a_front_and_then_its_back_on_the_next_page(seed_cards: PdfReader) -> None:
    faces = _faces(seed_cards)
    for number, item in enumerate(SEED["items"], 1):
        [front], [back] = faces[(0, number)], faces[(1, number)]
        assert squeezed(item["title"]) in front.text and squeezed(item["question"]) in front.text
        assert back.page == front.page + 1
        for point in item["answer"]["points"]:
            assert squeezed(point["term"] + "：" + point["text"]) in back.text, (item["id"], point["term"])
        assert squeezed(item["explanation"]) in back.text
    assert len(seed_cards.pages) == 2 * -(-len(SEED["items"]) // (COLUMNS * ROWS))


def test_backs_stand_in_mirrored_places_for_long_edge_duplex(seed_cards: PdfReader) -> None:
    width = float(seed_cards.pages[0].mediabox.width)
    faces = _faces(seed_cards)
    for number in range(1, len(SEED["items"]) + 1):
        [front], [back] = faces[(0, number)], faces[(1, number)]
        assert back.y == pytest.approx(front.y, abs=0.5), "same row"
        assert (front.x < width / 2) != (back.x < width / 2), "the other column"
    sums = _mirror_sums(seed_cards)
    assert max(sums) - min(sums) < 0.5, "every back is its front mirrored about one axis"


def test_shift_backs_moves_only_the_backs(seed_cards: PdfReader, shifted_cards: PdfReader) -> None:
    plain, shifted = _faces(seed_cards), _faces(shifted_cards)
    for (side, number), faces in plain.items():
        [face], [moved] = faces, shifted[(side, number)]
        assert moved.x - face.x == pytest.approx(3 * MM if side else 0, abs=0.05)
        assert moved.y == pytest.approx(face.y, abs=0.05)


def test_every_page_has_crop_marks_on_every_cut(seed_cards: PdfReader) -> None:
    for page in seed_cards.pages:
        vertical, horizontal = _cuts(seed_cards, page)
        assert len(vertical) == COLUMNS + 1 and len(horizontal) == ROWS + 1
        text = [chunk for chunk in chunks(page) if not PAGE_NUMBER.match(chunk.text)]
        assert vertical[0] < min(chunk.x for chunk in text) and vertical[-1] > max(chunk.x for chunk in text)
        assert horizontal[0] < min(chunk.y for chunk in text) and horizontal[-1] > max(chunk.y for chunk in text)
        # The cuts are evenly spaced: the cards are all the same size.
        for cuts in (vertical, horizontal):
            steps = [b - a for a, b in zip(cuts, cuts[1:])]
            assert max(steps) - min(steps) < 0.2


def test_fonts_are_embedded_and_each_item_has_a_bookmark(seed_cards: PdfReader) -> None:
    assert all(is_embedded(font) for font in fonts(seed_cards).values())
    assert [entry.title for entry in seed_cards.outline] == [item["title"] for item in SEED["items"]]


def _cuts(reader: PdfReader, page: object) -> tuple[list[float], list[float]]:
    """The x of every vertical cut and the y of every horizontal cut, from the crop marks."""
    boxes = filled_boxes(reader, page)
    vertical = sorted({round(x0, 1) for x0, y0, x1, y1 in boxes if x1 - x0 < 0.5 and y1 - y0 >= 10})
    horizontal = sorted({round(y0, 1) for x0, y0, x1, y1 in boxes if y1 - y0 < 0.5 and x1 - x0 >= 10})
    return vertical, horizontal


def _text_within_cards(reader: PdfReader) -> None:
    """No text runs past its card: each chunk stands between the cuts around its face's number."""
    for page in reader.pages:
        vertical, horizontal = _cuts(reader, page)
        page_chunks = chunks(page)
        heads = [c for c in page_chunks if c.text.endswith(".") and c.text[:-1].isdigit()]
        for chunk in page_chunks:
            if PAGE_NUMBER.match(chunk.text):
                continue  # the page number stands below the grid
            left = max(x for x in vertical if x <= chunk.x)
            own = [h for h in heads if h.y >= chunk.y - 1 and max(x for x in vertical if x <= h.x) == left]
            head: Chunk = min(own, key=lambda h: h.y)
            bottom = max(y for y in horizontal if y < head.y)
            assert chunk.y > bottom + 2 * MM, f"'{chunk.text}' runs off its card"


def test_a_long_answer_shrinks_or_continues_and_keeps_all_its_text(long_cards: tuple[dict, PdfReader]) -> None:
    data, reader = long_cards
    faces = _faces(reader)
    long_item = data["items"][1]
    backs = faces[(1, 2)]
    assert len(backs) >= 2, "the long answer continues on more cards"
    assert len(faces[(0, 2)]) == len(backs), "each continuation has its front"
    assert all("张/共" in face.text for face in faces[(0, 2)] + backs), "each part says which card of how many"
    text = "".join(face.text for face in backs)
    for point in long_item["answer"]["points"]:
        assert squeezed(point["term"] + "：" + point["text"]) in text
    assert squeezed(long_item["explanation"]) in text
    for point in data["items"][2]["answer"]["points"]:
        assert squeezed(point["term"] + "：" + point["text"]) in faces[(1, 3)][0].text
    _text_within_cards(reader)


def test_letter_paper(long_cards: tuple[dict, PdfReader]) -> None:
    _, reader = long_cards
    assert all((float(p.mediabox.width), float(p.mediabox.height)) == pytest.approx((612, 792), abs=0.1)
               for p in reader.pages)


@pytest.mark.parametrize("chunk_items", [ITEMS_PER_CHUNK, 1], ids=["whole", "chunked"])
def test_the_measured_layout_corrects_a_wrong_estimate(chunk_items: int, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """If the estimate put everything on one card at the largest size, measuring still fixes it,
    also when the cards are laid out as chunks (whose processes send back the cards they fitted)."""
    bank = _long_bank(tmp_path / "bank")
    doc = render_bank(load_bank(bank), Lock.open(bank))
    monkeypatch.setattr(cards_writer, "_fitting_size", lambda paragraphs: 0)
    monkeypatch.setattr(cards_writer, "_groups_needed", lambda blocks, labels: 1)
    assert len(cards_writer.planned_cards(doc)) == 3, "the estimate is now wrong on purpose"
    target = tmp_path / "cards.pdf"
    cards_writer.FlashcardWriter(items_per_chunk=chunk_items).write(doc, target, BuildOptions())
    reader = PdfReader(target)
    _text_within_cards(reader)  # first: a clipped face still has all its text in the PDF
    text = "".join(page_text(page) for page in reader.pages)
    for point in yaml.safe_load(bank.read_text(encoding="utf-8"))["items"][1]["answer"]["points"]:
        assert squeezed(point["text"]) in text
    assert len(_faces(reader)[(1, 2)]) >= 2


def test_a_paragraph_too_long_for_any_card_continues_at_its_sentences(seed_copy: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(seed_copy.read_text(encoding="utf-8"))
    sentence = "这是一段极长的解析，没有分段也没有要点。"
    data["items"][4]["explanation"] = sentence * 80
    seed_copy.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = run_build(seed_copy, "--out", tmp_path / "dist", "--format", "cards")
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    reader = PdfReader(tmp_path / "dist" / "ai-startup-interview.cards.pdf")
    backs = _faces(reader)[(1, 5)]
    assert len(backs) >= 2 and "".join(face.text for face in backs).count(sentence) == 80
    assert "（续2/" in "".join(face.text for face in _faces(reader)[(0, 5)])
    _text_within_cards(reader)


def _words_bank(folder: Path) -> tuple[Path, list[str]]:
    """An English bank whose second item's answer is one huge paragraph, one huge list and a long
    code block, about three cards in all; its third item's question fills about three fronts.
    And the second item's answer's words, in order."""
    bank = copy_bank(ROOT / "source" / "ml-coding-interview.yaml", folder)
    data = yaml.safe_load(bank.read_text(encoding="utf-8"))
    data["items"] = data["items"][:3]
    paragraph = " ".join(f"Sentence p{n:03d} says pword{n:03d}." for n in range(PARAGRAPH_SENTENCES))
    listing = "\n".join(f"- Entry l{n:03d} holds lword{n:03d}." for n in range(LIST_LINES))
    code = "```python\n" + "\n".join(f"c{n:03d} = cword{n:03d}" for n in range(LIST_LINES)) + "\n```"
    data["items"][1]["answer"] = {"lead": f"{paragraph}\n\n{listing}\n\n{code}"}
    data["items"][1].pop("explanation", None)
    data["items"][2]["question"] = " ".join(f"Question part q{n:03d} asks qword{n:03d}." for n in range(QUESTION_SENTENCES))
    bank.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    words = [word for n in range(PARAGRAPH_SENTENCES) for word in (f"p{n:03d}", f"pword{n:03d}")]
    words += [word for n in range(LIST_LINES) for word in (f"l{n:03d}", f"lword{n:03d}")]
    words += [word for n in range(LIST_LINES) for word in (f"c{n:03d}=", f"cword{n:03d}")]
    return bank, words


def test_a_paragraph_a_list_and_a_code_block_longer_than_a_card_continue_in_order(tmp_path: Path) -> None:
    bank, words = _words_bank(tmp_path / "bank")
    result = run_build(bank, "--out", tmp_path / "dist", "--format", "cards")
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    reader = PdfReader(tmp_path / "dist" / "ml-coding-interview.cards.pdf")
    faces = _faces(reader)
    backs, fronts = faces[(1, 2)], faces[(0, 2)]
    parts = len(backs)
    assert parts >= 3 and len(fronts) == parts
    text, position = "".join(face.text for face in backs), 0
    for word in words:
        position = text.find(word, position)
        assert position >= 0, f"{word} is missing from the backs, or out of order"
    assert sum("pword" in face.text for face in backs) >= 2, "the paragraph continues on the next card"
    assert "(continued," not in fronts[0].text
    for part, front in enumerate(fronts[1:], start=2):
        assert squeezed(f"(continued, {part} of {parts})") in front.text
    _text_within_cards(reader)


def test_a_question_longer_than_a_front_continues_and_the_answer_starts_behind_its_end(tmp_path: Path) -> None:
    bank, _ = _words_bank(tmp_path / "bank")
    data = yaml.safe_load(bank.read_text(encoding="utf-8"))
    result = run_build(bank, "--out", tmp_path / "dist", "--format", "cards")
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    faces = _faces(PdfReader(tmp_path / "dist" / "ml-coding-interview.cards.pdf"))
    fronts, backs = faces[(0, 3)], faces[(1, 3)]
    assert len(fronts) == len(backs) >= 3
    text, position = "".join(face.text for face in fronts), 0
    for n in range(QUESTION_SENTENCES):
        position = text.find(f"q{n:03d}asksqword{n:03d}.", position)
        assert position >= 0, f"q{n:03d} is missing from the fronts, or out of order"
    # The answer begins behind the question's last piece; the backs before it are empty.
    last = max(index for index, front in enumerate(fronts) if f"q{QUESTION_SENTENCES - 1}" in front.text)
    answer = squeezed(data["items"][2]["answer"]["lead"])[:20]
    assert last >= 2 and answer in backs[last].text
    assert not any(answer in back.text for back in backs[:last])
    assert all(len(back.text) < 40 for back in backs[:last]), "nothing but the head"
