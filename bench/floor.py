"""The floor for the benchmark: each bare tool run once on the same bank's own HTML.

Each function returns the seconds of the tool's call alone, with no checks, fonts subset or
templates of ours around it: what the build could never beat.

    python -m bench.floor BANK.yaml      # prints {"genanki": s, "weasyprint": s, "pandoc-epub": s}
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import genanki
from weasyprint import CSS, HTML

from qbank.lock import Lock
from qbank.pandoc import pandoc_path
from qbank.reader import load_bank
from qbank.writers.printing import BASE_URL, document_sources, print_context
from qbank.document import RenderedBank
from qbank.render import render_bank
from qbank.writers.epub import book_html


def bare_genanki(doc: RenderedBank, out: Path) -> float:
    """One genanki package of the bank's notes: a plain model, the rendered HTML as fields."""
    model = genanki.Model(
        1607392319, "bare", fields=[{"name": "Front"}, {"name": "Back"}],
        templates=[{"name": "Card", "qfmt": "{{Front}}", "afmt": "{{Back}}"}],
    )
    started = time.perf_counter()
    deck = genanki.Deck(2059400110, "bare")
    for item in doc.items:
        back = item.answer.lead + "".join(f"<b>{p.term}</b>{p.text}" for p in item.answer.points) + item.explanation
        deck.add_note(genanki.Note(model=model, fields=[item.title + item.question, back]))
    genanki.Package(deck).write_to_file(out / "bare.apkg")
    return time.perf_counter() - started


def bare_weasyprint(doc: RenderedBank, out: Path) -> float:
    """One WeasyPrint render of the cheat sheet's own HTML and CSS, default fetcher and options."""
    html, css = document_sources(doc, "cheatsheet.html", "cheatsheet.css", **print_context(doc, "a4"),
                                 items=doc.items, first_chunk=True, last_chunk=True, labels_only=False)
    started = time.perf_counter()
    HTML(string=html, base_url=BASE_URL).write_pdf(out / "bare.pdf", stylesheets=[CSS(string=css)])
    return time.perf_counter() - started


def bare_pandoc_epub(doc: RenderedBank, out: Path) -> float:
    """One pandoc EPUB call on the EPUB writer's own HTML, without our fonts or options."""
    book = book_html(doc)
    started = time.perf_counter()
    subprocess.run(
        [pandoc_path(), "--from=html", "--to=epub3", f"--output={out / 'bare.epub'}"],
        input=book.encode("utf-8"), check=True,
    )
    return time.perf_counter() - started


def main() -> None:
    bank = load_bank(Path(sys.argv[1]))
    doc = render_bank(bank, Lock.open(bank.path))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        tools = {"genanki": bare_genanki, "weasyprint": bare_weasyprint, "pandoc-epub": bare_pandoc_epub}
        print(json.dumps({name: bare(doc, out) for name, bare in tools.items()}))


if __name__ == "__main__":
    main()
