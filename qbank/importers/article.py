"""Import an interview-question article in the common Markdown shape into a bank YAML.

The shape (many such articles share it)::

    ### Article title
    preface paragraphs
    #### 1. Item title
    **面试题：** question
    **答案：** lead sentence
    - **term：** text
    **解析：** explanation
    ### 总结
    closing paragraphs

The import is a one-off: its YAML is committed and becomes the source of truth, so item ids
are given by position (q01, q02, ...) and a maintainer may rename them before the first build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..model import Answer, Bank, Closing, Item, Location, Point
from .common import ImportRefused

# Label words per role; the colon may be full-width (Chinese) or ASCII.
LABELS = {
    "question": ("面试题", "题目", "问题", "Question", "Interview question"),
    "answer": ("答案", "参考答案", "Answer"),
    "explanation": ("解析", "Explanation", "Analysis"),
}
_LABEL = re.compile(r"^\*\*(?P<label>[^*]+?)\s*[：:]\s*\*\*\s*(?P<rest>.*)$")
_BULLET = re.compile(r"^[-*+]\s+\*\*(?P<term>[^*]+?)\s*[：:]?\s*\*\*\s*(?P<text>.*)$")
_ITEM_HEADING = re.compile(r"^#{2,6}\s+(?P<number>\d+)[.、．)]\s*(?P<title>.+?)\s*$")
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*$")


class ArticleShapeError(ImportRefused):
    """The article does not have the expected shape; the message names the line."""


@dataclass
class _Item:
    title: str
    line: int
    parts: dict[str, list[str]] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)


def _role(label: str) -> str | None:
    for role, words in LABELS.items():
        if label.strip().lower() in (w.lower() for w in words):
            return role
    return None


def parse_article(text: str, path: Path, bank_id: str, lang: str) -> Bank:
    """The bank the article at `path` holds, with this id and language."""
    source = str(path)
    title = ""
    preface: list[str] = []
    closing_title = ""
    closing: list[str] = []
    items: list[_Item] = []
    section = "preface"  # preface -> items -> closing
    current_role = None
    for line_number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        if heading := _ITEM_HEADING.match(line):
            items.append(_Item(heading["title"], line_number))
            section, current_role = "items", None
            continue
        if heading := _HEADING.match(line):
            if not title:
                title = heading["title"]
            else:
                closing_title, section = heading["title"], "closing"
            continue
        if section == "preface":
            preface.append(line)
        elif section == "closing":
            closing.append(line)
        else:
            item = items[-1]
            if label := _LABEL.match(line):
                current_role = _role(label["label"])
                if current_role is None:
                    raise ArticleShapeError(f"{source}:{line_number}: unknown label '{label['label']}' in item '{item.title}'")
                item.parts.setdefault(current_role, []).append(label["rest"])
            elif bullet := _BULLET.match(line):
                if current_role != "answer":
                    raise ArticleShapeError(f"{source}:{line_number}: a bullet outside an answer in item '{item.title}'")
                item.points.append(Point(term=bullet["term"], text=bullet["text"]))
            elif current_role:
                item.parts[current_role].append(line)
            else:
                raise ArticleShapeError(f"{source}:{line_number}: text before any label in item '{item.title}'")
    if not items:
        raise ArticleShapeError(f"{source}: no numbered item headings ('#### 1. Title') found")
    for item in items:
        for role in ("question", "answer"):
            if role not in item.parts:
                raise ArticleShapeError(f"{source}:{item.line}: item '{item.title}' has no {role} label")
    return Bank(
        id=bank_id, lang=lang, title=title, description="\n\n".join(preface),
        closing=Closing(title=closing_title, text="\n\n".join(closing)) if closing else None,
        items=tuple(
            Item(id=f"q{number:02d}", number=number, location=Location(path, item.line, 1), title=item.title,
                 question="\n\n".join(item.parts["question"]),
                 answer=Answer(lead="\n\n".join(p for p in item.parts["answer"] if p), points=tuple(item.points)),
                 explanation="\n\n".join(item.parts.get("explanation", [])))
            for number, item in enumerate(items, start=1)
        ),
        path=path,
    )
