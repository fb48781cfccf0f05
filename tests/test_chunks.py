"""A bank larger than one chunk: the printed outputs are laid out in chunks side by side and
joined, and the joined PDF must read like one laid out in one piece (judged with pypdf, and its
syntax with qpdf's check through pikepdf)."""

from __future__ import annotations

import os
import pickle
import re
import shutil
import signal
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from io import BytesIO
from pathlib import Path
from typing import Iterable

import pikepdf
import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import read_object

from conftest import traced_memory
from qbank.writers import BuildOptions, cards, paged, pdf
from qbank.writers.formulas import with_typeset_math
from qbank.writers.paged.join import join_pdfs
from qbank.writers.paged.pdf_objects import JoinedPdf, PartCopy, PartReader
from qbank.processes import Budget
from qbank.writers.paged.pool import in_fresh_processes

PAGE_LABEL = re.compile(r"第 (\d+) 页 / 共 (\d+) 页")
CHUNK_ITEMS = {"pdf": 8, "cards": 12}  # the seed's 30 items: 4 cheat-sheet chunks, 3 of flashcards
LABEL_PAGES = 3  # the cheat sheet's page labels in runs of 3 pages, which end within chunks


def _build(doc: object, output_format: str, target: Path, chunk_items: int) -> PdfReader:
    writers = {"pdf": pdf.CheatSheetWriter(items_per_chunk=chunk_items, label_pages_per_run=LABEL_PAGES),
               "cards": cards.FlashcardWriter(items_per_chunk=chunk_items)}
    writers[output_format].write(doc, target, BuildOptions(), Budget(2))
    return PdfReader(target)


def _outline(reader: PdfReader) -> list[tuple[str, int]]:
    return [(entry.title, reader.get_destination_page_number(entry)) for entry in reader.outline]


def _labels(reader: PdfReader) -> list[tuple[int, int]]:
    return [tuple(map(int, PAGE_LABEL.findall(page.extract_text())[-1])) for page in reader.pages]


def _body_text(reader: PdfReader) -> str:
    """Every page's text without its page label, all white space removed."""
    return "".join(re.sub(r"\s+", "", PAGE_LABEL.sub("", page.extract_text())) for page in reader.pages)


@pytest.mark.parametrize("output_format", ["pdf", "cards"])
def test_a_chunked_build_reads_like_the_whole(seed_doc: object, output_format: str, tmp_path: Path) -> None:
    whole = _build(seed_doc, output_format, tmp_path / "whole.pdf", 1000)
    joined = _build(seed_doc, output_format, tmp_path / "joined.pdf", CHUNK_ITEMS[output_format])

    with pikepdf.open(tmp_path / "joined.pdf") as checked:
        assert checked.check_pdf_syntax() == []
    pages = len(joined.pages)
    assert _labels(joined) == [(number, pages) for number in range(1, pages + 1)]
    assert [title for title, _ in _outline(joined)] == [title for title, _ in _outline(whole)]
    assert [page for _, page in _outline(joined)] == sorted(page for _, page in _outline(joined))
    if output_format == "cards":  # whole sheets per chunk: the very same pages
        assert pages == len(whole.pages)
        assert _outline(joined) == _outline(whole)
        assert _body_text(joined) == _body_text(whole)
    else:  # each chunk starts on a fresh page: at most one more page per further chunk
        assert len(whole.pages) <= pages <= len(whole.pages) + 3
        assert pages > 2 * LABEL_PAGES  # labels from several runs
        for entry in joined.outline:  # every item's heading on the page its outline entry names
            page = joined.pages[joined.get_destination_page_number(entry)]
            assert re.sub(r"\s+", "", entry.title) in re.sub(r"\s+", "", page.extract_text())
    assert joined.metadata.title == whole.metadata.title
    assert joined.root_object["/Lang"] == whole.root_object["/Lang"]


def test_a_chunked_build_keeps_one_tagged_structure(seed_doc: object, tmp_path: Path) -> None:
    joined = _build(seed_doc, "pdf", tmp_path / "joined.pdf", CHUNK_ITEMS["pdf"])
    tree = joined.root_object["/StructTreeRoot"]
    assert len(tree["/K"]) == 1
    document = tree["/K"][0].get_object()
    assert document["/S"] == "/Document"
    page_ids = {page.indirect_reference.idnum for page in joined.pages}
    for kid in document["/K"]:
        element = kid.get_object()
        assert element.raw_get("/P").idnum == document.indirect_reference.idnum
        assert "/Pg" not in element or element.raw_get("/Pg").idnum in page_ids
    keys = tree["/ParentTree"]["/Nums"][::2]
    assert len({page["/StructParents"] for page in joined.pages}) == len(joined.pages)
    assert {page["/StructParents"] for page in joined.pages} <= set(keys)


@pytest.mark.parametrize("output_format", ["pdf", "cards"])
def test_a_chunked_build_is_reproducible(seed_doc: object, output_format: str, tmp_path: Path) -> None:
    first = _build(seed_doc, output_format, tmp_path / "first.pdf", CHUNK_ITEMS[output_format])
    second = _build(seed_doc, output_format, tmp_path / "second.pdf", CHUNK_ITEMS[output_format])
    assert len(first.pages) == len(second.pages) > 2
    assert (tmp_path / "first.pdf").read_bytes() == (tmp_path / "second.pdf").read_bytes()


def _kept_parts(seed_doc: object, output_format: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The chunks' PDFs of a chunked build of the seed, as the join got them."""
    kept = folder / "parts"
    kept.mkdir()
    join = paged.join_pdfs

    def keep_parts(parts: Iterable[Path], target: Path, **options: object) -> None:
        parts = list(parts)  # the flashcards' come as they are laid out
        for part in parts:
            shutil.copy(part, kept / part.name)
        join(parts, target, **options)

    monkeypatch.setattr(paged, "join_pdfs", keep_parts)
    _build(seed_doc, output_format, folder / "joined.pdf", CHUNK_ITEMS[output_format])
    return sorted(kept.iterdir())


def test_joining_holds_one_part_at_a_time(seed_doc: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Joining four times as many parts must not take four times the memory: the join copies
    one part and forgets it before it reads the next."""
    parts = _kept_parts(seed_doc, "cards", tmp_path, monkeypatch)
    assert len(parts) == 3

    def peak_bytes(copies: int) -> int:
        with traced_memory() as memory:
            join_pdfs(parts * copies, tmp_path / f"joined-{copies}.pdf")
        return memory.peak

    few, many = peak_bytes(2), peak_bytes(8)
    assert len(PdfReader(tmp_path / "joined-8.pdf").pages) == 4 * len(PdfReader(tmp_path / "joined-2.pdf").pages)
    assert many < 1.3 * few


@pytest.mark.parametrize("output_format", ["pdf", "cards"])
def test_an_object_copied_as_its_bytes_reads_as_the_object_parsed(seed_doc: object, output_format: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The join copies most objects of a part as their bytes, renumbered, without parsing them:
    each reads back as the same object parsed and written out again (the slow way), with the
    same new numbers and its keys into the structure parent tree moved alike."""
    for part in _kept_parts(seed_doc, output_format, tmp_path, monkeypatch):
        reader = PartReader(part)
        copy = PartCopy(JoinedPdf(BytesIO()), reader, {}, key_offset=7)
        bodies = {idnum: reader.body(idnum) for idnum in reader.xref_objStm}
        assert any(b"/StructParent" in body for body in bodies.values())
        assert any(b"(" in body for body in bodies.values())  # literal strings, e.g. the outline's titles
        for idnum, body in bodies.items():
            parsed = copy.serialized(reader.get_object(idnum))  # numbers every reference first
            assert _read(copy.renumbered(body)) == _read(parsed), body
        assert len(copy.numbers) > len(bodies) / 2  # the objects' references were renumbered


_JOINED = PdfWriter()  # the document the references of objects read by _read point into


def _read(body: bytes) -> object:
    """A pypdf object from an object's bytes (which a reader of None would read as an empty dictionary)."""
    return read_object(BytesIO(body), _JOINED)


class _OneObjectReader:
    """A part of one object, at number 1, for PartCopy."""

    def __init__(self, body: bytes):
        self.bytes = body

    def body(self, idnum: int) -> bytes:
        return self.bytes

    def get_object(self, idnum: int) -> object:
        return read_object(BytesIO(self.bytes), self)


def test_a_copied_objects_strings_are_copied_as_they_are() -> None:
    body = rb"<</Alt (see 5 0 R \) and /StructParent 1) /ActualText <FEFF0031> /P 5 0 R /Pg 6 0 R /StructParent 2 /Resources <</Font <</F1 7 0 R>>>>>>"
    copy = PartCopy(JoinedPdf(BytesIO()), _OneObjectReader(body), {5: 50}, key_offset=10)
    assert copy.copied(1) == (rb"<</Alt (see 5 0 R \) and /StructParent 1) /ActualText <FEFF0031> /P 50 0 R /Pg 1 0 R "
                              rb"/StructParent 12 /Resources <</Font <</F1 2 0 R>>>>>>")


def test_an_object_with_nested_parentheses_in_a_string_is_parsed_to_be_copied() -> None:
    """pydyf escapes every parenthesis in a string; nested unescaped ones are valid PDF, which
    only a parser reads right (the inner "(b 5 0 R)" must stay text, not become a reference)."""
    copy = PartCopy(JoinedPdf(BytesIO()), _OneObjectReader(b"<</T (a (b 5 0 R) c) /P 5 0 R>>"), {}, key_offset=0)
    copied = _read(copy.copied(1))
    assert copied["/T"] == "a (b 5 0 R) c"
    assert copied.raw_get("/P").idnum == 1


def _chunk_process(chunk: int) -> tuple[int, int, int]:
    """A chunk's task: the chunk doubled, this process's id, and its resident memory in MB."""
    resident_kb = int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text())[1])
    return chunk * 2, os.getpid(), resident_kb // 1024


def _last_is_slow(chunk: tuple[Path, int]) -> int:
    folder, index = chunk
    if index == 2:
        time.sleep(3)
    (folder / f"done-{index}").touch()
    return index


def test_a_chunks_result_comes_before_later_chunks_are_done(tmp_path: Path) -> None:
    """The flashcard writer joins each chunk while the next ones are laid out."""
    results = in_fresh_processes(_last_is_slow, [(tmp_path, index) for index in range(3)], Budget(2))
    assert next(results) == 0
    assert not (tmp_path / "done-2").exists()
    assert list(results) == [1, 2]


def test_chunk_processes_hold_their_chunk_not_the_writers_memory() -> None:
    # A writer holds the whole rendered bank (here: ballast); a chunk's process forked from it
    # would count all of that as its own. Each chunk gets a fresh process, and none holds it.
    ballast_mb = 400
    ballast = bytearray(b"x") * (ballast_mb * 2**20)
    results = list(in_fresh_processes(_chunk_process, [1, 2, 3], Budget(1)))
    assert [doubled for doubled, _, _ in results] == [2, 4, 6]
    assert len({pid for _, pid, _ in results} | {os.getpid()}) == 4
    assert max(resident for _, _, resident in results) < ballast_mb * 3 // 4
    del ballast


def test_an_excerpt_carries_its_items_and_nothing_of_the_others(seed_doc: object) -> None:
    """What a chunk's process unpickles: its items' HTML, the bank's own fields and the place
    of its title; nothing that grows with the rest of the bank."""
    excerpt = seed_doc.excerpt(seed_doc.items[4:5])
    assert [item.id for item in excerpt.items] == [seed_doc.items[4].id]
    assert excerpt.html.items == () and set(excerpt.html.places) == {("title",)}
    assert {path[1] for path in excerpt.fields if path[0] == "items"} == {4}
    assert len(pickle.dumps(excerpt)) < len(pickle.dumps(seed_doc)) / 10
    chosen = [0, 5, 6, 29]
    assert list(seed_doc.excerpt([seed_doc.items[index] for index in chosen]).fields.items()) == [
        (path, html) for path, html in seed_doc.fields.items() if path[0] != "items" or path[1] in chosen]


def test_a_bank_without_math_is_not_copied_for_print(seed_doc: object) -> None:
    """Typesetting math for print rebuilds every item; with no math there is nothing to rebuild,
    and a copy of every item would cost the printed outputs' writers as much as the bank's HTML."""
    assert "math" not in " ".join(seed_doc.fields.values())
    assert with_typeset_math(seed_doc) is seed_doc


def _killed_by_the_system(chunk: int) -> int:
    if chunk == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
    return chunk


def test_a_chunk_process_killed_by_the_system_fails_the_build_instead_of_hanging() -> None:
    # In a thread, so that a hang fails this test instead of the whole run.
    outcome: list[BaseException | list[int]] = []

    def run() -> None:
        try:
            outcome.append(list(in_fresh_processes(_killed_by_the_system, [1, 2, 3, 4], Budget(2))))
        except BaseException as failure:  # noqa: BLE001 - the outcome is what is tested
            outcome.append(failure)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert outcome and isinstance(outcome[0], BrokenProcessPool)


def test_the_cross_reference_table_is_written_in_pieces(tmp_path: Path) -> None:
    """A large bank's joined PDF has hundreds of thousands of objects: its table (20 bytes an
    object) is written a piece at a time, not made whole in memory first."""
    objects = 200_000
    with (tmp_path / "joined.pdf").open("wb") as stream:
        joined = JoinedPdf(stream)
        for _ in range(objects):
            joined.write(joined.reserve(), b"null")
        with traced_memory() as memory:
            joined.finish(b"")
    assert memory.peak < objects * 20 / 4
    assert (tmp_path / "joined.pdf").read_bytes().count(b" 00000 n \n") == objects
