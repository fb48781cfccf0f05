"""Where the questions of a Markdown Q&A document are: the shapes markdown_qa.py reads.

Each shape is a kind of line that starts a question, found outside fenced code::

    1.  ### What is React?           <- a numbered list item that is a heading; its answer is
        indented answer                 the item's content, indented as the list item's
    ### 3.1.1 神经网络组成？            <- a heading of level 3 or deeper (the most frequent level)
    **What is regression? 👶**        <- a paragraph that is all bold
    **1)** The number of active ads.  <- a paragraph that starts with a bold number

A document's questions are those of the shape it has most of; without any, its `##` headings.
Its `#` and `##` headings are sections (and the first `#` its title).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

QUESTION_RULE = ("questions are the document's numbered list items that are headings, its headings of level 3 "
                 "or deeper (the most frequent level), its paragraphs that are all bold, or its paragraphs that "
                 "start with a bold number, whichever it has most of; else its ## headings; each answer, whole, "
                 "is the item's lead")

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_LIST_HEADING = re.compile(r"^ {0,3}\d{1,9}[.)][ \t]+(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_BOLD_LINE = re.compile(r"^ {0,3}(\*\*|__)(?P<text>(?:(?!\1).)+)\1[ \t]*$")
_BOLD_NUMBER = re.compile(r"^ {0,3}(\*\*|__)[ \t]*\d{1,4}[.)](?!\d)[ \t]*")
_BLOCK_START = re.compile(r"^[ \t]*(?:[-*+][ \t]|\d{1,9}[.)][ \t]|[>#<|])")  # ends a question's paragraph


@dataclass(frozen=True)
class Question:
    line: int  # index of its first line
    text: str  # the question as written (Markdown): its title
    answer: int  # index of the first line of its answer
    indent: int = 0  # the columns its answer is indented by (a list item's content column)


@dataclass(frozen=True)
class Shape:
    name: str  # what the questions are, said to the maintainer in a note
    questions: dict[int, Question]  # by line index
    sections: frozenset[int]  # the line indices of the headings that are sections (or the title)


def headings(lines: list[str], code: list[bool]) -> dict[int, tuple[int, str]]:
    """Line index -> (level, text) of every ATX heading outside fenced code."""
    return {index: (len(heading[1]), heading[2]) for index, line in enumerate(lines)
            if not code[index] and (heading := _HEADING.match(line))}


def _alone(lines: list[str], index: int) -> tuple[bool, bool]:
    """Whether the line is blank-separated from the line before it, and from the line after it."""
    return (index == 0 or not lines[index - 1].strip(), index + 1 == len(lines) or not lines[index + 1].strip())


def _list_headings(lines: list[str], code: list[bool]) -> dict[int, Question]:
    found = {}
    for index, line in enumerate(lines):
        if not code[index] and (heading := _LIST_HEADING.match(line)) and heading[2]:
            found[index] = Question(index, heading[2], index + 1, heading.start(1))
    return found


def _deep_headings(titled: dict[int, tuple[int, str]]) -> dict[int, Question]:
    levels = Counter(level for level, _ in titled.values() if level >= 3)
    if not levels:
        return {}
    level = max(levels, key=lambda level: (levels[level], -level))
    return {index: Question(index, text, index + 1) for index, (at, text) in titled.items() if at == level}


def _bold_lines(lines: list[str], code: list[bool], titled: dict[int, tuple[int, str]]) -> dict[int, Question]:
    found = {}
    for index, line in enumerate(lines):
        if not code[index] and index not in titled and (bold := _BOLD_LINE.match(line)) and all(_alone(lines, index)):
            found[index] = Question(index, bold["text"].strip(), index + 1)
    return found


def _bold_numbers(lines: list[str], code: list[bool], titled: dict[int, tuple[int, str]]) -> dict[int, Question]:
    """Paragraphs that start with a bold number: the whole paragraph is the question, without its
    number (`**1)** Count ads.` -> `Count ads.`, `**2) FizzBuzz.** Print` -> `**FizzBuzz.** Print`)."""
    found = {}
    for index, line in enumerate(lines):
        if code[index] or index in titled or not (number := _BOLD_NUMBER.match(line)) or not _alone(lines, index)[0]:
            continue
        rest = line[number.end():]
        rest = rest[2:].lstrip() if rest.startswith(number[1]) else number[1] + rest
        end = index + 1
        while end < len(lines) and lines[end].strip() and not (code[end] or end in titled
                                                               or _BLOCK_START.match(lines[end])):
            end += 1
        text = " ".join([rest.strip(), *(line.strip() for line in lines[index + 1 : end])]).strip()
        if text and text != number[1]:
            found[index] = Question(index, text, end)
    return found


def _list_shape(lines: list[str], titled: dict[int, tuple[int, str]], questions: dict[int, Question]) -> Shape:
    """Numbered list items that are headings. A heading indented under an item is part of its
    answer; one at the margin ends the list: after the first question, those of the most
    frequent level 3 or deeper (`#### 1. What is the output?`, a second part of the document)
    are questions too, and those above them sections (`### Coding Exercise`), as `#` and `##`
    headings are; deeper ones stay in the answers."""
    first = min(questions)
    margin = {index: level for index, (level, _) in titled.items() if lines[index].startswith("#")}
    later = Counter(level for index, level in margin.items() if index > first and level >= 3)
    deep = max(later, key=lambda level: (later[level], -level)) if later else None
    extra = {index: Question(index, titled[index][1], index + 1) for index, level in margin.items()
             if index > first and level == deep} if deep and later[deep] > 1 else {}
    name = "numbered list items that are headings" + (f", then its headings of level {deep}" if extra else "")
    sections = {index for index, level in margin.items() if level <= 2 or (extra and index > first and level < deep)}
    return Shape(name, {**questions, **extra}, frozenset(sections))


def question_shape(lines: list[str], code: list[bool], titled: dict[int, tuple[int, str]]) -> Shape:
    """The shape of the document's questions (module docstring)."""
    up_to_2 = frozenset(index for index, (level, _) in titled.items() if level <= 2)
    shapes = [
        ("numbered list items that are headings", _list_headings(lines, code)),
        ("headings of level 3 or deeper", _deep_headings(titled)),
        ("paragraphs that are all bold", _bold_lines(lines, code, titled)),
        ("paragraphs that start with a bold number", _bold_numbers(lines, code, titled)),
    ]
    name, questions = max(shapes, key=lambda shape: len(shape[1]))  # the first of equals
    if name == shapes[0][0] and questions:
        return _list_shape(lines, titled, questions)
    if questions:
        return Shape(name, questions, up_to_2)
    return Shape("## headings", {index: Question(index, text, index + 1) for index, (level, text) in titled.items()
                                 if level == 2}, frozenset(index for index, (level, _) in titled.items() if level == 1))
