"""Read a bank file: safe YAML, strict schema, every problem reported with its place.

PyYAML's SafeLoader builds a node tree that still knows each value's line and column;
we walk that tree ourselves instead of calling ``yaml.safe_load`` so that every message
can point at the exact place, and so that one pass collects all problems at once.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from .model import Answer, Bank, BankError, Closing, Item, Location, Options, Point, Problem

# A bank is text written by people; anything larger than this is a mistake or an attack.
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_FIELD_CHARS = 100_000
MAX_NESTING = 20

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 64
# BCP 47, simplified: language, then optional subtags (zh-CN, en, pt-BR, zh-Hant-TW).
LANG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
TAG = re.compile(r"^[^\s\"']+$")

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


# libyaml, which every PyYAML wheel on PyPI includes, parses a 10 MB bank in 0.1 s where the
# pure-Python parser takes 5 s; the pure one remains for a PyYAML built without it.
_Parser = yaml.cyaml.CParser if yaml.__with_libyaml__ else yaml.SafeLoader


class _NoAliasLoader(_Parser, yaml.composer.Composer, yaml.resolver.Resolver):
    """Parser events composed into a node tree by PyYAML's composer, refusing aliases: a bank
    never needs them, and they are how a small file expands into gigabytes ("billion laughs").
    No Python objects are constructed: the walker reads the nodes, which keep their places."""

    def __init__(self, text: str):
        _Parser.__init__(self, text)
        yaml.composer.Composer.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.depth = 0

    # libyaml's own composer (in C) would expand aliases before we could refuse them.
    get_single_node = yaml.composer.Composer.get_single_node

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise yaml.MarkedYAMLError(problem="aliases (*name) are not allowed in a bank", problem_mark=event.start_mark)
        # The composer recurses once per level: a few hundred nested brackets would end in a
        # RecursionError. A bank nests six levels deep (bank, items, item, answer, points, point).
        if self.depth >= MAX_NESTING:
            raise yaml.MarkedYAMLError(
                problem=f"nested more than {MAX_NESTING} levels deep; a bank needs six", problem_mark=event.start_mark
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _type_name(node: yaml.Node) -> str:
    return _TYPE_NAMES.get(node.tag, node.tag)


class _Walker:
    """Turns the node tree into model objects, collecting problems instead of stopping."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[Problem] = []

    def at(self, node: yaml.Node) -> Location:
        return Location(self.path, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, node: yaml.Node, message: str, item_id: str | None = None) -> None:
        self.problems.append(Problem(self.at(node), message, item_id))

    def mapping(
        self, node: yaml.Node, what: str, required: set[str], optional: set[str], item_id: str | None = None
    ) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping (key: value), not {_type_name(node)}", item_id)
            return None
        fields: dict[str, yaml.Node] = {}
        allowed = required | optional
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or key_node.tag != STR:
                self.problem(key_node, f"{what}: keys must be plain words", item_id)
                continue
            if key not in allowed:
                hint = _closest(key, allowed)
                suggestion = f" (did you mean '{hint}'?)" if hint else ""
                self.problem(
                    key_node,
                    f"{what}: unknown key '{key}'{suggestion}; allowed: {', '.join(sorted(allowed))}",
                    item_id,
                )
                continue
            if key in fields:
                self.problem(key_node, f"{what}: key '{key}' appears twice", item_id)
                continue
            fields[key] = value_node
        for key in sorted(required - fields.keys()):
            self.problem(node, f"{what}: required key '{key}' is missing", item_id)
        return fields

    def text(
        self, fields: dict[str, yaml.Node], key: str, what: str, item_id: str | None = None, required: bool = True
    ) -> str:
        node = fields.get(key)
        if node is None:
            return ""
        if not isinstance(node, yaml.ScalarNode) or node.tag != STR:
            if node.tag == NULL:  # `key:` with nothing after it
                if required:
                    self.problem(node, f"{what}.{key} is empty", item_id)
                return ""
            # YAML reads `42`, `yes` or `2024-01-01` as numbers, booleans and dates: say how to keep them text.
            hint = " (put it in quotes to keep it as text)" if isinstance(node, yaml.ScalarNode) else ""
            self.problem(node, f"{what}.{key} must be text, not {_type_name(node)}{hint}", item_id)
            return ""
        value = node.value
        if required and not value.strip():
            self.problem(node, f"{what}.{key} is empty", item_id)
        if len(value) > MAX_FIELD_CHARS:
            self.problem(node, f"{what}.{key} is {len(value):,} characters; the limit is {MAX_FIELD_CHARS:,}", item_id)
            return ""
        return value.strip()

    def sequence(self, node: yaml.Node, what: str, item_id: str | None = None) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, f"{what} must be a list, not {_type_name(node)}", item_id)
            return []
        return node.value

    def slug(self, fields: dict[str, yaml.Node], key: str, what: str, item_id: str | None = None) -> str:
        value = self.text(fields, key, what, item_id)
        if value and (not SLUG.match(value) or len(value) > SLUG_MAX):
            self.problem(
                fields[key],
                f"{what}.{key} '{value}' is not a slug: use lowercase letters, digits and single hyphens "
                f"(at most {SLUG_MAX} characters), e.g. 'gradient-clipping'",
                item_id,
            )
            return ""
        return value

    # -- the schema ---------------------------------------------------------------------------

    def bank(self, root: yaml.Node) -> Bank | None:
        fields = self.mapping(
            root, "bank", {"id", "title", "lang", "items"}, {"author", "description", "closing", "options"}
        )
        if fields is None:
            return None
        bank_id = self.slug(fields, "id", "bank")
        lang = self.text(fields, "lang", "bank")
        if lang and not LANG.match(lang):
            self.problem(fields["lang"], f"bank.lang '{lang}' is not a BCP 47 language tag such as zh-CN or en")
        closing = None
        if "closing" in fields:
            closing_fields = self.mapping(fields["closing"], "bank.closing", {"title", "text"}, set())
            if closing_fields is not None:
                closing = Closing(
                    self.text(closing_fields, "title", "bank.closing"), self.text(closing_fields, "text", "bank.closing")
                )
        options = Options()
        if "options" in fields:
            option_fields = self.mapping(fields["options"], "bank.options", set(), {"cloze"})
            if option_fields and "cloze" in option_fields:
                options = Options(cloze=self.flag(option_fields["cloze"], "bank.options.cloze"))
        items = self.items(fields["items"]) if "items" in fields else []
        if "items" in fields and not items and not self.problems:
            self.problem(fields["items"], "bank.items is empty: a bank needs at least one item")
        return Bank(
            id=bank_id,
            title=self.text(fields, "title", "bank"),
            lang=lang,
            author=self.text(fields, "author", "bank", required=False),
            description=self.text(fields, "description", "bank", required=False),
            closing=closing,
            options=options,
            items=tuple(items),
            path=self.path,
            field_locations={key: self.at(node) for key, node in fields.items()},
        )

    def flag(self, node: yaml.Node, what: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != BOOL:
            self.problem(node, f"{what} must be true or false, not {_type_name(node)}")
            return False
        return node.value.lower() in {"true", "yes", "on"}

    def items(self, node: yaml.Node) -> list[Item]:
        items: list[Item] = []
        first_seen: dict[str, Location] = {}
        for number, item_node in enumerate(self.sequence(node, "bank.items"), start=1):
            item = self.item(item_node, number)
            if item is None:
                continue
            if item.id in first_seen:
                self.problem(
                    item_node,
                    f"item id '{item.id}' is used twice (first at line {first_seen[item.id].line}); "
                    "ids must be unique within a bank",
                    item.id,
                )
            elif item.id:
                first_seen[item.id] = item.location
            items.append(item)
        return items

    def item(self, node: yaml.Node, number: int) -> Item | None:
        # Name the item in messages by its id when it has a usable one, else by its position.
        provisional = f"#{number}"
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == "id" and isinstance(value_node, yaml.ScalarNode) and value_node.value.strip():
                    provisional = value_node.value.strip()
        what = f"item {number}"
        fields = self.mapping(
            node, what, {"id", "title", "question", "answer"}, {"explanation", "tags"}, provisional
        )
        if fields is None:
            return None
        item_id = self.slug(fields, "id", what, provisional)
        answer = self.answer(fields["answer"], what, provisional) if "answer" in fields else Answer("", ())
        tags: list[str] = []
        if "tags" in fields:
            for tag_node in self.sequence(fields["tags"], f"{what}.tags", provisional):
                if not isinstance(tag_node, yaml.ScalarNode) or tag_node.tag != STR or not TAG.match(tag_node.value):
                    self.problem(tag_node, f"{what}.tags: each tag is one word without spaces or quotes", provisional)
                    continue
                tags.append(tag_node.value)
        field_locations = {key: self.at(value) for key, value in fields.items()}
        if isinstance(fields.get("answer"), yaml.MappingNode):
            for key_node, value_node in fields["answer"].value:
                field_locations[f"answer.{key_node.value}"] = self.at(value_node)
        return Item(
            id=item_id or provisional,
            number=number,
            title=self.text(fields, "title", what, provisional),
            question=self.text(fields, "question", what, provisional),
            answer=answer,
            explanation=self.text(fields, "explanation", what, provisional, required=False),
            tags=tuple(tags),
            location=self.at(node),
            field_locations=field_locations,
        )

    def answer(self, node: yaml.Node, what: str, item_id: str) -> Answer:
        what = f"{what}.answer"
        fields = self.mapping(node, what, set(), {"lead", "points"}, item_id)
        if fields is None:
            return Answer("", ())
        lead = self.text(fields, "lead", what, item_id, required=False)
        points: list[Point] = []
        for point_node in self.sequence(fields["points"], f"{what}.points", item_id) if "points" in fields else []:
            point_fields = self.mapping(point_node, f"{what}.points[]", {"term", "text"}, set(), item_id)
            if point_fields is not None:
                points.append(
                    Point(
                        self.text(point_fields, "term", f"{what}.points[]", item_id),
                        self.text(point_fields, "text", f"{what}.points[]", item_id),
                    )
                )
        if not lead and not points:
            self.problem(node, f"{what} needs a lead, points, or both", item_id)
        return Answer(lead, tuple(points))


def _closest(word: str, choices: set[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 (a leading BOM is accepted); a bad byte is reported at its line and column."""
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        # Everything before the bad byte decoded; count characters there, as editors do.
        offset = len(data[: error.start].decode("utf-8"))
        raise _error_at(
            path, data.decode("utf-8", errors="replace"), offset,
            f"not valid UTF-8 (byte 0x{data[error.start]:02x}); save the file as UTF-8",
        ) from None
    if "\x00" in text:
        raise _error_at(path, text, text.index("\x00"), "contains a NUL character; is this a text file?")
    return text.replace("\r\n", "\n")


def _location_of(path: Path, text: str, offset: int) -> Location:
    """The 1-based line and column of character `offset` in `text`."""
    line_start = text.rfind("\n", 0, offset) + 1
    return Location(path, text.count("\n", 0, offset) + 1, offset - line_start + 1)


def _error_at(path: Path, text: str, offset: int, message: str) -> BankError:
    location = _location_of(path, text, offset)
    return BankError([Problem(location, message, _item_at(text, location.line))])


# Characters YAML refuses to read (YAML 1.1, "printable"); replaced before _item_at parses.
_NOT_YAML_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class _OpenCollection:
    path: tuple  # keys and indexes from the root, e.g. ("items", 3)
    is_mapping: bool
    key: object = None  # mappings: the key whose value is being read
    expects_key: bool = True
    next_index: int = 0  # sequences: the index of the next element


def _item_at(text: str, line: int) -> str | None:
    """The id of the item whose lines include `line`, as far as the YAML can be read.

    Errors in the bytes or the syntax stop the reader before there is a node tree; the parser's
    events up to the error still show which item the place lies in, so the message can name it.
    """
    spans: list[list] = []  # per item: [first line, last line (None while open), id]
    stack: list[_OpenCollection] = []
    try:
        for event in yaml.parse(_NOT_YAML_PRINTABLE.sub("\ufffd", text), Loader=_NoAliasLoader):
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                closed = stack.pop()
                if closed.is_mapping and _is_item_path(closed.path):
                    spans[-1][1] = event.end_mark.line + 1
                if stack and stack[-1].is_mapping:
                    stack[-1].expects_key = True
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            parent = stack[-1] if stack else None
            if parent and parent.is_mapping and parent.expects_key:
                parent.key = event.value if isinstance(event, yaml.ScalarEvent) else None
                parent.expects_key = False
                if isinstance(event, yaml.CollectionStartEvent):  # a mapping or list as a key: no bank has one
                    stack.append(_OpenCollection(("?",), isinstance(event, yaml.MappingStartEvent)))
                continue
            if parent is None:
                path: tuple = ()
            elif parent.is_mapping:
                path = (*parent.path, parent.key)
            else:
                path = (*parent.path, parent.next_index)
                parent.next_index += 1
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append(_OpenCollection(path, isinstance(event, yaml.MappingStartEvent)))
                if isinstance(event, yaml.MappingStartEvent) and _is_item_path(path):
                    spans.append([event.start_mark.line + 1, None, None])
                continue
            if isinstance(event, yaml.ScalarEvent) and len(path) == 3 and _is_item_path(path[:2]) and path[2] == "id":
                spans[-1][2] = event.value.strip() or None
            if parent and parent.is_mapping:
                parent.expects_key = True
    except yaml.YAMLError:
        pass  # the events before the error are all this needs
    found = [item_id for first, last, item_id in spans if first <= line and (last is None or line <= last)]
    return found[-1] if found else None


def _is_item_path(path: tuple) -> bool:
    return len(path) == 2 and path[0] == "items" and isinstance(path[1], int)


def _compose(text: str) -> yaml.Node | None:
    loader = _NoAliasLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _syntax_problem(path: Path, text: str, error: yaml.MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    context = error.context_mark
    # Running into the end of the file means something opened earlier was never closed
    # (a quote, a bracket): where it was opened is the place to look.
    if context and (mark is None or mark.index >= len(text) - 1):
        mark = context
    message = error.problem or ""
    if error.context and context and context is not mark:
        message = f"{error.context} (line {context.line + 1}, column {context.column + 1}): {message}"
    elif error.context:
        message = f"{error.context}: {message}"
    if mark is None:
        return Problem(Location(path, 1, 1), f"YAML syntax: {message}")
    return Problem(Location(path, mark.line + 1, mark.column + 1), f"YAML syntax: {message}", _item_at(text, mark.line + 1))


def load_bank(path: Path, read: Callable[[Path], bytes] = Path.read_bytes) -> Bank:
    """Read and validate one bank file. Raises BankError listing every problem found."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise BankError([Problem(Location(path, 1, 1), f"cannot read the bank: {error.strerror}")]) from None
    if size > MAX_FILE_BYTES:
        raise BankError(
            [Problem(Location(path, 1, 1), f"the file is {size:,} bytes; a bank may be at most {MAX_FILE_BYTES:,}")]
        )
    text = _decode(path, read(path))
    try:
        root = _compose(text)
    except yaml.reader.ReaderError as error:
        # YAML refuses control characters before parsing; the first one is where it stopped.
        raise _error_at(
            path, text, text.index(chr(error.character)),
            f"contains the character U+{error.character:04X}, which YAML does not allow (a control character?)",
        ) from None
    except yaml.MarkedYAMLError as error:
        raise BankError([_syntax_problem(path, text, error)]) from None
    if root is None:
        raise BankError([Problem(Location(path, 1, 1), "the file is empty")])
    walker = _Walker(path)
    bank = walker.bank(root)
    # Images are checked by the render step: only pandoc knows where the Markdown puts them.
    if walker.problems or bank is None:
        # In file order, as an editor's error list shows them, not in the order they were found.
        in_file_order = sorted(walker.problems, key=lambda problem: (problem.location.line, problem.location.column))
        raise BankError(in_file_order)
    return bank
