"""The user-facing words of the outputs, in the bank's language (templates/labels.yaml)."""

from __future__ import annotations

from functools import cache

import yaml

from .templating import TEMPLATES


@cache
def _all_labels() -> dict[str, dict[str, str]]:
    return yaml.safe_load((TEMPLATES / "labels.yaml").read_text(encoding="utf-8"))


def labels_for(lang: str) -> dict[str, str]:
    """Exact tag first (zh-TW may differ from zh), then the primary language, then English."""
    table = _all_labels()
    for key in (lang, lang.split("-")[0].lower(), "en"):
        if key in table:
            return {**table["en"], **table[key]}
    raise AssertionError("labels.yaml has no 'en' entry")
