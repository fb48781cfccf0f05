"""How an item becomes flashcards: its answer cut into parts and pieces, and shared out
among its cards by the estimate of card_sizes.py (a question too long for a front first).

An answer continued on another card is cut between its parts, or, for a part longer than a
card, between the pieces card_pieces.py cuts it into; `refitted` corrects the plan where
WeasyPrint's real layout overflowed a face.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import groupby
from typing import Iterator, NamedTuple, Union

from markupsafe import Markup

from ..document import RenderedBank, RenderedItem, plain_text, text_width_em
from ..model import Point
from .card_pieces import Unit, joined, units
from .card_sizes import (FONT_SIZES_PT, PIECE_WIDTH_EM, SMALLEST, TEXT_HEIGHT_PT, TITLE_SCALE, Paragraph,
                         back_paragraphs, balanced, estimated_height_pt, fitting_size, groups_needed, paragraph)

# An item's answer as a back shows it, in the model's terms: (the key, its value) for the
# lead, each point and the explanation, those the item has (answer_fields).
Field = tuple[str, Union[Markup, Point]]
QUESTION = -1  # the place of a question's pieces


def answer_fields(item: RenderedItem) -> list[Field]:
    """The item's answer, read from the model, in the order a back shows it."""
    return [*([("lead", item.answer.lead)] if item.answer.lead else []),
            *(("points", point) for point in item.answer.points),
            *([("explanation", item.explanation)] if item.explanation else [])]


@dataclass(frozen=True)
class Part:
    """A share of an item's answer: one of its answer_fields whole, or, for one longer than a
    card, a piece of it (one unit of its HTML; of a point, of its text). Or a piece of a
    question longer than a front (place QUESTION), which goes on the fronts of the item's first
    cards."""

    place: int  # the field's index in answer_fields(item), or QUESTION
    index: int = 0  # this piece's place among the field's
    count: int = 1  # the field's pieces
    unit: Unit | None = None  # None: the field whole

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
# between its parts, never inside one. A field that has blocks, lines or long sentences comes
# as its pieces, always the same for an item, so that a chunk's process and the writer agree on
# them (FittedCard counts them); a card that holds all of a field's pieces shows the field whole.
# A question too long for a front comes first, as its pieces: the fronts of an item's first
# cards show them in turn, and the answer begins on the back of the card with the question's
# last piece (the backs before it stay empty), so each back still lies behind its own front.


def _asked(parts: list[Part]) -> tuple[list[Part], list[Part]]:
    """A card's (or an item's) pieces of the question, and its share of the answer."""
    asked = [part for part in parts if part.place == QUESTION]
    return asked, parts[len(asked):]


def _wholes(parts: list[Part]) -> Iterator[list[Part]]:
    """`parts` in runs of one field each, a run holding all of a field's pieces as the field whole."""
    for place, run in groupby(parts, key=lambda part: part.place):
        run = list(run)
        yield [Part(place)] if len(run) == run[0].count else run


@dataclass(frozen=True)
class Card:
    """One card: its item's front, and the item's answer (or a share of it) on the back."""

    item: RenderedItem
    answer: tuple[Part, ...]
    front_size_class: int = 0  # index into FONT_SIZES_PT
    back_size_class: int = 0
    part: int = 1  # for an answer continued on more cards: this card's place among them
    parts: int = 1

    @property
    def key(self) -> str:
        return f"{self.item.number}-{self.part}"

    # Cached: the back's template reads the lead, points and explanation, each through `shown`,
    # and the front reads `question` twice, on every layout pass.
    @cached_property
    def shown(self) -> list[tuple[str, Union[Markup, Point, ShownPoint]]]:
        """The card's share of the answer fields, each run of pieces of one field joined back."""
        fields, shown = answer_fields(self.item), []
        for run in _wholes(_asked(list(self.answer))[1]):
            first = run[0]
            key, value = fields[first.place]
            if first.unit is None:
                shown.append((key, value))
                continue
            html = Markup(joined([piece.unit for piece in run]))
            shown.append((key, ShownPoint(value.term, html, not first.first) if key == "points" else html))
        return shown

    @cached_property
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
        return next((value for key, value in self.shown if key == "lead"), None)

    @property
    def points(self) -> tuple[Point | ShownPoint, ...]:
        return tuple(value for key, value in self.shown if key == "points")

    @property
    def explanation(self) -> Markup | None:
        return next((value for key, value in self.shown if key == "explanation"), None)


def _front_paragraphs(item: RenderedItem, labels: dict[str, str]) -> list[Paragraph]:
    return [paragraph(labels["question"], 0.0, 1.0), paragraph(plain_text(item.title), 0.0, TITLE_SCALE),
            paragraph(plain_text(item.question), 0.0, 1.0)]


def _part_paragraphs(item: RenderedItem, parts: list[Part], labels: dict[str, str]) -> list[Paragraph]:
    """Each part of the item's answer as cards.html sets it, for the estimate: a point indented
    like the list, the explanation after its label. Measured once per part: an item's parts
    are estimated in several groupings."""
    fields, paragraphs = answer_fields(item), []
    for part in parts:
        key, value = fields[part.place]
        separator = labels["term_separator"]
        if part.unit is not None:
            term = plain_text(value.term) + separator if key == "points" and part.first else ""
            paragraphs.append(paragraph(term + plain_text(part.unit.html), 0.0 if key == "lead" else 1.0, 1.0))
        elif key == "points":
            paragraphs.append(paragraph(plain_text(value.term) + separator + plain_text(value.text), 1.0, 1.0))
        elif key == "explanation":
            paragraphs.append(paragraph(labels["explanation"] + separator + plain_text(value), 0.5, 1.0))
        else:
            paragraphs.append(paragraph(plain_text(value), 0.0, 1.0))
    return paragraphs


def _run_paragraphs(item: RenderedItem, parts: list[Part], labels: dict[str, str]) -> list[Paragraph]:
    """The paragraphs of a card's share of an answer as it is shown: a field whole on it as one."""
    return [paragraph for run in _wholes(parts) for paragraph in _part_paragraphs(item, run, labels)]


class CardPlan(NamedTuple):
    """One card of an item before it is numbered: its share of the answer and its size classes."""

    answer: list[Part]
    front_size_class: int
    back_size_class: int


def numbered(item: RenderedItem, plans: list[CardPlan]) -> list[Card]:
    return [
        Card(item, tuple(plan.answer), plan.front_size_class, plan.back_size_class, part, len(plans))
        for part, plan in enumerate(plans, start=1)
    ]


def _pieces(field: Field, place: int) -> list[Part]:
    """The field cut at its blocks, lines and long paragraphs' sentences; whole if it has one."""
    key, value = field
    cut = units(value.text if key == "points" else value, text_width_em, PIECE_WIDTH_EM)
    if len(cut) <= 1:
        return [Part(place)]
    return [Part(place, index, len(cut), unit) for index, unit in enumerate(cut)]


def _question_too_long(item: RenderedItem) -> bool:
    """Whether the title and question are estimated not to fit a front at the smallest size."""
    head_label = {"question": ""}  # the face's head is one line whatever its label: no labels needed
    return estimated_height_pt(_front_paragraphs(item, head_label), FONT_SIZES_PT[SMALLEST]) > TEXT_HEIGHT_PT


def answer_parts(item: RenderedItem) -> list[Part]:
    """What the item's cards share out: the question's pieces if it is too long for a front,
    then each answer field, whole or in pieces."""
    asked: list[Part] = []
    if _question_too_long(item):
        cut = units(item.question, text_width_em, PIECE_WIDTH_EM)
        asked = [Part(QUESTION, index, len(cut), unit) for index, unit in enumerate(cut)]
    return asked + [part for place, field in enumerate(answer_fields(item)) for part in _pieces(field, place)]


def _asked_paragraphs(item: RenderedItem, asked: list[Part], labels: dict[str, str]) -> list[Paragraph]:
    """A front's paragraphs when the question is cut: its label, the title, its pieces."""
    return [*_front_paragraphs(item, labels)[:2], *[paragraph(plain_text(piece.unit.html), 0.0, 1.0) for piece in asked]]


def _asked_runs(item: RenderedItem, asked: list[Part], labels: dict[str, str]) -> list[slice]:
    """The question's pieces in runs that each fill a front at the smallest size, in order."""
    size, runs, start = FONT_SIZES_PT[SMALLEST], [], 0
    for end in range(2, len(asked) + 1):
        if estimated_height_pt(_asked_paragraphs(item, asked[start:end], labels), size) > TEXT_HEIGHT_PT:
            runs.append(slice(start, end - 1))
            start = end - 1
    return [*runs, slice(start, len(asked))]


def planned_cards(doc: RenderedBank) -> list[Card]:
    """Every item's cards, sized by estimate: one card each unless the answer is very long."""
    cards = []
    smallest = FONT_SIZES_PT[SMALLEST]
    for item in doc.items:
        front_size_class = fitting_size(_front_paragraphs(item, doc.labels))
        asked, parts = _asked(answer_parts(item))
        if estimated_height_pt(back_paragraphs(_run_paragraphs(item, parts, doc.labels), doc.labels),
                               smallest) <= TEXT_HEIGHT_PT:
            runs = [slice(0, len(parts))]
        else:
            paragraphs = _part_paragraphs(item, parts, doc.labels)
            runs = balanced(paragraphs, groups_needed(paragraphs, doc.labels), doc.labels)
        if asked:
            front_size_class = fitting_size(_asked_paragraphs(item, [], doc.labels))
        plans = [CardPlan(parts[run], front_size_class,
                          fitting_size(back_paragraphs(_run_paragraphs(item, parts[run], doc.labels), doc.labels)))
                 for run in runs]
        if asked:  # the question's fronts, the last one with the answer's first back
            fronts = [CardPlan(asked[run], fitting_size(_asked_paragraphs(item, asked[run], doc.labels)), 0)
                      for run in _asked_runs(item, asked, doc.labels)]
            plans = [*fronts[:-1], fronts[-1]._replace(answer=fronts[-1].answer + plans[0].answer,
                                                       back_size_class=plans[0].back_size_class), *plans[1:]]
        cards += numbered(item, plans)
    return cards


def refitted(cards: list[Card], overflowing: set[tuple[str, str]], labels: dict[str, str]) -> list[Card]:
    """The cards with each overflowing face made smaller, or its answer continued on another card.
    A face already at the smallest size holding one piece stays as it is: the cards come back
    unchanged when no face can change (then the writer's fitting stops, cards.py)."""
    corrected: list[Card] = []
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
                first, *rest = balanced(_part_paragraphs(item, answer, labels), 2, labels)
                plans += [CardPlan(asked + answer[first], front_size_class, SMALLEST),
                          *[CardPlan(answer[half], front_size_class, SMALLEST) for half in rest]]
            else:
                plans.append(CardPlan(parts, front_size_class, SMALLEST))
        corrected += numbered(item, plans)
    return corrected

