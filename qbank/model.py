"""The bank as plain typed objects: what the reader produces and every later step consumes.

The content classes (Point to Bank) are also the bank file's format, declared once: each field
the file holds names its key (qbank/keys.py), and qbank/schema.py reads them. Text fields hold
the bank's Markdown exactly as written; the render step turns them into HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .keys import GUID, LANG, SLUG, SLUG_MAX, SLUG_MISMATCH, TAG, Flag, ListOf, Markdown, Text, key, mapping


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


# The classes below hold a bank's content. Each field that the file holds declares its key
# (qbank/keys.py): adding a key to the bank is one line here, plus the templates that show it.
# The fields without a key are what the reader adds: an item's number and place, the file.


@dataclass(frozen=True, kw_only=True)
class Point:
    """One bullet of an answer: a short term, shown emphasized, and its explanation."""

    term: str = key(Text("The key point in a few words, shown emphasized.", markdown=Markdown.INLINE))
    text: str = key(Text("What the key point says.", markdown=Markdown.INLINE))


@dataclass(frozen=True, kw_only=True)
class Answer:
    lead: str = key(Text("The answer's opening sentence or paragraph.", required=False, markdown=Markdown.BLOCK))
    points: tuple[Point, ...] = key(ListOf(mapping(Point, "One bullet of the answer: a term and its explanation."),
                                           "The answer's key points, in order.", required=False))


def _ids(description: str, element: str) -> ListOf:
    """A list of other items' ids, which this item takes the place of."""
    return ListOf(Text(element, pattern=SLUG, max_length=SLUG_MAX, mismatch=SLUG_MISMATCH), description,
                  required=False, lifecycle=True)


@dataclass(frozen=True, kw_only=True)
class Item:
    id: str = key(Text("A stable slug; never change it once learners study the deck (it is the note's identity).",
                       pattern=SLUG, max_length=SLUG_MAX, mismatch=SLUG_MISMATCH))
    title: str = key(Text("A short title.", markdown=Markdown.INLINE))
    question: str = key(Text("The interview question.", markdown=Markdown.BLOCK))
    answer: Answer = key(mapping(Answer, "The answer: a lead, key points, or both.", needs_one_of=("lead", "points")))
    explanation: str = key(Text("Why the answer is right, and what an interviewer looks for.", required=False,
                                markdown=Markdown.BLOCK, aside=True))
    tags: tuple[str, ...] = key(ListOf(Text("One word without spaces or quotes.", pattern=TAG,
                                            mismatch="{what}: each tag is one word without spaces or quotes"),
                                       "Tags, for Anki's browser and filtered decks.", required=False))
    former_ids: tuple[str, ...] = key(_ids(
        "Ids this item had before, oldest first: after a rename its Anki note keeps the identity (and the "
        "learners' history) it was first built with.", "An id this item had before."))
    absorbs: tuple[str, ...] = key(_ids(
        "Ids of items merged into this one and removed from the bank: their notes are retired with a notice "
        "pointing here.", "The id of an item merged into this one."))
    guid: str = key(Text("The GUID of the Anki note this item updates, kept by build.py import from the deck it came "
                         "from so that learners keep their reviews; never edit it.", required=False, pattern=GUID,
                         mismatch="{what} '{value}' is not an Anki GUID (printable ASCII, no spaces)", dated=False))
    number: int  # 1-based position in the bank, as printed
    location: Location

    @property
    def identity(self) -> str:
        """The id the item was first built with: its Anki note's GUID and its lock entry."""
        return self.former_ids[0] if self.former_ids else self.id


ITEM = mapping(Item, "One interview question with its answer.", named_by="id")


@dataclass(frozen=True, kw_only=True)
class Section:
    """Consecutive items under a title: a heading of the cheat sheet, a chapter of the EPUB, a
    subdeck in Anki. Its items are numbered on from the section before, and the bank's `items`
    holds them all (the reader gathers them there); the section holds their positions."""

    id: str = key(Text("A stable slug; never change it once learners study the deck (it keeps the section's "
                       "Anki subdeck).", pattern=SLUG, max_length=SLUG_MAX, mismatch=SLUG_MISMATCH, dated=False))
    title: str = key(Text("The section's title.", markdown=Markdown.INLINE))
    intro: str = key(Text("A few words before the section's questions.", required=False, markdown=Markdown.BLOCK))
    deck: str = key(Text("The Anki subdeck's name, under the bank's deck. Without it, the title at the first "
                         "build, kept in the lock so that a new title does not start a new subdeck.",
                         required=False, dated=False))
    items: range = key(ListOf(ITEM, "The section's questions, in the order they are printed.", min_items=1,
                              element_name="{what}[{number}]", gathered=True,
                              too_short="{what} is empty: a section needs at least one item"))


@dataclass(frozen=True, kw_only=True)
class Closing:
    title: str = key(Text("The closing section's title.", markdown=Markdown.INLINE))
    text: str = key(Text("The closing section.", markdown=Markdown.BLOCK))


@dataclass(frozen=True, kw_only=True)
class Options:
    """Per-bank build switches; the command line can turn them on for one build."""

    cloze: bool = key(Flag("Add Anki's 'recall the key points' card."))
    one_deck: bool = key(Flag("Anki: every section's cards in the bank's one deck, instead of a subdeck per "
                              "section."))


@dataclass(frozen=True, kw_only=True)
class Bank:
    id: str = key(Text("The bank's slug: names the outputs and the Anki deck's identity.", pattern=SLUG,
                       max_length=SLUG_MAX, mismatch=SLUG_MISMATCH, dated=False))
    title: str = key(Text("The bank's title.", markdown=Markdown.INLINE))
    lang: str = key(Text("The bank's language as a BCP 47 tag, such as zh-CN or en.", pattern=LANG,
                         mismatch="{what} '{value}' is not a BCP 47 language tag such as zh-CN or en", dated=False))
    author: str = key(Text("Who wrote the bank.", required=False))
    deck: str = key(Text("The Anki deck's name. Without it, the title at the first build, kept in the lock so "
                         "that a new title does not start a new deck in every collection.", required=False,
                         dated=False))
    description: str = key(Text("The preface.", required=False, markdown=Markdown.BLOCK))
    closing: Closing | None = key(mapping(Closing, "A closing section after the items.", required=False))
    options: Options = key(mapping(Options, "Build switches.", required=False, dated=False))
    items: tuple[Item, ...] = key(ListOf(ITEM, "The questions, in the order they are printed (or `sections`).",
                                         required=False, min_items=1, element_name="item {number}",
                                         too_short="{what} is empty: a bank needs at least one item"))
    sections: tuple[Section, ...] = key(ListOf(
        mapping(Section, "A section: a title, an optional introduction and its questions."),
        "The questions in sections, in the order they are printed (instead of `items`).", required=False,
        element_name="section {number}", hashed_when_given=True))
    path: Path  # the bank file; images are resolved relative to its folder
    # Where each value stands in the file, by its path from the top ("items", 3, "question"),
    # so later steps (render, lint, the writers' checks) can point at it.
    places: Mapping[tuple, Location] = field(default_factory=dict, compare=False, repr=False)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def owner(self, path: tuple) -> str | None:
        """The id of the item a path lies in (None: the bank's own text)."""
        position = item_position(path)
        return None if position is None else self.items[position].id

    def written_path(self, path: tuple) -> tuple:
        """Where a path of the model stands in the bank file: an item of a bank in sections
        under its section (("items", 4, "title") -> ("sections", 1, "items", 2, "title")), and
        the bank's list of items, for one more, its last section's."""
        if not self.sections or path[:1] != ("items",):
            return path
        if len(path) == 1:
            return ("sections", len(self.sections) - 1, "items")
        index = next(index for index, section in enumerate(self.sections) if path[1] in section.items)
        return ("sections", index, "items", path[1] - self.sections[index].items.start, *path[2:])

    def place(self, path: tuple) -> Location:
        """Where `path` stands, or where the nearest enclosing value does (an absent optional
        field is reported at its item)."""
        while path not in self.places and path:
            path = path[:-1]
        return self.places.get(path, Location(self.path, 1, 1))


def item_position(path: tuple) -> int | None:
    """The position (from 0) of the item a path in the bank lies in; None: the bank's own text."""
    return path[1] if len(path) > 1 and path[0] == "items" and isinstance(path[1], int) else None


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
