"""The bank format, declared once.

Everything that knows what a bank holds reads BANK below: the loader validates the YAML
against it (qbank/validate.py) and builds the model's objects from it; the render step finds
every Markdown field through it, each with its place in the item and whether it is inline or
block Markdown; the lock hashes an item's content through it; and the JSON Schema that
editors use while a bank is typed (schema/bank.schema.json) is generated from it. Adding a
field to the bank is one line here (and a default in model.py when it is optional), plus
the templates that show it.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Union

from .model import Answer, Bank, Closing, Item, Options, Point

# A bank is text written by people; a longer field is a mistake or an attack.
MAX_FIELD_CHARS = 100_000
SLUG_MAX = 64
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# BCP 47, simplified: language, then optional subtags (zh-CN, en, pt-BR, zh-Hant-TW).
LANG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
TAG = re.compile(r"^[^\s\"']+$")

JSON_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "bank.schema.json"
# The first line of a bank in source/: VS Code's YAML extension (and other editors using the
# YAML language server) then check and complete the bank as it is typed.
SCHEMA_COMMENT = "# yaml-language-server: $schema=../schema/bank.schema.json"


class Markdown(enum.Enum):
    INLINE = "inline"  # a title or a term: rendered without its paragraph
    BLOCK = "block"  # paragraphs, lists, code, tables


@dataclass(frozen=True)
class Text:
    """A string. Markdown fields are rendered to HTML; the others (ids, tags) are plain."""

    description: str
    required: bool = True
    markdown: Markdown | None = None
    aside: bool = False  # commentary beside the item (the explanation): lint does not compare it
    pattern: re.Pattern[str] | None = None
    max_length: int = MAX_FIELD_CHARS
    # Said when the value does not match `pattern`; {what} names the field, {value} is the value.
    mismatch: str = ""


@dataclass(frozen=True)
class Flag:
    description: str
    required: bool = False


@dataclass(frozen=True)
class ListOf:
    element: "Node"
    description: str
    required: bool = True
    min_items: int = 0
    # How problems name an element: "{what}[]" by default; items are named "item {number}".
    element_name: str = "{what}[]"
    # Names other items (renames, merges) rather than holding this item's content: the lock
    # does not date it, lint does not compare it.
    lifecycle: bool = False
    too_short: str = "{what} needs at least one element"


@dataclass(frozen=True)
class Mapping:
    """A YAML mapping with exactly these keys, read into an instance of `builds`."""

    keys: dict[str, "Node"]
    builds: type
    description: str
    required: bool = True
    # At least one of these keys must be present (an answer needs a lead, points, or both).
    needs_one_of: tuple[str, ...] = ()
    # The key whose value names the mapping in every problem inside it (an item's id).
    named_by: str | None = None

    @property
    def required_keys(self) -> set[str]:
        return {key for key, node in self.keys.items() if node.required}


Node = Union[Text, Flag, ListOf, Mapping]

_SLUG_MISMATCH = (f"{{what}} '{{value}}' is not a slug: use lowercase letters, digits and single hyphens "
                  f"(at most {SLUG_MAX} characters), e.g. 'gradient-clipping'")

POINT = Mapping(
    {
        "term": Text("The key point in a few words, shown emphasized.", markdown=Markdown.INLINE),
        "text": Text("What the key point says.", markdown=Markdown.INLINE),
    },
    builds=Point,
    description="One bullet of the answer: a term and its explanation.",
)

ANSWER = Mapping(
    {
        "lead": Text("The answer's opening sentence or paragraph.", required=False, markdown=Markdown.BLOCK),
        "points": ListOf(POINT, "The answer's key points, in order.", required=False),
    },
    builds=Answer,
    description="The answer: a lead, key points, or both.",
    needs_one_of=("lead", "points"),
)

ITEM = Mapping(
    {
        "id": Text("A stable slug; never change it once learners study the deck (it is the note's identity).",
                   pattern=SLUG, max_length=SLUG_MAX, mismatch=_SLUG_MISMATCH),
        "title": Text("A short title.", markdown=Markdown.INLINE),
        "question": Text("The interview question.", markdown=Markdown.BLOCK),
        "answer": ANSWER,
        "explanation": Text("Why the answer is right, and what an interviewer looks for.", required=False,
                            markdown=Markdown.BLOCK, aside=True),
        "tags": ListOf(Text("One word without spaces or quotes.", pattern=TAG,
                            mismatch="{what}: each tag is one word without spaces or quotes"),
                       "Tags, for Anki's browser and filtered decks.", required=False),
        "former_ids": ListOf(Text("An id this item had before.", pattern=SLUG, max_length=SLUG_MAX,
                                  mismatch=_SLUG_MISMATCH),
                             "Ids this item had before, oldest first: after a rename its Anki note keeps the "
                             "identity (and the learners' history) it was first built with.",
                             required=False, lifecycle=True),
        "absorbs": ListOf(Text("The id of an item merged into this one.", pattern=SLUG, max_length=SLUG_MAX,
                               mismatch=_SLUG_MISMATCH),
                          "Ids of items merged into this one and removed from the bank: their notes are "
                          "retired with a notice pointing here.",
                          required=False, lifecycle=True),
    },
    builds=Item,
    description="One interview question with its answer.",
    named_by="id",
)

BANK = Mapping(
    {
        "id": Text("The bank's slug: names the outputs and the Anki deck's identity.", pattern=SLUG,
                   max_length=SLUG_MAX, mismatch=_SLUG_MISMATCH),
        "title": Text("The bank's title.", markdown=Markdown.INLINE),
        "lang": Text("The bank's language as a BCP 47 tag, such as zh-CN or en.", pattern=LANG,
                     mismatch="{what} '{value}' is not a BCP 47 language tag such as zh-CN or en"),
        "author": Text("Who wrote the bank.", required=False),
        "deck": Text("The Anki deck's name. Without it, the title at the first build, kept in the lock "
                     "so that a new title does not start a new deck in every collection.", required=False),
        "description": Text("The preface.", required=False, markdown=Markdown.BLOCK),
        "closing": Mapping(
            {
                "title": Text("The closing section's title.", markdown=Markdown.INLINE),
                "text": Text("The closing section.", markdown=Markdown.BLOCK),
            },
            builds=Closing,
            description="A closing section after the items.",
            required=False,
        ),
        "options": Mapping(
            {"cloze": Flag("Add Anki's 'recall the key points' card.")},
            builds=Options,
            description="Build switches.",
            required=False,
        ),
        "items": ListOf(ITEM, "The questions, in the order they are printed.", min_items=1,
                        element_name="item {number}", too_short="{what} is empty: a bank needs at least one item"),
    },
    builds=Bank,
    description="A bank of interview questions (qbank).",
)

Path_ = tuple[Union[str, int], ...]  # a place in the bank: keys and list indexes from the top


def build(node: Node, value: object, extra: dict[Path_, dict] | None = None, path: Path_ = ()) -> object:
    """The model's objects from validated plain values (dicts, lists, strings, booleans).

    An absent optional key takes the model's default; `extra` adds, per path, what the
    model needs beyond the file's text (an item's number and place, the bank's file).
    """
    if isinstance(node, Mapping):
        assert isinstance(value, dict)
        arguments = {key: build(node.keys[key], child, extra, (*path, key)) for key, child in value.items()}
        return node.builds(**arguments, **(extra or {}).get(path, {}))
    if isinstance(node, ListOf):
        assert isinstance(value, list)
        return tuple(build(node.element, child, extra, (*path, index)) for index, child in enumerate(value))
    return value


def markdown_fields(node: Node, value: object, path: Path_ = ()) -> Iterator[tuple[Path_, Text, str]]:
    """Every Markdown field of a model object, in document order: (its path, its declaration, its text).

    Absent optional fields are included with their default (empty) text, so each declared
    field of each item has rendered HTML, even if empty.
    """
    if isinstance(node, Mapping):
        if value is None:  # an absent optional mapping (a bank without closing)
            value = _empty(node)
        for key, child in node.keys.items():
            yield from markdown_fields(child, getattr(value, key), (*path, key))
    elif isinstance(node, ListOf):
        for index, element in enumerate(value):
            yield from markdown_fields(node.element, element, (*path, index))
    elif isinstance(node, Text) and node.markdown is not None:
        yield path, node, value


def _empty(node: Mapping) -> object:
    """A stand-in for an absent optional mapping: every Markdown field empty."""
    return node.builds(**{key: "" for key, child in node.keys.items() if isinstance(child, Text)})


def with_html(node: Node, value: object, html: dict[Path_, object], path: Path_ = ()) -> object:
    """A copy of a model object with each Markdown field replaced by its rendered HTML."""
    if isinstance(node, Mapping):
        if value is None:
            value = _empty(node)
        changes = {key: with_html(child, getattr(value, key), html, (*path, key)) for key, child in node.keys.items()}
        return replace(value, **changes)
    if isinstance(node, ListOf):
        return tuple(with_html(node.element, element, html, (*path, index)) for index, element in enumerate(value))
    if isinstance(node, Text) and node.markdown is not None:
        return html[path]
    return value


def content(node: Node, value: object) -> object:
    """An item's text as the lock hashes it: mappings flattened into one dict by key, lists
    of mappings as lists of their values, the id left out (it names the entry).

    For today's fields this is exactly the shape the lock has always hashed ({"title",
    "question", "lead", "points": [[term, text]], "explanation", "tags"}), so no stamp moves;
    a new field joins the hash by being declared.
    """
    flat: dict[str, object] = {}

    def collect(mapping: Mapping, obj: object) -> None:
        for key, child in mapping.keys.items():
            if key == mapping.named_by or (isinstance(child, ListOf) and child.lifecycle):
                continue
            child_value = getattr(obj, key)
            if isinstance(child, Mapping):
                collect(child, child_value)
            elif isinstance(child, ListOf) and isinstance(child.element, Mapping):
                flat[key] = [[getattr(element, k) for k in child.element.keys] for element in child_value]
            else:
                flat[key] = list(child_value) if isinstance(child, ListOf) else child_value

    assert isinstance(node, Mapping)
    collect(node, value)
    return flat


def json_schema() -> dict:
    """BANK as a JSON Schema (draft 2020-12), for editors: completions, unknown keys, missing fields."""

    def convert(node: Node) -> dict:
        if isinstance(node, Text):
            schema: dict = {"type": "string", "description": node.description, "maxLength": node.max_length}
            if node.pattern is not None:
                schema["pattern"] = node.pattern.pattern
            elif node.required:
                schema["pattern"] = r"\S"  # not blank
            if node.markdown is not None:
                schema["markdownDescription"] = f"{node.description} ({node.markdown.value} Markdown)"
            return schema
        if isinstance(node, Flag):
            return {"type": "boolean", "description": node.description}
        if isinstance(node, ListOf):
            schema = {"type": "array", "description": node.description, "items": convert(node.element)}
            if node.min_items:
                schema["minItems"] = node.min_items
            return schema
        schema = {
            "type": "object",
            "description": node.description,
            "properties": {key: convert(child) for key, child in node.keys.items()},
            "required": [key for key, child in node.keys.items() if child.required],
            "additionalProperties": False,
        }
        if node.needs_one_of:
            schema["anyOf"] = [{"required": [key]} for key in node.needs_one_of]
        return schema

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://qbank.invalid/schema/bank.schema.json",
        "title": "qbank question bank",
        **convert(BANK),
    }


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m qbank.schema > schema/bank.schema.json
    print(json_schema_text(), end="")
