"""A PDF written object by object, and the objects of another PDF copied into it, renumbered.

What joining the chunks' PDFs (join.py) is made of: the target file, which keeps only its
objects' offsets; a reader of one part that parses an object only when asked for it; and the
copy of a part's objects, most of them as their own bytes with their references renumbered.
"""

from __future__ import annotations

import re
from array import array
from collections import deque
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from pypdf import PdfReader
from pypdf.generic import (ArrayObject, DictionaryObject, FloatObject, IndirectObject, NameObject, NumberObject,
                           PdfObject, StreamObject, read_object)

STRUCT_PARENT_KEYS = frozenset({"/StructParents", "/StructParent"})  # a page's, an annotation's key into the parent tree
STAMPED_PAGE_KEYS = frozenset({"/Contents", "/Resources"})  # a stamped page's, written by the join
STAMP_NAME = b"/QbankStamp"  # the stamp's form XObject, among a stamped page's resources
XREF_LINES_PER_WRITE = 4096

# The tokens of an object's bytes that copying it renumbered needs: strings (skipped whole: their
# text may read like a reference), references, keys into the structure parent tree, and a
# parenthesis outside any string this pattern reads, i.e. a string with parentheses nested
# unescaped, which pydyf never writes (it escapes every one) and only a real parser reads right.
_DELIMITED = rb"\s()<>\[\]{}"  # whitespace and the delimiters before a reference (not "/": "/F1 0 R" is no reference)
_TOKENS = re.compile(
    rb"\((?:[^\\()]|\\.)*\)"  # a literal string
    rb"|<[0-9A-Fa-f\s]*>"  # a hexadecimal string
    rb"|(?<![^" + _DELIMITED + rb"])(?P<reference>\d+)\s+\d+\s+R(?![^" + _DELIMITED + rb"/%])"
    rb"|(?P<key_name>/StructParents?)\s+(?P<key>\d+)"
    rb"|(?P<nested>[()])", re.DOTALL)


class _NestedString(Exception):
    """An object holds a string this module's pattern cannot read (see _TOKENS)."""


class JoinedPdf:
    """The target file, written object by object: only the objects' offsets stay in memory."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.offsets = array("Q", [0])  # by object number; object 0 heads the free list
        stream.write(b"%PDF-1.7\n%\xb5\xed\xae\xfb\n")

    def reserve(self) -> int:
        """A new object number, for an object written now or later."""
        self.offsets.append(0)
        return len(self.offsets) - 1

    def write(self, number: int, body: bytes) -> None:
        self.offsets[number] = self.stream.tell()
        self.stream.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def finish(self, trailer: bytes) -> None:
        """The cross-reference table and the trailer (a dictionary's entries, without << >>)."""
        start = self.stream.tell()
        self.stream.write(b"xref\n0 %d\n0000000000 65535 f \n" % len(self.offsets))
        # In pieces: the whole table at once would be 40 MB at 10,000 items.
        for first in range(1, len(self.offsets), XREF_LINES_PER_WRITE):
            self.stream.write(b"".join(b"%010d 00000 n \n" % offset
                                       for offset in self.offsets[first:first + XREF_LINES_PER_WRITE]))
        self.stream.write(b"trailer\n<<%s/Size %d>>\nstartxref\n%d\n%%%%EOF\n" % (trailer, len(self.offsets), start))


class PartReader(PdfReader):
    """pypdf's reader of one part, but an object of an object stream is parsed alone, when asked for.

    WeasyPrint writes all of a part's objects but its streams into one object stream, and pypdf
    parses a whole object stream the first time one of its objects is asked for: a chunk's
    ~11,000 structure elements, in pure Python, would be most of the join's time. The join
    parses only the few objects it reads (the catalog, the pages, the structure tree, the
    outline); it copies every other one as its bytes, renumbered (PartCopy.renumbered).
    """

    def __init__(self, path: Path):
        super().__init__(path)
        self._bodies: dict[int, bytes] = {}  # object number -> its bytes, for the object streams split so far
        self._split: set[int] = set()

    def body(self, idnum: int) -> bytes | None:
        """The bytes of an object of an object stream; None for an object of its own (a stream)."""
        if idnum not in self.xref_objStm:
            return None
        stream_number = self.xref_objStm[idnum][0]
        if stream_number not in self._split:
            self._split.add(stream_number)
            self._bodies.update(_object_stream_bodies(super().get_object(stream_number)))
        return self._bodies[idnum]

    def _get_object_from_stream(self, indirect_reference: IndirectObject) -> PdfObject:
        # What pypdf's get_object calls for an object of an object stream; pypdf >= 7.1 expects
        # it to cache what it returns.
        value = read_object(BytesIO(self.body(indirect_reference.idnum)), self)
        return self.cache_indirect_object(0, indirect_reference.idnum, value)


def _object_stream_bodies(stream: StreamObject) -> dict[int, bytes]:
    """The bytes of each object of an object stream, by object number."""
    data, first = stream.get_data(), int(stream["/First"])
    header = [int(number) for number in data[:first].split()]
    numbers, offsets = header[0::2], [first + offset for offset in header[1::2]]
    return {number: data[start:end].strip() for number, start, end in zip(numbers, offsets, [*offsets[1:], len(data)])}


class PartCopy:
    """Copies the objects of one part that the joined document reaches, each once, renumbered."""

    def __init__(self, joined: JoinedPdf, reader: PartReader, replaced: dict[int, int], key_offset: int):
        self.joined, self.reader = joined, reader
        self.numbers = dict(replaced)  # the part's object number -> the joined one
        self.bodies: dict[int, bytes] = {}  # the part's object number -> what to write instead of the object
        self.key_offset = key_offset  # added to the part's keys into the structure parent tree
        self.pending: deque[int] = deque()

    def number(self, idnum: int) -> int:
        """The joined number of a part's object, which flush() copies if it is new."""
        if idnum not in self.numbers:
            self.numbers[idnum] = self.joined.reserve()
            self.pending.append(idnum)
        return self.numbers[idnum]

    def flush(self) -> None:
        """Copy every object reached so far, and every object those reach."""
        while self.pending:
            idnum = self.pending.popleft()
            body = self.bodies.pop(idnum, None) or self.copied(idnum)
            self.joined.write(self.numbers[idnum], body)

    def copied(self, idnum: int) -> bytes:
        """A part's object as the joined document holds it: as its own bytes renumbered if it
        can be, else parsed and written out again."""
        body = self.reader.body(idnum)
        if body is not None:
            try:
                return self.renumbered(body)
            except _NestedString:
                pass
        return self.serialized(self.reader.get_object(idnum))

    def renumbered(self, body: bytes) -> bytes:
        """An object's bytes with its references renumbered and its keys into the structure
        parent tree moved, like serialized() but without parsing it."""
        return _TOKENS.sub(self._renumbered_token, body)

    def _renumbered_token(self, token: re.Match) -> bytes:
        if token["reference"] is not None:
            return b"%d 0 R" % self.number(int(token["reference"]))
        if token["key"] is not None:
            return b"%s %d" % (token["key_name"], int(token["key"]) + self.key_offset)
        if token["nested"] is not None:
            raise _NestedString()
        return token[0]

    def serialized(self, value: PdfObject) -> bytes:
        """`value` in PDF syntax, its references renumbered."""
        out = bytearray()
        self._serialize(value, out)
        return bytes(out)

    def entries(self, dictionary: DictionaryObject, skipped: frozenset[str]) -> bytes:
        """A dictionary's entries but those in `skipped`, renumbered, without the << >> around them."""
        out = bytearray()
        self._serialize(dictionary, out, skipped)
        return bytes(out[2:-2])

    def stamped_page(self, page: DictionaryObject, streams: tuple[int, int], stamp: int) -> bytes:
        """`page` with its content between the join's `streams` (SAVE, DRAW_STAMP) and the
        form XObject `stamp` among its resources."""
        contents = page.raw_get("/Contents")
        own = b" ".join(self.serialized(item) for item in contents) if isinstance(contents, ArrayObject) \
            else self.serialized(contents)
        resources = page["/Resources"]
        xobjects = self.entries(resources["/XObject"], frozenset()) if "/XObject" in resources else b""
        return b"<<%s/Contents [%d 0 R %s %d 0 R] /Resources <<%s/XObject <<%s%s %d 0 R>>>>>>" % (
            self.entries(page, STAMPED_PAGE_KEYS), streams[0], own, streams[1],
            self.entries(resources, frozenset({"/XObject"})), xobjects, STAMP_NAME, stamp)

    def form_xobject(self, page: DictionaryObject) -> bytes:
        """A page of WeasyPrint's (one content stream) as a form XObject, to draw on another
        page of the same size: its stream's data and encoding, and its resources."""
        contents = page["/Contents"]
        encoding = self.entries(DictionaryObject(contents), frozenset({"/Length"}))  # the stream's, as a plain dictionary
        return b"<</Type /XObject /Subtype /Form /BBox %s /Resources %s %s/Length %d>>\nstream\n%s\nendstream" % (
            self.serialized(page["/MediaBox"]), self.serialized(page.raw_get("/Resources")), encoding,
            len(contents._data), contents._data)

    def _serialize(self, value: PdfObject, out: bytearray, skipped: frozenset[str] = frozenset()) -> None:
        if isinstance(value, IndirectObject):
            out += b"%d 0 R" % self.number(value.idnum)
        elif isinstance(value, DictionaryObject):
            is_stream = isinstance(value, StreamObject)
            out += b"<<"
            for key, item in value.items():
                if key in skipped or (key == "/Length" and is_stream):  # written from the data
                    continue
                out += _name(key) + b" "
                if key in STRUCT_PARENT_KEYS:
                    out += b"%d" % (int(item) + self.key_offset)
                else:
                    self._serialize(item, out)
                out += b" "
            if is_stream:
                out += b"/Length %d>>\nstream\n%s\nendstream" % (len(value._data), value._data)
            else:
                out += b">>"
        elif isinstance(value, ArrayObject):
            out += b"["
            for item in value:
                self._serialize(item, out)
                out += b" "
            out += b"]"
        elif isinstance(value, NameObject):
            out += _name(value)
        elif isinstance(value, NumberObject):
            out += b"%d" % value
        elif isinstance(value, FloatObject):
            out += value.myrepr().encode()
        else:
            out += direct(value)


@lru_cache(maxsize=4096)
def _name(name: NameObject) -> bytes:
    """A name in PDF syntax: a few hundred names make up most of a part's dictionaries."""
    return name.renumber()


def direct(value: PdfObject) -> bytes:
    """A number, string, boolean or null in PDF syntax."""
    stream = BytesIO()
    value.write_to_stream(stream)
    return stream.getvalue()
