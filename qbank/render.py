"""The shared render step: every Markdown field of a bank becomes safe HTML once, with pandoc.

All writers consume the RenderedBank made here (qbank/document.py), so a bullet list looks
the same on a card, on paper and on an e-reader. The fields are found through the bank's
schema (qbank/schema.py) and their HTML is kept by path, never by position. This step is also
where the bank's Markdown is made safe: raw HTML and attributes are disabled in the reader,
and every link and image pandoc finds is vetted (qbank/vet.py); images are renamed by content
hash, which also gives Anki the flat, collision-free media names it needs.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from markupsafe import Markup

from . import mathjax, schema, templating
from .keys import Markdown
from .document import RenderedBank, RenderedItem, plain_text
from .labels import labels_for
from .lock import Lock, date_bank
from .model import Bank, BankError, Problem, shown_path
from .pandoc import run_pandoc
from .vet import vet_image, vet_link

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

# pandoc's Markdown reader is quadratic on some inputs (4,000 unclosed '[' take 30 s), so a
# hostile field within the size limit could stall a build for hours; past this, the build
# stops and names the field.
RENDER_TIMEOUT_SECONDS = 60.0
# Plus this much per field, so a large bank is never taken for a stalled one: 2,000 items
# (28,000 fields) get 60 + 140 s, many times what they need.
RENDER_TIMEOUT_PER_FIELD_SECONDS = 0.005
# pandoc holds about 10 KB per field it renders (270 MB for the 28,000 fields of 2,000 items):
# a large bank is rendered in calls of this many fields (about 300 items), as many at once as
# the build has processes.
FIELDS_PER_CALL = 4000

_FIELD_DIV = re.compile(r'<div id="qbf-(\d+)">\n?')
_ONE_PARAGRAPH = re.compile(r"^<p>((?:(?!</?p>).)*)</p>$", re.DOTALL)
_MEDIA_PLACEHOLDER = re.compile(r'src="qbank-media:(\d+)"')


@dataclass(frozen=True)
class RenderPlan:
    """How the render step runs pandoc: calls of at most `fields_per_call` fields, up to
    `processes` at once, each stopped after `timeout_seconds` (plus a little per field)."""

    processes: int = 1
    fields_per_call: int = FIELDS_PER_CALL
    timeout_seconds: float = RENDER_TIMEOUT_SECONDS


@dataclass(frozen=True)
class _Field:
    path: schema.Path_
    markdown: str
    inline: bool  # a title or term: rendered without its paragraph wrapper
    item_id: str | None


def _fields(bank: Bank) -> list[_Field]:
    """Every Markdown field of the bank, as the schema declares them, in document order."""
    fields = []
    for path, declared, markdown in schema.markdown_fields(schema.BANK, bank):
        inline = declared.markdown is Markdown.INLINE
        fields.append(_Field(path, markdown, inline, bank.owner(path)))
    return fields


def _field_problem(bank: Bank, field: _Field, message: str) -> Problem:
    """A problem of one field, at its place (looked for only now: see model.Places)."""
    return Problem(bank.place(field.path), message, field.item_id)


def _render_timeout(request: dict, plan: RenderPlan) -> float:
    return plan.timeout_seconds + RENDER_TIMEOUT_PER_FIELD_SECONDS * len(request["fields"])


def _run_render_script(request: dict, plan: RenderPlan) -> bytes:
    return run_pandoc(["lua", str(RENDER_SCRIPT)], json.dumps(request).encode("utf-8"),
                      timeout=_render_timeout(request, plan))


def _slow_field(bank: Bank, fields: list[_Field], request: dict, plan: RenderPlan) -> Problem:
    """The field pandoc got stuck in: parse again field by field, pandoc naming each as it starts."""
    reason = (f"this Markdown did not render within {_render_timeout(request, plan):.0f} s; pandoc's reader slows "
              "down badly on thousands of unclosed brackets, nested quotes (>) or backticks")
    try:
        _run_render_script({**request, "trace": True}, plan)
    except subprocess.TimeoutExpired as timeout:
        started = (timeout.stderr or b"").decode("ascii", "replace").split()
        if started and started[-1].isdigit():
            return _field_problem(bank, fields[int(started[-1]) - 1], reason)
    return Problem(bank.place(fields[0].path), reason)  # too slow only all together: no one field to blame


def _render_html(bank: Bank, fields: list[_Field],
                 plan: RenderPlan) -> tuple[list[str], list[list], list[list], list[list]]:
    """The HTML of each field (in the order given), and the links, images and formulas it
    found, each as [field number, target] (a formula: [field number, TeX, displayed]); in the
    plan's pandoc calls, whose numbers of fields and images are made to continue from the call before."""
    size = plan.fields_per_call
    starts = range(0, len(fields), size)
    with ThreadPoolExecutor(max(1, min(plan.processes, len(starts)))) as pandocs:
        calls = list(pandocs.map(lambda start: _render_call(bank, fields[start:start + size], plan), starts))
    html: list[str] = []
    links: list[list] = []
    images: list[list] = []
    formulas: list[list] = []
    for start, call in zip(starts, calls):
        image_offset = len(images)
        html += [_MEDIA_PLACEHOLDER.sub(lambda m: f'src="qbank-media:{int(m[1]) + image_offset}"', body)
                 for body in call[0]]
        for found, called in zip((links, images, formulas), call[1:]):
            found += [[number + start, *rest] for number, *rest in called]
    return html, links, images, formulas


def _render_call(bank: Bank, fields: list[_Field],
                 plan: RenderPlan) -> tuple[list[str], list[list], list[list], list[list]]:
    """_render_html's answer for `fields` from one pandoc call, numbering them from 1."""
    # A fresh random separator per call: bank text cannot guess it, and it never reaches the output.
    separator = "QBSEP" + secrets.token_hex(8) + "x"
    request = {"format": READER_FORMAT, "separator": separator, "fields": [field.markdown for field in fields]}
    try:
        answer = json.loads(_run_render_script(request, plan))
    except subprocess.TimeoutExpired:
        raise BankError([_slow_field(bank, fields, request, plan)]) from None
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
    return html, answer["links"], answer["images"], answer["math"]


def _typeset(bank: Bank, fields: list[_Field], found: list[list]) -> tuple[dict[mathjax.Key, mathjax.Formula], list[Problem]]:
    """Every formula typeset by MathJax (qbank/mathjax.py), and a problem for each one MathJax
    rejects, at its field. One it could not typeset is shown as TeX, with a warning."""
    typeset = mathjax.typeset((tex, displayed) for _, tex, displayed in found)
    problems = []
    for field_number, tex, displayed in found:
        if error := typeset.errors.get((tex, displayed)):
            problems.append(_field_problem(bank, fields[field_number - 1], f"the formula '{tex}' is not valid TeX math: {error}"))
    if typeset.missing:  # one warning, naming the items
        items = dict.fromkeys(fields[number - 1].item_id or "(the bank's own text)"
                              for number, tex, displayed in found if (tex, displayed) in typeset.missing)
        mathjax.warn(f"{shown_path(bank.path)}: {typeset.reason}; {len(typeset.missing)} formula(s) are shown as TeX in the "
                     f"PDFs and the EPUB, in items: {', '.join(items)}")
    return typeset.formulas, problems


def _vetted(bank: Bank, fields: list[_Field], links: list[list], images: list[list],
            problems: list[Problem]) -> tuple[dict[str, Path], list[str]]:
    """The bank's media by the names the HTML will use, and each image's name in document
    order; raises BankError for any refused link or image, or any of `problems` found before."""
    problems = list(problems)
    for field_number, url in links:
        if reason := vet_link(url):
            problems.append(_field_problem(bank, fields[field_number - 1], reason))
    media: dict[str, Path] = {}
    names = []
    for field_number, src in images:
        field = fields[field_number - 1]
        vetted = vet_image(bank.folder, src)
        if isinstance(vetted, str):
            problems.append(_field_problem(bank, field, vetted))
            continue
        names.append(hashlib.sha256(vetted.read_bytes()).hexdigest()[:16] + vetted.suffix.lower())
        media[names[-1]] = vetted
    if problems:
        raise BankError(problems)
    return media, names


def render_bank(bank: Bank, lock: Lock, plan: RenderPlan = RenderPlan()) -> RenderedBank:
    """Render all Markdown of `bank` with pandoc, as `plan` says, dated by `lock` (which stays
    as it is). Raises BankError for unsafe links/images and formulas MathJax rejects."""
    return render_and_date(bank, lock, plan)[0]


def render_and_date(bank: Bank, lock: Lock, plan: RenderPlan = RenderPlan(),
                    templates: dict[str, str] | None = None) -> tuple[RenderedBank, Lock]:
    """render_bank's bank, and the lock with the dates it was given (for a build to save).
    `templates`: the digests of templates/ (templating.digests) if the caller has them."""
    fields = _fields(bank)
    html, links, images, found = _render_html(bank, fields, plan)
    formulas, problems = _typeset(bank, fields, found) if found else ({}, [])
    media, names = _vetted(bank, fields, links, images, problems)
    # render.lua put `qbank-media:N` for the N-th image pandoc found.
    rendered = {
        field.path: Markup(_MEDIA_PLACEHOLDER.sub(lambda m: f'src="{names[int(m[1]) - 1]}"', part))
        for field, part in zip(fields, html)
    }
    html_bank = schema.with_html(schema.BANK, bank, rendered)
    titles = [plain_text(item.title) for item in html_bank.items]
    dates = date_bank(lock.entries, bank, plain_text(html_bank.title), titles,
                      templating.digests() if templates is None else templates,
                      [plain_text(section.title) for section in html_bank.sections])
    doc = RenderedBank(
        html=html_bank,
        items=tuple(RenderedItem(item, modified) for item, modified in zip(html_bank.items, dates.items)),
        retired=dates.retired,
        fields=rendered,
        labels=labels_for(bank.lang),
        media=media,
        formulas=formulas,
        deck_name=dates.deck_name,
        subdecks=dates.subdecks,
        changes=dates.changes,
        template_stamps=dates.templates,
        modified=dates.modified,
    )
    return doc, replace(lock, entries=dates.entries)
