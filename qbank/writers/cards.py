"""Flashcards to print on both sides of the paper and cut out.

Each sheet is two pages: a grid of fronts (number, title, question), then the backs (answer
and explanation) in the mirrored grid, so that after long-edge duplex printing every back
lies behind its own front. A face whose text does not fit its card at the normal size gets
a smaller one; an answer too long even at the smallest size continues on further cards,
cut between its parts or, for a part longer than a card, inside it (card_pieces.py).
Sizes are first estimated from the text, then checked against WeasyPrint's actual layout
and corrected, so no text is cut off (but a single line or image taller than a card).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import partial
from itertools import groupby
from math import ceil
from pathlib import Path
from typing import NamedTuple, Union

from markupsafe import Markup
from weasyprint import Document

from ..document import RenderedBank, RenderedItem, plain_text, text_width_em
from ..model import Point, Problem
from .card_pieces import Unit, joined, units
from .fonts import font_stack, require_coverage
from .formulas import with_typeset_math
from .images import Box, fitted_media
from .paged import LayoutPlan, PagedLayout, PageNumbers, chunk_numbers
from .printing import ITEMS_PER_CHUNK, Paper, print_context, render_document, write_document
from . import BuildOptions, Downscaled, Writer

COLUMNS, ROWS = 2, 3
CARD_WIDTH_MM, CARD_HEIGHT_MM = 92.0, 84.0  # 2 x 3 fit both A4 and US Letter with room for crop marks
PADDING_MM = 4.5
IMAGE_MAX_HEIGHT_MM = 30.0  # templates/print/cards.css: an image leaves room for the text around it
FONT_SIZES_PT = (8.5, 7.5, 6.5)  # a face takes the largest that fits
TITLE_SCALE = 1.5  # the front's title, relative to the face's text size
LINE_HEIGHT = 1.35
CROP_GAP_MM, CROP_LENGTH_MM = 1.5, 5.0  # crop marks start this far outside the grid

MM_PER_PT = 25.4 / 72
PX_PER_MM = 96 / 25.4  # WeasyPrint reports positions in CSS pixels
TEXT_WIDTH_PT = (CARD_WIDTH_MM - 2 * PADDING_MM) / MM_PER_PT
TEXT_HEIGHT_PT = (CARD_HEIGHT_MM - 2 * PADDING_MM) / MM_PER_PT
SMALLEST = len(FONT_SIZES_PT) - 1
# A paragraph longer than a card is cut into runs of sentences about a quarter of a card long.
PIECE_WIDTH_EM = (TEXT_WIDTH_PT / FONT_SIZES_PT[SMALLEST]) * (TEXT_HEIGHT_PT / (FONT_SIZES_PT[SMALLEST] * LINE_HEIGHT)) / 4
# The pixels an image needs at most: the text's width, IMAGE_MAX_HEIGHT_MM high.
IMAGE_BOX = Box.printed(CARD_WIDTH_MM - 2 * PADDING_MM, IMAGE_MAX_HEIGHT_MM)

Paragraph = tuple[float, float, float]  # its text's width in em, its indent in em, its size relative to the face's


@dataclass(frozen=True)
class Lead:
    html: Markup


@dataclass(frozen=True)
class Explanation:
    html: Markup


@dataclass(frozen=True)
class Question:
    """A question too long for one front: its pieces go on the fronts of its item's first cards."""

    html: Markup


@dataclass(frozen=True)
class Piece:
    """A share of an answer part longer than a card: one unit of its HTML (of a point's text).
    Or of a question longer than a front."""

    whole: Union[Question, Lead, Point, Explanation]
    part: int  # the whole's place among its item's answer parts (-1: the question)
    index: int  # this piece's place among the whole's
    count: int
    unit: Unit

    @property
    def first(self) -> bool:
        return self.index == 0


class ShownPoint(NamedTuple):
    """A point as a back shows it: a point cut across cards shows its term on its first piece,
    and is marked continued on the others (templates/points.html)."""

    term: Markup
    text: Markup
    continued: bool = False


# What an answer is cut into for its cards: an answer continued on another card is cut
# between these, never inside one. A part that has blocks, lines or long sentences comes as
# its pieces, always the same for an item, so that a chunk's process and the writer agree on
# them (FittedCard counts them); a card that holds all of a part's pieces shows the part whole.
# Points are the model's own (with HTML fields).
# A question too long for a front comes first, as its pieces: the fronts of an item's first
# cards show them in turn, and the answer begins on the back of the card with the question's
# last piece (the backs before it stay empty), so each back still lies behind its own front.
AnswerPart = Union[Lead, Point, Explanation, Piece]


def _asks(part: AnswerPart) -> bool:
    return isinstance(part, Piece) and isinstance(part.whole, Question)


def _asked(parts: list[AnswerPart]) -> tuple[list[AnswerPart], list[AnswerPart]]:
    """A card's (or an item's) pieces of the question, and its share of the answer."""
    asked = [part for part in parts if _asks(part)]
    return asked, parts[len(asked):]


def _part_of(part: AnswerPart) -> int:
    """Equal for consecutive pieces of one part only."""
    return part.part if isinstance(part, Piece) else -1 - id(part)


def _wholes(parts: list[AnswerPart]) -> Iterator[list[AnswerPart]]:
    """`parts` in runs of one part each, a run holding all of a part's pieces as the part whole."""
    for _, run in groupby(parts, key=_part_of):
        run = list(run)
        first = run[0]
        yield [first.whole] if isinstance(first, Piece) and len(run) == first.count else run


@dataclass(frozen=True)
class Card:
    """One card: its item's front, and the item's answer (or a share of it) on the back."""

    item: RenderedItem
    answer: tuple[AnswerPart, ...]
    front_size_class: int = 0  # index into FONT_SIZES_PT
    back_size_class: int = 0
    part: int = 1  # for an answer continued on more cards: this card's place among them
    parts: int = 1

    @property
    def key(self) -> str:
        return f"{self.item.number}-{self.part}"

    @property
    def shown(self) -> list[Union[Lead, Point, ShownPoint, Explanation]]:
        """The card's share of the answer, each run of pieces of one part joined back."""
        shown = []
        for run in _wholes(_asked(list(self.answer))[1]):
            first = run[0]
            if not isinstance(first, Piece):
                shown.append(first)
                continue
            html = Markup(joined([piece.unit for piece in run]))
            if isinstance(first.whole, Point):
                shown.append(ShownPoint(first.whole.term, html, not first.first))
            else:
                shown.append(type(first.whole)(html))
        return shown

    @property
    def question(self) -> Markup | None:
        """What the front shows of the question: all of it, or its pieces on this card, or
        nothing once a question cut into pieces has ended on an earlier card."""
        asked = _asked(list(self.answer))[0]
        if asked:
            return Markup(joined([piece.unit for piece in asked]))
        return None if _question_too_long(self.item) else self.item.question

    # What templates/print/cards.html shows on the back, in this order.
    @property
    def lead(self) -> Markup | None:
        return next((part.html for part in self.shown if isinstance(part, Lead)), None)

    @property
    def points(self) -> tuple[Point | ShownPoint, ...]:
        return tuple(part for part in self.shown if isinstance(part, (Point, ShownPoint)))

    @property
    def explanation(self) -> Markup | None:
        return next((part.html for part in self.shown if isinstance(part, Explanation)), None)


@dataclass(frozen=True)
class Slot:
    card: Card
    row: int
    column: int


@dataclass(frozen=True)
class Sheet:
    fronts: tuple[Slot, ...]
    backs: tuple[Slot, ...]  # the same cards, columns mirrored for long-edge duplex


@dataclass(frozen=True)
class Geometry:
    """Where the grid sits on the paper, in millimetres (what the stylesheet is made from)."""

    paper: Paper
    left: float
    top: float
    shift_backs: float
    columns: int = COLUMNS
    rows: int = ROWS
    card_width: float = CARD_WIDTH_MM
    card_height: float = CARD_HEIGHT_MM
    padding: float = PADDING_MM
    crop_gap: float = CROP_GAP_MM
    crop_length: float = CROP_LENGTH_MM

    @classmethod
    def centred(cls, paper: Paper, shift_backs: float) -> "Geometry":
        return cls(paper, (paper.width_mm - COLUMNS * CARD_WIDTH_MM) / 2,
                   (paper.height_mm - ROWS * CARD_HEIGHT_MM) / 2, shift_backs)


def _paragraph(text: str, indent_em: float, scale: float) -> Paragraph:
    return text_width_em(text), indent_em, scale


def _estimated_height_pt(paragraphs: list[Paragraph], size_pt: float) -> float:
    height = 0.0
    for width_em, indent_em, scale in paragraphs:
        line_em = TEXT_WIDTH_PT / (size_pt * scale) - indent_em
        lines = max(1, ceil(width_em / line_em))
        height += lines * size_pt * scale * LINE_HEIGHT + 0.3 * size_pt  # + the gap below it
    return height


def _front_paragraphs(item: RenderedItem, labels: dict[str, str]) -> list[Paragraph]:
    return [_paragraph(labels["question"], 0.0, 1.0), _paragraph(plain_text(item.title), 0.0, TITLE_SCALE),
            _paragraph(plain_text(item.question), 0.0, 1.0)]


def _part_paragraphs(parts: list[AnswerPart], labels: dict[str, str]) -> list[Paragraph]:
    """Each part of an answer as cards.html sets it, for the estimate: a point indented like the
    list, the explanation after its label. Measured once per part: an item's parts are
    estimated in several groupings."""
    paragraphs: list[Paragraph] = []
    for part in parts:
        if isinstance(part, Piece):
            whole = part.whole
            term = plain_text(whole.term) + labels["term_separator"] if isinstance(whole, Point) and part.first else ""
            paragraphs.append(_paragraph(term + plain_text(part.unit.html), 0.0 if isinstance(whole, Lead) else 1.0, 1.0))
        elif isinstance(part, Point):
            paragraphs.append(_paragraph(plain_text(part.term) + labels["term_separator"] + plain_text(part.text), 1.0, 1.0))
        elif isinstance(part, Explanation):
            paragraphs.append(_paragraph(labels["explanation"] + labels["term_separator"] + plain_text(part.html), 0.5, 1.0))
        else:
            paragraphs.append(_paragraph(plain_text(part.html), 0.0, 1.0))
    return paragraphs


def _run_paragraphs(parts: list[AnswerPart], labels: dict[str, str]) -> list[Paragraph]:
    """The paragraphs of a card's share of an answer as it is shown: a part whole on it as one."""
    return [paragraph for run in _wholes(parts) for paragraph in _part_paragraphs(run, labels)]


def _back_paragraphs(part_paragraphs: list[Paragraph], labels: dict[str, str]) -> list[Paragraph]:
    """A back's paragraphs: its label, then its parts'."""
    return [_paragraph(labels["answer"], 0.0, 1.0), *part_paragraphs]


def _fitting_size(paragraphs: list[Paragraph]) -> int:
    """The largest size class at which the paragraphs are estimated to fit (else the smallest)."""
    for index, size in enumerate(FONT_SIZES_PT):
        if _estimated_height_pt(paragraphs, size) <= TEXT_HEIGHT_PT:
            return index
    return SMALLEST


def _groups_needed(part_paragraphs: list[Paragraph], labels: dict[str, str]) -> int:
    """How many backs the parts need at the smallest size, filling each back in turn."""
    count, group = 1, []
    for paragraph in part_paragraphs:
        candidate = group + [paragraph]
        if group and _estimated_height_pt(_back_paragraphs(candidate, labels), FONT_SIZES_PT[SMALLEST]) > TEXT_HEIGHT_PT:
            count, group = count + 1, [paragraph]
        else:
            group = candidate
    return count


def _balanced(part_paragraphs: list[Paragraph], count: int, labels: dict[str, str]) -> list[slice]:
    """The parts, in order, cut into `count` runs of about equal estimated height."""
    heights = [_estimated_height_pt(_back_paragraphs([paragraph], labels), FONT_SIZES_PT[SMALLEST])
               for paragraph in part_paragraphs]
    total, running = sum(heights), 0.0
    starts = [0]
    for index, height in enumerate(heights):
        # Start the next run once this one holds its share, keeping every run non-empty.
        if index > starts[-1] and len(starts) < count and running + height / 2 > total * len(starts) / count:
            starts.append(index)
        running += height
    return [slice(start, stop) for start, stop in zip(starts, [*starts[1:], len(heights)])]


class CardPlan(NamedTuple):
    """One card of an item before it is numbered: its share of the answer and its size classes."""

    answer: list[AnswerPart]
    front_size_class: int
    back_size_class: int


def _numbered(item: RenderedItem, plans: list[CardPlan]) -> list[Card]:
    return [
        Card(item, tuple(plan.answer), plan.front_size_class, plan.back_size_class, part, len(plans))
        for part, plan in enumerate(plans, start=1)
    ]


def _pieces(part: Union[Lead, Point, Explanation], place: int) -> list[AnswerPart]:
    """The part cut at its blocks, lines and long paragraphs' sentences; whole if it has one."""
    cut = units(part.text if isinstance(part, Point) else part.html, text_width_em, PIECE_WIDTH_EM)
    if len(cut) <= 1:
        return [part]
    return [Piece(part, place, index, len(cut), unit) for index, unit in enumerate(cut)]


def _question_too_long(item: RenderedItem) -> bool:
    """Whether the title and question are estimated not to fit a front at the smallest size."""
    head_label = {"question": ""}  # the face's head is one line whatever its label: no labels needed
    return _estimated_height_pt(_front_paragraphs(item, head_label), FONT_SIZES_PT[SMALLEST]) > TEXT_HEIGHT_PT


def _answer_parts(item: RenderedItem) -> list[AnswerPart]:
    lead = [Lead(item.answer.lead)] if item.answer.lead else []
    explanation = [Explanation(item.explanation)] if item.explanation else []
    asked: list[AnswerPart] = []
    if _question_too_long(item):
        cut = units(item.question, text_width_em, PIECE_WIDTH_EM)
        asked = [Piece(Question(item.question), -1, index, len(cut), unit) for index, unit in enumerate(cut)]
    return asked + [piece for place, part in enumerate([*lead, *item.answer.points, *explanation])
                    for piece in _pieces(part, place)]


def _asked_paragraphs(item: RenderedItem, asked: list[AnswerPart], labels: dict[str, str]) -> list[Paragraph]:
    """A front's paragraphs when the question is cut: its label, the title, its pieces."""
    return [*_front_paragraphs(item, labels)[:2], *[_paragraph(plain_text(piece.unit.html), 0.0, 1.0) for piece in asked]]


def _asked_runs(item: RenderedItem, asked: list[AnswerPart], labels: dict[str, str]) -> list[slice]:
    """The question's pieces in runs that each fill a front at the smallest size, in order."""
    size, runs, start = FONT_SIZES_PT[SMALLEST], [], 0
    for end in range(2, len(asked) + 1):
        if _estimated_height_pt(_asked_paragraphs(item, asked[start:end], labels), size) > TEXT_HEIGHT_PT:
            runs.append(slice(start, end - 1))
            start = end - 1
    return [*runs, slice(start, len(asked))]


def planned_cards(doc: RenderedBank) -> list[Card]:
    """Every item's cards, sized by estimate: one card each unless the answer is very long."""
    cards = []
    smallest = FONT_SIZES_PT[SMALLEST]
    for item in doc.items:
        front_size_class = _fitting_size(_front_paragraphs(item, doc.labels))
        asked, parts = _asked(_answer_parts(item))
        if _estimated_height_pt(_back_paragraphs(_run_paragraphs(parts, doc.labels), doc.labels), smallest) <= TEXT_HEIGHT_PT:
            runs = [slice(0, len(parts))]
        else:
            paragraphs = _part_paragraphs(parts, doc.labels)
            runs = _balanced(paragraphs, _groups_needed(paragraphs, doc.labels), doc.labels)
        if asked:
            front_size_class = _fitting_size(_asked_paragraphs(item, [], doc.labels))
        plans = [CardPlan(parts[run], front_size_class,
                          _fitting_size(_back_paragraphs(_run_paragraphs(parts[run], doc.labels), doc.labels)))
                 for run in runs]
        if asked:  # the question's fronts, the last one with the answer's first back
            fronts = [CardPlan(asked[run], _fitting_size(_asked_paragraphs(item, asked[run], doc.labels)), 0)
                      for run in _asked_runs(item, asked, doc.labels)]
            plans = [*fronts[:-1], fronts[-1]._replace(answer=fronts[-1].answer + plans[0].answer,
                                                       back_size_class=plans[0].back_size_class), *plans[1:]]
        cards += _numbered(item, plans)
    return cards


def sheets(cards: list[Card]) -> list[Sheet]:
    """Cards in reading order on the fronts; each back slot mirrors its front (long-edge duplex)."""
    per_sheet = COLUMNS * ROWS
    result = []
    for start in range(0, len(cards), per_sheet):
        fronts = tuple(Slot(card, index // COLUMNS, index % COLUMNS)
                       for index, card in enumerate(cards[start:start + per_sheet]))
        backs = tuple(Slot(slot.card, slot.row, COLUMNS - 1 - slot.column) for slot in fronts)
        result.append(Sheet(fronts, backs))
    return result


def _overflowing(document: Document, cards: list[Card]) -> set[tuple[str, str]]:
    """(card key, "front" | "back") of every face whose text runs past its card's padding."""
    anchors = {name: box for page in document.pages for name, box in page.anchors.items()}
    tolerance_px = 0.5
    found = set()
    for card in cards:
        for side in ("front", "back"):
            face_bottom = anchors[f"{side}-{card.key}"][3]
            text_bottom = anchors[f"{side}-text-{card.key}"][3]
            if text_bottom > face_bottom - PADDING_MM * PX_PER_MM + tolerance_px:
                found.add((card.key, side))
    return found


def _warn_clipped(cards: list[Card], overflowing: set[tuple[str, str]]) -> None:
    """Name the faces still too long: each holds one piece (a line, an image) taller than a card
    even at the smallest size, which the card clips. Valid content never fails the build."""
    smallest = FONT_SIZES_PT[SMALLEST]
    for card in cards:
        for side, what in (("front", "the title and question"), ("back", "a line or image of the answer")):
            if (card.key, side) in overflowing:
                problem = Problem(card.item.location, f"{what} does not fit on flashcard {card.part} even at "
                                  f"{smallest:g} pt, and is cut off at the card's edge", card.item.id)
                print(f"warning: {problem}", file=sys.stderr)


def _refitted(cards: list[Card], overflowing: set[tuple[str, str]], labels: dict[str, str]) -> list[Card]:
    """The cards with each overflowing face made smaller, or its answer continued on another card.
    A face already at the smallest size holding one piece stays as it is: the cards come back
    unchanged when no face can change (then _fitted stops)."""
    refitted: list[Card] = []
    for item, item_cards in groupby(cards, key=lambda card: card.item):
        plans: list[CardPlan] = []
        for card in item_cards:
            front_size_class, parts = card.front_size_class, list(card.answer)
            asked, answer = _asked(parts)
            if (card.key, "front") in overflowing:
                if front_size_class < SMALLEST:
                    front_size_class += 1
                elif len(asked) > 1:  # half the question's pieces go on a card of their own before
                    plans.append(CardPlan(asked[:len(asked) // 2], SMALLEST, 0))
                    asked = asked[len(asked) // 2:]
                    parts = asked + answer
            if (card.key, "back") not in overflowing:
                plans.append(CardPlan(parts, front_size_class, card.back_size_class))
            elif card.back_size_class < SMALLEST:
                plans.append(CardPlan(parts, front_size_class, card.back_size_class + 1))
            elif len(answer) > 1:
                first, *rest = _balanced(_part_paragraphs(answer, labels), 2, labels)
                plans += [CardPlan(asked + answer[first], front_size_class, SMALLEST),
                          *[CardPlan(answer[half], front_size_class, SMALLEST) for half in rest]]
            else:
                plans.append(CardPlan(parts, front_size_class, SMALLEST))
        refitted += _numbered(item, plans)
    return refitted


def _fitted(doc: RenderedBank, media: dict[str, Path], context: dict, cards: list[Card],
            numbers: PageNumbers | None = None) -> tuple[list[Card], Document]:
    """The cards with every face fitting, and their laid-out sheets."""
    # Usually one pass. Each further pass shrinks a face or splits an answer, which can happen
    # only so often; when nothing can change, what still overflows is clipped.
    while True:
        document = render_document(doc, media, "cards.html", "cards.css", numbers, sheets=sheets(cards), **context)
        overflowing = _overflowing(document, cards)
        refitted = _refitted(cards, overflowing, doc.labels) if overflowing else cards
        if refitted == cards:
            _warn_clipped(cards, overflowing)
            return cards, document
        cards = refitted


class FittedCard(NamedTuple):
    """A card as a chunk's process fitted it, without its item: what the process sends back.
    (A Card would carry its item, and the writer would unpickle a second copy of every item.)"""

    number: int  # its item's
    answer_parts: int  # how many of its item's answer parts it shows, after those of its item's cards before it
    front_size_class: int
    back_size_class: int


def _write_chunk(media: dict[str, Path], context: dict, chunk: tuple[RenderedBank, list[Card], PageNumbers],
                 target: Path) -> list[FittedCard]:
    """Fit and write one chunk of whole sheets (with an excerpt of the bank holding their
    items); returns its fitted cards."""
    excerpt, cards, numbers = chunk
    cards, document = _fitted(excerpt, media, context, cards, numbers)
    write_document(excerpt, document, target)
    return [FittedCard(card.item.number, len(card.answer), card.front_size_class, card.back_size_class)
            for card in cards]


def _cards_of(doc: RenderedBank, fitted: list[FittedCard]) -> list[Card]:
    """The cards `fitted` describes, with their items from `doc`."""
    cards: list[Card] = []
    for number, item_cards in groupby(fitted, key=lambda card: card.number):
        item = doc.items[number - 1]
        parts, start, plans = _answer_parts(item), 0, []
        for card in item_cards:
            plans.append(CardPlan(parts[start:start + card.answer_parts], card.front_size_class, card.back_size_class))
            start += card.answer_parts
        cards += _numbered(item, plans)
    return cards


def _excerpt(doc: RenderedBank, cards: list[Card]) -> RenderedBank:
    return doc.excerpt(list({card.item.number: card.item for card in cards}.values()))


def _write_chunked(doc: RenderedBank, media: dict[str, Path], context: dict, cards: list[Card],
                   layout: PagedLayout) -> None:
    """Lay the cards out in chunks of whole sheets, side by side, joined as they are done.

    A card fits or not whatever its place, so each chunk fits its own cards, and the page
    numbers come from the planned cards. A chunk that had to continue an answer on a further
    card moves every later card: then the fitted cards are laid out again.
    """
    while True:
        chunks = layout.plan.chunked(cards, COLUMNS * ROWS)
        numbers = chunk_numbers([2 * ceil(len(chunk) / (COLUMNS * ROWS)) for chunk in chunks])
        fitted = layout.lay_out_joined(partial(_write_chunk, media, context),
                                       [(_excerpt(doc, chunk), chunk, first) for chunk, first in zip(chunks, numbers)])
        if all(len(after) == len(before) for after, before in zip(fitted, chunks)):
            return
        cards = _cards_of(doc, [card for chunk in fitted for card in chunk])


@dataclass(frozen=True)
class FlashcardWriter(Writer):
    items_per_chunk: int = ITEMS_PER_CHUNK

    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, processes: int = 1) -> Downscaled:
        doc = with_typeset_math(doc)
        require_coverage(doc, font_stack(doc.lang))
        context = print_context(doc, options.paper)
        context.update(
            geometry=Geometry.centred(context["paper"], options.shift_backs_mm),
            font_sizes=FONT_SIZES_PT,
            title_scale=TITLE_SCALE,
            line_height=LINE_HEIGHT,
        )
        cards = planned_cards(doc)
        plan = LayoutPlan(self.items_per_chunk, processes, preload=(__name__,))
        with fitted_media(doc.media, IMAGE_BOX) as media:
            if len(cards) <= plan.items_per_chunk:
                write_document(doc, _fitted(doc, media.files, context, cards)[1], target)
            else:
                with PagedLayout(plan, target) as layout:
                    _write_chunked(doc, media.files, context, cards, layout)
        return media.downscaled


WRITER = FlashcardWriter()
