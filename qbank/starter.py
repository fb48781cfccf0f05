"""`build.py new`: a commented starter bank (templates/starter/bank.yaml) that builds as it is."""

from __future__ import annotations

from pathlib import Path

from .keys import LANG, SLUG, SLUG_MAX
from .templating import render_template


class StarterRefused(Exception):
    """The starter cannot be written as asked: a bad id or language, or the file exists."""


def write_starter_bank(folder: Path, bank_id: str, lang: str) -> Path:
    """Write <folder>/<bank_id>.yaml; never over an existing file."""
    if not SLUG.match(bank_id) or len(bank_id) > SLUG_MAX:
        raise StarterRefused(f"'{bank_id}' is not a bank id: use a-z, 0-9 and single hyphens, at most {SLUG_MAX} characters")
    if not LANG.match(lang):
        raise StarterRefused(f"'{lang}' is not a BCP 47 language tag such as en, zh-CN or pt-BR")
    path = folder / f"{bank_id}.yaml"
    text = render_template("starter/bank.yaml", bank_id=bank_id, lang=lang)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as file:  # "x": fails if the file exists, even if made just now
            file.write(text)
    except FileExistsError:
        raise StarterRefused(f"{path} already exists; a starter bank never overwrites one") from None
    return path
