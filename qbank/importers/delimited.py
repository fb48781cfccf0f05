"""Import a CSV or TSV deck: Anki's "Notes in Plain Text" export, or a spreadsheet saved as CSV.

Anki writes optional `#key:value` lines first (`#separator:tab`, `#html:true`,
`#columns:Front\tBack\tTags`, `#tags column:3`, `#deck column:1`); a spreadsheet writes a header
row, or none. What each column holds is read from `#columns` or the header row (front/question,
back/answer, tags, deck/section, in English or Chinese); without either, the columns are front,
back and, if present, tags, as Anki exports a Basic note. A deck column whose rows name more
than one deck makes the bank's sections: one per deck, named without the part of the decks'
names they all share (`Docker::Basics` and `Docker::Volumes` make `Basics` and `Volumes`). The separator is Anki's `#separator`, else a tab for a
`.tsv` file or a first line with a tab, else what csv.Sniffer finds among , ; and |.

A field holding HTML (a tag or an entity, and no `#html:false`) is converted to Markdown with
pandoc (markup.html_to_markdown); other fields are kept as written. Each front is its item's
title (its first line) and question; each back is the answer lead.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from ..keys import MAX_FIELD_CHARS
from .common import ImportedItem, ImportRefused, tag_words
from .markup import Media, bank_markdown, html_to_markdown

DELIMITED_RULE = ("the front is the title and question, the back the answer lead; "
                  "fields with HTML were converted to Markdown with pandoc")

# Anki's names for its separators (`#separator:Tab`), and the literal characters it accepts.
SEPARATORS = {"tab": "\t", "comma": ",", "semicolon": ";", "space": " ", "pipe": "|", "colon": ":"}
COLUMN_NAMES = {
    "question": ("front", "question", "q", "问题", "题目", "正面"),
    "answer": ("back", "answer", "a", "答案", "背面"),
    "tags": ("tags", "tag", "标签"),
    "deck": ("deck", "section", "卡组", "章节"),
}
_HTML = re.compile(r"<[a-zA-Z/!][^>]*>|&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")
_HEADER_LINE = re.compile(r"^#([a-z ]+):(.*)$")


@dataclass
class Deck:
    items: list[ImportedItem]
    notes: list[str]


def _header_lines(text: str) -> tuple[dict[str, str], int]:
    """Anki's `#key:value` lines at the top, and how many lines they take."""
    headers, count = {}, 0
    for line in text.split("\n"):
        match = _HEADER_LINE.match(line)
        if not match:
            break
        headers[match[1].strip().lower()] = match[2]
        count += 1
    return headers, count


def _separator(path: Path, headers: dict[str, str], body: str) -> str:
    if "separator" in headers:
        named = headers["separator"].strip()
        return SEPARATORS.get(named.lower(), named[:1] or ",")
    first = body.split("\n", 1)[0]
    if path.suffix.lower() == ".tsv" or "\t" in first:
        return "\t"
    try:
        return csv.Sniffer().sniff(first, delimiters=",;|").delimiter
    except csv.Error:
        return ","


def _roles(names: list[str]) -> dict[str, int] | None:
    """Column index per role if `names` name the question and answer columns, else None."""
    lowered = [name.strip().lower() for name in names]
    roles = {role: lowered.index(word) for role, words in COLUMN_NAMES.items() for word in words if word in lowered}
    return roles if "question" in roles and "answer" in roles else None


def parse_delimited(text: str, source: Path, media: Media) -> Deck:
    headers, skipped = _header_lines(text)
    body = "\n".join(text.split("\n")[skipped:])
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=_separator(source, headers, body))
    csv.field_size_limit(MAX_FIELD_CHARS)  # a longer field is refused by the bank's loader anyway
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((skipped + reader.line_num, row))
    except csv.Error as error:
        reason = (f"a field is longer than {MAX_FIELD_CHARS:,} characters, the most a bank's field may hold"
                  if "field limit" in str(error) else str(error))
        raise ImportRefused(f"{source}:{skipped + reader.line_num}: {reason}") from None
    if not rows:
        raise ImportRefused(f"{source}: no rows")
    roles = _roles(headers["columns"].split(_separator(source, headers, body))) if "columns" in headers else None
    if roles is None and (roles := _roles(rows[0][1])):
        rows = rows[1:]  # a header row
    # Anki's `#… column:N` lines claim columns; the note's fields are the others, in order.
    claimed = {role: int(headers[f"{role} column"].strip()) - 1 for role in ("tags", "deck", "notetype", "guid")
               if f"{role} column" in headers and headers[f"{role} column"].strip().isdigit()}
    if roles is None:
        fields_at = [index for index in range(len(rows[0][1])) if index not in claimed.values()]
        roles = dict(zip(("question", "answer", "tags"), fields_at))
    roles |= {role: index for role, index in claimed.items() if role in ("tags", "deck")}
    html = headers.get("html", "").strip().lower() != "false"
    notes: list[str] = []
    fields: list[tuple[int, str, str, str, str]] = []  # (line, question, answer, tags, deck)
    for line, row in rows:
        question, answer, tags, deck = (row[roles[role]].strip() if role in roles and roles[role] < len(row) else ""
                                        for role in ("question", "answer", "tags", "deck"))
        if not question or not answer:
            notes.append(f"{source}:{line}: a row without {'a front' if not question else 'a back'}: left out")
            continue
        fields.append((line, question, answer, tags, deck))
    sections = _sections([deck for *_, deck in fields])
    texts = [text for _, question, answer, _, _ in fields for text in (question, answer)]
    converted = iter(_as_markdown(texts, html))
    items = []
    for (line, _, _, tags, _), section in zip(fields, sections):
        question, answer = bank_markdown(next(converted), media), bank_markdown(next(converted), media)
        if question and answer:
            items.append(ImportedItem(title_from(question), question, answer, line, tags=tag_words(tags),
                                      section=section))
        else:
            notes.append(f"{source}:{line}: a row whose front or back is empty once its HTML is read: left out")
    if not items:
        raise ImportRefused(f"{source}: no row has both a front and a back")
    return Deck(items, notes)


def _sections(decks: list[str]) -> list[str | None]:
    """Each row's section: its deck's name without the `::` levels all decks share; none if
    the rows name one deck (or none)."""
    if len(set(decks)) < 2:
        return [None] * len(decks)
    levels = [deck.split("::") for deck in decks]
    shared = 0
    while all(len(level) > shared + 1 and level[shared] == levels[0][shared] for level in levels):
        shared += 1
    return ["::".join(level[shared:]).strip() or None for level in levels]


def _as_markdown(texts: list[str], html: bool) -> list[str]:
    """Each text as Markdown: those holding HTML through pandoc, the others as they are."""
    holding_html = [index for index, text in enumerate(texts) if html and _HTML.search(text)]
    converted = dict(zip(holding_html, html_to_markdown([texts[index] for index in holding_html])))
    return [converted.get(index, text) for index, text in enumerate(texts)]


def title_from(question: str) -> str:
    """The question's first line as an inline title, without block markers."""
    first = next(line for line in question.split("\n") if line.strip())
    first = re.sub(r"^\s*(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s*)", "", first).strip()
    return first if len(first) <= 200 else first[:199].rstrip() + "…"
