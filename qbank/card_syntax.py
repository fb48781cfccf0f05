"""Anki's card template syntax, for the preview: what templates/anki uses, nothing more.

Anki fills a card template (rslib/src/template.rs) by replacing `{{Field}}` with the field's
HTML, keeping `{{#Field}}…{{/Field}}` only when the field is not empty and
`{{^Field}}…{{/Field}}` only when it is, and `{{FrontSide}}` on the back with the rendered
front. It makes a card only when its front shows at least one non-empty field. Filters
(`{{text:Field}}`, `{{cloze:Field}}`, `{{type:Field}}`…) are refused here rather than shown
wrong: our templates use none, and a template that starts to must teach the preview first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FRONT_SIDE = "FrontSide"
_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
# Anki's field_is_empty: only whitespace, <br> and <div> tags.
_EMPTY_FIELD = re.compile(r"^(?:\s|</?(?:br|div) ?/?>)*$", re.IGNORECASE)


class CardTemplateError(ValueError):
    """A card template the preview cannot render as Anki would."""


def field_is_empty(html: str) -> bool:
    return bool(_EMPTY_FIELD.match(html))


@dataclass(frozen=True)
class Rendered:
    html: str
    shows_a_field: bool  # a non-empty field was filled in outside {{FrontSide}}: Anki makes the card


def render_card(template: str, fields: dict[str, str], front_side: str = "") -> Rendered:
    """Fill `template` with `fields` (name -> HTML) as Anki does; `front_side` for {{FrontSide}}."""
    out: list[str] = []
    shows_a_field = False
    open_sections: list[tuple[str, bool]] = []  # (field name, whether its content is kept)
    position = 0
    for tag in _TAG.finditer(template):
        keeping = all(kept for _, kept in open_sections)
        if keeping:
            out.append(template[position:tag.start()])
        position = tag.end()
        content = tag.group(1).strip()
        marker, name = (content[0], content[1:].strip()) if content[:1] in "#^/" else ("", content)
        if marker in ("#", "^"):
            _known(name, fields)
            kept = field_is_empty(fields[name]) == (marker == "^")
            open_sections.append((name, kept))
        elif marker == "/":
            if not open_sections or open_sections[-1][0] != name:
                raise CardTemplateError(f"{{{{/{name}}}}} closes no open {{{{#{name}}}}}")
            open_sections.pop()
        elif name == FRONT_SIDE:
            if keeping:
                out.append(front_side)
        else:
            if ":" in name:
                raise CardTemplateError(f"the preview does not know the filter in {{{{{name}}}}}")
            _known(name, fields)
            if keeping:
                out.append(fields[name])
                shows_a_field = shows_a_field or not field_is_empty(fields[name])
    if open_sections:
        raise CardTemplateError(f"{{{{#{open_sections[-1][0]}}}}} is never closed")
    out.append(template[position:])
    return Rendered("".join(out), shows_a_field)


def _known(name: str, fields: dict[str, str]) -> None:
    if name not in fields:
        raise CardTemplateError(f"{{{{{name}}}}} names no field of the note type ({', '.join(fields)})")
