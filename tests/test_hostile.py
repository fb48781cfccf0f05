"""Hostile banks (issue 6): a bank is untrusted input. Each attack either gets a clear error at
its line and item (exit 1, no traceback, nothing written) or a safe output - and a safe output
is judged by real readers: Anki's engine imports the deck and renders its cards, an XML parser
reads every file of the EPUB, pypdf walks every object of the PDFs.
"""

from __future__ import annotations

import codecs
import re
import sqlite3
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import anki.lang
import pytest
from anki.collection import Collection, ImportAnkiPackageRequest  # first: anki's modules import in a cycle
from anki.utils import strip_html
from conftest import FIXTURES, copy_bank, run_build
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject
from refusals import Expected, RefusedRun, refuse_all

from qbank import render
from qbank.lock import Lock
from qbank.model import BankError
from qbank.reader import MAX_FILE_BYTES, load_bank
from qbank.writers import WRITERS

HOSTILE = FIXTURES / "hostile"

# -- attacks that are refused -------------------------------------------------------------------

# Generated banks (bytes no one should have to commit): the attack sits in the question of the
# item `target`, on line 11, whose value starts at column 15.
TEMPLATE = """\
id: hostile-bytes
title: Hostile bytes
lang: en
items:
  - id: harmless
    title: Harmless
    question: Nothing to see here.
    answer: {lead: l}
  - id: target
    title: Target
    question: QUESTION
    answer: {lead: l}
"""


def _generated(question: str, encoding: str = "utf-8") -> bytes:
    return TEMPLATE.replace("QUESTION", question).encode(encoding)


GENERATED: dict[str, bytes] = {
    "nul-byte": _generated("before\x00after"),
    # An escape sequence would recolour (or worse) the terminal that prints the message.
    "terminal-escape": _generated("before\x1b[31mred"),
    "latin-1": _generated("café", "latin-1"),
    # What Windows editors call "Unicode": starts with the bytes FF FE.
    "utf-16": _generated("a question", "utf-16"),
    "ten-megabyte-field": _generated("x" * 10_000_000),
    "deep-nesting": _generated("{a: " * 5000 + "b" + "}" * 5000),
}
OVERSIZED_BYTES = MAX_FILE_BYTES + 1024 * 1024

CASES: dict[str, list[Expected]] = {
    "links": [
        Expected(8, 15, "javascript-link", "link 'javascript:alert(document.cookie)' uses 'javascript:'"),
        Expected(12, 15, "mixed-case-link", "link 'JaVaScRiPt:alert(1)' uses 'javascript:'"),
        Expected(16, 15, "data-link", "uses 'data:'; links may only use http, https or mailto"),
        Expected(20, 15, "vbscript-link", "link 'vbscript:msgbox(1)' uses 'vbscript:'"),
        Expected(24, 15, "file-link", "link 'file:///etc/passwd' uses 'file:'"),
        Expected(28, 15, "entity-obfuscated-link", "links may only use http, https or mailto"),
        Expected(32, 15, "reference-link", "link 'javascript:alert(2)' uses 'javascript:'"),
        Expected(40, 13, "autolink", "link 'javascript:alert(3)' uses 'javascript:'"),
    ],
    "images": [
        Expected(10, 15, "passwd", "image '/etc/passwd' is an absolute path"),
        Expected(14, 15, "file-url", "image 'file:///etc/passwd' is not a file in the bank's folder"),
        Expected(18, 15, "http-url", "image 'http://example.com/tracker.png' is not a file in the bank's folder"),
        Expected(22, 15, "climbing-out", "lies outside the bank's folder"),
        Expected(26, 15, "nul-in-name", "image 'images/pixel.png%00.txt' cannot be used: embedded null byte"),
        Expected(30, 15, "symlink-out", "image 'image-through-symlink.png' lies outside the bank's folder"),
        Expected(34, 15, "svg-image", "image 'images/drawing.svg' must be PNG, JPEG or GIF"),
        Expected(38, 15, "symlink-loop", "image 'loop-a.png' cannot be used: Symlink loop"),
    ],
    # The first alias, *a on line 4; the bank has no items yet, so no item is named.
    "alias-bomb": [Expected(4, 11, None, "aliases (*name) are not allowed in a bank")],
    "tab-indent": [Expected(7, 1, "tab-indented", "found a tab character that violates indentation")],
    "nul-byte": [Expected(11, 21, "target", "contains a NUL character")],
    "terminal-escape": [Expected(11, 21, "target", "contains the character U+001B, which YAML does not allow")],
    "latin-1": [Expected(11, 18, "target", "not valid UTF-8 (byte 0xe9)")],
    "utf-16": [Expected(1, 1, None, "not valid UTF-8 (byte 0xff)")],
    "ten-megabyte-field": [Expected(11, 15, "target", "item 2.question is 10,000,000 characters; the limit is 100,000")],
    # Root, items, item, then the question's mappings from column 15, four columns each: the key
    # of the 17th mapping, at column 15 + 16 * 4 + 1, is the 21st level.
    "deep-nesting": [Expected(11, 80, "target", "nested more than 20 levels deep")],
    "oversized-file": [Expected(1, 1, None, f"the file is {OVERSIZED_BYTES:,} bytes; a bank may be at most")],
}


def test_every_hostile_fixture_has_a_case() -> None:
    committed = {path.stem for path in HOSTILE.glob("*.yaml")} - {"markup"}  # markup.yaml is accepted
    assert sorted(committed | set(GENERATED) | {"oversized-file"}) == sorted(CASES)


def _hostile_banks(tmp_path: Path) -> dict[str, Path]:
    banks = {}
    for name in CASES:
        folder = tmp_path / name
        if (HOSTILE / f"{name}.yaml").exists():
            banks[name] = copy_bank(HOSTILE / f"{name}.yaml", folder)
            continue
        folder.mkdir()
        banks[name] = folder / "bank.yaml"
        if name == "oversized-file":
            with banks[name].open("wb") as handle:  # mostly a hole: costs no disk
                handle.write(TEMPLATE.encode())
                handle.truncate(OVERSIZED_BYTES)
        else:
            banks[name].write_bytes(GENERATED[name])
    # A file inside the bank's folder that is really /etc/passwd, and two links in a circle.
    (banks["images"].parent / "image-through-symlink.png").symlink_to("/etc/passwd")
    (banks["images"].parent / "loop-a.png").symlink_to("loop-b.png")
    (banks["images"].parent / "loop-b.png").symlink_to("loop-a.png")
    return banks


@pytest.fixture(scope="module")
def hostile_check(tmp_path_factory: pytest.TempPathFactory) -> RefusedRun:
    folder = tmp_path_factory.mktemp("hostile-check")
    return refuse_all(_hostile_banks(folder), folder / "out", [], "--check")


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory: pytest.TempPathFactory) -> RefusedRun:
    folder = tmp_path_factory.mktemp("hostile-build")
    return refuse_all(_hostile_banks(folder), folder / "out", ["hostile-links", "hostile-images", "hostile-bytes"])


@pytest.fixture(params=["build", "check"])
def hostile_run(request: pytest.FixtureRequest) -> RefusedRun:
    return request.getfixturevalue(f"hostile_{request.param}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_attack_is_refused_at_its_line_and_item(hostile_run: RefusedRun, case: str) -> None:
    hostile_run.assert_reported(case, CASES[case])


def test_refusals_exit_1_without_a_traceback(hostile_run: RefusedRun) -> None:
    hostile_run.assert_failed_cleanly()


def test_refused_banks_write_nothing(hostile_run: RefusedRun) -> None:
    hostile_run.assert_nothing_written()


def test_markdown_that_stalls_pandoc_is_stopped_and_named(tmp_path: Path) -> None:
    # Not a speed test: 50,000 unclosed brackets keep pandoc's reader busy for hours (it is
    # quadratic in them); the limit is lowered to 2 s only so that the test ends soon.
    path = tmp_path / "bank.yaml"
    path.write_bytes(_generated("'" + "[" * 50_000 + "'"))
    with pytest.raises(BankError) as raised:
        render.render_bank(load_bank(path), Lock.open(path), render.RenderPlan(timeout_seconds=2.0))
    [problem] = raised.value.problems
    assert (problem.location.line, problem.location.column, problem.item_id) == (11, 15, "target")
    assert "did not render within 2 s" in problem.message


def test_messages_never_echo_control_characters(hostile_run: RefusedRun) -> None:
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", hostile_run.result.stderr)


# -- attacks that are accepted as text: every output must show them and run none of them ---------

MARKUP = HOSTILE / "markup.yaml"
MARKUP_ID = "hostile-markup"


def _bom_crlf_copy(folder: Path) -> Path:
    """markup.yaml as a Windows editor might save it: a BOM and CRLF line ends."""
    bank = copy_bank(MARKUP, folder)
    bank.write_bytes(codecs.BOM_UTF8 + MARKUP.read_bytes().replace(b"\n", b"\r\n"))
    return bank


def test_bom_and_crlf_read_exactly_like_the_plain_file(tmp_path: Path) -> None:
    plain = load_bank(MARKUP)
    windows = load_bank(_bom_crlf_copy(tmp_path))
    assert MARKUP.read_bytes().count(b"\r") == 0  # the comparison is between two different files
    assert windows.title == plain.title and windows.description == plain.description
    assert windows.closing == plain.closing
    shape = lambda bank: [  # noqa: E731 - everything but the file name
        (item.id, item.title, item.question, item.answer, item.explanation, item.tags,
         item.location.line, item.location.column)
        for item in bank.items
    ]
    assert shape(windows) == shape(plain)
    assert "\r" not in repr(shape(windows))


def test_tabs_inside_text_are_kept(tmp_path: Path) -> None:
    item = {item.id: item for item in load_bank(MARKUP).items}["image-and-tabs"]
    assert item.answer.lead == "Tabs\tinside\ttext are fine."
    assert item.answer.points[0].term == "Tab\tterm"
    assert "\n\tfor item in bank:\n\t\tprint(item)" in item.explanation


@pytest.fixture(scope="module")
def markup_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every format of markup.yaml, saved with a BOM and CRLF line ends, built once."""
    folder = tmp_path_factory.mktemp("hostile-markup")
    bank = _bom_crlf_copy(folder / "bank")
    out = folder / "dist"
    result = run_build(bank, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


# What marks script in HTML: elements that run or embed code, event attributes, URLs that run code.
SCRIPT_ELEMENTS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "base"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background", "cite", "srcset", "content"}
CODE_URL = re.compile(r"(javascript|vbscript|livescript):|^data:text/html")
CODE_CSS = re.compile(r"javascript:|expression\(|-moz-binding|behavior:")
# The literal attack text that must survive as visible text, proving the output was checked.
VISIBLE_ATTACK = '<script>alert(“question”)</script>'


def _squeezed(value: str) -> str:
    """An attribute value as a browser reads a URL: case, whitespace and control characters ignored."""
    return re.sub(r"[\x00-\x20\x7f]+", "", value).lower()


def element_risks(tag: str, attributes: list[tuple[str, str | None]], where: str) -> list[str]:
    name = tag.rpartition("}")[2].rpartition(":")[2].lower()  # XML namespace or prefix dropped
    risks = [f"{where}: <{name}>"] if name in SCRIPT_ELEMENTS else []
    for attribute, value in attributes:
        local = attribute.rpartition("}")[2].rpartition(":")[2].lower()
        value = value or ""
        if local.startswith("on"):
            risks.append(f"{where}: <{name} {attribute}=...>")
        if local in URL_ATTRIBUTES and CODE_URL.search(_squeezed(value)):
            risks.append(f"{where}: <{name} {attribute}={value!r}>")
        if local == "style" and CODE_CSS.search(_squeezed(value)):
            risks.append(f"{where}: <{name} style={value!r}>")
    return risks


class _HtmlRisks(HTMLParser):
    def __init__(self, where: str) -> None:
        super().__init__(convert_charrefs=True)
        self.where = where
        self.risks: list[str] = []
        self.links: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.risks += element_risks(tag, attrs, self.where)
        self.links += [value or "" for name, value in attrs if name == "href"]
        self.in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style and CODE_CSS.search(_squeezed(data)):
            self.risks.append(f"{self.where}: <style> with {data!r}")


def html_risks(html: str, where: str) -> tuple[list[str], list[str]]:
    """Script risks in an HTML fragment or page, and the links it holds."""
    parser = _HtmlRisks(where)
    parser.feed(html)
    parser.close()
    return parser.risks, parser.links


@dataclass
class Findings:
    """What a real reader found in one output."""

    risks: list[str] = field(default_factory=list)  # anything that could run code
    links: list[str] = field(default_factory=list)  # every link target, to show the walk reached them
    text: str = ""  # the visible text, to show the attack arrived as text


def read_apkg(path: Path, tmp_path: Path) -> Findings:
    """Import into a new collection with Anki's engine, as the import dialog does; read back every
    field, every card as Anki renders it, and the note type and deck the package brought."""
    anki.lang.set_lang("en")
    (tmp_path / "profile").mkdir()
    col = Collection(str(tmp_path / "profile" / "collection.anki2"))
    try:
        options = col._backend.get_import_anki_package_presets()
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(path), options=options))
        pieces: dict[str, str] = {}
        notetype_ids, deck_ids = set(), set()
        for note_id in col.find_notes(""):
            note = col.get_note(note_id)
            notetype_ids.add(note.mid)
            pieces |= {f"note {note['ItemId']} field {n}": value for n, value in enumerate(note.fields)}
        cards = col.find_cards("")
        for card_id in cards:  # templates and fields together, as a learner sees them
            card = col.get_card(card_id)
            deck_ids.add(card.did)
            pieces[f"card {card_id} front"] = card.question()
            pieces[f"card {card_id} back"] = card.answer()
        # Only what the deck brought: a new collection's stock note types have scripts of their own.
        for notetype in map(col.models.get, notetype_ids):
            pieces[f"note type {notetype['name']} css"] = f"<style>{notetype['css']}</style>"
            for template in notetype["tmpls"]:
                pieces[f"template {template['name']} front"] = template["qfmt"]
                pieces[f"template {template['name']} back"] = template["afmt"]
        for deck in map(col.decks.get, deck_ids):
            pieces[f"deck {deck['name']} description"] = deck.get("desc", "")
    finally:
        col.close()
    findings = Findings()
    for where, html in pieces.items():
        risks, links = html_risks(html, where)
        findings.risks += risks
        findings.links += links
    findings.text = "\n".join(strip_html(pieces[f"card {card_id} back"]) for card_id in cards)
    return findings


EPUB_MARKUP = (".xhtml", ".html", ".htm", ".xml", ".opf", ".ncx", ".svg", ".smil")
CODE_MEDIA_TYPES = {"application/javascript", "text/javascript", "application/ecmascript", "text/ecmascript"}


def read_epub(path: Path, tmp_path: Path) -> Findings:
    """Every file in the zip; the markup ones through an XML parser (they must be well-formed)."""
    findings, text = Findings(), []
    with zipfile.ZipFile(path) as book:
        for name in book.namelist():
            data = book.read(name)
            if name.lower().endswith((".js", ".mjs")):
                findings.risks.append(f"{name}: a script file")
            if name.lower().endswith(".css") and CODE_CSS.search(_squeezed(data.decode("utf-8"))):
                findings.risks.append(f"{name}: style sheet with code")
            if not name.lower().endswith(EPUB_MARKUP):
                continue
            root = ElementTree.fromstring(data)
            for element in root.iter():
                findings.risks += element_risks(element.tag, list(element.attrib.items()), name)
                findings.links += [value for key, value in element.attrib.items() if key.rpartition("}")[2] == "href"]
                local = element.tag.rpartition("}")[2]
                if local == "style" and CODE_CSS.search(_squeezed("".join(element.itertext()))):
                    findings.risks.append(f"{name}: <style> with code")
                if local == "item":  # the package manifest
                    if "scripted" in element.get("properties", "").split():
                        findings.risks.append(f"{name}: {element.get('href')} declared scripted")
                    if element.get("media-type") in CODE_MEDIA_TYPES:
                        findings.risks.append(f"{name}: {element.get('href')} is a script")
            if name.lower().endswith((".xhtml", ".html", ".htm")):
                text.append("".join(root.itertext()))
    findings.text = "\n".join(text)
    return findings


PDF_CODE_KEYS = {"/JS", "/JavaScript", "/AA", "/Launch", "/RichMedia", "/XFA"}
PDF_CODE_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/ResetForm", "/Rendition", "/GoToE", "/GoToR"}
PDF_URI_SCHEMES = ("http:", "https:", "mailto:")


def read_pdf(path: Path, tmp_path: Path) -> Findings:
    """Every object reachable from the trailer, each once, and the text of every page."""
    reader = PdfReader(path)
    findings = Findings()
    seen: set[tuple[int, int]] = set()
    pending: list[object] = [reader.trailer]
    while pending:
        value = pending.pop()
        if isinstance(value, IndirectObject):
            if (value.idnum, value.generation) in seen:
                continue
            seen.add((value.idnum, value.generation))
            value = value.get_object()
        if isinstance(value, DictionaryObject):
            for key, entry in value.items():
                if key in PDF_CODE_KEYS:
                    findings.risks.append(f"key {key}")
                if key == "/S" and entry in PDF_CODE_ACTIONS:
                    findings.risks.append(f"action {entry}")
                if key == "/URI":
                    findings.links.append(str(entry))
                    if not _squeezed(str(entry)).startswith(PDF_URI_SCHEMES):
                        findings.risks.append(f"link to {entry!r}")
                pending.append(entry)
        elif isinstance(value, ArrayObject):
            pending.extend(value)
    findings.text = "\n".join(page.extract_text() for page in reader.pages)
    return findings


# Each output, by how its file name ends, and the real reader that judges it.
READERS = {".apkg": read_apkg, ".epub": read_epub, ".pdf": read_pdf}


def _reader_for(name: str):
    readers = [read for suffix, read in READERS.items() if name.endswith(suffix)]
    assert readers, f"no script check for {name}: add a reader to READERS"
    return readers[0]


def test_there_are_outputs_to_check() -> None:
    assert WRITERS, "no output format exists yet"


@pytest.mark.parametrize("format_name", list(WRITERS))
def test_output_carries_no_script(format_name: str, markup_outputs: Path, tmp_path: Path) -> None:
    output = markup_outputs / WRITERS[format_name].output_name(MARKUP_ID)
    findings = _reader_for(output.name)(output, tmp_path)
    assert findings.risks == []
    # The reader saw the content: the one safe link, and the attack as visible text.
    assert any(link.startswith("https://example.com/") for link in findings.links), findings.links
    assert "<script>" in findings.text


def _planted_apkg(original: Path, planted: Path, tmp_path: Path) -> str:
    database = tmp_path / "collection.sqlite"
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(planted, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename in {"collection.anki2", "collection.anki21"}:
                database.write_bytes(data)
                with sqlite3.connect(database) as connection:
                    connection.execute("UPDATE notes SET flds = '<script>alert(1)</script>' || flds")
                connection.close()
                data = database.read_bytes()
            target.writestr(info, data)
    return "<script>"


def _planted_epub(original: Path, planted: Path, tmp_path: Path) -> str:
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(planted, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("nav.xhtml"):
                data = data.replace(b"</body>", b'<p onclick="alert(1)">x</p></body>')
            target.writestr(info, data)
    return "onclick"


def _planted_pdf(original: Path, planted: Path, tmp_path: Path) -> str:
    writer = PdfWriter(clone_from=original)
    writer.add_open_action(JavaScript("app.alert('planted');"))
    writer.write(planted)
    return "/JavaScript"


PLANTERS = {".apkg": _planted_apkg, ".epub": _planted_epub, ".pdf": _planted_pdf}


@pytest.mark.parametrize("suffix", list(READERS))
def test_each_reader_finds_a_planted_script(suffix: str, markup_outputs: Path, tmp_path: Path) -> None:
    """A check that cannot fail proves nothing: plant one script in a real output and find it."""
    original = next(path for path in markup_outputs.iterdir() if path.name.endswith(suffix))
    planted = tmp_path / f"planted{suffix}"
    marker = PLANTERS[suffix](original, planted, tmp_path)
    (tmp_path / "reading").mkdir()
    risks = READERS[suffix](planted, tmp_path / "reading").risks
    assert any(marker in risk for risk in risks), risks


def test_every_format_was_built(markup_outputs: Path) -> None:
    built = {path.name for path in markup_outputs.iterdir() if not path.name.startswith(".")}
    assert built == {writer.output_name(MARKUP_ID) for writer in WRITERS.values()}


def test_the_image_behind_the_attacking_alt_text_is_shipped_as_is(markup_outputs: Path) -> None:
    # The alt text tried to break out of its attribute; the picture itself is an ordinary file.
    with zipfile.ZipFile(markup_outputs / f"{MARKUP_ID}.epub") as book:
        pictures = [book.read(name) for name in book.namelist() if name.endswith(".png")]
    assert pictures == [(HOSTILE / "images" / "pixel.png").read_bytes()]
