"""Import a Markdown Q&A document: questions followed by free Markdown answers.

The shape of the most-starred interview-question repositories::

    # Title
    preface
    ### Table of Contents            <- left out: a heading over links into the document
    ## Section                       <- a section of the bank
    1.  ### What is React?           <- a question (qa_shapes.py: which lines are questions)
        free Markdown answer
        **[⬆ Back to Top](#table-of-contents)**   <- left out: a line that only links back

Each answer becomes the item's answer lead, whole (a list item's answer taken out of its
indentation); its question is its title. Text between a section's heading and its first
question, and sections without questions, are left out with a note, as is each table of
contents and each line that is only a link into the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .common import ImportedItem, ImportRefused
from .markup import Media, bank_markdown, fenced_lines
from .qa_shapes import QUESTION_RULE, Question, headings, question_shape

__all__ = ["QUESTION_RULE", "QADocument", "parse_qa"]

# A line that is only a link to an anchor of the document ('**[⬆ Back to Top](#table-of-contents)**'):
# navigation on the source's web page, nothing in a card.
_BACK_LINK = re.compile(r"^[ \t]*(?:\*\*|__|\*|_)?\[[^\]\n]*\]\(#[^)\s]*\)(?:\*\*|__|\*|_)?[ \t]*$")
_ANCHOR_LINK = re.compile(r"\]\(#[^)\s]*\)")
_RULE = re.compile(r"^[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*$")
CONTENTS_LINKS_MIN = 3  # a heading over fewer links into the document is not a table of contents


@dataclass
class QADocument:
    title: str
    preface: str
    items: list[ImportedItem]
    notes: list[str]


def _is_contents(lines: list[str]) -> bool:
    """Whether these lines are a table of contents: mostly links into the document."""
    filled = [line for line in lines if line.strip()]
    linking = [line for line in filled if _ANCHOR_LINK.search(line)]
    return len(linking) >= CONTENTS_LINKS_MIN and 2 * len(linking) >= len(filled)


def _without_contents(lines: list[str], first: int, titled: dict[int, tuple[int, str]], source: Path,
                      notes: list[str]) -> list[str]:
    """`lines` (the document's lines from index `first`) with each heading whose text, up to
    the next heading, is a table of contents blanked out, heading and all."""
    starts = [index - first for index in titled if first <= index < first + len(lines)]
    kept = list(lines)
    for start, stop in zip(starts, [*starts[1:], len(lines)]):
        if _is_contents(lines[start + 1 : stop]):
            kept[start:stop] = [""] * (stop - start)
            notes.append(f"{source}:{first + start + 1}: the table of contents under "
                         f"'{titled[first + start][1]}' was left out")
    return kept


def _answer_lines(lines: list[str], question: Question, end: int) -> list[str]:
    """The answer's lines, out of the list item's indentation (a line indented less loses all of its)."""
    out = []
    for line in lines[question.answer : end]:
        width = len(line) - len(line.lstrip(" "))
        out.append(line[min(width, question.indent):])
    return out


def parse_qa(text: str, source: Path, media: Media) -> QADocument:
    lines = text.split("\n")
    code = fenced_lines(lines)
    titled = headings(lines, code)
    shape = question_shape(lines, code, titled)
    questions = shape.questions
    if not questions:
        raise ImportRefused(f"{source}: no questions found: {QUESTION_RULE}")
    title, notes = "", [f"{source}: its questions are its {shape.name}"]
    section: str | None = None
    starts: list[tuple[Question | None, str | None]] = []  # a question, or a section heading (None)
    lines_of: list[int] = []  # where each start is
    preface_end = len(lines)
    for index in range(len(lines)):
        level, heading = titled.get(index, (0, ""))
        if index in questions:
            starts.append((questions[index], section))
        elif level == 1 and not title and not starts:
            title = heading
            continue
        elif index in shape.sections:
            section = heading
            starts.append((None, section))  # ends the answer before it
        else:
            continue
        preface_end = min(preface_end, index)
        lines_of.append(index)
    title_line = next((index for index, (level, _) in titled.items() if level == 1 and index < preface_end), -1)
    preface = ["" if index == title_line else line for index, line in enumerate(lines[:preface_end])]
    preface = _without_contents(preface, 0, titled, source, notes)
    back_links: list[str] = []

    def answer_markdown(answer: list[str], fenced: list[bool]) -> str:
        """The answer's Markdown without its links back and its rules (outside code, as the
        document has its code: a fence left open inside a list item ends with the item)."""
        back_links.extend(line.strip() for line, code in zip(answer, fenced) if not code and _BACK_LINK.match(line))
        kept = ["" if not code and _RULE.match(line) else line for line, code in zip(answer, fenced)
                if code or not _BACK_LINK.match(line)]
        return bank_markdown("\n".join(kept), media)

    document = QADocument(title or source.stem, answer_markdown(preface, code[:preface_end]), [], notes)
    for (question, item_section), start, end in zip(starts, lines_of, [*lines_of[1:], len(lines)]):
        if question is None:  # a section heading: text between it and its first question
            intro = _without_contents(lines[start + 1 : end], start + 1, titled, source, notes)
            if any(line.strip() and not _BACK_LINK.match(line) for line in intro):
                notes.append(f"{source}:{start + 2}: text under the section '{item_section}' before its first "
                             "question was left out")
            continue
        answer = answer_markdown(_answer_lines(lines, question, end), code[question.answer : end])
        item_title = bank_markdown(question.text, media).replace("\n", " ").strip()
        if not answer:
            notes.append(f"{source}:{start + 1}: question '{item_title}' has no answer: left out")
            continue
        document.items.append(ImportedItem(item_title, item_title, answer, start + 1, section=item_section))
    if back_links:
        notes.append(f"{source}: {len(back_links)} lines that only link into the document, such as "
                     f"'{back_links[0]}', were left out")
    if not document.items:
        raise ImportRefused(f"{source}: none of its {len(starts)} questions has an answer")
    return document
