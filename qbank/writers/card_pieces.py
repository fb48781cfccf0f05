"""An HTML fragment cut into pieces that can go on different flashcards, as WeasyPrint cuts a
block across pages: between paragraphs, between list items, table rows and code lines, and a
long paragraph between sentences (else words, else characters).

Each piece (a Unit) is HTML inside its block's wrapper; `joined` puts the units of one card
back inside their wrappers, so every card's HTML is well-formed: an <ol> continued keeps its
numbering, a table its header, a code block its <pre><code> and each line's highlighting.
Inline tags open across a cut are closed before it and opened again after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple

_TAG = re.compile(r"<!--.*?-->|<(/?)([A-Za-z][\w:.-]*)((?:\"[^\"]*\"|'[^']*'|[^'\">])*)>", re.S)
_VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "del", "dfn", "em", "i", "img", "ins", "kbd", "mark",
           "math", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "svg", "u", "var", "br", "wbr"}
_UNCUT = {"svg", "math", "script", "style"}  # a formula is never cut
# After a sentence: CJK punctuation anywhere, Latin punctuation before a space.
_SENTENCE_END = re.compile(r"[。！？；]|[.!?;](?=\s)")
_WIDE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_ENTITY = re.compile(r"&#?\w+;")


class Token(NamedTuple):
    source: str
    kind: str  # "text", "start", "end" or "void" (a void element or a comment)
    name: str


@dataclass(frozen=True)
class Unit:
    """One piece of a fragment: `html` inside its top-level block's wrapper."""

    block: int  # the block's place in the fragment: consecutive units of one block share one wrapper
    opening: str  # the wrapper's start, e.g. "<ol>" or "<div class=...><pre><code>"; "" for a whole block
    closing: str
    html: str
    number: int | None = None  # a list item of an <ol>: its number, for the continued list's start


def tokens(html: str) -> list[Token]:
    found, position = [], 0
    for match in _TAG.finditer(html):
        if match.start() > position:
            found.append(Token(html[position:match.start()], "text", ""))
        name = (match.group(2) or "").lower()
        if match.group(0).startswith("<!--") or name in _VOID or match.group(3).rstrip().endswith("/"):
            kind = "void"
        else:
            kind = "end" if match.group(1) else "start"
        found.append(Token(match.group(0), kind, name))
        position = match.end()
    if position < len(html):
        found.append(Token(html[position:], "text", ""))
    return found


def _source(run: list[Token]) -> str:
    return "".join(token.source for token in run)


def _elements(run: list[Token]) -> Iterator[tuple[int, int]]:
    """(start, stop) of each top-level node of `run`: an element with its content, or a token."""
    depth, start = 0, 0
    for index, token in enumerate(run):
        if depth == 0:
            start = index
        depth += {"start": 1, "end": -1}.get(token.kind, 0)
        if depth <= 0:
            depth = 0
            yield start, index + 1


def _cut_points(text: str, width: Callable[[str], float], max_width: float) -> list[int]:
    """Offsets in `text` to cut it at, so that each run is at most `max_width` wide where it can
    be: at sentence ends, else at spaces, else between wide (CJK) characters."""
    entities = [range(match.start() + 1, match.end()) for match in _ENTITY.finditer(text)]

    def allowed(offset: int) -> bool:
        return 0 < offset < len(text) and not any(offset in inside for inside in entities)

    finer = [
        [match.end() for match in _SENTENCE_END.finditer(text)],
        [match.end() for match in re.finditer(r"\s+", text)],
        [match.start() for match in _WIDE.finditer(text)] + [match.end() for match in _WIDE.finditer(text)],
    ]
    chosen: list[int] = []
    start = 0
    while width(text[start:]) > max_width:
        best = None
        for candidates in finer:
            fitting = [offset for offset in candidates if offset > start and allowed(offset)
                       and width(text[start:offset]) <= max_width]
            if fitting:
                best = max(fitting)
                break
        if best is None:  # one word wider than a card: cut after it
            later = [offset for candidates in finer for offset in candidates if offset > start and allowed(offset)]
            if not later:
                break
            best = min(later)
        chosen.append(best)
        start = best
    return chosen


def cut_inline(html: str, width: Callable[[str], float], max_width: float) -> list[str]:
    """Inline HTML cut into runs at most `max_width` wide (sentences first), each well-formed."""
    return _cut(html, lambda text: _cut_points(text, width, max_width))


def _cut(html: str, offsets: Callable[[str], list[int]]) -> list[str]:
    """Inline HTML cut before each of the `offsets` of its text, each piece well-formed."""
    run = tokens(html)
    # The text that may be cut, as (token index, offset in it) just after each of its characters:
    # a cut goes right after the character before it, so a cut at a line's end falls before
    # the next line's tags open.
    text, places, hidden = [], [], 0
    for index, token in enumerate(run):
        if token.kind == "start" and (token.name in _UNCUT or hidden):
            hidden += 1
        elif token.kind == "end" and hidden:
            hidden -= 1
        elif token.kind == "text" and not hidden:
            text.append(token.source)
            places += [(index, offset + 1) for offset in range(len(token.source))]
    cuts = {places[offset - 1] for offset in offsets("".join(text)) if 0 < offset < len(places)}
    pieces: list[str] = []
    current: list[str] = []
    open_tags: list[Token] = []
    for index, token in enumerate(run):
        if token.kind == "text":
            start = 0
            for offset in sorted(offset for at, offset in cuts if at == index):
                current.append(token.source[start:offset])
                pieces.append("".join(current) + "".join(f"</{tag.name}>" for tag in reversed(open_tags)))
                current, start = [tag.source for tag in open_tags], offset
            current.append(token.source[start:])
            continue
        current.append(token.source)
        if token.kind == "start":
            open_tags.append(token)
        elif token.kind == "end" and open_tags:
            open_tags.pop()
    pieces.append("".join(current))
    return pieces


def _children(run: list[Token], names: set[str], skip: set[str] = frozenset()) -> list[tuple[int, int]]:
    """(start, stop) of every element named in `names` inside `run`, outside elements in `skip`."""
    found, stack = [], []
    for index, token in enumerate(run):
        if token.kind == "start":
            if token.name in names and not (set(stack) & (skip | names)):
                found.append([index, None])
            stack.append(token.name)
        elif token.kind == "end" and stack:
            name = stack.pop()
            if name in names and not (set(stack) & (skip | names)) and found and found[-1][1] is None:
                found[-1][1] = index + 1
    return [(start, stop) for start, stop in found if stop is not None]


def _rows(block: int, run: list[Token], children: list[tuple[int, int]], first_number: int | None = None) -> list[Unit]:
    """The units of a block made of children (list items, table rows): what precedes the first
    child and follows the last is the wrapper every piece of the block is shown in."""
    opening, closing = _source(run[:children[0][0]]), _source(run[children[-1][1]:])
    units = []
    for place, (start, stop) in enumerate(children):
        stop = children[place + 1][0] if place + 1 < len(children) else stop  # keep the space between
        units.append(Unit(block, opening, closing, _source(run[start:stop]),
                          None if first_number is None else first_number + place))
    return units


def _code_lines(block: int, run: list[Token]) -> list[Unit]:
    code = next(index for index, token in enumerate(run) if token.kind == "start" and token.name == "pre")
    if code + 1 < len(run) and run[code + 1].kind == "start" and run[code + 1].name == "code":
        code += 1
    content_end = max(index for index, token in enumerate(run) if token.kind == "end" and token.name == run[code].name)
    opening, closing = _source(run[:code + 1]), _source(run[content_end:])
    lines = _cut(_source(run[code + 1:content_end]), lambda text: [match.end() for match in re.finditer("\n", text)])
    return [Unit(block, opening, closing, line) for line in lines]


def _number_start(start_tag: str) -> int:
    match = re.search(r"\bstart=\"?(-?\d+)", start_tag)
    return int(match.group(1)) if match else 1


def units(html: str, width: Callable[[str], float], max_width: float) -> list[Unit]:
    """`html` (a block fragment, or inline text) as units: each list item, table body row and
    code line is one; a paragraph wider than `max_width` (in `width`'s unit) is cut into
    runs of sentences; any other block is one whole unit."""
    run = tokens(str(html))
    found: list[Unit] = []
    inline: list[Token] = []

    def next_block() -> int:
        return found[-1].block + 1 if found else 0

    def flush_inline() -> None:
        if _source(inline).strip():
            block = next_block()
            found.extend([Unit(block, "", "", piece) for piece in cut_inline(_source(inline), width, max_width)])
        inline.clear()

    for start, stop in _elements(run):
        element = run[start:stop]
        head = element[0]
        if head.kind == "text" or head.name in _INLINE or head.kind != "start":
            inline.extend(element)
            continue
        flush_inline()
        block = next_block()
        inner = element[1:-1]
        if head.name == "p":
            found += [Unit(block, head.source, element[-1].source, piece)
                      for piece in cut_inline(_source(inner), width, max_width)]
        elif head.name in ("ul", "ol") and (items := _children(element[1:], {"li"})):
            children = [(a + 1, b + 1) for a, b in items]
            found += _rows(block, element, children, _number_start(head.source) if head.name == "ol" else None)
        elif head.name == "table" and (rows := _children(element[1:], {"tr"}, {"thead"})):
            children = [(a + 1, b + 1) for a, b in rows]
            found += _rows(block, element, children)
        elif any(token.kind == "start" and token.name == "pre" for token in element) and head.name in ("pre", "div"):
            found += _code_lines(block, element)
        else:
            found.append(Unit(block, "", "", _source(element)))
    flush_inline()
    return found


def joined(pieces: list[Unit]) -> str:
    """The units back in their wrappers: a run of units of one block shares one wrapper; a
    continued ordered list starts at its first item's number."""
    html = []
    for place, unit in enumerate(pieces):
        if place == 0 or pieces[place - 1].block != unit.block:
            opening = unit.opening
            if unit.number is not None:
                opening = re.sub(r"\s+start=\"?-?\d+\"?", "", opening)
                if unit.number != 1:  # WeasyPrint numbers by the counter, not by start
                    opening = opening.replace(
                        "<ol", f'<ol start="{unit.number}" style="counter-reset: list-item {unit.number - 1}"', 1)
            html.append(opening)
        html.append(unit.html)
        if place + 1 == len(pieces) or pieces[place + 1].block != unit.block:
            html.append(unit.closing)
    return "".join(html)
