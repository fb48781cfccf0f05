"""Import a Markdown Q&A document: questions followed by free Markdown answers.

The shape of the most-starred interview-question repositories::

    # Title
    preface
    ## Section                     <- a section of the bank
    **What is regression? 👶**     <- a question: a paragraph that is all bold ...
    free Markdown answer
    ### 3.1.1 神经网络组成？          <- ... or a heading deeper than the sections
    free Markdown answer

Which lines are questions follows from the document (QUESTION_RULE): headings of level 3 or
deeper, if there are any (the most frequent such level; deeper ones stay in the answers);
else paragraphs that are all bold; else `##` headings, with no sections. Each answer becomes
the item's answer lead, whole; its question is its title.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .common import ImportedItem, ImportRefused
from .markup import Media, bank_markdown

QUESTION_RULE = ("questions are the document's headings of level 3 or deeper (the most frequent level), "
                 "else its paragraphs that are all bold, else its ## headings; each answer, whole, is the item's lead")

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_BOLD_LINE = re.compile(r"^ {0,3}(\*\*|__)(?P<text>(?:(?!\1).)+)\1[ \t]*$")


@dataclass
class QADocument:
    title: str
    preface: str
    items: list[ImportedItem]
    notes: list[str]


def _in_code(lines: list[str]) -> list[bool]:
    """Whether each line is inside fenced code (its fences included), where nothing is a heading."""
    inside, fence = [], None
    for line in lines:
        if opening := _FENCE.match(line):
            if fence is None:
                fence = opening[1]
            elif opening[1].startswith(fence[0]) and len(opening[1]) >= len(fence):
                fence = None
            inside.append(True)
        else:
            inside.append(fence is not None)
    return inside


def _headings(lines: list[str], code: list[bool]) -> dict[int, tuple[int, str]]:
    """Line index -> (level, text) of every ATX heading outside fenced code."""
    return {index: (len(heading[1]), heading[2]) for index, line in enumerate(lines)
            if not code[index] and (heading := _HEADING.match(line))}


def _bold_questions(lines: list[str], code: list[bool], headings: dict[int, tuple[int, str]]) -> dict[int, str]:
    """Line index -> text of each paragraph that is one bold line (outside code and headings)."""
    found = {}
    for index, line in enumerate(lines):
        if not code[index] and index not in headings and (bold := _BOLD_LINE.match(line)):
            alone_before = index == 0 or not lines[index - 1].strip()
            alone_after = index + 1 == len(lines) or not lines[index + 1].strip()
            if alone_before and alone_after:
                found[index] = bold["text"].strip()
    return found


def parse_qa(text: str, source: Path, media: Media) -> QADocument:
    lines = text.split("\n")
    code = _in_code(lines)
    headings = _headings(lines, code)
    deep_levels = Counter(level for level, _ in headings.values() if level >= 3)
    if deep_levels:
        question_level = max(deep_levels, key=lambda level: (deep_levels[level], -level))
        questions = {i: t for i, (level, t) in headings.items() if level == question_level}
        section_level = 2
    elif bold := _bold_questions(lines, code, headings):
        questions, section_level = bold, 2
    else:
        questions = {i: t for i, (level, t) in headings.items() if level == 2}
        section_level = None
    if not questions:
        raise ImportRefused(f"{source}: no questions found: {QUESTION_RULE}")
    title, preface, notes = "", [], []
    section: str | None = None
    starts: list[tuple[int, str, str | None]] = []  # (line index, question, section)
    for index, line in enumerate(lines):
        level, heading = headings.get(index, (0, ""))
        if index in questions:
            starts.append((index, questions[index], section))
        elif level == 1 and not title and not starts:
            title = heading
        elif level and (level == section_level or level == 1):
            section = heading
            starts.append((index, "", section))  # ends the answer before it
        elif not starts:
            preface.append(line)
    document = QADocument(title or source.stem, bank_markdown("\n".join(preface), media), [], notes)
    for (start, question, item_section), end in zip(starts, [s for s, _, _ in starts[1:]] + [len(lines)]):
        body = "\n".join(lines[start + 1 : end])
        if not question:  # a section heading: text between it and its first question
            if body.strip():
                notes.append(f"{source}:{start + 2}: text under the section '{item_section}' before its first "
                             "question was left out")
            continue
        answer = bank_markdown(re.sub(r"(?m)^\s*(?:-{3,}|\*{3,}|_{3,})\s*$", "", body), media)
        item_title = bank_markdown(question, media).replace("\n", " ").strip()
        if not answer:
            notes.append(f"{source}:{start + 1}: question '{item_title}' has no answer: left out")
            continue
        document.items.append(ImportedItem(item_title, item_title, answer, start + 1, section=item_section))
    if not document.items:
        raise ImportRefused(f"{source}: none of its {len(starts)} questions has an answer")
    return document
