"""Reading an Anki deck or collection as Anki wrote it, without Anki: an `.apkg` or `.colpkg`
(a zip) or a closed profile's `collection.anki2` (SQLite), in every format current and older
Anki versions write.

- A package from Anki 2.1.50+ holds `collection.anki21b` (SQLite compressed with zstd), a
  placeholder `collection.anki2` and a `media` index that is a zstd-compressed protobuf, each
  media file zstd-compressed too. Older packages hold `collection.anki21` or `collection.anki2`
  (plain SQLite), a JSON `media` index and plain files.
- The collection's schema is Anki's: `notes` and `cards` in every version; note types and decks
  as JSON in the `col` table before schema 18, in their own tables (`notetypes`, `fields`,
  `decks`) since, deck names there joined by \\x1f instead of "::".

A package is untrusted: no member is read before its size is checked against a bound, reads
stop at that bound whatever the header said, the collection is copied into a temporary folder
and opened read-only, and nothing is written anywhere else (media come back as bytes).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .common import ImportRefused

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
COLLECTIONS = ("collection.anki21b", "collection.anki21", "collection.anki2")  # newest first
MAX_COLLECTION_BYTES = 2 * 1024 * 1024 * 1024  # a collection of 100,000 notes with history is ~500 MB
MAX_MEDIA_INDEX_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 1_000_000
FIELD_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class AnkiNote:
    id: int
    guid: str
    notetype: str
    field_names: tuple[str, ...]
    fields: tuple[str, ...]  # HTML, as Anki's editor writes it
    tags: tuple[str, ...]
    deck: str  # where most of its cards are, "::" between levels
    cloze: bool  # its note type is a Cloze one
    modified: int  # epoch seconds
    cards: tuple[tuple[str, str], ...] = ()  # the front and back templates of each of its cards, in order


def _bounded_read(stream: BinaryIO, limit: int, what: str, source: Path) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ImportRefused(f"{source}: {what} is larger than {limit // (1024 * 1024)} MB; not read")
    return data


def _unzstd(data: bytes, limit: int, what: str, source: Path) -> bytes:
    import zstandard  # only packages from Anki 2.1.50+ need it

    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    try:
        return _bounded_read(reader, limit, what, source)
    except zstandard.ZstdError as failure:
        raise ImportRefused(f"{source}: {what} is damaged ({failure})") from None


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("a truncated number")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position, shift = position + 1, shift + 7
        if not byte & 0x80:
            return value, position


def _protobuf_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message: varints as ints, length-delimited as bytes."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, kind = key >> 3, key & 7
        if kind == 0:
            value, position = _varint(data, position)
        elif kind == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise ValueError("a truncated field")
            value, position = data[position : position + length], position + length
        elif kind in (1, 5):
            value, position = b"", position + (8 if kind == 1 else 4)
        else:
            raise ValueError(f"wire type {kind}")
        yield number, value


def _media_index(data: bytes) -> dict[str, str]:
    """Media name -> zip member, from a legacy JSON index or a current one (MediaEntries:
    `repeated MediaEntry entries = 1`, each `string name = 1`, `optional uint32 legacy_zip_filename = 255`)."""
    if data.lstrip()[:1] == b"{":
        return {str(name): str(member) for member, name in json.loads(data).items()}
    index = {}
    for position, (number, entry) in enumerate(f for f in _protobuf_fields(data) if f[0] == 1):
        fields = dict(_protobuf_fields(entry))
        member = fields.get(255, position)
        index[bytes(fields.get(1, b"")).decode("utf-8")] = str(member)
    return index


class AnkiPackage:
    """The notes and media of a package or collection; use `open_package`."""

    def __init__(self, source: Path, connection: sqlite3.Connection, archive: zipfile.ZipFile | None,
                 media: dict[str, str]):
        self.source = source
        self._connection = connection
        self._archive = archive
        self._media = media
        # A profile's collection keeps its media in the folder beside it.
        self._media_folder = source.with_name("collection.media") if archive is None else None

    def media_names(self) -> set[str]:
        if self._media_folder is not None:
            return {path.name for path in self._media_folder.glob("*")} if self._media_folder.is_dir() else set()
        return set(self._media)

    def media(self, name: str, limit: int) -> bytes | None:
        """A media file's bytes (None: not in the package, or larger than `limit`)."""
        if self._media_folder is not None:
            return self._folder_media(name, limit)
        member = self._media.get(name)
        if member is None or self._archive is None:
            return None
        try:
            info = self._archive.getinfo(member)
            if info.file_size > limit + 1024:  # zstd adds a few bytes to what it cannot compress
                return None
            with self._archive.open(info) as stream:
                data = _bounded_read(stream, limit + 1024, f"media '{name}'", self.source)
            return _unzstd(data, limit, f"media '{name}'", self.source) if data.startswith(ZSTD_MAGIC) else data
        except (ImportRefused, KeyError, zipfile.BadZipFile, OSError):
            return None

    def _folder_media(self, name: str, limit: int) -> bytes | None:
        path = self._media_folder / name
        if Path(name).name != name or name in (".", "..") or path.is_symlink() or not path.is_file():
            return None  # only a plain file of that very folder
        with path.open("rb") as file:
            data = file.read(limit + 1)
        return data if len(data) <= limit else None

    def notes(self) -> list[AnkiNote]:
        """Every note, in the order they were added."""
        query = self._connection.execute
        notetypes = self._notetypes()
        decks = self._decks()
        card_decks: dict[int, Counter] = {}
        card_orders: dict[int, list[int]] = {}
        for note_id, deck_id, order in query("SELECT nid, did, ord FROM cards ORDER BY nid, ord"):
            card_decks.setdefault(note_id, Counter())[deck_id] += 1
            card_orders.setdefault(note_id, []).append(order)
        notes = []
        for note_id, guid, notetype_id, modified, tags, fields in query(
                "SELECT id, guid, mid, mod, tags, flds FROM notes ORDER BY id"):
            name, field_names, cloze, templates = notetypes.get(notetype_id, (str(notetype_id), (), False, ()))
            values = tuple(str(fields).split(FIELD_SEPARATOR))
            names = field_names if len(field_names) == len(values) else tuple(f"Field {n + 1}" for n in range(len(values)))
            counts = card_decks.get(note_id)
            deck = decks.get(counts.most_common(1)[0][0], "") if counts else ""
            cards = tuple(templates[order] for order in card_orders.get(note_id, []) if order < len(templates))
            notes.append(AnkiNote(note_id, str(guid), name, names, values, tuple(str(tags).split()), deck, cloze,
                                  int(modified), cards))
        return notes

    def _has_table(self, name: str) -> bool:
        return self._connection.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                                        (name,)).fetchone() is not None

    def _notetypes(self) -> dict[int, tuple[str, tuple[str, ...], bool, tuple[tuple[str, str], ...]]]:
        """Note type id -> (name, field names in order, is a Cloze type, (front, back) of each card template)."""
        query = self._connection.execute
        if self._has_table("notetypes"):  # schema 18: NotetypeConfig's `kind = 1` is 1 for Cloze
            fields: dict[int, list[tuple[int, str]]] = {}
            for notetype_id, order, name in query("SELECT ntid, ord, name FROM fields"):
                fields.setdefault(notetype_id, []).append((order, name))
            templates: dict[int, list[tuple[int, tuple[str, str]]]] = {}
            for notetype_id, order, config in query("SELECT ntid, ord, config FROM templates"):
                templates.setdefault(notetype_id, []).append((order, _template_formats(config)))
            return {notetype_id: (name, tuple(n for _, n in sorted(fields.get(notetype_id, []))),
                                  dict(_protobuf_fields(config or b"")).get(1) == 1,
                                  tuple(t for _, t in sorted(templates.get(notetype_id, []))))
                    for notetype_id, name, config in query("SELECT id, name, config FROM notetypes")}
        models = json.loads(query("SELECT models FROM col").fetchone()[0] or "{}")
        return {int(notetype_id): (model.get("name", notetype_id),
                                   tuple(f["name"] for f in sorted(model.get("flds", []), key=lambda f: f.get("ord", 0))),
                                   model.get("type") == 1,
                                   tuple((str(t.get("qfmt", "")), str(t.get("afmt", "")))
                                         for t in sorted(model.get("tmpls", []), key=lambda t: t.get("ord", 0))))
                for notetype_id, model in models.items()}

    def _decks(self) -> dict[int, str]:
        query = self._connection.execute
        if self._has_table("decks"):
            return {deck_id: str(name).replace(FIELD_SEPARATOR, "::")
                    for deck_id, name in query("SELECT id, name FROM decks")}
        decks = json.loads(query("SELECT decks FROM col").fetchone()[0] or "{}")
        return {int(deck_id): deck.get("name", "") for deck_id, deck in decks.items()}


def _template_formats(config: bytes | None) -> tuple[str, str]:
    """A card template's front and back (CardTemplate.Config: `q_format = 1`, `a_format = 2`)."""
    try:
        formats = dict(_protobuf_fields(config or b""))
    except ValueError:
        return "", ""  # a damaged template: the note is read as if it had none
    return tuple(value.decode("utf-8", "replace") if isinstance(value, bytes) else ""
                 for value in (formats.get(1), formats.get(2)))


def _collection_member(archive: zipfile.ZipFile, source: Path) -> zipfile.ZipInfo:
    names = set(archive.namelist())
    for name in COLLECTIONS:
        if name in names:
            return archive.getinfo(name)
    raise ImportRefused(f"{source}: not an Anki package (no collection.anki21b, collection.anki21 or "
                        "collection.anki2 inside)")


def _connect(database: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(f"file:{database}?mode=ro&immutable=1", uri=True)
    # Anki's tables declare this collation (case-insensitive names); without it, SQLite refuses
    # any query that would use it.
    connection.create_collation("unicase", lambda a, b: (a.casefold() > b.casefold()) - (a.casefold() < b.casefold()))
    return connection


@contextmanager
def open_package(source: Path) -> Iterator[AnkiPackage]:
    """The package or collection at `source`, read-only, until the block ends."""
    with tempfile.TemporaryDirectory(prefix="qbank-apkg-") as folder:
        database = Path(folder) / "collection.sqlite"
        archive = zipfile.ZipFile(source) if zipfile.is_zipfile(source) else None
        try:
            try:
                media = _copy_collection(source, archive, database)
                connection = _connect(database)
                connection.execute("SELECT count(*) FROM notes").fetchone()
            except (zipfile.BadZipFile, sqlite3.DatabaseError, ValueError, KeyError) as failure:
                raise ImportRefused(f"{source}: not a readable Anki deck or collection ({failure})") from None
            try:
                yield AnkiPackage(source, connection, archive, media)
            finally:
                connection.close()
        finally:
            if archive is not None:
                archive.close()


def _copy_collection(source: Path, archive: zipfile.ZipFile | None, database: Path) -> dict[str, str]:
    """Write the collection's SQLite to `database`; return the media index (name -> member)."""
    if archive is None:  # a profile's collection.anki2, with the log of a profile that was not closed
        if source.stat().st_size > MAX_COLLECTION_BYTES:
            raise ImportRefused(f"{source}: larger than {MAX_COLLECTION_BYTES >> 20} MB; not read")
        shutil.copyfile(source, database)
        if (log := source.with_name(source.name + "-wal")).exists():
            shutil.copyfile(log, database.with_name(database.name + "-wal"))
        return {}
    if len(archive.infolist()) > MAX_MEMBERS:
        raise ImportRefused(f"{source}: more than {MAX_MEMBERS:,} files inside; not read")
    member = _collection_member(archive, source)
    if member.file_size > MAX_COLLECTION_BYTES:
        raise ImportRefused(f"{source}: its collection is larger than {MAX_COLLECTION_BYTES >> 20} MB; not read")
    with archive.open(member) as stream, database.open("wb") as target:
        if member.filename.endswith("anki21b"):
            import zstandard  # only packages from Anki 2.1.50+ need it

            try:
                _copy_bounded(zstandard.ZstdDecompressor().stream_reader(stream), target, source)
            except zstandard.ZstdError as failure:
                raise ImportRefused(f"{source}: its collection is damaged ({failure})") from None
        else:
            _copy_bounded(stream, target, source)
    return _package_media(archive, source)


def _copy_bounded(stream: BinaryIO, target: BinaryIO, source: Path) -> None:
    written = 0
    while chunk := stream.read(1 << 20):
        written += len(chunk)
        if written > MAX_COLLECTION_BYTES:
            raise ImportRefused(f"{source}: its collection is larger than {MAX_COLLECTION_BYTES >> 20} MB; not read")
        target.write(chunk)


def _package_media(archive: zipfile.ZipFile, source: Path) -> dict[str, str]:
    try:
        info = archive.getinfo("media")
    except KeyError:
        return {}
    if info.file_size > MAX_MEDIA_INDEX_BYTES:
        raise ImportRefused(f"{source}: its media index is larger than {MAX_MEDIA_INDEX_BYTES >> 20} MB; not read")
    with archive.open(info) as stream:
        data = _bounded_read(stream, MAX_MEDIA_INDEX_BYTES, "its media index", source)
    if data.startswith(ZSTD_MAGIC):
        data = _unzstd(data, MAX_MEDIA_INDEX_BYTES, "its media index", source)
    return _media_index(data)
