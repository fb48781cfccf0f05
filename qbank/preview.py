"""`build.py preview`: every item of a bank as its Anki card, in a browser, live while you edit.

The cards are filled from the note type and the fields the deck is written with
(writers/anki.py), by Anki's own template rules (card_syntax.py), so the preview cannot drift
from the deck. A watcher (watch.py) polls the bank, its images, templates/ and the built
outputs; a change that stays put for DEBOUNCE_SECONDS is rendered (as Anki's previewer
debounces its renders), a render that gives what the page already shows is dropped, and the
page hears of a new version through Server-Sent Events and swaps the cards in place.

Safety: the server listens on loopback only and answers only requests addressed to it by
name (a web page elsewhere cannot reach it through DNS rebinding). It serves the preview's
own files, MathJax, the bank's vetted images (doc.media) and the bank's built outputs, and
nothing else. Every page carries a Content-Security-Policy that lets only our own script
files run, so markup a bank smuggles into a card could not run script even if it got past
the render step.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import mimetypes
import sys
import threading
import time
import traceback
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .card_syntax import render_card
from .document import RenderedBank
from .lock import Lock
from .model import BankError
from .reader import load_bank
from .render import render_bank
from .templating import TEMPLATES, render_template
from .watch import Watcher, changes
from .writers import WRITERS, BuildOptions

ROOT = TEMPLATES.parent
PAGE_FOLDER = TEMPLATES / "preview"  # the preview's own page, stylesheet and scripts
# MathJax 3, as Anki's reviewer uses, installed from npm by tasks.sh (package.json).
MATHJAX = ROOT / "node_modules" / "mathjax" / "es5"
POLL_SECONDS = 0.1
DEBOUNCE_SECONDS = 0.3
KEEPALIVE_SECONDS = 15.0
# Only our own script files run; styles may be inline (Anki's card CSS and pandoc's table
# alignments are style attributes); images, fonts, frames and requests stay on this server.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'"
)


@dataclass
class Snapshot:
    """What a bank's page shows: the last good cards, and the problems of the latest render."""

    version: int = 0  # grows with every change the page must hear of
    cards: str | None = None  # HTML of the last bank that rendered
    problems: list[dict[str, str]] = field(default_factory=list)
    media: dict[str, Path] = field(default_factory=dict)  # of the last bank that rendered
    bank_id: str | None = None


class BankPreview:
    """One bank's page: re-rendered by the watcher, read by the request handlers."""

    def __init__(self, path: Path, slug: str, out: Path, options: BuildOptions):
        self.path = path
        self.slug = slug
        self.out = out
        self.options = options
        self.snapshot = Snapshot()
        self.changed = threading.Condition()

    def watched(self) -> list[Path]:
        """Everything the page depends on (a missing file too: it may be saved next)."""
        files = [self.path, *self.snapshot.media.values(), *(p for p in TEMPLATES.rglob("*") if p.is_file())]
        if self.snapshot.bank_id:
            files += [self.out / output.output_name(self.snapshot.bank_id) for output in WRITERS.values()]
        return files

    def refresh(self) -> bool:
        """Render the bank again; returns whether the page must hear of it."""
        try:
            doc = render_bank(load_bank(self.path), Lock.open(self.path))  # the lock is not saved
            cards, problems = self._cards(doc), []
            media, bank_id = dict(doc.media), doc.id
        except BankError as error:
            cards, problems = self.snapshot.cards, [_problem(p) for p in error.problems]
            media, bank_id = self.snapshot.media, self.snapshot.bank_id
        except Exception as error:  # a broken template or a missing tool: shown, and the server goes on
            traceback.print_exc()
            cards, media, bank_id = self.snapshot.cards, self.snapshot.media, self.snapshot.bank_id
            problems = [{"where": str(self.path), "item": "", "message": f"{type(error).__name__}: {error}"}]
        with self.changed:
            before = self.snapshot
            if cards == before.cards and problems == before.problems:
                before.media, before.bank_id = media, bank_id
                return False
            self.snapshot = Snapshot(before.version + 1, cards, problems, media, bank_id)
            self.changed.notify_all()
            return True

    def _cards(self, doc: RenderedBank) -> str:
        from .writers.anki import key_points_enabled, note_type  # genanki: only when previewing

        items = item_cards(doc, key_points_enabled(doc, self.options))
        outputs = []
        for name, output in WRITERS.items():
            target = self.out / output.output_name(doc.id)
            if target.is_file():
                built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(target.stat().st_mtime))
                outputs.append({"name": name, "file": target.name, "built": built})
        return render_template("preview/cards.html", doc=doc, items=items, css=note_type(doc).css, outputs=outputs)

    def output_file(self, name: str) -> Path | None:
        bank_id = self.snapshot.bank_id
        if bank_id is None or name not in WRITERS:
            return None
        target = self.out / WRITERS[name].output_name(bank_id)
        return target if target.is_file() else None

    def state(self) -> dict[str, object]:
        snapshot = self.snapshot
        return {"version": snapshot.version, "cards": snapshot.cards, "problems": snapshot.problems, "page": page_digest()}


def item_cards(doc: RenderedBank, key_points: bool) -> list[dict[str, object]]:
    """Each item with the cards Anki makes of its note: name, ordinal, front and back HTML."""
    from .writers.anki import note_fields, note_type  # genanki: only when previewing

    templates = note_type(doc).templates
    items = []
    for item in doc.items:
        fields = note_fields(doc, item, key_points)
        cards = []
        for ordinal, template in enumerate(templates, start=1):
            front = render_card(template["qfmt"], fields)
            if front.shows_a_field:  # Anki makes no card whose front shows nothing
                back = render_card(template["afmt"], fields, front_side=front.html)
                cards.append({"name": template["name"], "ordinal": ordinal, "front": front.html, "back": back.html})
        items.append({"item": item, "cards": cards})
    return items


def _problem(problem) -> dict[str, str]:  # noqa: ANN001 - a model.Problem
    return {"where": str(problem.location), "item": problem.item_id or "", "message": problem.message}


def page_digest() -> str:
    """Changes when the preview's own page files change: the open page then reloads itself."""
    digest = hashlib.sha256()
    for path in sorted(PAGE_FOLDER.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _watch(previews: list[BankPreview], stop: threading.Event) -> None:
    """Render a page again once a change to what it depends on has been still for the debounce time."""
    watchers = {preview: Watcher(preview.watched, settle_seconds=DEBOUNCE_SECONDS) for preview in previews}
    for preview in changes(watchers, POLL_SECONDS, stop):
        started = time.perf_counter()
        if preview.refresh():
            print(f"{preview.path}: preview updated in {time.perf_counter() - started:.2f} s", flush=True)


class PreviewServer(http.server.ThreadingHTTPServer):
    daemon_threads = True  # an open event stream must not keep the server from stopping

    def __init__(self, previews: list[BankPreview], port: int):
        self.previews = {preview.slug: preview for preview in previews}
        super().__init__(("127.0.0.1", port), PreviewHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class PreviewHandler(http.server.BaseHTTPRequestHandler):
    server: PreviewServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass  # the terminal shows builds, not every request

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if not self._addressed_to_us():
            return self._send(421, b"misdirected request", "text/plain")
        parts = [unquote(part) for part in urlsplit(self.path).path.split("/")[1:]]
        if parts == [""]:
            return self._index()
        if parts[:1] == ["static"] and len(parts) == 2 and parts[1].endswith((".css", ".js")):
            return self._file(PAGE_FOLDER, parts[1])
        if parts[:1] == ["mathjax"]:
            return self._file(MATHJAX, "/".join(parts[1:]))
        preview = self.server.previews.get(parts[1]) if parts[:1] == ["bank"] and len(parts) >= 3 else None
        if preview is None:
            return self._send(404, b"not found", "text/plain")
        rest = parts[2:]
        if rest == [""]:
            page = render_template("preview/page.html", preview=preview, state=preview.state(),
                                   mathjax=(MATHJAX / "tex-chtml-full.js").is_file())
            return self._send(200, page.encode("utf-8"), "text/html; charset=utf-8")
        if rest == ["state"]:
            return self._send(200, json.dumps(preview.state()).encode("utf-8"), "application/json")
        if rest == ["events"]:
            return self._events(preview)
        if rest[:1] == ["output"] and len(rest) == 2 and (target := preview.output_file(rest[1])):
            return self._send(200, target.read_bytes(), _content_type(target))
        if len(rest) == 1 and (image := preview.snapshot.media.get(rest[0])):
            return self._send(200, image.read_bytes(), _content_type(image))
        return self._send(404, b"not found", "text/plain")

    def _addressed_to_us(self) -> bool:
        port = self.server.server_address[1]
        return self.headers.get("Host", "") in (f"127.0.0.1:{port}", f"localhost:{port}")

    def _index(self) -> None:
        previews = list(self.server.previews.values())
        if len(previews) == 1:
            self.send_response(303)
            self.send_header("Location", f"/bank/{previews[0].slug}/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        page = render_template("preview/index.html", previews=previews)
        self._send(200, page.encode("utf-8"), "text/html; charset=utf-8")

    def _file(self, folder: Path, relative: str) -> None:
        root = folder.resolve()
        path = (root / relative).resolve()
        if not relative or not path.is_relative_to(root) or not path.is_file():
            return self._send(404, b"not found", "text/plain")
        self._send(200, path.read_bytes(), _content_type(path))

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._common_headers()
        self.end_headers()
        self.wfile.write(body)

    def _common_headers(self) -> None:
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")

    def _events(self, preview: BankPreview) -> None:
        """Server-Sent Events: the current version at once, then each new one as it comes."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self._common_headers()
        self.end_headers()
        self.close_connection = True
        sent = None
        try:
            while True:
                with preview.changed:
                    preview.changed.wait_for(lambda: preview.snapshot.version != sent, timeout=KEEPALIVE_SECONDS)
                    version = preview.snapshot.version
                message = f"event: version\ndata: {version}\n\n" if version != sent else ": still here\n\n"
                self.wfile.write(message.encode("ascii"))
                self.wfile.flush()
                sent = version
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page was closed


def _content_type(path: Path) -> str:
    if path.suffix == ".epub":
        return "application/epub+zip"
    if path.suffix == ".apkg":
        return "application/octet-stream"
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") or guessed.endswith("javascript") else guessed


def _slugs(paths: list[Path]) -> list[str]:
    """URL names for the banks: the file's stem, numbered when two banks share one."""
    slugs: list[str] = []
    for path in paths:
        slug, number = path.stem, 1
        while slug in slugs:
            number += 1
            slug = f"{path.stem}-{number}"
        slugs.append(slug)
    return slugs


def serve(banks: list[Path], out: Path, options: BuildOptions, port: int, open_browser: bool) -> int:
    previews = [BankPreview(path, slug, out, options) for path, slug in zip(banks, _slugs(banks))]
    for preview in previews:
        preview.refresh()
        for problem in preview.snapshot.problems:
            print(f"error: {problem['where']}: {problem['message']}", file=sys.stderr)
    server = PreviewServer(previews, port)
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(previews, stop), name="preview-watcher", daemon=True)
    watcher.start()
    print(f"preview: {server.url}  (Ctrl-C to stop)", flush=True)
    for preview in previews:
        print(f"  {preview.path}: {server.url}bank/{preview.slug}/", flush=True)
    if not (MATHJAX / "tex-chtml-full.js").is_file():
        print(f"note: MathJax is not installed ({MATHJAX}); math shows as TeX. `bash tasks.sh build` installs it.",
              file=sys.stderr)
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
    return 0
