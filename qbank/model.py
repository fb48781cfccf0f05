"""The bank as plain typed objects: what the reader produces and every later step consumes.

Text fields hold the bank's Markdown exactly as written; the render step turns them into HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path


def shown_path(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# Slots: a bank's every place (Places) is one Location per value (257,000 for 10,000 items),
# and a __dict__ each made them twice the size.
@dataclass(frozen=True, slots=True)
class Location:
    """Where something stands in a bank file (1-based line and column)."""

    path: Path
    line: int
    column: int

    def __str__(self) -> str:
        return f"{shown_path(self.path)}:{self.line}:{self.column}"


class Places(Mapping):
    """Where each value stands in a bank file, by its path from the top ("items", 3, "question").

    The reader keeps the places of the bank's own keys and of its items (`known`). The places
    of the values inside the items, 25 an item, are looked for again with `find_all` (from the
    file's bytes as read) the first time a message needs one: at 10,000 items they are 250,000
    Locations and paths, 50 MB held by every process of a build that has nothing to report."""

    def __init__(self, known: dict[tuple, Location], find_all: Callable[[], dict[tuple, Location]]):
        self._known = known
        self._find_all: Callable[[], dict[tuple, Location]] | None = find_all  # None once called

    def _all(self) -> dict[tuple, Location]:
        if self._find_all is not None:
            self._known, self._find_all = self._find_all(), None
        return self._known

    def __getitem__(self, path: tuple) -> Location:
        try:
            return self._known[path]
        except KeyError:
            return self._all()[path]

    def __iter__(self) -> Iterator[tuple]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


# The classes below hold a bank's content; which of their fields are Markdown, required or
# optional is declared once, in qbank/schema.py. An optional field's default is the value an
# absent key takes.


@dataclass(frozen=True)
class Point:
    """One bullet of an answer: a short term, shown emphasized, and its explanation."""

    term: str
    text: str


@dataclass(frozen=True)
class Answer:
    lead: str = ""
    points: tuple[Point, ...] = ()


@dataclass(frozen=True)
class Item:
    id: str
    number: int  # 1-based position in the bank, as printed
    title: str
    question: str
    answer: Answer
    location: Location
    explanation: str = ""
    tags: tuple[str, ...] = ()
    former_ids: tuple[str, ...] = ()  # oldest first
    absorbs: tuple[str, ...] = ()  # ids of items merged into this one

    @property
    def identity(self) -> str:
        """The id the item was first built with: its Anki note's GUID and its lock entry."""
        return self.former_ids[0] if self.former_ids else self.id


@dataclass(frozen=True)
class Closing:
    title: str
    text: str


@dataclass(frozen=True)
class Options:
    """Per-bank build switches; the command line can turn them on for one build."""

    cloze: bool = False


@dataclass(frozen=True)
class Bank:
    id: str
    title: str
    lang: str
    items: tuple[Item, ...]
    path: Path  # the bank file; images are resolved relative to its folder
    # Where each value stands in the file, by its path from the top ("items", 3, "question"),
    # so later steps (render, lint, the writers' checks) can point at it.
    places: Mapping[tuple, Location] = field(default_factory=dict, compare=False, repr=False)
    author: str = ""
    deck: str = ""  # the Anki deck's name when set on purpose (else kept in the lock)
    description: str = ""
    closing: Closing | None = None
    options: Options = Options()

    @property
    def folder(self) -> Path:
        return self.path.parent

    def owner(self, path: tuple) -> str | None:
        """The id of the item a path lies in (None: the bank's own text)."""
        return self.items[path[1]].id if path[:1] == ("items",) else None

    def place(self, path: tuple) -> Location:
        """Where `path` stands, or where the nearest enclosing value does (an absent optional
        field is reported at its item)."""
        while path not in self.places and path:
            path = path[:-1]
        return self.places.get(path, Location(self.path, 1, 1))


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or, for lint, doubtful) in a bank, pointing at its place."""

    location: Location
    message: str
    item_id: str | None = None

    def __str__(self) -> str:
        where = f" [item {self.item_id}]" if self.item_id else ""
        return f"{self.location}:{where} {self.message}"


class BankError(Exception):
    """A user's mistake in a bank: reported as a list of problems, never as a traceback."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems

    def __reduce__(self):  # noqa: ANN204 - crosses process boundaries (parallel writers) intact
        return (BankError, (self.problems,))


class CannotBuild(Exception):
    """Something outside the bank's text stops the command: a path, the disk, the lock file, a
    template, the machine. Its message is one line that names the path and says what to do;
    it is reported without a traceback (a traceback is for bugs of ours only)."""


class MissingTool(CannotBuild):
    """Something the machine lacks (a font, a program), not a mistake in the bank: reported
    with what to install, without a traceback."""
