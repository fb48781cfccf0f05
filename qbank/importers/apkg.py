"""Import an Anki deck (.apkg, .colpkg, a closed profile's collection.anki2): one item per note,
of any note type, keeping each note's GUID so that the first build updates the notes the
learner already studies instead of adding new ones.

Which field becomes what (the command prints the rules it used):

- qbank's own note type: ItemId is the id, Title, Question, Answer (its lead and its key
  points, split as the field template wrote them) and Explanation come back as they are;
- a Cloze note: the text with each cloze as […] (or its hint) is the question, the text with
  the clozes in bold the answer; Back Extra and further fields are the explanation;
- an Image Occlusion note: Header and Image are the question, Image and Back Extra the answer
  (Anki's masks have no Markdown: left out, and said);
- any other (Basic, Basic and reversed, typed answers, image notes, a shared deck's own note
  type): its first card says it. The fields its front shows are the question, the fields its
  back adds the answer (the first card whose front shows text, when a note's first cards ask an
  image only); further non-empty fields are the explanation, each under its field name. Without
  card templates, the first field is the question and the second the answer. A reverse or
  further card is not made again (qbank makes one card a note).

The title is the question's first line. Fields are HTML: Anki's MathJax (\\(…\\), \\[…\\]) is kept
as $…$ and $$…$$, the rest goes through pandoc (markup.html_to_markdown). Images the fields show
are copied from the package into images/ beside the bank under a safe name; sounds cannot be
shown and are left out. Tags are kept; a subdeck of the deck is the item's section.
"""

from __future__ import annotations

import html
import re
import secrets
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from ..vet import IMAGE_TYPES, MAX_IMAGE_BYTES, vet_image
from ..writers.anki import FIELD_NAMES, NOTE_TYPE_PREFIX
from .anki_package import AnkiNote, AnkiPackage, open_package
from .common import ImportedItem, ImportRefused, tag_words
from .delimited import title_from
from .markup import Media, bank_markdown, html_to_markdown

SUFFIXES = (".apkg", ".colpkg", ".anki2", ".anki21", ".anki21b")
IMAGES_FOLDER = "images"
MAX_IMAGES_BYTES = 1024 * 1024 * 1024  # all images of one import: more is left out, and said
RULES = {
    "qbank": "qbank notes: ItemId, Title, Question, Answer (its lead and key points) and Explanation as they are",
    "cloze": "Cloze notes: the text with […] for each cloze is the question, with the clozes in bold the answer, "
             "Back Extra the explanation",
    "occlusion": "Image Occlusion notes: Header and Image are the question, Image and Back Extra the answer "
                 "(the masks are left out)",
    "basic": "other notes: the fields the front of the note's first card shows are the question (its first line the "
             "title), the fields its back adds the answer, further fields the explanation",
}
COMMON_RULE = ("HTML converted to Markdown with pandoc; each note's GUID kept, so the build adds no note to a "
               "collection that holds them (docs/anki.md says how they then follow the bank); subdecks as sections, "
               "tags kept")

_CLOZE = re.compile(r"\{\{c\d+::(.*?)(?:::(.*?))?\}\}", re.DOTALL)
_MATH = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_SOUND = re.compile(r"\[sound:[^\]]*\]")
_IMG_SRC = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_FIELD_REFERENCE = re.compile(r"\{\{(?![#/^!{])([^{}]+)\}\}")  # {{Front}}, {{text:Front}}; not {{#Front}}…
# The Answer field of a qbank note: the lead, then the points as templates/points.html writes them.
_POINT = re.compile(r"<li>\s*<strong class=\"term\">(.*?)</strong>(.*?)</li>", re.DOTALL)
_POINTS = re.compile(r"<ul class=\"points\">.*</ul>", re.DOTALL)
_SEPARATOR = re.compile(r"^\s*[：:]\s*")  # after a term: labels.yaml's term_separator
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")  # in a title, only its alt text


@dataclass
class ImportedDeck:
    title: str
    deck: str  # the deck the notes are in: the bank keeps its name
    items: list[ImportedItem]
    notes: list[str]
    images: dict[str, bytes]  # the path the bank writes -> its bytes
    rule: str


def note_kind(note: AnkiNote) -> str:
    names = set(note.field_names)
    if note.field_names[:5] == FIELD_NAMES[:5]:
        return "qbank"
    if {"Occlusion", "Image"} <= names:
        return "occlusion"
    if note.cloze:
        return "cloze"
    return "basic"


def _parts(note: AnkiNote, kind: str) -> tuple[str, str, str, str]:
    """(title, question, answer, explanation) of a note, still HTML; the title may be empty."""
    fields = dict(zip(note.field_names, note.fields))
    if kind == "qbank":
        return fields["Title"], fields["Question"], fields["Answer"], fields["Explanation"]
    if kind == "occlusion":
        return ("", _joined(fields.get("Header", ""), fields["Image"]),
                _joined(fields["Image"], fields.get("Back Extra", "")),
                _explanation(note, {"Occlusion", "Image", "Header", "Back Extra"}))
    if kind == "cloze":
        text = note.fields[0]
        question = _CLOZE.sub(lambda m: f"[{m[2] or '…'}]", text)
        answer = _CLOZE.sub(lambda m: f"<b>{m[1]}</b>", text)
        return "", question, answer, _explanation(note, {note.field_names[0]})
    asked, told = _card_fields(note)
    return ("", _paragraphs(fields, asked), _paragraphs(fields, told), _explanation(note, {*asked, *told}))


def _shown(template: str, names: tuple[str, ...], typed: bool) -> list[str]:
    """The fields a card template shows, in order; a typed answer's field (`{{type:Back}}`) only
    if `typed` (on the back: it is the answer, not the question)."""
    shown = []
    for reference in _FIELD_REFERENCE.findall(template):
        filters, _, name = reference.strip().rpartition(":")
        if name in names and name not in shown and (typed or "type" not in filters.split(":")):
            shown.append(name)
    return shown


def _card_fields(note: AnkiNote) -> tuple[list[str], list[str]]:
    """The fields the note's first card asks (its front shows them) and tells (its back adds them):
    the first card whose front shows something (a card asking only an image the bank cannot take
    is passed over); the first and second field if no card template says."""
    fields = dict(zip(note.field_names, note.fields))
    asks = [(asked, [name for name in _shown(back, note.field_names, True) if name not in asked])
            for front, back in note.cards for asked in [_shown(front, note.field_names, False)]]
    asks = [(asked, told) for asked, told in asks if asked and told]
    for asked, told in asks:
        if any(_shows(fields[name]) for name in asked):
            return asked, told
    return asks[0] if asks else (list(note.field_names[:1]), list(note.field_names[1:2]))


def _joined(*pieces: str) -> str:
    return "<br><br>".join(piece for piece in pieces if piece.strip())


def _shows(field: str) -> bool:
    """The field shows something: text, or an image (those that cannot come along are gone by now)."""
    return bool(_TAG.sub("", field).strip() or _IMG_SRC.search(field))


def _paragraphs(fields: dict[str, str], names: list[str]) -> str:
    """The named fields that show something, a paragraph each."""
    return "".join(f"<div>{fields[name]}</div>" for name in names
                   if _shows(fields[name]))


def _explanation(note: AnkiNote, used: set[str]) -> str:
    """The other fields that show text or an image, each under its name in bold."""
    return "".join(f"<p><b>{html.escape(name)}</b></p>{value}" for name, value in zip(note.field_names, note.fields)
                   if name not in used and _shows(value))


class _Formulas:
    """Anki's MathJax formulas held out of pandoc's way, then written as the bank writes them."""

    def __init__(self) -> None:
        self.marker = f"qbankmath{secrets.token_hex(8)}x"  # nothing a deck holds by chance
        self.formulas: list[str] = []

    def hide(self, field: str) -> str:
        def hidden(match: re.Match) -> str:
            inline = match[1] is not None
            tex = html.unescape(_TAG.sub(" ", re.sub(r"<br\s*/?>", "\n", match[1] if inline else match[2]))).strip()
            self.formulas.append(f"${tex}$" if inline else f"$${tex}$$")
            return f"{self.marker}{len(self.formulas) - 1}z"

        return _MATH.sub(hidden, field)

    def show(self, markdown: str) -> str:
        return re.sub(rf"{self.marker}(\d+)z", lambda m: self.formulas[int(m[1])], markdown)


def answer_parts(answer_html: str) -> tuple[str, list[tuple[str, str]]] | None:
    """A qbank Answer field split into its lead and its points (term, text as HTML, the text
    after the separator); None if its points list is no longer that shape."""
    found = _POINTS.search(answer_html)
    if not found:
        return answer_html, []
    points = _POINT.findall(found[0])
    if len(points) != found[0].count("<li"):
        return None
    return answer_html[: found.start()], [(term, _SEPARATOR.sub("", text)) for term, text in points]


def markdown_fields(fields: list[str]) -> list[str]:
    """Anki's HTML fields as Markdown, with one pandoc run for them all."""
    formulas = _Formulas()
    return [formulas.show(text) for text in html_to_markdown([formulas.hide(field) for field in fields])]


def _safe_name(name: str, taken: set[str]) -> str:
    stem, dot, suffix = name.rpartition(".")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem if dot else name).strip("-")[:80] or "image"
    candidate, number = f"{stem}.{suffix.lower()}", 2
    while candidate in taken:
        candidate, number = f"{stem}-{number}.{suffix.lower()}", number + 1
    taken.add(candidate)
    return candidate


def _extract_images(package: AnkiPackage, fields: list[str], folder: Path, notes: list[str]) -> dict[str, str]:
    """Each image the fields show, written to folder/images/ if usable: Anki's name -> the bank's path."""
    wanted = dict.fromkeys(html.unescape(next(g for g in m.groups()[1:] if g is not None))
                           for field in fields for m in _IMG_SRC.finditer(field))
    available, kept, taken, total = package.media_names(), {}, set(), 0
    absent: list[str] = []
    unusable: list[str] = []
    (folder / IMAGES_FOLDER).mkdir()
    for name in wanted:
        if name not in available:
            absent.append(name)
            continue
        if Path(name).suffix.lower() not in IMAGE_TYPES:
            unusable.append(name)
            continue
        data = package.media(name, MAX_IMAGE_BYTES)
        if data is None or total + len(data) > MAX_IMAGES_BYTES:
            notes.append(f"image '{name}' is too large for a bank (or the images together are): left out")
            continue
        relative = f"{IMAGES_FOLDER}/{_safe_name(name, taken)}"
        (folder / relative).write_bytes(data)
        if isinstance(refused := vet_image(folder, relative), str):
            notes.append(f"{refused.replace(relative, name)}: left out")
            (folder / relative).unlink()
            continue
        kept[name], total = relative, total + len(data)
    notes += _said_once(absent, "is not in the package", "are not in the package", "their notes show their alt text")
    notes += _said_once(unusable, "is not a PNG, JPEG or GIF file", "are not PNG, JPEG or GIF files",
                        "left out, their notes show their alt text")
    return kept


def _said_once(names: list[str], one: str, many: str, outcome: str) -> list[str]:
    """One line for images left out for one reason: a shared deck may have hundreds (its SVG flags)."""
    if len(names) <= 1:
        return [f"image '{name}' {one}: {outcome}" for name in names]
    shown = ", ".join(f"'{name}'" for name in names[:3])
    return [f"{len(names)} images {many}: {outcome} ({shown}{', …' if len(names) > 3 else ''})"]


def _with_images(field: str, kept: dict[str, str]) -> str:
    """Each image kept pointing at the bank's copy; one that is not, replaced by its alt text."""
    def image(tag: re.Match) -> str:
        source = _IMG_SRC.search(tag[0])
        name = html.unescape(next(g for g in source.groups()[1:] if g is not None)) if source else ""
        if name in kept:
            return _IMG_SRC.sub(lambda m: f'{m[1]}"{html.escape(kept[name])}"', tag[0], count=1)
        alt = _ALT.search(tag[0])
        return next(g for g in alt.groups() if g is not None) if alt else ""

    return _IMG_TAG.sub(image, field)


def _sections(notes: list[AnkiNote]) -> tuple[str, dict[int, str | None]]:
    """The deck the notes share (the most common top deck) and each note's subdeck below it."""
    top = Counter(note.deck.split("::")[0] for note in notes).most_common(1)[0][0]
    sections = {}
    for note in notes:
        levels = note.deck.split("::")
        sections[note.id] = "::".join(levels[1:]) if levels[0] == top and len(levels) > 1 else None
    return top, sections


def _with_points(note: AnkiNote, kind: str) -> list[str]:
    """The note's title, question, answer and explanation (HTML), then a qbank note's key points
    as term, text, term, text…: its Answer field split as the field template wrote it."""
    title, question, answer, explanation = _parts(note, kind)
    split = answer_parts(answer) if kind == "qbank" else None
    if not split or not split[1]:
        return [title, question, answer, explanation]
    return [title, question, split[0], explanation, *(html for point in split[1] for html in point)]


def _tags(note: AnkiNote, kind: str) -> list[str]:
    """Its tags; a qbank note's without its bank's own tag and prefix (the build adds the new bank's)."""
    if kind != "qbank":
        return tag_words(" ".join(note.tags))
    bank = note.notetype.removeprefix(NOTE_TYPE_PREFIX)
    return tag_words(" ".join(tag.removeprefix(f"{bank}::") for tag in note.tags
                              if tag not in (bank, f"{bank}::retired")))


def read_deck(source: Path) -> ImportedDeck:
    with open_package(source) as package, tempfile.TemporaryDirectory(prefix="qbank-media-") as folder_name:
        notes = package.notes()
        if not notes:
            raise ImportRefused(f"{source}: the deck holds no notes")
        folder, said = Path(folder_name), []
        # Images first: which fields show something (the card a note is read from) depends on them.
        kept = _extract_images(package, [field for note in notes for field in note.fields], folder, said)
        notes = [replace(note, fields=tuple(_with_images(field, kept) for field in note.fields)) for note in notes]
        kinds = [note_kind(note) for note in notes]
        parts = [_with_points(note, kind) for note, kind in zip(notes, kinds)]
        texts = []
        for note, part in zip(notes, parts):
            if any(_SOUND.search(text) for text in part):
                said.append(f"note {note.id}: sounds cannot be shown in a bank: left out")
            texts += [_SOUND.sub("", text) for text in part]
        media = Media(folder)
        converted = iter([bank_markdown(text, media) for text in markdown_fields(texts)])
        top, sections = _sections(notes)
        items = []
        for position, (note, kind, part) in enumerate(zip(notes, kinds, parts)):
            title, question, answer, explanation, *point_texts = (next(converted) for _ in part)
            points = [(" ".join(term.split()), " ".join(_SEPARATOR.sub("", text).split()))
                      for term, text in zip(point_texts[::2], point_texts[1::2])]
            if not question or not (answer or points):
                said.append(f"note {note.id} ({note.notetype}): {'its question' if not question else 'its answer'} "
                            "is empty once its HTML is read: left out")
                continue
            item_id = note.fields[0].strip() if kind == "qbank" else None
            title = (_IMAGE.sub(r"\1", title.replace("\n", " ") or title_from(question)).strip()
                     or f"{note.notetype} {position + 1}")
            items.append(ImportedItem(title, question, answer, position + 1, tags=_tags(note, kind),
                                      section=sections[note.id], explanation=explanation, guid=note.guid, id=item_id,
                                      points=points))
        if not items:
            raise ImportRefused(f"{source}: no note has both a question and an answer")
        said += [note for note in dict.fromkeys(media.notes) if note not in said]
        images = {relative: file.read_bytes() for relative, file in media.keep.items()}
    rule = "; ".join([*(RULES[kind] for kind in RULES if kind in kinds), COMMON_RULE])
    return ImportedDeck(top, top, items, said, images, rule)
