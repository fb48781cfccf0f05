"""Surgical edits of a bank file: one scalar's lines replaced, a few lines inserted, and every
other byte left exactly as it was.

Why not a round-trip YAML library (ruamel.yaml): a maintainer reviews `build.py pull`'s change
as a diff, and only what changed in Anki may appear in it. A round-trip dumper re-emits the
whole document and, depending on the file, re-indents sequences, re-wraps or re-quotes long
scalars and moves comments; here nothing but the edited value's own lines can change, by
construction. PyYAML's composer (safe: it builds no objects) gives where each value starts
and ends, and the edit is made on the text.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from ..schema import Path_
from .common import _BlockStyleDumper


@dataclass(frozen=True)
class Edit:
    start: int  # character offsets into the text
    end: int
    text: str


def _child(node: yaml.Node, step: object) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((value for key, value in node.value if key.value == step), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return node.value[step]
    return None


def node_at(root: yaml.Node, path: Path_) -> yaml.Node | None:
    node = root
    for step in path:
        node = _child(node, step) if node is not None else None
    return node


def _single_line(value: str, style: str | None = None) -> str:
    """`value` as YAML writes it on one line where it can (in `style`: ', " or plain)."""
    dumped = yaml.dump(value, Dumper=_BlockStyleDumper, allow_unicode=True, width=1 << 30, default_style=style)
    return dumped.removesuffix("\n").removesuffix("\n...")


def _literal_fits(value: str) -> bool:
    """Whether `value` can be written as a literal block (|) that reads back the same."""
    lines = value.rstrip("\n").split("\n")
    return (bool(value.strip()) and not value[0].isspace() and "\t" not in value and "\r" not in value
            and all(line == line.rstrip() for line in lines) and not value.endswith("\n\n"))


def scalar_edit(text: str, node: yaml.ScalarNode, value: str, key_column: int) -> Edit:
    """Replace the scalar `node` of `text` by `value`, in its style where that can hold it."""
    start, end = node.start_mark.index, node.end_mark.index
    span = text[start:end]
    block = node.style in ("|", ">")
    if ("\n" in value or block) and _literal_fits(value):
        chomp = span.split("\n", 1)[0].lstrip("|>").lstrip("0123456789") if block else "-"
        header = "|" if chomp == "" else "|-"
        value = value.rstrip("\n") + ("\n" if header == "|" else "")
        indent = _content_indent(span) if block else key_column + 2
        body = "\n".join(" " * indent + line if line else "" for line in value.rstrip("\n").split("\n"))
        if block:
            return Edit(start, end, f"{header}\n{body}\n{_blank_tail(span)}")
        # A one-line value becomes a block: the rest of its line (a comment) stays on the header's.
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end + 1
        return Edit(start, line_end, f"{header}{text[end:line_end].rstrip(chr(10))}\n{body}\n")
    new = _single_line(value)
    if node.style in ("'", '"') and "\n" not in new:  # keep the quotes it was written with
        new = _single_line(value, node.style)
    if "\n" in new:  # a value only a quoted form can hold: double-quoted, on one line
        new = _single_line(value, '"')
    return Edit(start, end, new + ("\n" + _blank_tail(span) if block else ""))


def _blank_tail(span: str) -> str:
    """The blank lines after a block scalar's last line (they belong to the layout, not the value)."""
    content = span.rstrip(" \t\n")
    rest = span[len(content) :]
    return rest[rest.index("\n") + 1 :] if "\n" in rest else ""


def _content_indent(span: str) -> int:
    for line in span.split("\n")[1:]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return 2


def line_start(text: str, index: int) -> int:
    """Where the line holding `index` starts, if only spaces stand before `index` on it; else
    the start of the next line."""
    start = text.rfind("\n", 0, index) + 1
    if text[start:index].strip():
        following = text.find("\n", index)
        return len(text) if following < 0 else following + 1
    return start


def block_lines(value: object, indent: int) -> str:
    """`value` (a mapping or a list) as block YAML lines, each indented by `indent` spaces."""
    dumped = yaml.dump(value, Dumper=_BlockStyleDumper, allow_unicode=True, sort_keys=False, width=1 << 30)
    return "".join(" " * indent + line if line.strip() else line for line in dumped.splitlines(keepends=True))


def apply(text: str, edits: list[Edit]) -> str:
    """`text` with every edit made; edits must not overlap."""
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def flow_or_block_list(text: str, node: yaml.SequenceNode, values: list[str], key_column: int) -> Edit:
    """Replace a list of plain words (tags) in the style it was written in."""
    if node.flow_style or not node.value:
        new = "[" + ", ".join(_single_line(value) for value in values) + "]"
        return Edit(node.start_mark.index, node.end_mark.index, new)
    indent = node.value[0].start_mark.column - 2
    start = line_start(text, node.start_mark.index)
    end = line_start(text, node.end_mark.index)
    lines = "".join(f"{' ' * indent}- {_single_line(value)}\n" for value in values)
    return Edit(start, end, lines)

