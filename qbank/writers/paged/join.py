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
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Container, Iterable, Sequence

from pypdf import PdfReader
from pypdf.generic import DictionaryObject, TextStringObject

from .pdf_objects import STAMP_NAME, JoinedPdf, PartCopy, PartReader, direct

# Keys the join writes itself: a part's own values point into its own page tree, outline,
# structure tree and name tree, which the joined document replaces with one of each.
CATALOG_OWN_KEYS = frozenset({"/Pages", "/Outlines", "/Names", "/StructTreeRoot"})
TREE_OWN_KEYS = frozenset({"/K", "/ParentTree", "/ParentTreeNextKey"})
DOCUMENT_OWN_KEYS = frozenset({"/K", "/P"})
OUTLINE_LINK_KEYS = frozenset({"/Parent", "/Prev", "/Next", "/First", "/Last", "/Count"})
# A stamped page's content is [SAVE, its own streams..., DRAW_STAMP]: its own content cannot
# leave the graphics state (a transformation, a colour) to the stamp.
SAVE = b"q\n"
DRAW_STAMP = b"\nQ\n/Artifact <</Type /Pagination>> BDC %s Do EMC\n" % STAMP_NAME

@dataclass
class OutlineEntry:
    """An outline entry of a part, its own keys (title, destination) already written out."""

    body: bytes
    is_open: bool
    children: list[OutlineEntry] = field(default_factory=list)

    def descendants_shown(self) -> int:
        """How many entries below this one a reader shows once this one is opened."""
        return sum(1 + (child.descendants_shown() if child.is_open else 0) for child in self.children)


def join_pdfs(parts: Iterable[Path], target: Path, stamps: Sequence[Path] = (),
              continuing: Container[int] = ()) -> None:
    """Join the chunks' PDFs `parts`, in order, into `target`, each as soon as it comes (the
    flashcards' come while later chunks are laid out); with `stamps`, PDFs of as many pages in
    all, each page drawn over the page of the same number of the joined document. The parts
    whose indexes are in `continuing` start inside the previous part's last outline entry (a
    section a chunk boundary cuts): their first entry's children join that entry's."""
    with target.open("wb") as stream:
        joined = JoinedPdf(stream)
        join = DocumentJoin(joined, StampPages(joined, stamps) if stamps else None)
        for index, path in enumerate(parts):
            join.add(path, continues_outline=index in continuing)
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

    def add(self, path: Path, continues_outline: bool = False) -> None:
        """Copy the part at `path`: its pages and all they reach, its structure, outline and
        destinations; with `continues_outline`, its first outline entry's children go under the
        outline's last entry instead of a second entry of the same title."""
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
            entries = _outline_entries(copy, catalog["/Outlines"])
            if continues_outline and entries and self.outline.children:
                self.outline.children[-1].children += entries.pop(0).children
            self.outline.children += entries
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
        names = b" ".join(direct(TextStringObject(name)) + b" " + self.destinations[name]
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
