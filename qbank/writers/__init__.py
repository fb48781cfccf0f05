"""One writer per output format, like Sphinx's builders around one parsed environment.

A writer module defines WRITER, an instance of a Writer subclass. Modules here are found at
import time, so adding a format is adding one module (and its templates/ folder).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path

from ..render import RenderedBank


@dataclass(frozen=True)
class BuildOptions:
    """Choices made on the command line that change what a writer produces."""

    paper: str = "a4"  # a4 | letter, for the printed outputs
    cloze: bool | None = None  # None: as the bank's options say
    shift_backs_mm: float = 0.0  # flashcards: move the backs to calibrate a duplex printer


class Writer:
    name: str  # the --format value
    suffix: str  # the output is <out>/<bank id><suffix>
    order: int  # position in listings and builds
    template_folder: str  # the templates/ folder it reads; its changes rebuild the output

    def output_name(self, bank_id: str) -> str:
        return f"{bank_id}{self.suffix}"

    def write(self, doc: RenderedBank, target: Path, options: BuildOptions) -> None:
        """Write the output for `doc` to `target` (a temporary path the caller moves into place)."""
        raise NotImplementedError


def _discover() -> dict[str, Writer]:
    writers = []
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        writer = getattr(module, "WRITER", None)
        if isinstance(writer, Writer):
            writers.append(writer)
    return {writer.name: writer for writer in sorted(writers, key=lambda w: w.order)}


WRITERS: dict[str, Writer] = _discover()
