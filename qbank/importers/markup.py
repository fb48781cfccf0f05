"""Imported text made into Markdown a bank may hold.

A bank's Markdown is read without raw HTML, and only http, https and mailto links and local
images inside the bank's folder pass the render step (qbank/render.py, qbank/vet.py). Real
documents hold all three kinds of thing, so an import converts what it safely can:

- the safe inline HTML (`b strong i em sub sup br`, `a` with a web `href`, and `img` with a
  local `src`) becomes the same Markdown; any other tag stays as its characters, as a bank shows
  it (lint names it); an HTML comment is left out, as GitHub hides it;
- blocks of container HTML (`<details>`, `<summary>`, `<p>`, `<div>`) read as GitHub reads them,
  their lines up to a blank line as one paragraph: the tags go, a summary becomes a bold line,
  and what they hold is kept as Markdown (never rendered as HTML);
- a link to an anchor or a file (`[Validation](#validation)`) keeps only its text;
- an image on the web becomes a link to it (a bank never fetches one); a local image inside
  the source's folder is kept and copied beside the bank; any other image keeps its alt text;
- HTML fields (a CSV exported from Anki) go through pandoc's HTML reader into the very
  Markdown dialect the render step reads.

Code (fenced blocks and spans) is left exactly as written.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .. import mathjax
from ..pandoc import run_pandoc
from ..render import READER_FORMAT, RENDER_SCRIPT
from ..vet import IMAGE_TYPES, LINK_SCHEMES

PANDOC_TIMEOUT_SECONDS = 60.0

_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})(.*)$")
_CODE_SPAN = re.compile(r"(`+)[^\n]+?\1")
_PAIRED = {"b": "**", "strong": "**", "i": "*", "em": "*", "sub": "~", "sup": "^"}
_PAIRED_TAG = re.compile(r"<(b|strong|i|em|sub|sup)>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_BR_LINE = re.compile(r"^[ \t]*(?:<br\s*/?>[ \t]*)+$", re.IGNORECASE | re.MULTILINE)
_BR = re.compile(r"[ \t]*<br\s*/?>[ \t]*\n?", re.IGNORECASE)
_IMG_TAG = re.compile(r"<img\b([^>]*)/?>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_TARGET = r"\(\s*(?:<([^>\n]*)>|([^)\s]*))(?:\s+\"[^\"\n]*\")?\s*\)"
_IMAGE = re.compile(r"!\[([^\]\n]*)\]" + _TARGET)
_SINGLE_DOLLAR = re.compile(r"(?<![\\$])\$(?!\$)")
_LINK = re.compile(r"(?<![!\\])\[([^\]\n]*)\]" + _TARGET)
# A link whose text holds a code span ([`freeze()`](#freeze)), which the pieces between code spans split.
_CODE_LINK = re.compile(r"(?<![!\\])\[((?:[^\]`\n]|`[^`\n]*`)*`[^`\n]*`(?:[^\]`\n]|`[^`\n]*`)*)\]" + _TARGET)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_A_TAG = re.compile(r"<a\b([^>]*)>(.*?)</a\s*>", re.IGNORECASE | re.DOTALL)
_CONTAINER_TAG = re.compile(r"</?(?:details|summary|p|div)\b[^>\n]*>", re.IGNORECASE)
_CONTAINER_LINE = re.compile(r"^([ \t]*)</?(?:details|summary|p|div)\b", re.IGNORECASE)
_SUMMARY = re.compile(r"<summary\b[^>]*>(.*?)</summary\s*>", re.IGNORECASE)
_SUMMARY_MARKUP = re.compile(r"</?(?:b|strong|h[1-6])\b[^>]*>", re.IGNORECASE)
# Blocks that start on the line after a paragraph in GitHub's Markdown, but need a blank line
# before them in pandoc's: a list (an ordered one only from 1), a quote, a heading, a table.
_INTERRUPTING = re.compile(r"^[ \t]*(?:[-*+][ \t]+\S|1[.)][ \t]+\S|>|#{1,6}[ \t])")
_TABLE_ROW = re.compile(r"^[ \t]*\|")
_TABLE_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")


@dataclass
class Media:
    """The images an import keeps (copied beside the bank), and what it had to change."""

    source_folder: Path
    keep: dict[str, Path] = field(default_factory=dict)  # the path as the bank writes it -> the file
    notes: list[str] = field(default_factory=list)


def _fences(lines: list[str]) -> tuple[list[bool], str | None]:
    """Whether each line is inside fenced code (fenced_lines), and the fence still open after
    them, as its line would close it (indented as it opened)."""
    inside, fence, indent = [], None, 0
    for line in lines:
        opening = _FENCE.match(line)
        if fence is not None and line.strip() and len(line) - len(line.lstrip()) < indent - 3:
            fence = None
        if fence is None:
            if opening and not (opening[2][0] == "`" and "`" in opening[3]):  # ``` `x` ``` is a code span
                fence, indent = opening[2], len(opening[1].expandtabs(4))
            inside.append(fence is not None)
        else:
            if opening and opening[2][0] == fence[0] and len(opening[2]) >= len(fence) and not opening[3].strip():
                fence = None
            inside.append(True)
    return inside, None if fence is None else " " * indent + fence


def fenced_lines(lines: list[str]) -> list[bool]:
    """Whether each line is inside fenced code, its fences included. A fence may be indented (in
    a list item); it ends at its closing fence, or where a line indented less than any content of
    its list item ends that item (CommonMark ends the fence there too), so that a fence left
    open in one answer does not swallow the questions after it."""
    return _fences(lines)[0]


def _outside_fences(markdown: str, convert) -> str:  # noqa: ANN001 - str -> str
    """`convert` applied to each run of lines outside fenced code."""
    lines = markdown.split("\n")
    runs = itertools.groupby(zip(fenced_lines(lines), lines), key=lambda pair: pair[0])
    return "\n".join("\n".join(line for _, line in run) if fenced else convert("\n".join(line for _, line in run))
                     for fenced, run in ((fenced, list(run)) for fenced, run in runs))


def _outside_code(markdown: str, convert) -> str:  # noqa: ANN001 - str -> str
    """`convert` applied to the text outside code blocks and spans."""

    def outside_spans(text: str) -> str:
        pieces, end = [], 0
        for match in _CODE_SPAN.finditer(text):
            pieces += [convert(text[end : match.start()]), match.group(0)]
            end = match.end()
        return "".join([*pieces, convert(text[end:])])

    return _outside_fences(markdown, outside_spans)


def _paired(match: re.Match) -> str:
    mark, inner = _PAIRED[match[1].lower()], match[2]
    if not inner.strip():
        return inner
    if mark in "~^":  # pandoc's sub- and superscripts cannot hold a space unescaped
        inner = inner.strip().replace(" ", "\\ ")
        return f"{mark}{inner}{mark}"
    lead, core, trail = re.match(r"^(\s*)(.*?)(\s*)$", inner, re.DOTALL).groups()
    return f"{lead}{mark}{core}{mark}{trail}"


def _attributes(tag: str) -> dict[str, str]:
    """An HTML tag's attributes (its text after the name), by lower-case name, unescaped."""
    return {m[1].lower(): html.unescape(next(v for v in m.groups()[1:] if v is not None))
            for m in _ATTRIBUTE.finditer(tag)}


def _img_tag(match: re.Match) -> str:
    attributes = _attributes(match[1])
    src = attributes.get("src", "")
    if not src or urlsplit(src).scheme or src.startswith(("/", "\\")):
        return match.group(0)  # not local: shown as written, and lint names it
    return f"![{attributes.get('alt', '')}](<{src}>)"


def _summary(match: re.Match) -> str:
    text = " ".join(_SUMMARY_MARKUP.sub("", match[1]).split())
    return f"\n\n**{text}**\n\n" if text else "\n\n"


def _container_blocks(text: str) -> str:
    """Each block that starts with a container tag (`<details>`, `<summary>`, `<p>`, `<div>`), up
    to a blank line, as GitHub shows it: its lines one paragraph, a summary a bold line of its
    own, the tags gone. It stays indented as its first line (up to 3 spaces, so it stays text)."""
    lines, kept, index = text.split("\n"), [], 0
    while index < len(lines):
        start = _CONTAINER_LINE.match(lines[index])
        if not start:
            kept.append(lines[index])
            index += 1
            continue
        end = index
        while end < len(lines) and lines[end].strip():
            end += 1
        block = _CONTAINER_TAG.sub("\n\n", _SUMMARY.sub(_summary, " ".join(line.strip() for line in lines[index:end])))
        indent = start[1].expandtabs(4)[:3]
        paragraphs = [indent + paragraph.strip() for paragraph in re.split(r"\n\s*\n", block) if paragraph.strip()]
        if kept and kept[-1].strip():
            kept.append("")  # a container tag ends the paragraph before it
        kept += [line for paragraph in paragraphs for line in (paragraph, "")]
        index = end
    return "\n".join(kept)


def _blocks_apart(text: str) -> str:
    """A blank line before each block that starts right after a paragraph line (GitHub reads it
    as a block, pandoc as more of the paragraph), and one blank line where there were several."""
    lines, kept = text.split("\n"), []
    for index, line in enumerate(lines):
        starts_block = bool(_INTERRUPTING.match(line)) or (
            bool(_TABLE_ROW.match(line)) and index + 1 < len(lines) and bool(_TABLE_DELIMITER.match(lines[index + 1])))
        after = kept[-1] if kept else ""
        if not line.strip() and not after.strip() and kept:
            continue
        if starts_block and after.strip() and not _INTERRUPTING.match(after) and not _TABLE_ROW.match(after):
            kept.append("")
        kept.append(line)
    return "\n".join(kept)


def _a_tag(match: re.Match) -> str:
    attributes = _attributes(match[1])
    href, text = attributes.get("href", "").strip(), " ".join(match[2].split())
    if urlsplit(href).scheme.lower() not in LINK_SCHEMES:
        return text  # an anchor or a file of the source's own site, as a Markdown link to one becomes
    return f"[{text or href}](<{href}>)"


def convert_safe_html(markdown: str) -> str:
    """The safe HTML of a Markdown text as Markdown; other tags are left as they are."""

    def convert(text: str) -> str:
        text = _HTML_COMMENT.sub("", text)  # GitHub hides it; it is the author's note to themselves
        text = _BR_LINE.sub("", text)  # a line of <br/> only spaces blocks apart: a blank line does
        previous = None
        while previous != text:  # nested tags (<b><i>x</i></b>), innermost last
            previous, text = text, _PAIRED_TAG.sub(_paired, text)
        text = _BR.sub("\\\\\n", text)
        text = re.sub(r"\\\n(?=\s*(?:\n|$))", "\n", text)  # a break that ends a paragraph breaks nothing
        return _A_TAG.sub(_a_tag, _IMG_TAG.sub(_img_tag, text))

    return _outside_code(_outside_fences(markdown, _container_blocks), convert)


def _tight_math(text: str) -> str:
    """`$ x $` as `$x$`: Typora, KaTeX and GitHub read a formula with spaces inside its dollars,
    pandoc reads it as text (and may then pair its dollars wrongly: `$ a $，$ b $` gives '，').
    Dollars are paired in order within a paragraph, as those editors do; a paragraph with an
    odd number of them, and a pair that is money (`$20 and $30`: a digit after it), stay as they are."""

    def paragraph(block: str) -> str:
        dollars = [m.start() for m in _SINGLE_DOLLAR.finditer(block)]
        if not dollars or len(dollars) % 2:
            return block
        pieces, end = [], 0
        for opening, closing in zip(dollars[::2], dollars[1::2]):
            inner = block[opening + 1 : closing]
            money = block[closing + 1 : closing + 2].isdigit()
            pieces += [block[end:opening], f"${inner}$" if money or not inner.strip() else f"${inner.strip()}$"]
            end = closing + 1
        return "".join([*pieces, block[end:]])

    return "\n\n".join(paragraph(block) for block in text.split("\n\n"))


def _image(match: re.Match, media: Media) -> str:
    alt, src = match[1], match[2] if match[2] is not None else match[3]
    scheme = urlsplit(src).scheme.lower()
    if scheme in ("http", "https"):
        media.notes.append(f"image '{src}' is on the web: it became a link (a bank never fetches images)")
        return f"[{alt or src}]({src})"
    kept = None if scheme else _local_image(media, src)
    if kept is None:
        media.notes.append(f"image '{src}' is not a PNG, JPEG or GIF file found in the source's folder: "
                           f"{'its alt text is kept' if alt else 'left out'}")
        return alt
    return f"![{alt}](<{kept}>)" if " " in kept else f"![{alt}]({kept})"


def _local_image(media: Media, src: str) -> str | None:
    """The image's path relative to the source's folder, if it is a usable file inside it."""
    try:
        folder = media.source_folder.resolve()
        file = (folder / unquote(src)).resolve()
        relative = file.relative_to(folder)
        if file.suffix.lower() not in IMAGE_TYPES or not file.is_file():
            return None
    except (OSError, ValueError, RuntimeError):  # outside the folder, a symlink loop, a bad name
        return None
    media.keep[relative.as_posix()] = file
    return relative.as_posix()


def _link(match: re.Match) -> str:
    text, target = match[1], match[2] if match[2] is not None else match[3]
    if urlsplit(target.strip()).scheme.lower() in LINK_SCHEMES:
        return match.group(0)
    return text  # an anchor or a file of the source's own site: only its text means something here


def bank_markdown(markdown: str, media: Media) -> str:
    """Imported Markdown as a bank may hold it (module docstring), trimmed."""
    markdown = _outside_fences(convert_safe_html(markdown), _blocks_apart)

    def convert(text: str) -> str:
        return _tight_math(_LINK.sub(_link, _IMAGE.sub(lambda match: _image(match, media), text)))

    markdown = _outside_fences(_outside_code(markdown, convert), lambda text: _CODE_LINK.sub(_link, text)).strip()
    if fence := _fences(markdown.split("\n"))[1]:
        markdown += "\n" + fence  # as CommonMark closes it at the end; pandoc would read no code at all
    return markdown


def html_to_markdown(fields: list[str]) -> list[str]:
    """HTML fields as the Markdown the render step reads, with one pandoc run for them all."""
    if not fields:
        return []
    marker = f"qbank-field-{secrets.token_hex(8)}"
    document = "".join(f"<p>{marker}</p>\n{text}\n" for text in fields)
    output = run_pandoc(["--from", "html", "--to", READER_FORMAT, "--wrap=none"], document.encode("utf-8"),
                        timeout=PANDOC_TIMEOUT_SECONDS).decode("utf-8")
    parts = re.split(rf"^{marker}\n?", output, flags=re.MULTILINE)
    assert len(parts) == len(fields) + 1, "a field marker went missing in pandoc's output"
    return [part.strip() for part in parts[1:]]


def invalid_math_as_text(texts: list[str]) -> tuple[list[str], list[str]]:
    """`texts` with each formula that would stop the build written as text instead (its
    delimiters escaped), and a note for each: one MathJax, Anki's engine and the render step's
    judge, rejects. Without Node.js or MathJax nothing is rejected (the build warns instead)."""
    notes: list[str] = []
    for _ in range(3):  # a formula shown as text can leave its neighbours paired differently: look again
        request = {"format": READER_FORMAT, "separator": "QBSEP" + secrets.token_hex(8) + "x", "fields": texts}
        answer = json.loads(run_pandoc(["lua", str(RENDER_SCRIPT)], json.dumps(request).encode("utf-8"),
                                       timeout=PANDOC_TIMEOUT_SECONDS))
        found = [(number, tex, displayed) for number, tex, displayed in answer["math"]]
        errors = mathjax.typeset((tex, displayed) for _, tex, displayed in found).errors
        refused = [(number, tex, errors[tex, displayed]) for number, tex, displayed in found if (tex, displayed) in errors]
        if not refused:
            break
        for number, tex, reason in refused:
            text = texts[number - 1]
            for opening, closing in (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)")):
                written = opening + tex + closing
                if written in text:
                    texts[number - 1] = text.replace(written, _as_text(opening) + tex.replace("$", "\\$") + _as_text(closing))
                    break
            notes.append(f"the formula '{tex}' is kept as text: MathJax rejects it ({reason})")
    return texts, notes


def _as_text(delimiter: str) -> str:
    """A math delimiter written so that pandoc shows it: \\$ for each $, \\\\( for \\(."""
    return "\\" + delimiter if delimiter.startswith("\\") else delimiter.replace("$", "\\$")
