"""One writer per output format, like Sphinx's builders around one parsed environment.

Each format is one module here defining WRITER, an instance of a Writer subclass, plus one
line in WRITERS below. As in Sphinx's builder registry, the module is imported only when
its format is built: the writers pull in WeasyPrint, genanki and fontTools, which take a
second to import, and a no-op rebuild must not pay for them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..render import RenderedBank


@dataclass(frozen=True)
class BuildOptions:
    """Choices made on the command line that change what a writer produces."""

    paper: str = "a4"  # a4 | letter, for the printed outputs
    cloze: bool | None = None  # None: as the bank's options say
    shift_backs_mm: float = 0.0  # flashcards: move the backs to calibrate a duplex printer


class Writer:
    def write(self, doc: RenderedBank, target: Path, options: BuildOptions) -> None:
        """Write the output for `doc` to `target` (a temporary path the caller moves into place)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Format:
    """An output format: what the command line needs to know without loading its writer."""

    name: str  # the --format value
    suffix: str  # the output is <out>/<bank id><suffix>
    module: str  # the module in qbank/writers/ that defines WRITER

    def output_name(self, bank_id: str) -> str:
        return f"{bank_id}{self.suffix}"

    @cached_property
    def writer(self) -> Writer:
        return importlib.import_module(f"{__name__}.{self.module}").WRITER

    def write(self, doc: RenderedBank, target: Path, options: BuildOptions) -> None:
        self.writer.write(doc, target, options)


# Format name -> Format, in build order.
WRITERS: dict[str, Format] = {
    fmt.name: fmt
    for fmt in (
        Format("apkg", ".apkg", "anki"),
        Format("pdf", ".pdf", "pdf"),
        Format("cards", ".cards.pdf", "cards"),
        Format("epub", ".epub", "epub"),
    )
}
