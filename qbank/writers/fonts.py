"""Which fonts the printed and e-book outputs draw with, and whether they cover the bank's text.

A bank's text is drawn from a stack of families (templates/fonts.yaml): its language's own,
then symbols and math, CJK, and emoji; code from monospace families, then the same stack. As in
CSS, and in Pango, which lays out WeasyPrint's text, each character comes from the first
installed family of the stack that has it. The PDF (which embeds a subset through WeasyPrint)
and the EPUB (which embeds subsets we make) both need that answer, so it is found here once.
Fonts are located with fontconfig, which WeasyPrint itself uses, so the file we check is the
file that gets rendered.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

from fontTools.ttLib import TTFont
from markupsafe import Markup

from ..model import BankError, Location, MissingTool, Problem
from ..document import RenderedBank, plain_text
from ..templating import css_string, for_language, read_table

# Elements whose text is set in the monospace stack (the print, EPUB and Anki stylesheets
# give them the mono_font_stack family).
CODE_ELEMENTS = frozenset({"code", "pre", "kbd", "samp"})


@dataclass(frozen=True)
class FontFace:
    family: str
    path: Path
    index: int  # the face's number inside a .ttc collection (0 for a plain .otf/.ttf)
    bold: bool

    def open(self) -> TTFont:
        return TTFont(self.path, fontNumber=self.index, lazy=True)


@dataclass(frozen=True)
class InstalledFamily:
    """A family fontconfig knows. Its files are looked up (with fc-match, as Pango would pick
    them) only when a face is needed: most banks need one or two families of their stack."""

    name: str

    @property
    def regular(self) -> FontFace:
        face = _match(self.name, bold=False)
        if face is None:
            raise FontMissing(f"fontconfig lists {self.name} but does not match it; run fc-cache")
        return face

    @property
    def bold(self) -> FontFace | None:
        """None when the family has no bold face of its own (renderers embolden the regular
        one): fontconfig then answers with the regular file, as for an emoji or math font."""
        bold = _match(self.name, bold=True)
        regular = self.regular
        return None if bold is None or (bold.path, bold.index) == (regular.path, regular.index) else bold

    @property
    def faces(self) -> tuple[FontFace, ...]:
        return (self.regular, self.bold) if self.bold else (self.regular,)


@dataclass(frozen=True)
class FontStack:
    """The families a bank's text is drawn from, in order of preference (CSS order)."""

    text: tuple[str, ...]  # prose: the language's families, then symbols, CJK and emoji
    mono: tuple[str, ...]  # code: monospace families, then `text`
    emoji: tuple[str, ...]  # the emoji families among them

    def installed(self, families: tuple[str, ...]) -> tuple[InstalledFamily, ...]:
        return tuple(found for family in families if (found := installed_family(family)))

    def for_weasyprint(self, families: tuple[str, ...]) -> tuple[str, ...]:
        """The families to name in WeasyPrint's CSS: only installed ones, since it lays out on
        this machine (a missing "Arial" would let fontconfig put its stand-in before the next
        family), and no emoji font. Pango takes a listed emoji font for plain digits (WeasyPrint
        issues #1354, #2291), while for emoji it asks fontconfig for the colour font itself."""
        return tuple(family.name for family in self.installed(families) if family.name not in self.emoji)


@dataclass(frozen=True)
class ShownText:
    """The characters an HTML document shows, by the stack that draws them: the sets, not the
    text (a large bank's text would be tens of MB, gathered piece by piece)."""

    prose: frozenset[str]
    code: frozenset[str]


class FontMissing(MissingTool):
    """None of the bank's text families is installed (the setup step installs the first)."""


@cache
def font_stack(lang: str) -> FontStack:
    table = read_table("fonts.yaml")
    listed = [*for_language(table["languages"], lang, "default", "fonts.yaml"),
              *table["symbols"], *table["cjk"], *table["emoji"]]
    text = tuple(dict.fromkeys(listed))  # a CJK language's own families are already first
    return FontStack(text=text, mono=(*table["mono"], *text), emoji=tuple(table["emoji"]))


def css_font_family(families: Iterable[str], generic: str) -> Markup:
    """A CSS font-family value: each family quoted, then the generic family."""
    return Markup(", ".join([*(css_string(family) for family in families), generic]))


def template_font_stacks(text: Iterable[str], mono: Iterable[str]) -> dict[str, Markup]:
    """The two font-family values every stylesheet (print, EPUB, Anki) gets: for prose and for code."""
    return {"font_stack": css_font_family(text, "sans-serif"), "mono_font_stack": css_font_family(mono, "monospace")}


def _fontconfig(*arguments: str) -> str:
    if shutil.which(arguments[0]) is None:
        raise FontMissing(f"fontconfig's {arguments[0]} is not installed; run the project's setup step")
    return subprocess.run(arguments, capture_output=True, text=True, check=False).stdout


@cache
def _installed_family_names() -> frozenset[str]:
    """Every family name of every installed font: one fc-list call, not an fc-match process per
    family of a stack."""
    return frozenset(name for line in _fontconfig("fc-list", "--format=%{family}\n").splitlines()
                     for name in line.split(","))


@cache
def _match(family: str, bold: bool) -> FontFace | None:
    pattern = f"{family}:weight={'bold' if bold else 'regular'}"
    found = _fontconfig("fc-match", "--format=%{file}\n%{index}\n%{family}", pattern).split("\n")
    if len(found) < 3 or family not in found[2].split(","):
        return None  # fontconfig substituted another family: this one is not installed
    return FontFace(family, Path(found[0]), int(found[1] or 0), bold)


def installed_family(family: str) -> InstalledFamily | None:
    return InstalledFamily(family) if family in _installed_family_names() else None


@cache
def covered_characters(face: FontFace) -> frozenset[str]:
    cmap = face.open().getBestCmap()
    return frozenset(chr(code) for code in cmap)


def _needs_glyph(ch: str) -> bool | None:
    """True if `ch` is drawn from a font; None for a space, which a font should have (its
    advance) but shaping can do without (HarfBuzz falls back to the width of U+0020); False
    for what has no glyph: controls such as a newline in code, and the invisible characters
    that shaping consumes (joiners, variation selectors, tags inside emoji sequences)."""
    category = unicodedata.category(ch)
    if category in ("Cc", "Cf") or 0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF:
        return False
    return None if category == "Zs" else True


def _drawing_families(families: tuple[InstalledFamily, ...], characters: frozenset[str]
                      ) -> tuple[dict[InstalledFamily, set[str]], set[str]]:
    """The `characters` each family draws (each only what no earlier family has), and the
    characters no family has."""
    drawn: dict[InstalledFamily, set[str]] = {}
    missing = set()
    for ch in characters:
        if (needed := _needs_glyph(ch)) is False:
            continue
        family = next((family for family in families if ch in covered_characters(family.regular)), None)
        if family is not None:
            drawn.setdefault(family, set()).add(ch)
        elif needed:
            missing.add(ch)
    return drawn, missing


class _RoleSplitter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.prose: set[str] = set()
        self.code: set[str] = set()
        self._depth = 0  # how many code elements are open here

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in CODE_ELEMENTS:
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in CODE_ELEMENTS and self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        (self.code if self._depth else self.prose).update(data)


def shown_text(html: str) -> ShownText:
    """The characters of an HTML document, split into prose and code (which use different stacks)."""
    splitter = _RoleSplitter()
    splitter.feed(str(html))  # not as Markup, which makes the parser three times slower (plain_text)
    splitter.close()
    return ShownText(frozenset(splitter.prose), frozenset(splitter.code))


def glyph_sources(stack: FontStack, shown: ShownText) -> tuple[dict[InstalledFamily, set[str]], set[str]]:
    """Which characters each installed family of `stack` draws of those `shown`, and those none has.

    Code falls back from the monospace families to the text families, so a family may draw
    characters for both (the CJK face draws a Chinese comment in code as well as the prose).
    """
    drawn, missing = _drawing_families(stack.installed(stack.text), shown.prose)
    drawn_in_code, missing_in_code = _drawing_families(stack.installed(stack.mono), shown.code)
    for family, characters in drawn_in_code.items():
        drawn.setdefault(family, set()).update(characters)
    return drawn, missing | missing_in_code


def items_using(doc: RenderedBank, characters: set[str]) -> list[tuple[str | None, Location, str]]:
    """(item id, its place, the characters shown) for each item whose text uses any of
    `characters`. Bank-level text (title, preface, labels), and characters found in no text
    (a template's own), are reported at the bank's title."""
    used: dict[str | None, set[str]] = {}
    for item_id, html in doc.html_fragments():
        found = characters.intersection(plain_text(html))
        if found:
            used.setdefault(item_id, set()).update(found)
    unplaced = characters.difference(*used.values())
    if unplaced:
        used.setdefault(None, set()).update(unplaced)
    items = {item.id: item for item in doc.items}
    return [
        (item_id, items[item_id].location if item_id else doc.html.place(("title",)),
         " ".join(f"{ch} (U+{ord(ch):04X})" for ch in sorted(chars)))
        for item_id, chars in used.items()
    ]


def require_coverage(doc: RenderedBank, stack: FontStack) -> None:
    """Fail the build, naming each item and its characters, if no installed family of the
    stack can show them (FontMissing if none of its text families is installed).

    A character without a glyph would print as an empty box (.notdef), which a reader may
    take for real content; better no output than a silently wrong one.
    """
    installed = stack.installed(stack.text)
    if not installed:
        raise FontMissing(f"no font for language {doc.lang} is installed (tried {', '.join(stack.text)}); "
                          "run the project's setup step")
    prose: set[str] = set()
    code: set[str] = set()
    for _, html in doc.html_fragments():
        shown = shown_text(html)
        prose |= shown.prose
        code |= shown.code
    _, missing = glyph_sources(stack, ShownText(frozenset(prose), frozenset(code)))
    if not missing:
        return
    code_only = [family for family in stack.installed(stack.mono) if family not in installed]
    families = ", ".join(family.name for family in (*installed, *code_only))
    raise BankError([
        Problem(location, f"no glyph in any installed font of the stack ({families}) for: {characters}", item_id)
        for item_id, location, characters in items_using(doc, missing)
    ])
