"""The user-facing words of the outputs, in the bank's language (templates/labels.yaml)."""

from __future__ import annotations

from functools import cache

import yaml

from .templating import TEMPLATES, for_language


@cache
def _all_labels() -> dict[str, dict[str, str]]:
    return yaml.safe_load((TEMPLATES / "labels.yaml").read_text(encoding="utf-8"))


def labels_for(lang: str) -> dict[str, str]:
    """The words for `lang`; any a language does not define yet fall back to English."""
    table = _all_labels()
    return {**table["en"], **for_language(table, lang, "en")}
