"""What every importer shares: reading the source safely, the imported items, their ids, and
the bank YAML they become.

An imported document is untrusted: it is read only up to a bank file's size limit, and a
problem is one line naming the file and line, as the loader's are.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import schema
from ..reader import MAX_FILE_BYTES
from ..keys import LANG, SLUG, SLUG_MAX
from ..schema import SCHEMA_COMMENT

# How long an id made from a title may be: long enough to tell items apart, short enough to type.
ID_WORDS_MAX = 48


class ImportRefused(ValueError):
    """The source cannot be imported; the message is one line naming the file (and line)."""


@dataclass
class ImportedItem:
    """One question as a source holds it, before it gets an id."""

    title: str  # inline Markdown, one line
    question: str  # Markdown
    answer: str  # Markdown: the whole free answer
    line: int  # where it starts in the source
    tags: list[str] = field(default_factory=list)
    # The section it was under (a `##` heading, a CSV's deck): the bank's sections are these.
    section: str | None = None
    explanation: str = ""  # Markdown
    guid: str | None = None  # the Anki note it comes from (apkg.py): the item updates that note
    id: str | None = None  # an id the source gives it (a qbank note's ItemId), if a free slug
    points: list[tuple[str, str]] = field(default_factory=list)  # (term, text), inline Markdown


def check_bank_id_and_lang(bank_id: str, lang: str) -> None:
    # Checked here because the YAML is written once and edited by hand afterwards: a bad id
    # would only surface at the first build, after the maintainer started rewording items.
    if not SLUG.match(bank_id) or len(bank_id) > SLUG_MAX:
        raise ImportRefused(f"--id '{bank_id}' is not a slug: use lowercase letters, digits and single hyphens")
    if not LANG.match(lang):
        raise ImportRefused(f"--lang '{lang}' is not a BCP 47 language tag such as zh-CN or en")


def read_text(path: Path) -> str:
    """The file as text: at most a bank file's size, UTF-8 (a BOM is fine), line ends as \\n."""
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ImportRefused(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the most a bank file may be")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ImportRefused(f"{path}:{line}: not valid UTF-8 (byte 0x{data[error.start]:02x}); save it as UTF-8") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportRefused(f"{path}:{line}: contains a NUL character; is this a text file?")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def slug(text: str) -> str:
    """The ASCII words of `text`, lowercased and joined by hyphens (at most ID_WORDS_MAX characters)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    result = ""
    for word in words:
        candidate = f"{result}-{word}" if result else word
        if len(candidate) > ID_WORDS_MAX:
            break
        result = candidate
    return result or (words[0][:ID_WORDS_MAX] if words else "")


def item_ids(titles: list[str], taken: set[str] = frozenset()) -> list[str]:
    """An id per title, made from its ASCII words; a title without any (Chinese, say) gets
    'q-' and six hex digits of its hash, so the id still follows from the title. Repeats (and
    ids in `taken`) get -2, -3, ... in order."""
    ids: list[str] = []
    used: set[str] = set(taken)
    for title in titles:
        base = slug(title) or "q-" + hashlib.sha1(title.encode("utf-8")).hexdigest()[:6]
        candidate, number = base, 2
        while candidate in used:
            candidate, number = f"{base}-{number}", number + 1
        used.add(candidate)
        ids.append(candidate)
    return ids


def tag_words(text: str) -> list[str]:
    """Tags as Anki writes them, separated by spaces; quotes (which a tag may not hold) dropped."""
    return [word for word in (w.replace('"', "").replace("'", "") for w in text.split()) if word]


def bank_from_items(bank_id: str, lang: str, title: str, description: str, items: list[ImportedItem],
                    taken: frozenset[str] = frozenset()) -> dict:
    """The bank's plain structure (dicts and lists, in the schema's order) for `items`: in
    sections if the source has them, each holding its items in their order (those before the
    first section go into one titled as the bank). Ids made from titles avoid `taken`."""
    entries = []
    kept = [item.id if item.id and SLUG.match(item.id) and len(item.id) <= SLUG_MAX else None for item in items]
    kept = [item_id if item_id and kept.index(item_id) == position else None for position, item_id in enumerate(kept)]
    made = iter(item_ids([item.title for item, item_id in zip(items, kept) if not item_id],
                         {*filter(None, kept), *taken}))
    for item, item_id in zip(items, kept):
        tags = list(dict.fromkeys(item.tags))
        answer = {"lead": item.answer} if item.answer else {}
        if item.points:
            answer["points"] = [{"term": term, "text": text} for term, text in item.points]
        entry: dict = {"id": item_id or next(made), "title": item.title, "question": item.question, "answer": answer}
        if item.explanation:
            entry["explanation"] = item.explanation
        if tags:
            entry["tags"] = tags
        if item.guid:
            entry["guid"] = item.guid
        entries.append(entry)
    bank = {"id": bank_id, "title": title, "lang": lang, "description": description, "items": entries}
    if any(item.section for item in items):
        grouped: dict[str, list[dict]] = {}  # by section title, in the order each first comes
        for item, entry in zip(items, entries):
            grouped.setdefault(item.section or title, []).append(entry)
        bank["sections"] = [{"id": section_id, "title": section_title, "items": section_items}
                            for section_id, (section_title, section_items)
                            in zip(item_ids(list(grouped)), grouped.items())]
        del bank["items"]
    return {key: bank[key] for key in schema.BANK.keys if bank.get(key)}


class _BlockStyleDumper(yaml.SafeDumper):
    """Multi-line text as literal blocks, so the committed bank diffs line by line."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)


def bank_yaml(bank: dict) -> str:
    bank = {key: bank[key] for key in schema.BANK.keys if key in bank}  # in the schema's order
    return SCHEMA_COMMENT + "\n" + yaml.dump(bank, Dumper=_BlockStyleDumper, allow_unicode=True, sort_keys=False, width=4096)
