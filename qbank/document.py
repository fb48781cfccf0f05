"""The rendered bank: what the render step hands to every writer.

The same model objects as the reader's (qbank/model.py), with each Markdown field replaced by
its HTML, so a writer or template reads `item.title` or `item.answer.points` whatever the
output. The Markdown is not kept: once rendered, no writer needs it, and at 10,000 items it
would hold 30 MB in every process of the build.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from functools import cached_property
from html.parser import HTMLParser
from itertools import groupby
from pathlib import Path
from typing import Callable, Mapping, Sequence

from markupsafe import Markup

from .lock import RetiredItem
from .mathjax import Formula
from .model import Bank, Item, Section, item_position
from . import schema
from .schema import Path_


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def text_width_em(text: str) -> float:
    """About how wide `text` sets, in em: CJK characters are square, Latin about half as wide."""
    classes = "".join(map(unicodedata.east_asian_width, text))  # a code per character: W, F, Na, H, A or N
    wide = classes.count("W") + classes.count("F")
    return wide + 0.55 * (len(text) - wide)


def plain_text(html: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    extractor = _TextExtractor()
    # As str: the parser slices and joins its input, and on Markup every slice and join is a
    # Markup method (with escaping checks): three times slower, for the same text.
    extractor.feed(str(html))
    extractor.close()
    return " ".join("".join(extractor.parts).split())


class _ReadsHtml:
    """Attribute access falls through to `html`, the model object with HTML fields."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("__") or name == "html":  # unpickling looks these up before __dict__ is set
            raise AttributeError(name)
        return getattr(self.html, name)


@dataclass(frozen=True)
class RenderedItem(_ReadsHtml):
    html: Item  # the item as read, every Markdown field rendered to HTML (Markup)
    modified: int  # when this item's content last changed (lock file), epoch seconds

    @property
    def plain_title(self) -> str:
        return plain_text(self.html.title)


@dataclass(frozen=True)
class RenderedBank(_ReadsHtml):
    html: Bank  # the bank as read, its own fields as HTML (an absent closing comes as empty HTML)
    items: tuple[RenderedItem, ...]
    retired: tuple[RetiredItem, ...]  # items gone from the bank whose notes learners may hold
    fields: dict[Path_, Markup]  # every rendered field by its path in the bank
    labels: dict[str, str]
    media: dict[str, Path]  # name used in the HTML -> the vetted file in the bank's folder
    deck_name: str  # the Anki deck's name, kept stable across re-titles (lock)
    changes: dict[str, int]  # what this build changes for learners, by kind (qbank.lock.dating.item_changes)
    template_stamps: dict[str, int]  # templates/<folder> -> when it last changed
    modified: int  # the document's date: SOURCE_DATE_EPOCH, else the newest change in the lock
    # Each formula's TeX and display flag -> its SVG and MathML, as MathJax typeset them (qbank/mathjax.py)
    formulas: Mapping[tuple[str, bool], Formula] = field(default_factory=dict)
    subdecks: dict[str, str] = field(default_factory=dict)  # each section's Anki subdeck name, by its id (lock)

    @property
    def plain_title(self) -> str:
        return plain_text(self.html.title)

    def owner(self, path: Path_) -> str | None:
        """The id of the item a path lies in (None: the bank's own text)."""
        position = item_position(path)
        return None if position is None else self._item_ids[position]

    @cached_property
    def _item_ids(self) -> dict[int, str]:
        """Item ids by position in the bank (a path's index), for the items this bank holds."""
        return {item.number - 1: item.id for item in self.items}

    def section_of(self, item: RenderedItem) -> Section | None:
        """The section an item lies in (None: the bank has no sections)."""
        index = self._section_indexes.get(item.number - 1)
        return None if index is None else self.html.sections[index]

    def in_sections(self, items: Sequence[RenderedItem] | None = None
                    ) -> list[tuple[Section | None, list[RenderedItem]]]:
        """`items` (by default the bank's) in runs of consecutive items of one section, each with
        its section: a single run with None for a bank without sections."""
        runs = groupby(self.items if items is None else items,
                       key=lambda item: self._section_indexes.get(item.number - 1))
        return [(None if index is None else self.html.sections[index], list(run)) for index, run in runs]

    @cached_property
    def _section_indexes(self) -> dict[int, int]:
        """The index of each item's section, by the item's position in the bank."""
        return {position: index for index, section in enumerate(self.html.sections) for position in section.items}

    def excerpt(self, items: Sequence[RenderedItem]) -> RenderedBank:
        """This bank holding only `items` of its items: what a process that lays out a chunk
        of a large bank needs, without the other items' HTML (at 10,000 items, 50 MB) or the
        bank's places. The bank's own fields, labels, media and dates stay."""
        paths, spans = self._field_spans
        chosen = sorted(span for key in (None, *{item.number - 1 for item in items}) for span in spans.get(key, ()))
        title = ("title",)
        return replace(
            self,
            html=replace(self.html, items=(), places={title: self.html.place(title)}),
            items=tuple(items),
            retired=(),
            fields={path: self.fields[path] for start, end in chosen for path in paths[start:end]},
        )

    @cached_property
    def _field_spans(self) -> tuple[list[Path_], dict[int | None, list[tuple[int, int]]]]:
        """The fields' paths in order, and the runs of them (start, end) that each item holds, by
        its position (None: the bank's own fields): an excerpt takes its items' fields, in the
        bank's order, without going through all of the bank's (once per chunk: quadratic)."""
        paths = list(self.fields)
        spans: dict[int | None, list[tuple[int, int]]] = {}
        for position, run in groupby(range(len(paths)), key=lambda index: item_position(paths[index])):
            indices = list(run)
            spans.setdefault(position, []).append((indices[0], indices[-1] + 1))
        return paths, spans

    def html_fragments(self) -> list[tuple[str | None, str]]:
        """Every piece of HTML an output may show, with the id of the item it belongs to."""
        return [(self.owner(path), html) for path, html in self.fields.items()] + [
            (None, " ".join(self.labels.values()))
        ]

    def with_html(self, change: Callable[[Markup, Path_], Markup]) -> RenderedBank:
        """This bank with every field's HTML replaced by `change(html, its path)` (for a
        writer that shows some markup its own way, like math on paper); this very bank if no
        field changes (a bank without math: a copy of every item would cost as much memory as
        the bank's HTML)."""
        fields = {path: change(html, path) for path, html in self.fields.items()}
        if all(fields[path] == html for path, html in self.fields.items()):
            return self
        html_bank = schema.with_html(schema.BANK, self.html, fields)
        items = tuple(replace(item, html=html_item) for item, html_item in zip(self.items, html_bank.items))
        return replace(self, html=html_bank, items=items, fields=fields)
