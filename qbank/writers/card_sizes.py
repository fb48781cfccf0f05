"""How much text a flashcard holds: the card's measures, and an estimate of a face's height.

The plan (card_plan.py) sizes and cuts each item's cards by this estimate before any layout;
the writer (cards.py) then checks it against WeasyPrint's real layout and corrects it.
"""

from __future__ import annotations

from math import ceil

from ..document import text_width_em
from .images import Box

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

def paragraph(text: str, indent_em: float, scale: float) -> Paragraph:
    return text_width_em(text), indent_em, scale


def estimated_height_pt(paragraphs: list[Paragraph], size_pt: float) -> float:
    height = 0.0
    for width_em, indent_em, scale in paragraphs:
        line_em = TEXT_WIDTH_PT / (size_pt * scale) - indent_em
        lines = max(1, ceil(width_em / line_em))
        height += lines * size_pt * scale * LINE_HEIGHT + 0.3 * size_pt  # + the gap below it
    return height


def back_paragraphs(part_paragraphs: list[Paragraph], labels: dict[str, str]) -> list[Paragraph]:
    """A back's paragraphs: its label, then its parts'."""
    return [paragraph(labels["answer"], 0.0, 1.0), *part_paragraphs]


def fitting_size(paragraphs: list[Paragraph]) -> int:
    """The largest size class at which the paragraphs are estimated to fit (else the smallest)."""
    for index, size in enumerate(FONT_SIZES_PT):
        if estimated_height_pt(paragraphs, size) <= TEXT_HEIGHT_PT:
            return index
    return SMALLEST


def groups_needed(part_paragraphs: list[Paragraph], labels: dict[str, str]) -> int:
    """How many backs the parts need at the smallest size, filling each back in turn."""
    count, group = 1, []
    for paragraph in part_paragraphs:
        candidate = group + [paragraph]
        if group and estimated_height_pt(back_paragraphs(candidate, labels), FONT_SIZES_PT[SMALLEST]) > TEXT_HEIGHT_PT:
            count, group = count + 1, [paragraph]
        else:
            group = candidate
    return count


def balanced(part_paragraphs: list[Paragraph], count: int, labels: dict[str, str]) -> list[slice]:
    """The parts, in order, cut into `count` runs of about equal estimated height."""
    heights = [estimated_height_pt(back_paragraphs([paragraph], labels), FONT_SIZES_PT[SMALLEST])
               for paragraph in part_paragraphs]
    total, running = sum(heights), 0.0
    starts = [0]
    for index, height in enumerate(heights):
        # Start the next run once this one holds its share, keeping every run non-empty.
        if index > starts[-1] and len(starts) < count and running + height / 2 > total * len(starts) / count:
            starts.append(index)
        running += height
    return [slice(start, stop) for start, stop in zip(starts, [*starts[1:], len(heights)])]

