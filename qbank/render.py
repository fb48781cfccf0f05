"""The shared render step: every Markdown field of a bank becomes HTML once, with pandoc.

All writers consume the RenderedBank made here, so a bullet list looks the same on a card,
on paper and on an e-reader. This step is also where the bank's Markdown is made safe:
raw HTML and attributes are disabled in the reader, links may only point to the web or to
mail, and images must be files inside the bank's folder (they are renamed by content hash,
which also gives Anki the flat, collision-free media names it needs).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import subprocess
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

from markupsafe import Markup

from .labels import labels_for
from .lock import Lock, content_hash, source_date_epoch
from .model import Bank, BankError, Item, Location, Problem
from .pandoc import run_pandoc
from .templating import TEMPLATES

RENDER_SCRIPT = Path(__file__).with_name("render.lua")

# pandoc's Markdown without what an untrusted bank could abuse (raw HTML/TeX, attributes
# such as onclick=) or what cannot be split per field (footnotes collect at document end).
DISABLED_EXTENSIONS = (
    "raw_html", "raw_tex", "raw_attribute", "native_divs", "native_spans", "fenced_divs",
    "bracketed_spans", "link_attributes", "header_attributes", "inline_code_attributes",
    "fenced_code_attributes", "footnotes", "inline_notes", "citations", "auto_identifiers",
    "implicit_figures", "yaml_metadata_block", "pandoc_title_block",
)
# Math may also be written \(...\) and \[...\], as in LaTeX and Anki ($...$ is on by default).
ENABLED_EXTENSIONS = ("tex_math_single_backslash",)
READER_FORMAT = "markdown" + "".join(
    [f"-{extension}" for extension in DISABLED_EXTENSIONS] + [f"+{extension}" for extension in ENABLED_EXTENSIONS]
)

# The seed bank renders in 0.4 s. pandoc's Markdown reader is quadratic on some inputs
# (4,000 unclosed '[' take 30 s), so a hostile field within the size limit could stall a
# build for hours; past this, the build stops and names the field.
RENDER_TIMEOUT_SECONDS = 60.0
# Plus this much per field, so a large bank is never taken for a stalled one: 2,000 items
# (28,000 fields) render in about 10 s, and get 60 + 140 s.
RENDER_TIMEOUT_PER_FIELD_SECONDS = 0.005

LINK_SCHEMES = {"http", "https", "mailto"}
IMAGE_TYPES = {  # suffix -> magic bytes; SVG is left out because it can carry scripts
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
}

_FIELD_DIV = re.compile(r'<div id="qbf-(\d+)">\n?')
_ONE_PARAGRAPH = re.compile(r"^<p>((?:(?!</?p>).)*)</p>$", re.DOTALL)


@dataclass(frozen=True)
class RenderedPoint:
    term: Markup
    text: Markup


@dataclass(frozen=True)
class RenderedItem:
    source: Item
    title: Markup
    question: Markup
    lead: Markup
    points: tuple[RenderedPoint, ...]
    explanation: Markup
    modified: int  # when this item's content last changed (lock file), epoch seconds

    @property
    def id(self) -> str:
        return self.source.id

    @property
    def number(self) -> int:
        return self.source.number

    @property
    def tags(self) -> tuple[str, ...]:
        return self.source.tags

    @property
    def plain_title(self) -> str:
        return plain_text(self.title)


@dataclass(frozen=True)
class RenderedBank:
    source: Bank
    title: Markup
    description: Markup
    closing_title: Markup
    closing: Markup
    items: tuple[RenderedItem, ...]
    labels: dict[str, str]
    media: dict[str, Path]  # name used in the HTML -> the vetted file in the bank's folder
    template_stamps: dict[str, int]  # templates/<folder> -> when it last changed
    modified: int  # the document's date: SOURCE_DATE_EPOCH, else the newest change in the lock

    @property
    def id(self) -> str:
        return self.source.id

    @property
    def lang(self) -> str:
        return self.source.lang

    @property
    def plain_title(self) -> str:
        return plain_text(self.title)

    def html_fragments(self) -> list[tuple[str | None, str]]:
        """Every piece of HTML an output may show, with the id of the item it belongs to."""
        fragments: list[tuple[str | None, str]] = [
            (None, self.title), (None, self.description), (None, self.closing_title), (None, self.closing),
            (None, " ".join(self.labels.values())),
        ]
        for item in self.items:
            parts = [item.title, item.question, item.lead, item.explanation]
            parts += [part for point in item.points for part in (point.term, point.text)]
            fragments += [(item.id, part) for part in parts]
        return fragments

    def with_html(self, change: Callable[[Markup, str | None], Markup]) -> RenderedBank:
        """This bank with every fragment of its text replaced by `change(html, id of its item)`."""
        def item_changed(item: RenderedItem) -> RenderedItem:
            def changed(html: Markup) -> Markup:
                return change(html, item.id)
            points = tuple(RenderedPoint(changed(point.term), changed(point.text)) for point in item.points)
            return replace(item, title=changed(item.title), question=changed(item.question), lead=changed(item.lead),
                           points=points, explanation=changed(item.explanation))
        return replace(
            self, title=change(self.title, None), description=change(self.description, None),
            closing_title=change(self.closing_title, None), closing=change(self.closing, None),
            items=tuple(item_changed(item) for item in self.items),
        )


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(html: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return " ".join("".join(extractor.parts).split())


@dataclass(frozen=True)
class _Field:
    markdown: str
    inline: bool  # a title or term: rendered without its paragraph wrapper
    location: Location
    item_id: str | None


def _fields(bank: Bank) -> list[_Field]:
    """All Markdown of the bank in a fixed order; `_assemble` consumes them in the same order."""
    fields = []

    def add(markdown: str, inline: bool, location: Location, item_id: str | None) -> None:
        fields.append(_Field(markdown, inline, location, item_id))

    top = bank.field_locations
    add(bank.title, True, top["title"], None)
    add(bank.description, False, top.get("description", top["title"]), None)
    closing_location = top.get("closing", top["title"])
    add(bank.closing.title if bank.closing else "", True, closing_location, None)
    add(bank.closing.text if bank.closing else "", False, closing_location, None)
    for item in bank.items:
        where = item.field_locations
        add(item.title, True, where["title"], item.id)
        add(item.question, False, where["question"], item.id)
        answer_at = where.get("answer.lead", where["answer"])
        add(item.answer.lead, False, answer_at, item.id)
        points_at = where.get("answer.points", where["answer"])
        for point in item.answer.points:
            add(point.term, True, points_at, item.id)
            add(point.text, True, points_at, item.id)
        add(item.explanation, False, where.get("explanation", item.location), item.id)
    return fields


def _vet_image(folder: Path, src: str) -> Path | str:
    """The image file for `src`, or the reason it is refused."""
    try:
        return _image_file(folder, src)
    # A malformed URL, a NUL byte, an over-long name, a symlink loop, an unreadable file: the
    # bank is at fault, so it is reported like any other refused image, never as a crash.
    except (OSError, ValueError, RuntimeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return f"image '{src}' cannot be used: {reason}"


def _image_file(folder: Path, src: str) -> Path | str:
    parts = urlsplit(src)
    if parts.scheme or parts.netloc:
        return f"image '{src}' is not a file in the bank's folder (remote and absolute URLs are not fetched)"
    relative = unquote(parts.path)
    if relative.startswith(("/", "\\")) or Path(relative).is_absolute():
        return f"image '{src}' is an absolute path; give a path relative to the bank file"
    root = folder.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        return f"image '{src}' lies outside the bank's folder"
    if not path.is_file():
        return f"image '{src}' does not exist (looked for {path})"
    magic = IMAGE_TYPES.get(path.suffix.lower())
    if magic is None:
        return f"image '{src}' must be PNG, JPEG or GIF"
    with path.open("rb") as handle:
        head = handle.read(8)
    if not head.startswith(magic):
        return f"image '{src}' is not really a {path.suffix.lstrip('.').upper()} file"
    return path


def _vet_link(url: str) -> str | None:
    scheme = urlsplit(url.strip()).scheme.lower()
    if scheme not in LINK_SCHEMES:
        shown = f"'{scheme}:'" if scheme else "a relative target"
        return f"link '{url}' uses {shown}; links may only use http, https or mailto"
    return None


def _render_timeout(request: dict) -> float:
    return RENDER_TIMEOUT_SECONDS + RENDER_TIMEOUT_PER_FIELD_SECONDS * len(request["fields"])


def _run_render_script(request: dict) -> bytes:
    return run_pandoc(["lua", str(RENDER_SCRIPT)], json.dumps(request).encode("utf-8"), timeout=_render_timeout(request))


def _slow_field(fields: list[_Field], request: dict) -> Problem:
    """The field pandoc got stuck in: parse again field by field, pandoc naming each as it starts."""
    reason = (f"this Markdown did not render within {_render_timeout(request):.0f} s; pandoc's reader slows "
              "down badly on thousands of unclosed brackets, nested quotes (>) or backticks")
    try:
        _run_render_script({**request, "trace": True})
    except subprocess.TimeoutExpired as timeout:
        started = (timeout.stderr or b"").decode("ascii", "replace").split()
        if started and started[-1].isdigit():
            field = fields[int(started[-1]) - 1]
            return Problem(field.location, reason, field.item_id)
    return Problem(fields[0].location, reason)  # too slow only all together: no one field to blame


def _render_html(fields: list[_Field]) -> tuple[list[str], list[list], list[list], list[list]]:
    # A fresh random separator per call: bank text cannot guess it, and it never reaches the output.
    separator = "QBSEP" + secrets.token_hex(8) + "x"
    request = {"format": READER_FORMAT, "separator": separator, "fields": [field.markdown for field in fields]}
    try:
        answer = json.loads(_run_render_script(request))
    except subprocess.TimeoutExpired:
        raise BankError([_slow_field(fields, request)]) from None
    pieces = _FIELD_DIV.split(answer["html"])
    # split() yields: text before the first div, then (number, body) pairs.
    bodies = {int(number): body for number, body in zip(pieces[1::2], pieces[2::2])}
    html = []
    for index, field in enumerate(fields, start=1):
        body = bodies[index].rstrip()
        body = body[: -len("</div>")].rstrip() if body.endswith("</div>") else body
        if field.inline and (match := _ONE_PARAGRAPH.match(body)):
            body = match.group(1)
        html.append(body)
    return html, answer["links"], answer["images"], answer["bad_math"]


def _template_stamps(lock: Lock) -> dict[str, int]:
    """Each templates/ folder gets a time that moves when any file in it changes, or any file
    beside the folders (labels.yaml, fonts.yaml), which every output shows too."""
    stamps = {}
    shared = {f"../{f.name}": hashlib.sha256(f.read_bytes()).hexdigest()
              for f in sorted(TEMPLATES.iterdir()) if f.is_file()}
    for folder in sorted(path for path in TEMPLATES.iterdir() if path.is_dir()):
        files = {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
                 for f in sorted(folder.rglob("*")) if f.is_file()} | shared
        stamps[folder.name] = lock.stamp(f"templates:{folder.name}", content_hash(files))
    return stamps


def _item_content(item: Item) -> dict:
    return {
        "title": item.title, "question": item.question, "lead": item.answer.lead,
        "points": [[point.term, point.text] for point in item.answer.points],
        "explanation": item.explanation, "tags": list(item.tags),
    }


def render_bank(bank: Bank, lock: Lock) -> RenderedBank:
    """Render all Markdown of `bank` in one pandoc call. Raises BankError for unsafe links/images."""
    fields = _fields(bank)
    html, links, images, bad_math = _render_html(fields)

    problems = []
    for field_number, tex in bad_math:
        field = fields[field_number - 1]
        problems.append(Problem(field.location, f"the formula '{tex}' is not valid TeX math", field.item_id))
    for field_number, url in links:
        if reason := _vet_link(url):
            field = fields[field_number - 1]
            problems.append(Problem(field.location, reason, field.item_id))
    media: dict[str, Path] = {}
    placeholder_names: dict[str, str] = {}
    for image_number, (field_number, src) in enumerate(images, start=1):
        field = fields[field_number - 1]
        vetted = _vet_image(bank.folder, src)
        if isinstance(vetted, str):
            problems.append(Problem(field.location, vetted, field.item_id))
            continue
        name = hashlib.sha256(vetted.read_bytes()).hexdigest()[:16] + vetted.suffix.lower()
        media[name] = vetted
        placeholder_names[f"qbank-media:{image_number}"] = name
    if problems:
        raise BankError(problems)
    if placeholder_names:
        pattern = re.compile(r'src="(qbank-media:\d+)"')
        html = [pattern.sub(lambda m: f'src="{placeholder_names[m.group(1)]}"', part) for part in html]

    pieces = iter(Markup(part) for part in html)
    title, description, closing_title, closing = (next(pieces) for _ in range(4))
    items = []
    bank_digest = {"title": bank.title, "description": bank.description, "author": bank.author,
                   "closing": [bank.closing.title, bank.closing.text] if bank.closing else None}
    stamps = [lock.stamp("bank", content_hash(bank_digest))]
    for item in bank.items:
        item_title, question, lead = next(pieces), next(pieces), next(pieces)
        points = tuple(RenderedPoint(next(pieces), next(pieces)) for _ in item.answer.points)
        explanation = next(pieces)
        modified = lock.stamp(f"item:{item.id}", content_hash(_item_content(item)))
        stamps.append(modified)
        items.append(RenderedItem(item, item_title, question, lead, points, explanation, modified))
    template_stamps = _template_stamps(lock)
    return RenderedBank(
        source=bank,
        title=title,
        description=description,
        closing_title=closing_title,
        closing=closing,
        items=tuple(items),
        labels=labels_for(bank.lang),
        media=media,
        template_stamps=template_stamps,
        modified=source_date_epoch() or max(stamps),
    )
