"""The user-facing words of the outputs, in the bank's language (templates/labels.yaml)."""

from __future__ import annotations

from functools import cache

from .templating import for_language, read_table

LABELS = "labels.yaml"


@cache
def _all_labels() -> dict[str, dict[str, str]]:
    return read_table(LABELS)


def labels_for(lang: str) -> dict[str, str]:
    """The words for `lang`; any a language does not define yet fall back to English."""
    table = _all_labels()
    return {**for_language(table, "en", "en", LABELS), **for_language(table, lang, "en", LABELS)}
