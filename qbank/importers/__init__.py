"""`build.py import`: a bank made from what people already have.

Each format is read by its own module into plain items (read), made into the bank's
structure and YAML (common), then written beside its images and checked by the bank's own
loader before it is moved into place (write), so an import either writes a bank that loads,
or says why in the loader's own lines and leaves nothing in place of the target.

| format | module | reads |
| --- | --- | --- |
| article | article.py | the numbered interview-article shape (`#### 1. …`, `**面试题：**`, `**答案：**`) |
| qa | markdown_qa.py | a Markdown document of bold or heading questions with free answers |
| csv | delimited.py | CSV/TSV: Anki's "Notes in Plain Text" export, or a spreadsheet's |
| apkg | apkg.py (anki_package.py reads the file) | an Anki deck or collection: .apkg, .colpkg, collection.anki2 |
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .. import schema
from ..build.files import atomic_target
from ..model import BankError
from ..reader import MAX_FILE_BYTES, load_bank
from .apkg import SUFFIXES as ANKI_SUFFIXES, read_deck
from .article import parse_article
from .common import ImportedItem, ImportRefused, bank_from_items, bank_yaml, check_bank_id_and_lang, read_text
from .delimited import DELIMITED_RULE, parse_delimited
from .markdown_qa import QUESTION_RULE, parse_qa
from .markup import Media, invalid_math_as_text

FORMATS = ("article", "qa", "csv", "apkg")
DELIMITED_SUFFIXES = (".csv", ".tsv", ".txt")

__all__ = ["FORMATS", "ImportRefused", "Imported", "default_format", "read_source", "write_bank"]


@dataclass
class Imported:
    yaml: str
    items: int
    rule: str  # how the source's parts became the bank's, said to the maintainer
    notes: list[str]  # what was changed or left out, one line each
    images: dict[str, Path | bytes]  # the path the bank writes -> the file in the source's folder, or its bytes


def default_format(source: Path) -> str:
    suffix = source.suffix.lower()
    return "csv" if suffix in DELIMITED_SUFFIXES else "apkg" if suffix in ANKI_SUFFIXES else "article"


def read_source(source: Path, format: str, bank_id: str, lang: str) -> Imported:
    check_bank_id_and_lang(bank_id, lang)
    if format == "apkg":
        return _anki_deck(source, bank_id, lang)
    text = read_text(source)
    media = Media(source.parent)
    if format == "article":
        bank = parse_article(text, source, bank_id, lang)
        return Imported(bank_yaml(schema.plain(schema.BANK, bank)), len(bank.items),
                        "ids are q01, q02, …: rename them before the first build", [], {})
    if format == "qa":
        document = parse_qa(text, source, media)
        title, description, items, notes, rule = (document.title, document.preface, document.items,
                                                   document.notes, QUESTION_RULE)
    else:
        deck = parse_delimited(text, source, media)
        title, description, items, notes, rule = source.stem, "", deck.items, deck.notes, DELIMITED_RULE
    description, math_notes = _formulas_as_text(description, items)
    bank = bank_from_items(bank_id, lang, title, description, items)
    return Imported(bank_yaml(bank), len(items), rule + "; ids are made from the titles",
                    [*notes, *media.notes, *math_notes], media.keep)


def _anki_deck(source: Path, bank_id: str, lang: str) -> Imported:
    deck = read_deck(source)
    _, math_notes = _formulas_as_text("", deck.items)
    bank = bank_from_items(bank_id, lang, deck.title, "", deck.items)
    bank = {**bank, "deck": deck.deck}  # the built deck is the one the notes are in (bank_yaml orders the keys)
    return Imported(bank_yaml(bank), len(deck.items), deck.rule + "; ids are made from the titles",
                    [*deck.notes, *math_notes], deck.images)


def _formulas_as_text(description: str, items: list[ImportedItem]) -> tuple[str, list[str]]:
    """The description, and in place each item's Markdown (key points too), with each formula
    MathJax rejects written as text (markup.invalid_math_as_text); the notes saying so."""
    def texts(item: ImportedItem) -> list[str]:
        return [item.title, item.question, item.answer, item.explanation,
                *(text for point in item.points for text in point)]

    fixed, notes = invalid_math_as_text([description, *(text for item in items for text in texts(item))])
    position = 1
    for item in items:
        count = len(texts(item))
        item.title, item.question, item.answer, item.explanation, *points = fixed[position:position + count]
        item.points = list(zip(points[::2], points[1::2]))
        position += count
    return fixed[0], notes


def write_bank(imported: Imported, output: Path, source: Path) -> None:
    """Write the bank to `output`, its images beside it, and load it as a build would; a bank
    the loader refuses raises its BankError (placed in `output`) and is not written."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file stands where a folder of the path belongs: say that, not EEXIST
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(output.parent)) from None
    folder = output.parent.resolve()
    for relative, file in imported.images.items():
        target = (folder / relative).resolve()
        if target == file or not target.is_relative_to(folder):
            continue  # the bank sits in the source's folder: the image is there already
        if isinstance(file, bytes):  # from inside a package, vetted there
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file)
            continue
        if file.stat().st_size > MAX_FILE_BYTES:
            raise ImportRefused(f"{source}: image '{relative}' is larger than a bank file may be")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
    with atomic_target(output) as temporary:
        temporary.write_text(imported.yaml, encoding="utf-8")
        try:
            load_bank(temporary)
        except BankError as refused:
            raise BankError([dataclasses.replace(problem, location=dataclasses.replace(problem.location, path=output))
                             for problem in refused.problems]) from None
