"""One PDF from the PDFs WeasyPrint wrote for consecutive chunks of one document.

The join streams: it reads one part at a time, copies that part's objects into the target as
soon as it reaches them and forgets them, so its memory is one part's (one chunk's) and not
the whole document's. What it keeps until the end is small and per page or per item: each
object's offset, the pages' and the Document element's kids' object numbers, the outline
entries and the named destinations (both already written out as bytes).

The first part brings the catalog (language, metadata, viewer preferences) and the document
information; every part brings its pages, its outline entries, its named destinations and its
tagged structure: its Document element's children join one Document element, and its pages'
and annotations' keys into the structure parent tree are moved past the ones already used.
The file identifier is a hash of the parts' own (content) identifiers, and object numbers
follow the parts' own order, so the result is as reproducible as the parts.

A join may also stamp each page with the page of the same number in other PDFs, read one after
another (the cheat sheet's page labels, which no chunk can lay out before all are counted): the
stamp page becomes a form XObject drawn over the page, after its own content, marked as a
pagination artifact.
"""

from __future__ import annotations

import gc
import hashlib
import re
from array import array
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Iterable, Sequence

from pypdf import PdfReader
from pypdf.generic import (ArrayObject, DictionaryObject, FloatObject, IndirectObject, NameObject, NumberObject,
                           PdfObject, StreamObject, TextStringObject, read_object)

# Keys the join writes itself: a part's own values point into its own page tree, outline,
# structure tree and name tree, which the joined document replaces with one of each.
CATALOG_OWN_KEYS = frozenset({"/Pages", "/Outlines", "/Names", "/StructTreeRoot"})
TREE_OWN_KEYS = frozenset({"/K", "/ParentTree", "/ParentTreeNextKey"})
DOCUMENT_OWN_KEYS = frozenset({"/K", "/P"})
OUTLINE_LINK_KEYS = frozenset({"/Parent", "/Prev", "/Next", "/First", "/Last", "/Count"})
STRUCT_PARENT_KEYS = frozenset({"/StructParents", "/StructParent"})  # a page's, an annotation's key into the parent tree
STAMPED_PAGE_KEYS = frozenset({"/Contents", "/Resources"})  # a stamped page's, written by the join
STAMP_NAME = b"/QbankStamp"  # the stamp's form XObject, among a stamped page's resources
# A stamped page's content is [SAVE, its own streams..., DRAW_STAMP]: its own content cannot
# leave the graphics state (a transformation, a colour) to the stamp.
SAVE = b"q\n"
DRAW_STAMP = b"\nQ\n/Artifact <</Type /Pagination>> BDC %s Do EMC\n" % STAMP_NAME
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


@dataclass
class OutlineEntry:
    """An outline entry of a part, its own keys (title, destination) already written out."""

    body: bytes
    is_open: bool
    children: list[OutlineEntry] = field(default_factory=list)

    def descendants_shown(self) -> int:
        """How many entries below this one a reader shows once this one is opened."""
        return sum(1 + (child.descendants_shown() if child.is_open else 0) for child in self.children)


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
        # In pieces: the whole table made at once took 40 MB at 10,000 items.
        for first in range(1, len(self.offsets), XREF_LINES_PER_WRITE):
            self.stream.write(b"".join(b"%010d 00000 n \n" % offset
                                       for offset in self.offsets[first:first + XREF_LINES_PER_WRITE]))
        self.stream.write(b"trailer\n<<%s/Size %d>>\nstartxref\n%d\n%%%%EOF\n" % (trailer, len(self.offsets), start))


class PartReader(PdfReader):
    """pypdf's reader of one part, but an object of an object stream is parsed alone, when asked for.

    WeasyPrint writes all of a part's objects but its streams into one object stream, and pypdf
    parses a whole object stream the first time one of its objects is asked for: a chunk's
    ~11,000 structure elements, in pure Python, were four fifths of the join's time. The join
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
            out += _direct(value)


@lru_cache(maxsize=4096)
def _name(name: NameObject) -> bytes:
    """A name in PDF syntax: a few hundred names make up most of a part's dictionaries."""
    return name.renumber()


def _direct(value: PdfObject) -> bytes:
    """A number, string, boolean or null in PDF syntax."""
    stream = BytesIO()
    value.write_to_stream(stream)
    return stream.getvalue()


def join_pdfs(parts: Iterable[Path], target: Path, stamps: Sequence[Path] = ()) -> None:
    """Join the chunks' PDFs `parts`, in order, into `target`, each as soon as it comes (the
    flashcards' come while later chunks are laid out); with `stamps`, PDFs of as many pages in
    all, each page drawn over the page of the same number of the joined document."""
    with target.open("wb") as stream:
        joined = JoinedPdf(stream)
        join = DocumentJoin(joined, StampPages(joined, stamps) if stamps else None)
        for path in parts:
            join.add(path)
            gc.collect()  # pypdf's objects point back at their reader: only the cycle collector frees a part
        join.finish()


class StampPages:
    """The stamps' pages in order, each written as a form XObject when its page is reached: the
    stamp PDFs are read one at a time, like the parts."""

    def __init__(self, joined: JoinedPdf, paths: Sequence[Path]):
        self.joined = joined
        self.paths = deque(paths)
        self.pages: deque[DictionaryObject] = deque()
        self.copy: PartCopy | None = None
        self.identifiers: list[bytes] = []
        self.streams = (joined.reserve(), joined.reserve())  # SAVE and DRAW_STAMP, shared by every stamped page
        for number, data in zip(self.streams, (SAVE, DRAW_STAMP)):
            joined.write(number, b"<</Length %d>>\nstream\n%s\nendstream" % (len(data), data))

    def next_form(self) -> int:
        """The object number of the next stamp page's form XObject (written)."""
        if not self.pages:
            self.flush()
            if not self.paths:
                raise ValueError("fewer stamp pages than pages")
            reader = PartReader(self.paths.popleft())
            self.copy, self.pages = PartCopy(self.joined, reader, {}, key_offset=0), deque(reader.pages)
            self.identifiers.append(_identifier(reader))
        number = self.joined.reserve()
        self.joined.write(number, self.copy.form_xobject(self.pages.popleft()))
        return number

    def flush(self) -> None:
        """Copy what the stamp pages written so far reach (their fonts)."""
        if self.copy is not None:
            self.copy.flush()

    def finish(self) -> list[bytes]:
        """The stamp PDFs' identifiers, once every stamp page has been used."""
        if self.pages or self.paths:
            raise ValueError("more stamp pages than pages")
        return self.identifiers


class DocumentJoin:
    """The joined document's own objects, gathered part by part and written at the end."""

    def __init__(self, joined: JoinedPdf, stamps: StampPages | None = None):
        self.joined = joined
        self.stamps = stamps
        self.catalog, self.pages, self.tree, self.document, self.parent_tree, self.outlines = (
            joined.reserve() for _ in range(6))
        self.page_numbers: list[int] = []
        self.document_kids: list[int] = []
        self.parent_keys: list[tuple[int, int]] = []  # (key, joined number of its value)
        self.outline = OutlineEntry(b"", is_open=True)  # the root: the parts' entries are its children
        self.destinations: dict[str, bytes] = {}
        self.identifiers: list[bytes] = []
        self.first_part: dict[str, bytes] = {}  # the catalog's, structure tree's and Document's own entries
        self.info = 0

    def add(self, path: Path) -> None:
        """Copy the part at `path`: its pages and all they reach, its structure, outline and destinations."""
        reader = PartReader(path)
        catalog = reader.root_object
        tree = catalog["/StructTreeRoot"]
        document = tree["/K"][0].get_object()
        replaced = {catalog.raw_get("/Pages").idnum: self.pages, catalog.raw_get("/StructTreeRoot").idnum: self.tree,
                    document.indirect_reference.idnum: self.document}
        copy = PartCopy(self.joined, reader, replaced, key_offset=max((key for key, _ in self.parent_keys), default=-1) + 1)
        if self.stamps is not None:
            for page in reader.pages:
                copy.bodies[page.indirect_reference.idnum] = copy.stamped_page(page, self.stamps.streams,
                                                                                self.stamps.next_form())
            self.stamps.flush()
        self.page_numbers += [copy.number(page.indirect_reference.idnum) for page in reader.pages]
        self.document_kids += [copy.number(kid.idnum) for kid in document.raw_get("/K")]
        nums = tree["/ParentTree"]["/Nums"]
        for key, value in zip(nums[::2], nums[1::2]):
            number = self.joined.reserve()
            self.joined.write(number, copy.serialized(value))
            self.parent_keys.append((int(key) + copy.key_offset, number))
        if "/Outlines" in catalog:
            self.outline.children += _outline_entries(copy, catalog["/Outlines"])
        names = catalog.get("/Names", {}).get("/Dests", {}).get("/Names", [])
        self.destinations.update({str(name): copy.serialized(dest) for name, dest in zip(names[::2], names[1::2])})
        self.identifiers.append(_identifier(reader))
        if not self.first_part:
            self.first_part = {"catalog": copy.entries(catalog, CATALOG_OWN_KEYS),
                               "tree": copy.entries(tree, TREE_OWN_KEYS),
                               "document": copy.entries(document, DOCUMENT_OWN_KEYS)}
            self.info = copy.number(reader.trailer.raw_get("/Info").idnum)
        copy.flush()

    def finish(self) -> None:
        joined, first = self.joined, self.first_part
        joined.write(self.pages, b"<</Type /Pages /Count %d /Kids [%s]>>"
                     % (len(self.page_numbers), _references(self.page_numbers)))
        joined.write(self.document, b"<<%s/P %d 0 R /K [%s]>>"
                     % (first["document"], self.tree, _references(self.document_kids)))
        joined.write(self.parent_tree, b"<</Nums [%s]>>" % b" ".join(b"%d %d 0 R" % pair for pair in self.parent_keys))
        joined.write(self.tree, b"<<%s/K [%d 0 R] /ParentTree %d 0 R>>" % (first["tree"], self.document, self.parent_tree))
        _write_outline(joined, self.outlines, self.outline)
        names = b" ".join(_direct(TextStringObject(name)) + b" " + self.destinations[name]
                          for name in sorted(self.destinations))
        joined.write(self.catalog, b"<<%s/Pages %d 0 R /Outlines %d 0 R /StructTreeRoot %d 0 R /Names <</Dests <</Names [%s]>>>>>>"
                     % (first["catalog"], self.pages, self.outlines, self.tree, names))
        if self.stamps is not None:
            self.identifiers += self.stamps.finish()
        identifier = hashlib.md5(b"".join(self.identifiers)).hexdigest().encode()
        joined.finish(b"/Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] " % (self.catalog, self.info, identifier, identifier))


def _references(numbers: Sequence[int]) -> bytes:
    return b" ".join(b"%d 0 R" % number for number in numbers)


def _identifier(reader: PdfReader) -> bytes:
    """The first file identifier WeasyPrint wrote (a hash of the content)."""
    identifier = reader.trailer["/ID"][0]
    return identifier.original_bytes if isinstance(identifier, TextStringObject) else bytes(identifier)


def _outline_entries(copy: PartCopy, parent: DictionaryObject) -> list[OutlineEntry]:
    """The entries under `parent` in a part's outline, in order, with theirs."""
    entries = []
    entry = parent["/First"] if "/First" in parent else None
    while entry is not None:
        entries.append(OutlineEntry(copy.entries(entry, OUTLINE_LINK_KEYS), int(entry.get("/Count", 0)) > 0,
                                    _outline_entries(copy, entry)))
        entry = entry["/Next"] if "/Next" in entry else None
    return entries


def _write_outline(joined: JoinedPdf, number: int, root: OutlineEntry) -> None:
    numbers = _write_outline_entries(joined, number, root.children)
    ends = b"/First %d 0 R /Last %d 0 R " % (numbers[0], numbers[-1]) if numbers else b""
    joined.write(number, b"<</Type /Outlines %s/Count %d>>" % (ends, root.descendants_shown()))


def _write_outline_entries(joined: JoinedPdf, parent: int, entries: list[OutlineEntry]) -> list[int]:
    """Write outline entries under `parent`, linked to each other; their numbers, in order."""
    numbers = [joined.reserve() for _ in entries]
    for index, (number, entry) in enumerate(zip(numbers, entries)):
        links = b"/Parent %d 0 R " % parent
        if index > 0:
            links += b"/Prev %d 0 R " % numbers[index - 1]
        if index + 1 < len(numbers):
            links += b"/Next %d 0 R " % numbers[index + 1]
        children = _write_outline_entries(joined, number, entry.children)
        if children:
            shown = entry.descendants_shown()
            links += b"/First %d 0 R /Last %d 0 R /Count %d " % (children[0], children[-1], shown if entry.is_open else -shown)
        joined.write(number, b"<<%s%s>>" % (entry.body, links))
    return numbers
