"""One Jinja2 environment over templates/, shared by every writer.

Autoescape is on: bank text reaches templates only as HTML produced by the render step
(marked safe there) or as plain strings, which are escaped.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def environment() -> jinja2.Environment:
    """The environment over TEMPLATES, looked up at each call so that the folder can be
    swapped (tests build with a private copy of templates/)."""
    return _environment(TEMPLATES)


@cache
def _environment(folder: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_template(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context)


def for_language(table: dict[str, object], lang: str, default: str) -> object:
    """The entry of a per-language table in templates/ (labels.yaml, fonts.yaml) for a BCP 47
    tag: the exact tag first (zh-TW may differ from zh), then the primary language, then `default`."""
    for key in (lang, lang.split("-")[0].lower(), default):
        if key in table:
            return table[key]
    raise AssertionError(f"a per-language table in {TEMPLATES} has no '{default}' entry")


def css_string(text: str) -> Markup:
    """`text` as a quoted CSS string, safe inside a stylesheet (no quote, backslash or tag escapes)."""
    escaped = "".join(ch if ch.isalnum() or ch in " -_.,:;!?/()[]{}%+=*#@&~^|'" or ord(ch) > 0x7F
                      else f"\\{ord(ch):x} " for ch in text)
    return Markup(f'"{escaped}"')
