"""`build.py pull DECK.apkg BANK.yaml`: edits made in Anki brought back to the bank's YAML.

The notes of the bank's note type are matched to the items by GUID (the one the build gives
them). A note's field is compared with what the build emits for the item now; where they
differ, the lock tells who moved:

- the item is as the lock last dated it (the YAML did not change since the last build), so the
  learner's collection holds that build: the difference is an edit made in Anki, pulled;
- the item changed since (the lock's hash moves at the next build), and the note is newer than
  the last build's (Anki dates every edit): both changed, a conflict, listed and not written;
- the item changed and the note is not newer: the YAML moved on, nothing to pull.

Fields are compared as Markdown (Anki's HTML and the emitted HTML through the same pandoc run),
so HTML that Anki's editor rewrote without changing its meaning is no change. A changed field
is written back by a line merge: the lines the learner changed replace the same lines of the
YAML's text, so the rest keeps the maintainer's own spelling; the YAML is edited surgically
(yaml_edit.py). HTML the bank's Markdown cannot say (a colour, underline, a font) is reported
for the maintainer and not written. Tags come back; notes added in Anki under the bank's note
type become new items; notes gone from the deck are reported, never deleted from the YAML.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..build.diagnostics import note
from ..build.files import write_atomically
from ..lock import Lock
from ..model import Bank, shown_path
from ..reader import load_bank
from ..render import render_and_date
from ..writers import BuildOptions
from ..writers.anki import (NOTE_TYPE_PREFIX, RETIRED_TAG, key_points_enabled, modified_as_built, note_fields,
                            note_guid)
from . import yaml_edit
from .anki_package import AnkiNote, open_package
from .apkg import answer_parts, markdown_fields
from .common import ImportedItem, ImportRefused, bank_from_items, tag_words
from .delimited import title_from

# What Anki's editor can write and the bank's Markdown cannot say.
_UNREPRESENTABLE = re.compile(r"<(font|u|mark|span|div)\b[^>]*\bstyle\s*=|<(font|u|mark)\b|\bstyle\s*=\s*\"[^\"]*color",
                              re.IGNORECASE)
_ANKI_OWN_TAGS = {"leech", "marked"}


@dataclass
class Pulled:
    text: str  # the YAML with every change made
    changes: list[str] = field(default_factory=list)  # "item x: question", one per field
    conflicts: list[str] = field(default_factory=list)
    unrepresentable: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    # note type -> items whose notes are still of it (imported, never changed to the bank's)
    other_type: dict[str, list[str]] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)

    def report(self) -> list[str]:
        """One line per change, conflict, unrepresentable edit, deleted and new note."""
        return [*(f"pulled {change}" for change in self.changes),
                *(f"conflict: {conflict}" for conflict in self.conflicts),
                *(f"not pulled: {line}" for line in self.unrepresentable),
                *(f"item {item_id}: its note is not in the deck (deleted in Anki?); the item is kept"
                  for item_id in self.deleted),
                *(f"{len(items)} items (first {items[0]}): their notes are still of note type '{notetype}', "
                  "so the build does not update them and nothing is pulled from them (docs/anki.md: Change Note Type)"
                  for notetype, items in self.other_type.items()),
                *(f"new item {item_id}: a note added in Anki" for item_id in self.added)]

    def diff(self, original: str, path: Path) -> str:
        return "".join(difflib.unified_diff(original.splitlines(keepends=True), self.text.splitlines(keepends=True),
                                            f"a/{path.name}", f"b/{path.name}"))


def _merged(base: str, theirs: str, ours: str) -> str:
    """`ours` with the lines that changed from `base` to `theirs` changed the same way, where
    `ours` holds those lines as `base` does; else `theirs` whole."""
    if base == ours:
        return theirs
    base_lines, their_lines, our_lines = base.split("\n"), theirs.split("\n"), ours.split("\n")
    ours_at = {}  # base line -> the same line's position in ours
    for tag, i1, i2, j1, _ in difflib.SequenceMatcher(None, base_lines, our_lines, autojunk=False).get_opcodes():
        if tag == "equal":
            ours_at.update({i1 + k: j1 + k for k in range(i2 - i1)})
    result, edits = list(our_lines), []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, base_lines, their_lines, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i1 < i2:
            if not all(k in ours_at for k in range(i1, i2)) or ours_at[i2 - 1] - ours_at[i1] != i2 - 1 - i1:
                return theirs
            edits.append((ours_at[i1], ours_at[i2 - 1] + 1, their_lines[j1:j2]))
        else:  # an insertion: after the line before it, or before the line after it
            if i1 - 1 in ours_at:
                at = ours_at[i1 - 1] + 1
            elif i1 in ours_at or i1 == len(base_lines):
                at = ours_at.get(i1, len(our_lines))
            else:
                return theirs
            edits.append((at, at, their_lines[j1:j2]))
    for start, end, lines in sorted(edits, reverse=True):
        result[start:end] = lines
    return "\n".join(result)


def pull_into(package_path: Path, bank_path: Path | None, banks: list[Path], write: bool) -> int:
    """The command: print what Anki changed as a diff of the YAML (and one line per change,
    conflict and refusal), and with `write`, make the change. Returns the exit code."""
    with open_package(package_path) as package:
        every_note = package.notes()
    bank_path = bank_path or banks_in(package_path, every_note, banks)
    original = bank_path.read_text(encoding="utf-8")
    pulled = pull(bank_path, original, every_note)
    for line in pulled.report():
        note(line)
    sys.stdout.write(pulled.diff(original, bank_path))
    counts = f"{len(pulled.changes)} changes, {len(pulled.added)} new items"
    if pulled.text == original:
        print("nothing to pull")
    elif write:
        write_atomically(bank_path, pulled.text.encode("utf-8"))
        print(f"wrote {shown_path(bank_path)}: {counts}")
    else:
        print(f"{counts}; 'build.py pull --write' applies them")
    return 0


def banks_in(package_path: Path, every_note: list[AnkiNote], banks: list[Path]) -> Path:
    """The one bank of `banks` whose note type the package (holding `every_note`) holds."""
    names = {note.notetype for note in every_note}
    found = [path for path in banks if f"{NOTE_TYPE_PREFIX}{_bank_id(path)}" in names]
    if len(found) != 1:
        raise ImportRefused(f"{package_path}: {'no bank' if not found else 'several banks'} of source/ match its note "
                            "types; name the bank: build.py pull DECK.apkg BANK.yaml")
    return found[0]


def _bank_id(path: Path) -> str | None:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")).get("id")
    except (OSError, yaml.YAMLError, AttributeError, UnicodeDecodeError):
        return None


@dataclass
class _Field:
    position: int  # the item's
    label: str  # as the report names it
    path: tuple  # in the YAML
    ours: str  # the YAML's Markdown
    emitted: str  # HTML, as the build emits it now
    anki: str  # HTML, as the note holds it
    conflict: bool


def pull(bank_path: Path, original: str, every_note: list[AnkiNote]) -> Pulled:
    """What the package's notes (`every_note`) change in the bank at `bank_path`, whose text is `original`."""
    bank = load_bank(bank_path)
    lock = Lock.open(bank_path)
    doc, dated = render_and_date(bank, lock)
    key_points = key_points_enabled(doc, BuildOptions())
    notes = [note for note in every_note if note.notetype == f"{NOTE_TYPE_PREFIX}{bank.id}"]
    notetypes = {note.guid: note.notetype for note in every_note}
    by_guid = {note.guid: note for note in notes}
    guids = [note_guid(bank.id, item) for item in bank.items]
    pulled, root, edits, fields = Pulled(original), yaml.compose(original), [], []
    for position, (item, rendered, guid) in enumerate(zip(bank.items, doc.items, guids)):
        note = by_guid.get(guid)
        if note is None and guid in notetypes:
            pulled.other_type.setdefault(notetypes[guid], []).append(item.id)
            continue
        if note is None:
            pulled.deleted.append(item.id)
            continue
        before = lock.entries.items.get(item.identity)
        yaml_moved = before is None or before.hash != dated.entries.items[item.identity].hash
        last_built = modified_as_built(doc, before.modified, key_points) if before else int(key_points)
        anki_moved = note.modified > last_built
        emitted = note_fields(doc, rendered, key_points)
        anki = dict(zip(note.field_names, note.fields))
        for label, path, ours, emitted_html, anki_html in _pairs(item, emitted, anki, pulled, position):
            if emitted_html == anki_html or (yaml_moved and not anki_moved):
                continue  # the same, or only the YAML moved on since the build the learner has
            if not yaml_moved and _unrepresentable(anki_html, emitted_html):
                pulled.unrepresentable.append(f"item {item.id}: {label}: Anki's text holds formatting the bank's "
                                              "Markdown cannot say (a colour, underline, a font); left as it is")
                continue
            fields.append(_Field(position, label, path, ours, emitted_html, anki_html, conflict=yaml_moved))
        if not yaml_moved:
            edits += _tag_edits(pulled, root, original, item, bank, note, position)
    edits += _field_edits(pulled, root, original, bank, fields)
    known = set(guids)
    edits += _new_items(pulled, root, original, bank, [note for note in notes if note.guid not in known
                                                        and f"{bank.id}::{RETIRED_TAG}" not in note.tags])
    pulled.text = yaml_edit.apply(original, edits)
    return pulled


def _pairs(item, emitted: dict[str, str], anki: dict[str, str], pulled: Pulled, position: int):  # noqa: ANN001, ANN202
    """(label, YAML path, the YAML's Markdown, emitted HTML, Anki's HTML) for each field of a note."""
    path = ("items", position)
    for name, key in (("Title", "title"), ("Question", "question"), ("Explanation", "explanation")):
        yield key, (*path, key), getattr(item, key), emitted[name], anki.get(name, "")
    ours_parts, theirs_parts = answer_parts(emitted["Answer"]), answer_parts(anki.get("Answer", ""))
    if theirs_parts is None or len(theirs_parts[1]) != len(ours_parts[1]):
        if emitted["Answer"] != anki.get("Answer", ""):
            pulled.unrepresentable.append(f"item {item.id}: answer: its key points were added, removed or reshaped "
                                          "in Anki; edit them in the YAML")
        theirs_parts = ours_parts
    yield "answer lead", (*path, "answer", "lead"), item.answer.lead, ours_parts[0].strip(), theirs_parts[0].strip()
    for number, (point, ours_point, their_point) in enumerate(zip(item.answer.points, ours_parts[1], theirs_parts[1])):
        yield (f"answer point {number + 1} term", (*path, "answer", "points", number, "term"), point.term,
               ours_point[0].strip(), their_point[0].strip())
        yield (f"answer point {number + 1} text", (*path, "answer", "points", number, "text"), point.text,
               ours_point[1].strip(), their_point[1].strip())


def _unrepresentable(anki_html: str, emitted_html: str) -> bool:
    found = {m.group(0).lower() for m in _UNREPRESENTABLE.finditer(anki_html)}
    return bool(found - {m.group(0).lower() for m in _UNREPRESENTABLE.finditer(emitted_html)})


def _key_column(root: yaml.Node, mapping_path: tuple) -> int:
    return yaml_edit.node_at(root, mapping_path).value[0][0].start_mark.column


def _field_edits(pulled: Pulled, root: yaml.Node, original: str, bank: Bank, fields: list[_Field]) -> list:
    """The differing fields as Markdown (one pandoc run), each merged into the YAML's text."""
    markdown = markdown_fields([html for one in fields for html in (one.emitted, one.anki)])
    edits, conflicts = [], {}
    for number, one in enumerate(fields):
        base, theirs = markdown[2 * number], markdown[2 * number + 1]
        item_id = bank.items[one.position].id
        if base == theirs:
            continue  # the same Markdown: Anki's editor only rewrote the HTML
        if one.conflict:  # which side changed which field, the lock cannot tell: the item is listed
            conflicts.setdefault(item_id, []).append(one.label)
            continue
        value = _merged(base, " ".join(theirs.split("\n")) if one.label == "title" else theirs, one.ours)
        path = bank.written_path(one.path)  # in a bank in sections, under the item's section
        node = yaml_edit.node_at(root, path)
        if node is None:  # an optional field the YAML does not have yet: a line at the item's end
            parent = yaml_edit.node_at(root, path[:-1])
            at = yaml_edit.line_start(original, parent.end_mark.index)
            edits.append(yaml_edit.Edit(at, at, yaml_edit.block_lines({path[-1]: value}, _key_column(root, path[:-1]))))
        else:
            edits.append(yaml_edit.scalar_edit(original, node, value, _key_column(root, path[:-1])))
        pulled.changes.append(f"item {item_id}: {one.label}")
    pulled.conflicts += [f"item {item_id} changed in Anki and in the YAML since the last build ({', '.join(labels)} "
                         "differ); not written: merge it by hand" for item_id, labels in conflicts.items()]
    return edits


def _tag_edits(pulled: Pulled, root: yaml.Node, original: str, item, bank: Bank, note: AnkiNote,  # noqa: ANN001
               position: int) -> list:
    prefix = f"{bank.id}::"
    theirs = [tag.removeprefix(prefix) for tag in note.tags
              if tag != bank.id and tag.lower() not in _ANKI_OWN_TAGS and tag != prefix + RETIRED_TAG]
    if sorted(theirs) == sorted(item.tags):
        return []
    tags = [tag for tag in item.tags if tag in theirs] + [tag for tag in theirs if tag not in item.tags]
    path = bank.written_path(("items", position))
    node = yaml_edit.node_at(root, (*path, "tags"))
    column = _key_column(root, path)
    pulled.changes.append(f"item {item.id}: tags")
    if node is None:
        at = yaml_edit.line_start(original, yaml_edit.node_at(root, path).end_mark.index)
        return [yaml_edit.Edit(at, at, f"{' ' * column}tags: [{', '.join(tags)}]\n")]
    return [yaml_edit.flow_or_block_list(original, node, tags, column)]


def _new_items(pulled: Pulled, root: yaml.Node, original: str, bank: Bank, notes: list[AnkiNote]) -> list:
    """Notes added in Anki under the bank's note type, as new items at the end (of the last
    section, in a bank in sections; ids from titles)."""
    if not notes:
        return []
    names = ("Title", "Question", "Answer", "Explanation")
    markdown = markdown_fields([dict(zip(note.field_names, note.fields)).get(name, "") for note in notes
                                for name in names])
    items = []
    for number, note in enumerate(notes):
        title, question, answer, explanation = markdown[4 * number : 4 * number + 4]
        if not (question and answer):
            pulled.unrepresentable.append(f"note {note.id}: added in Anki without a question or an answer; not added")
            continue
        tags = [tag.removeprefix(f"{bank.id}::") for tag in note.tags if tag != bank.id]
        items.append(ImportedItem(" ".join(title.split("\n")) or title_from(question), question, answer, 0,
                                  explanation=explanation, tags=tag_words(" ".join(tags)), guid=note.guid))
    if not items:
        return []
    taken = frozenset(item.id for item in bank.items)
    entries = bank_from_items(bank.id, bank.lang, bank.title, "", items, taken)["items"]
    pulled.added += [entry["id"] for entry in entries]
    sequence = yaml_edit.node_at(root, bank.written_path(("items",)))  # a bank in sections: its last section's
    at = yaml_edit.line_start(original, sequence.end_mark.index)
    return [yaml_edit.Edit(at, at, yaml_edit.block_lines(entries, sequence.value[0].start_mark.column - 2))]
