"""Check a YAML node tree against a schema (qbank/schema.py), collecting every problem at once.

Generic: it knows mappings, lists, text and flags, required and unknown keys (with a
suggestion for a typo), and places; what a bank holds is the schema's business. It returns
plain values (dicts, lists, strings, booleans) and where each stands in the file.

A long list (a bank's items) can be checked element by element while the file is still being
composed (ListReader), so that the whole file's node tree never exists at once.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from .model import Location, Problem
from .keys import MAX_FIELD_CHARS, Flag, ListOf, Mapping, Node, Text
from .schema import Path_

STR = "tag:yaml.org,2002:str"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"

_TYPE_NAMES = {
    "tag:yaml.org,2002:str": "text",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true/false",
    "tag:yaml.org,2002:null": "nothing (null)",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:seq": "a list",
    "tag:yaml.org,2002:map": "a mapping",
}

_ABSENT = object()  # a value that could not be read; the problem is already recorded


def _type_name(node: yaml.Node) -> str:
    return _TYPE_NAMES.get(node.tag, node.tag)


def _closest(word: str, choices: set[str]) -> str | None:
    matches = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


class Validator:
    """One pass over a node tree: `value(schema, node)` returns its plain value, or _ABSENT."""

    def __init__(self, path: Path, keeps: Callable[[Path_], bool] | None = None):
        self.path = path
        self.problems: list[Problem] = []
        # The places of the values whose paths `keeps` (None: of all).
        self.places: dict[Path_, Location] = {}
        self.keeps = keeps

    def at(self, node: yaml.Node) -> Location:
        return Location(self.path, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, node: yaml.Node, message: str, owner: str | None) -> None:
        self.problems.append(Problem(self.at(node), message, owner))

    def value(self, schema: Node, node: yaml.Node, what: str, place: Path_ = (), owner: str | None = None) -> object:
        if self.keeps is None or self.keeps(place):
            self.places[place] = self.at(node)
        if isinstance(schema, Mapping):
            return self._mapping(schema, node, what, place, owner)
        if isinstance(schema, ListOf):
            return self._list(schema, node, what, place, owner)
        if isinstance(schema, Flag):
            return self._flag(node, what, owner)
        return self._text(schema, node, what, owner)

    def _mapping(self, schema: Mapping, node: yaml.Node, what: str, place: Path_, owner: str | None) -> object:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping (key: value), not {_type_name(node)}", owner)
            return _ABSENT
        if schema.named_by:
            owner = _name_of(node, schema.named_by) or owner
        children: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) and key_node.tag == STR else None
            if key is None:
                self.problem(key_node, f"{what}: keys must be plain words", owner)
            elif key not in schema.keys:
                hint = _closest(key, set(schema.keys))
                suggestion = f" (did you mean '{hint}'?)" if hint else ""
                allowed = ", ".join(sorted(schema.keys))
                self.problem(key_node, f"{what}: unknown key '{key}'{suggestion}; allowed: {allowed}", owner)
            elif key in children:
                self.problem(key_node, f"{what}: key '{key}' appears twice", owner)
            else:
                # Interned: the key stays in the path of every place below it, and the parser
                # makes a new string for each time it is written (180,000 in 10,000 items).
                children[sys.intern(key)] = value_node
        for key in sorted(schema.required_keys - children.keys()):
            self.problem(node, f"{what}: required key '{key}' is missing", owner)
        values = {}
        for key, child in children.items():
            child_value = self.value(schema.keys[key], child, f"{what}.{key}", (*place, key), owner)
            if child_value is not _ABSENT:
                values[key] = child_value
        # Judged on what was written: a needed key that is there but wrong has its own problem.
        given = [key for key in schema.needs_one_of if key in children and _has_content(children[key])]
        if schema.exclusive:  # one key or the other, an empty one included (it has its own problem)
            written = [key for key in schema.needs_one_of if key in children]
            if len(written) > 1:
                self.problem(children[written[-1]], f"{what} has both {' and '.join(written)}: keep one", owner)
            elif not written:
                self.problem(node, f"{what} needs {' or '.join(schema.needs_one_of)}", owner)
        elif schema.needs_one_of and not given:
            self.problem(node, f"{what} needs {_one_of(schema.needs_one_of)}", owner)
        missing_required = schema.required_keys - values.keys()
        return _ABSENT if missing_required else values

    def _list(self, schema: ListOf, node: yaml.Node, what: str, place: Path_, owner: str | None) -> object:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, f"{what} must be a list, not {_type_name(node)}", owner)
            return _ABSENT
        values = []
        for index, element in enumerate(node.value):
            element_value = self.element(schema, element, what, place, owner, index, len(values))
            if element_value is not _ABSENT:
                values.append(element_value)
        if len(node.value) < schema.min_items:
            self.problem(node, schema.too_short.format(what=what), owner)
        return values

    def element(self, schema: ListOf, node: yaml.Node | Checked, what: str, place: Path_, owner: str | None,
                 index: int, valid: int) -> object:
        """The value of a list's element `index`, after `valid` valid ones: its place counts the
        valid elements only, as the model's tuple does."""
        if isinstance(node, Checked):  # checked by a ListReader as the file was read
            return node.value
        name = schema.element_name.format(what=what, number=index + 1)
        return self.value(schema.element, node, name, (*place, valid), owner)

    def _flag(self, node: yaml.Node, what: str, owner: str | None) -> object:
        if not isinstance(node, yaml.ScalarNode) or node.tag != BOOL:
            self.problem(node, f"{what} must be true or false, not {_type_name(node)}", owner)
            return _ABSENT
        return node.value.lower() in {"true", "yes", "on"}

    def _text(self, schema: Text, node: yaml.Node, what: str, owner: str | None) -> object:
        is_text = isinstance(node, yaml.ScalarNode) and node.tag == STR
        if what.endswith("[]") and schema.pattern and not (is_text and schema.pattern.match(node.value)):
            # A list element (a tag) is described in the schema's own words, whatever is wrong with it.
            shown = node.value if isinstance(node, yaml.ScalarNode) else ""
            self.problem(node, schema.mismatch.format(what=what.removesuffix("[]"), value=shown), owner)
            return _ABSENT
        if not is_text:
            if node.tag == NULL:  # `key:` with nothing after it
                if not schema.required:
                    return ""
                self.problem(node, f"{what} is empty", owner)
                return _ABSENT
            # YAML reads `42`, `yes` or `2024-01-01` as numbers, booleans and dates: say how to keep them text.
            hint = " (put it in quotes to keep it as text)" if isinstance(node, yaml.ScalarNode) else ""
            self.problem(node, f"{what} must be text, not {_type_name(node)}{hint}", owner)
            return _ABSENT
        value = node.value
        if len(value) > MAX_FIELD_CHARS:
            self.problem(node, f"{what} is {len(value):,} characters; the limit is {MAX_FIELD_CHARS:,}", owner)
            return _ABSENT
        value = value.strip()
        if schema.required and not value:
            self.problem(node, f"{what} is empty", owner)
            return _ABSENT
        if value and schema.pattern and (not schema.pattern.match(value) or len(value) > schema.max_length):
            self.problem(node, schema.mismatch.format(what=what, value=value), owner)
            return _ABSENT
        return value


@dataclass(frozen=True, slots=True)
class Checked:
    """Stands in a list's node for an element a ListReader has checked: its value (or _ABSENT)
    instead of its node tree. Its places and problems are in the Validator already."""

    value: object


class ListReader:
    """Checks one list's elements one at a time, as the composer finishes each, so that each
    element's node tree can be dropped at once (it is replaced by a Checked): a 10,000-item
    bank then never holds more than one item's nodes, instead of 150 MB of them.

    Every element goes through the same code as in a whole-tree walk, with the same name,
    place and owner, so values, places and messages are the same. Only the order in which
    problems and places are recorded changes: the elements' come before those of the keys
    around the list (the reader sorts problems by place; places are looked up, never listed).
    No check looks at the problems found before it, so none depends on that order
    (tests/test_reader.py reads banks both ways).
    """

    def __init__(self, validator: Validator, schema: ListOf, what: str, place: Path_, owner: str | None = None):
        self.validator = validator
        self.schema = schema
        self.what = what
        self.place = place
        self.owner = owner
        self.valid = 0  # elements found valid so far: the next valid one's index

    def check(self, index: int, node: yaml.Node) -> Checked:
        value = self.validator.element(self.schema, node, self.what, self.place, self.owner, index, self.valid)
        if value is not _ABSENT:
            self.valid += 1
        return Checked(value)


def _has_content(node: yaml.Node) -> bool:
    if isinstance(node, yaml.ScalarNode):
        return node.tag != NULL and bool(node.value.strip())
    return bool(node.value)


def _name_of(node: yaml.MappingNode, key: str) -> str | None:
    for key_node, value_node in node.value:
        if key_node.value == key and isinstance(value_node, yaml.ScalarNode) and value_node.value.strip():
            return value_node.value.strip()
    return None


def _one_of(keys: tuple[str, ...]) -> str:
    *first, last = keys
    return f"a {', '.join(first)}, {last}, or both" if len(keys) == 2 else f"one of {', '.join(keys)}"
