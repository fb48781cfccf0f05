"""Read a bank file: safe YAML, checked against the bank's schema, every problem reported with its place.

PyYAML's composer builds a node tree that still knows each value's line and column; the
validator walks that tree against qbank/schema.py instead of calling ``yaml.safe_load``, so
that every message can point at the exact place and one pass collects all problems at once.
The items are checked one by one as they are composed, and their nodes dropped: the tree of
a whole 10,000-item bank would take 150 MB, kept by the process and every one forked later.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import yaml

from .keys import ListOf
from .model import Bank, BankError, Location, Places, Problem, item_position
from .schema import BANK, ITEM, Path_, build
from .validate import STR, ListReader, Validator

# A bank is text written by people; anything larger than this is a mistake or an attack.
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_NESTING = 20
# The places a loaded bank keeps: of its own keys ("title",), of its sections' ("sections", 1,
# "title") and of its items (("items", 3), or ("sections", 1, "items", 2) as written); the others
# are found again when a message needs one (model.Places).
KEPT_PLACE_DEPTH = 2
SECTION_PLACE_DEPTH = 4
# An item's lists of other items' ids (renames, merges): each old id names one old note.
CLAIMED_IDS = tuple(key for key, node in ITEM.keys.items() if isinstance(node, ListOf) and node.lifecycle)


# libyaml, which every PyYAML wheel on PyPI includes, parses a bank some fifty times faster
# than the pure-Python parser; the pure one remains for a PyYAML built without it.
_Parser = yaml.cyaml.CParser if yaml.__with_libyaml__ else yaml.SafeLoader


class _NoAliasLoader(_Parser, yaml.composer.Composer, yaml.resolver.Resolver):
    """Parser events composed into a node tree by PyYAML's composer, refusing aliases: a bank
    never needs them, and they are how a small file expands into gigabytes ("billion laughs").
    No Python objects are constructed: the walker reads the nodes, which keep their places.

    Given `lists` (for the bank's `items` and `sections`), each element of those lists of the
    bank is handed to its ListReader as soon as it is composed, and only what that returns (a
    Checked) stays in the tree: an item, or a section with its items."""

    def __init__(self, stream: str | bytes, lists: dict[str, ListReader] | None = None):
        _Parser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.depth = 0
        self.lists = dict(lists or {})  # by the bank's key, until it is met
        self.reading: ListReader | None = None  # while the value of one of them is composed

    # libyaml's own composer (in C) would expand aliases before we could refuse them.
    get_single_node = yaml.composer.Composer.get_single_node

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise yaml.MarkedYAMLError(problem="aliases (*name) are not allowed in a bank", problem_mark=event.start_mark)
        # The composer recurses once per level: a few hundred nested brackets would end in a
        # RecursionError. A bank nests six levels deep (bank, items, item, answer, points, point),
        # eight in sections (bank, sections, section, items, ...).
        if self.depth >= MAX_NESTING:
            raise yaml.MarkedYAMLError(
                problem=f"nested more than {MAX_NESTING} levels deep; a bank needs eight", problem_mark=event.start_mark
            )
        # Only the first `items` (or `sections`) key of the bank is read this way: the validator
        # refuses a second one without reading its value.
        starts = self.depth == 1 and _is_key(index, "items", "sections") and index.value in self.lists
        if starts:
            self.reading = self.lists.pop(index.value)
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
            if starts:
                self.reading = None
        if self.reading is not None and self.depth == 2 and isinstance(parent, yaml.SequenceNode):
            return self.reading.check(index, node)  # an item or a section, whole: checked now, its nodes dropped
        return node


def _is_key(node: yaml.Node | None, *keys: str) -> bool:
    """Whether `node`, a mapping's key, is one of `keys` as the validator reads keys."""
    return isinstance(node, yaml.ScalarNode) and node.tag == STR and node.value in keys


def _utf8(path: Path, data: bytes) -> bytes:
    """The file as the parser reads it: UTF-8 (a leading BOM is accepted; a bad byte is reported
    at its line and column), line ends as \\n.

    Bytes, not text: the parser reads UTF-8, and would encode a str into a copy of its own
    (11 MB for 10,000 items) beside the str. The text is decoded again only to
    report a problem."""
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
    return data.replace(b"\r\n", b"\n")


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
                if closed.is_mapping and _is_an_item(closed.path):
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
                if isinstance(event, yaml.MappingStartEvent) and _is_an_item(path):
                    spans.append([event.start_mark.line + 1, None, None])
                continue
            if isinstance(event, yaml.ScalarEvent) and _is_an_item(path[:-1]) and path[-1] == "id":
                spans[-1][2] = event.value.strip() or None
            if parent and parent.is_mapping:
                parent.expects_key = True
    except yaml.YAMLError:
        pass  # the events before the error are all this needs
    found = [item_id for first, last, item_id in spans if first <= line and (last is None or line <= last)]
    return found[-1] if found else None


def _is_an_item(path: tuple) -> bool:
    """Whether a path of the file is an item's: ("items", 3), or ("sections", 1, "items", 2)."""
    in_section = len(path) == 4 and path[0] == "sections" and path[2] == "items" and isinstance(path[3], int)
    return in_section or (len(path) == 2 and item_position(path) is not None)


def _compose(stream: str | bytes, lists: dict[str, ListReader] | None = None) -> yaml.Node | None:
    loader = _NoAliasLoader(stream, lists)
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


def _read_tree(path: Path, data: bytes, lists: dict[str, ListReader]) -> yaml.Node:
    """The file's node tree, its items (or sections) checked (and dropped) by `lists` as they
    are read, or a BankError for what YAML cannot read. It keeps nothing of the bytes (load_bank does, for
    model.Places)."""
    data = _utf8(path, data)
    try:
        root = _compose(data, lists)
    except yaml.reader.ReaderError as error:
        # YAML refuses control characters before parsing; the first one is where it stopped.
        text = data.decode("utf-8")
        raise _error_at(
            path, text, text.index(chr(error.character)),
            f"contains the character U+{error.character:04X}, which YAML does not allow (a control character?)",
        ) from None
    except yaml.MarkedYAMLError as error:
        raise BankError([_syntax_problem(path, data.decode("utf-8"), error)]) from None
    if root is None:
        raise BankError([Problem(Location(path, 1, 1), "the file is empty")])
    return root


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
    data = read(path)
    validator, values, places_read, sections = _validated(path, data, _kept_place)
    places = Places(places_read, partial(_every_place, path, data))
    problems = validator.problems + _id_problems(values, places)
    # Images are checked by the render step: only pandoc knows where the Markdown puts them.
    if problems:
        # In file order, as an editor's error list shows them, not in the order they were found.
        raise BankError(sorted(problems, key=lambda problem: (problem.location.line, problem.location.column)))
    extra = {("items", index): {"number": index + 1, "location": places[("items", index)]}
             for index in range(len(values["items"]))}
    extra |= {("sections", index): {"items": positions} for index, positions in enumerate(sections)}
    extra[()] = {"path": path, "places": places}
    return build(BANK, values, extra)


def _kept_place(place: Path_) -> bool:
    return len(place) <= (SECTION_PLACE_DEPTH if place[:1] == ("sections",) else KEPT_PLACE_DEPTH)


def _validated(path: Path, data: bytes, keeps: Callable[[Path_], bool] | None
               ) -> tuple[Validator, dict, dict[Path_, Location], list[range]]:
    """The validator after its one pass over the file's bytes, the plain values it read, the
    places it kept, and the positions of each section's items among the bank's items.

    A bank's sections' items are gathered into its `items`, numbered on across them, and so
    are their places: every later step finds an item, and its place, at ("items", n)."""
    validator = Validator(path, keeps)
    # `value(BANK, root, "bank")` below names the items and places them the same way.
    root = _read_tree(path, data, {key: ListReader(validator, BANK.keys[key], f"bank.{key}", (key,))
                                   for key in ("items", "sections")})
    values = validator.value(BANK, root, "bank")
    if not isinstance(values, dict):
        return validator, {}, validator.places, []
    sections, start = [], 0
    for section in values.get("sections", []):
        items = section.pop("items", [])
        values.setdefault("items", []).extend(items)
        sections.append(range(start, start + len(items)))
        start += len(items)
    places = {_gathered_path(place, [positions.start for positions in sections]): at
              for place, at in validator.places.items()}
    return validator, values, places, sections


def _gathered_path(place: Path_, starts: list[int]) -> Path_:
    """An item's place as the bank's: ("sections", 1, "items", 2, ...) -> ("items", n, ...)."""
    if len(place) >= 4 and place[0] == "sections" and place[2] == "items" and place[1] < len(starts):
        return ("items", starts[place[1]] + place[3], *place[4:])
    return place


def _every_place(path: Path, data: bytes) -> dict[Path_, Location]:
    """Where every value of the bank file stands, from the bytes that load_bank read."""
    return _validated(path, data, None)[2]


def _id_problems(values: object, places: Places) -> list[Problem]:
    """Every id names one thing: a live item's id (the identity of a note in learners'
    collections) and a section's (the key of its subdeck's name in the lock) are unique, and a
    former or absorbed id is claimed by one item and is not also live, or one note would stand
    for two items."""
    problems = []
    live: dict[str, Location] = {}
    items = values.get("items", [])
    for index, item in enumerate(items):
        item_id = item.get("id")
        if item_id in live:
            problems.append(Problem(
                places[("items", index)],
                f"item id '{item_id}' is used twice (first at line {live[item_id].line}); "
                "ids must be unique within a bank",
                item_id,
            ))
        elif item_id:
            live[item_id] = places[("items", index)]
    sections: dict[str, Location] = {}
    for index, section in enumerate(values.get("sections", [])):
        section_id = section.get("id")
        if section_id in sections:
            problems.append(Problem(places[("sections", index)], f"section id '{section_id}' is used twice (first at "
                                    f"line {sections[section_id].line}); ids must be unique within a bank"))
        elif section_id:
            sections[section_id] = places[("sections", index)]
    guids: dict[str, int] = {}  # two items updating one Anki note would overwrite each other
    for index, item in enumerate(items):
        guid = item.get("guid")
        if isinstance(guid, str) and guid in guids:
            problems.append(Problem(places[("items", index)], f"guid '{guid}' is the guid of item "
                                    f"{guids[guid] + 1} too; one Anki note cannot be two items", item.get("id")))
        elif isinstance(guid, str):
            guids[guid] = index
    claimed: dict[str, Path_] = {}  # paths, not places: places inside items are looked for only for a message
    for index, item in enumerate(items):
        for key in CLAIMED_IDS:
            for position, old_id in enumerate(item.get(key, [])):
                path = ("items", index, key, position)
                if old_id in live:
                    problems.append(Problem(places[path], f"'{old_id}' in {key} is the id of a live item (line "
                                                          f"{live[old_id].line}); an id is either live or gone",
                                            item.get("id")))
                elif old_id in claimed:
                    problems.append(Problem(places[path], f"'{old_id}' is already claimed as a former or absorbed "
                                                          f"id at line {places[claimed[old_id]].line}; one old note "
                                                          "cannot become two items", item.get("id")))
                else:
                    claimed[old_id] = path
    return problems
