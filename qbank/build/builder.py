"""One bank's build: read -> render -> write, for the formats whose inputs changed.

`build_bank` skips the outputs that are current (state.BuildState), renders the bank once,
has the writers write every stale output to a temporary file, then saves the lock and moves
the outputs into place together. `check_bank` reads, renders and lints, and writes nothing.
Each prints one line per output; what goes wrong is raised, for the command line to tell.
"""

from __future__ import annotations

import time
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Mapping

from .. import progress
from ..lint import lint_bank
from ..lock import Lock, lock_path
from ..model import CannotBuild, shown_path
from ..progress import ProgressDisplay
from ..reader import MAX_FILE_BYTES, load_bank
from ..render import RenderPlan, render_and_date, render_bank
from ..writers import BuildOptions, Downscaled, Format, write_outputs
from .diagnostics import UNCHANGED, check_bank_path, describe_os_error, note, report
from .files import atomic_target
from .state import BuildState, media_digest


def read_bank(path: Path) -> bytes:
    """The bank file's bytes, read once for the whole build (the state key and the reader)."""
    if check_bank_path(path).st_size > MAX_FILE_BYTES:
        load_bank(path)  # refuses it for its size, as a BankError, without reading it
    try:
        return path.read_bytes()
    except OSError as failure:
        raise CannotBuild(f"cannot read the bank: {describe_os_error(failure)}") from None


def _size(nbytes: int) -> str:
    return f"{nbytes / 1024:,.1f} KB" if nbytes < 1024 * 1024 else f"{nbytes / 1024 / 1024:,.2f} MB"


def _changes(changes: dict[str, int]) -> str:
    """'3 changed, 1 added, 1 retired', or that nothing changed for learners."""
    return ", ".join(f"{count} {kind}" for kind, count in changes.items()) or "no item changed"


def _downscaled(downscaled: Downscaled) -> str:
    if not downscaled.images:
        return ""
    images = "1 image" if downscaled.images == 1 else f"{downscaled.images} images"
    # A flat-colour screenshot can grow: scaling blends its few colours into many.
    change = "saved" if downscaled.saved_bytes >= 0 else "added"
    return f"  ({images} downscaled, {_size(abs(downscaled.saved_bytes))} {change})"


def check_bank(path: Path, processes: int) -> None:
    data = read_bank(path)
    bank = load_bank(path, read=lambda _: data)
    lock = Lock.open(path)
    if lock.repaired:
        note(f"{shown_path(lock.path)}: has a git merge conflict that the next build repairs ({lock.repaired})")
    doc = render_bank(bank, lock, RenderPlan(processes))  # vets links and images; the lock is not saved
    warnings = lint_bank(bank)
    report(warnings, "warning")
    print(f"{path}: {len(bank.items)} items, valid ({len(warnings)} warnings); "
          f"a build would make: {_changes(doc.changes)}")


def build_bank(
    path: Path, formats: Mapping[str, Format], out: Path, options: BuildOptions, force: bool, processes: int,
    state: BuildState | None = None,
) -> None:
    """Build the outputs of one bank in `formats`; unchanged outputs are left alone.

    All outputs are written to temporary files first; the lock is saved, then the outputs are
    moved into place together, only when all succeeded: a failure in any of them leaves every
    previous output of the bank, and the lock, as they were. The caller holds the build locks.
    """
    state = state or BuildState(out)
    bank_bytes = read_bank(path)
    try:
        lock_bytes: bytes | None = lock_path(path).read_bytes()
    except FileNotFoundError:
        lock_bytes = None
    key = state.key(bank_bytes, lock_bytes, options)
    stale = []
    for name in formats:
        current = None if force else state.current_output(path, name, key)
        if current:
            print(f"{current}  unchanged")
        else:
            stale.append(name)
    if not stale:
        return
    started = time.perf_counter()
    lock = Lock.open(path, lock_bytes) if lock_bytes is not None else Lock.open(path)
    # The bank as read is not kept: its Markdown would stay in every writer's process.
    doc, lock = render_and_date(load_bank(path, read=lambda _: bank_bytes), lock, RenderPlan(processes),
                                state.templates)
    print(f"{path}: {len(doc.items)} items rendered in {time.perf_counter() - started:.2f} s; "
          f"since the lock: {_changes(doc.changes)}")
    out.mkdir(parents=True, exist_ok=True)
    media = list(doc.media.values())
    targets = {name: out / formats[name].output_name(doc.id) for name in stale}
    for target in targets.values():
        if target.is_dir():  # the move into place would fail only after others were made
            raise CannotBuild(f"{shown_path(target)} is a folder where this output belongs; move it away, or choose "
                              f"another --out; {UNCHANGED}")
    with ExitStack() as moves:
        temporaries = {name: moves.enter_context(atomic_target(target)) for name, target in targets.items()}
        display = ProgressDisplay({name: target.name for name, target in targets.items()}) if progress.wanted() else None
        with display or nullcontext():
            written = write_outputs(doc, temporaries, options, processes, display, formats)
        sizes = {name: temporary.stat().st_size for name, temporary in temporaries.items()}
        digest = media_digest(media)  # the images as they were used, before anything is moved
        if not path.is_file():
            raise CannotBuild(f"{shown_path(path)}: the bank was moved or deleted during the build; {UNCHANGED}")
        lock.save()  # before the outputs: if it fails, they stay as they were too
    if lock.repaired:
        note(f"{shown_path(lock.path)}: repaired a git merge conflict ({lock.repaired}); commit the repaired lock")
    key = state.key(bank_bytes, lock.serialized(), options)  # the lock as saved
    for name, target in targets.items():
        state.record(path, name, key, target, sizes[name], media, digest)
        print(f"{target}  {len(doc.items)} items  {_size(sizes[name])}  {written[name].seconds:.2f} s"
              f"{_downscaled(written[name].downscaled)}")
    try:
        state.save()
    except OSError as failure:
        raise CannotBuild(f"{describe_os_error(failure, out)}; the outputs and the lock were saved, but not the "
                          "record of what they were built from, so the next build makes them again") from None
