"""What a key of a bank file may hold, and how the model's classes declare their keys.

Each field of the bank's content classes (qbank/model.py) is declared with `key(...)`: what the
file holds under that key (text, a flag, a list, a mapping), whether it is required, which text
is Markdown. Required or not also gives the field's default: the value an absent key takes.
qbank/schema.py reads these declarations (the loader, the render step, lint, the lock and the
editors' JSON Schema all go through it).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass
from typing import Any, Union

# A bank is text written by people; a longer field is a mistake or an attack.
MAX_FIELD_CHARS = 100_000
SLUG_MAX = 64
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# BCP 47, simplified: language, then optional subtags (zh-CN, en, pt-BR, zh-Hant-TW).
LANG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
TAG = re.compile(r"^[^\s\"']+$")
GUID = re.compile(r"^[!-~]{1,64}$")  # Anki's are ten characters of base 91
SLUG_MISMATCH = (f"{{what}} '{{value}}' is not a slug: use lowercase letters, digits and single hyphens "
                 f"(at most {SLUG_MAX} characters), e.g. 'gradient-clipping'")


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
    # Whether a change to the value moves the lock's date of what holds it (an item, the bank's
    # own text). Not for ids, the language or build switches: they say how the bank is built.
    dated: bool = True


@dataclass(frozen=True)
class Flag:
    description: str
    required: bool = False
    dated: bool = True  # as Text's


@dataclass(frozen=True)
class ListOf:
    element: "Node"
    description: str
    required: bool = True
    min_items: int = 0
    # How problems name an element: "{what}[]" by default; items are named "item {number}".
    element_name: str = "{what}[]"
    # Ids of other items (renames, merges) rather than this item's content: the reader checks
    # that each names one old note, and the lock does not date them.
    lifecycle: bool = False
    too_short: str = "{what} needs at least one element"
    # A section's items: the reader lists them in the bank's `items` too, numbered on across
    # the sections, and the model's section holds their positions there (a range). Whatever
    # walks the model (render, lock, writing a bank out) meets them there, once.
    gathered: bool = False
    # A key declared after banks had locks: left out of what the lock hashes while it is
    # empty, so that declaring it moved no bank's dates.
    hashed_when_given: bool = False


@dataclass(frozen=True)
class Mapping:
    """A YAML mapping with exactly these keys, read into an instance of `builds`."""

    keys: dict[str, "Node"]
    builds: type
    description: str
    required: bool = True
    # At least one of these keys must be present (an answer needs a lead, points, or both).
    needs_one_of: tuple[str, ...] = ()
    # ... and not two of them (a bank's items, or its sections).
    exclusive: bool = False
    # The key whose value names the mapping in every problem inside it (an item's id).
    named_by: str | None = None
    dated: bool = True  # as Text's

    @property
    def required_keys(self) -> set[str]:
        return {key for key, node in self.keys.items() if node.required}


Node = Union[Text, Flag, ListOf, Mapping]


def key(node: Node) -> Any:
    """A dataclass field holding the value of a key declared as `node`; an optional key's
    field defaults to what an absent key means: empty text, false, an empty list, no mapping
    (or one of its defaults, when all its keys are optional)."""
    metadata = {"key": node}
    if node.required:
        return dataclasses.field(metadata=metadata)
    if isinstance(node, Mapping):
        absent = node.builds() if not node.required_keys else None
        return dataclasses.field(default=absent, metadata=metadata)
    return dataclasses.field(default={Text: "", Flag: False, ListOf: ()}[type(node)], metadata=metadata)


def mapping(builds: type, description: str, **settings: Any) -> Mapping:
    """The Mapping whose keys are the `key(...)` fields of the dataclass `builds`, in their order."""
    keys = {field.name: field.metadata["key"] for field in dataclasses.fields(builds) if "key" in field.metadata}
    return Mapping(keys, builds, description, **settings)
