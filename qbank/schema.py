"""The bank format, as the model's classes declare it (qbank/model.py, in the words of qbank/keys.py).

Everything that knows what a bank holds reads BANK below: the loader validates the YAML
against it (qbank/validate.py) and builds the model's objects from it; the render step finds
every Markdown field through it, each with its place in the item and whether it is inline or
block Markdown; the lock dates an item and the bank's own text through it; and the JSON Schema
that editors use while a bank is typed (schema/bank.schema.json) is generated from it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Union

from .keys import Flag, ListOf, Mapping, Node, Text, mapping
from .model import Bank

JSON_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "bank.schema.json"
# The first line of a bank in source/: VS Code's YAML extension (and other editors using the
# YAML language server) then check and complete the bank as it is typed.
SCHEMA_COMMENT = "# yaml-language-server: $schema=../schema/bank.schema.json"

BANK = mapping(Bank, "A bank of interview questions (qbank).", needs_one_of=("items", "sections"), exclusive=True)
ITEM = BANK.keys["items"].element

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


def plain(node: Node, value: object, items: tuple = ()) -> object:
    """A model object as the plain values a bank file holds (what `build` reads): keys in the
    schema's order, an optional key left out when it holds what its absence means. A bank in
    sections writes its items in them (`items`: the bank's, which their positions index)."""
    if isinstance(node, Mapping):
        if node is BANK:
            items = value.items
        absent = {field.name: field.default for field in dataclasses.fields(node.builds)}
        kept = {key: child for key, child in node.keys.items() if child.required or getattr(value, key) != absent[key]}
        if node is BANK and value.sections:
            kept.pop("items")
        return {key: plain(child, getattr(value, key), items) for key, child in kept.items()}
    if isinstance(node, ListOf):
        elements = [items[position] for position in value] if node.gathered else value
        return [plain(node.element, element, items) for element in elements]
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
    elif isinstance(node, ListOf) and not node.gathered:  # a section's items are met in the bank's
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
    if isinstance(node, ListOf) and not node.gathered:
        return tuple(with_html(node.element, element, html, (*path, index)) for index, element in enumerate(value))
    if isinstance(node, Text) and node.markdown is not None:
        return html[path]
    return value


def content(node: Mapping, value: object) -> dict[str, object]:
    """What the lock dates of an item, or of the bank's own text: the value of every dated key.

    The shapes are those the lock has always hashed, so that no date moves: a required
    mapping's keys join its holder's (an item's answer gives "lead" and "points"), an optional
    one is the list of its values or None (the bank's closing: [title, text]), a list of
    mappings is a list of their values' lists (points: [[term, text]]; sections: [[title,
    intro]]). Left out: the key that names an item (its entry's name), the lists of other
    items' ids, the items themselves, which are dated each on its own, and a list declared
    after locks existed (sections) while it is empty. A new key is dated by being declared.
    """
    flat: dict[str, object] = {}

    def collect(mapping: Mapping, obj: object) -> None:
        for key, child in mapping.keys.items():
            if key == mapping.named_by or not _dated(child):
                continue
            child_value = getattr(obj, key)
            if isinstance(child, Mapping) and child.required:
                collect(child, child_value)
            elif isinstance(child, Mapping):
                flat[key] = None if child_value is None else _values(child, child_value)
            elif isinstance(child, ListOf) and child.hashed_when_given and not child_value:
                continue
            elif isinstance(child, ListOf) and isinstance(child.element, Mapping):
                flat[key] = [_values(child.element, element) for element in child_value]
            else:
                flat[key] = list(child_value) if isinstance(child, ListOf) else child_value

    collect(node, value)
    return flat


def _dated(node: Node) -> bool:
    """Whether a change to this key's value moves the date of what holds it in the lock."""
    if isinstance(node, ListOf):
        named = isinstance(node.element, Mapping) and node.element.named_by is not None
        return not (node.lifecycle or named or node.gathered)
    return node.dated


def _values(node: Mapping, value: object) -> list[object]:
    return [getattr(value, key) for key, child in node.keys.items() if _dated(child)]


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
            schema["oneOf" if node.exclusive else "anyOf"] = [{"required": [key]} for key in node.needs_one_of]
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
