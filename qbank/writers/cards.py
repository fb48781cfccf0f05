"""Flashcards to print on both sides of the paper and cut out.

Each sheet is two pages: a grid of fronts (number, title, question), then the backs (answer
and explanation) in the mirrored grid, so that after long-edge duplex printing every back
lies behind its own front. A face whose text does not fit its card at the normal size gets
a smaller one; an answer too long even at the smallest size continues on further cards,
cut between its parts or, for a part longer than a card, inside it (card_pieces.py).
Sizes are first estimated from the text (card_plan.py, card_sizes.py), then checked here
against WeasyPrint's actual layout and corrected, so no text is cut off (but a single line or
image taller than a card).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import partial
from itertools import groupby
from math import ceil
from pathlib import Path
from typing import NamedTuple

from weasyprint import Document

from ..document import RenderedBank
from ..model import Problem
from ..processes import Budget
from ..progress import SILENT, Progress
from .card_plan import Card, CardPlan, answer_parts, numbered, planned_cards, refitted
from .card_sizes import (CARD_HEIGHT_MM, CARD_WIDTH_MM, COLUMNS, CROP_GAP_MM, CROP_LENGTH_MM, FONT_SIZES_PT, IMAGE_BOX,
                         LINE_HEIGHT, PADDING_MM, PX_PER_MM, ROWS, SMALLEST, TITLE_SCALE)
from .fonts import font_stack, require_coverage
from .formulas import with_typeset_math
from .images import fitted_media
from .paged import LayoutPlan, PagedLayout, PageNumbers, chunk_numbers
from .printing import ITEMS_PER_CHUNK, Paper, print_context, render_document, write_document
from . import BuildOptions, Downscaled, Writer

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



def _fitted(doc: RenderedBank, media: dict[str, Path], context: dict, cards: list[Card], progress: Progress,
            numbers: PageNumbers | None = None) -> tuple[list[Card], Document]:
    """The cards with every face fitting, and their laid-out sheets."""
    # Usually one pass. Each further pass shrinks a face or splits an answer, which can happen
    # only so often; when nothing can change, what still overflows is clipped.
    while True:
        document = render_document(doc, media, "cards.html", "cards.css", numbers, progress=progress,
                                   sheets=sheets(cards), **context)
        overflowing = _overflowing(document, cards)
        corrected = refitted(cards, overflowing, doc.labels) if overflowing else cards
        if corrected == cards:
            _warn_clipped(cards, overflowing)
            return cards, document
        cards = corrected


class FittedCard(NamedTuple):
    """A card as a chunk's process fitted it, without its item: what the process sends back.
    (A Card would carry its item, and the writer would unpickle a second copy of every item.)"""

    number: int  # its item's
    answer_parts: int  # how many of its item's answer parts it shows, after those of its item's cards before it
    front_size_class: int
    back_size_class: int


def _write_chunk(media: dict[str, Path], context: dict, chunk: tuple[RenderedBank, list[Card], PageNumbers],
                 target: Path, progress: Progress) -> list[FittedCard]:
    """Fit and write one chunk of whole sheets (with an excerpt of the bank holding their
    items); returns its fitted cards."""
    excerpt, cards, numbers = chunk
    cards, document = _fitted(excerpt, media, context, cards, progress, numbers)
    write_document(excerpt, document, target, progress=progress)
    return [FittedCard(card.item.number, len(card.answer), card.front_size_class, card.back_size_class)
            for card in cards]


def _cards_of(doc: RenderedBank, fitted: list[FittedCard]) -> list[Card]:
    """The cards `fitted` describes, with their items from `doc`."""
    cards: list[Card] = []
    for number, item_cards in groupby(fitted, key=lambda card: card.number):
        item = doc.items[number - 1]
        parts, start, plans = answer_parts(item), 0, []
        for card in item_cards:
            plans.append(CardPlan(parts[start:start + card.answer_parts], card.front_size_class, card.back_size_class))
            start += card.answer_parts
        cards += numbered(item, plans)
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

    def write(self, doc: RenderedBank, target: Path, options: BuildOptions, budget: Budget = Budget(),
              progress: Progress = SILENT) -> Downscaled:
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
        plan = LayoutPlan(self.items_per_chunk, preload=(__name__,))
        with fitted_media(doc.media, IMAGE_BOX) as media:
            if len(cards) <= plan.items_per_chunk:
                write_document(doc, _fitted(doc, media.files, context, cards, progress)[1], target, progress=progress)
            else:
                with PagedLayout(plan, target, budget, progress) as layout:
                    _write_chunked(doc, media.files, context, cards, layout)
        return media.downscaled


WRITER = FlashcardWriter()
