"""Every formula of a build typeset once by MathJax 3, the engine Anki's reviewer typesets it with.

Anki is the reference: a formula is valid when MathJax accepts it, and MathJax's message is
the error for one it rejects. The same run gives each formula as SVG (for the printed outputs,
qbank/writers/formulas.py) and as MathML (for the EPUB), so every output shows what the deck
shows. One Node process per build reads the formulas as JSON lines (qbank/mathjax.js); each
distinct formula is typeset once per process of ours, so a rebuild of the same bank in the
preview or a test asks Node only for formulas it has not seen.

Without Node or MathJax (node_modules/, installed by tasks.sh), or if MathJax stops or runs
out of time, the build goes on: the formulas are not checked, and the printed outputs and the
EPUB show their TeX in a code face; a warning says so.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .processes import subprocess_dies_with_parent

ROOT = Path(__file__).resolve().parent.parent
MATHJAX = ROOT / "node_modules" / "mathjax"  # package.json pins the version Anki ships
SCRIPT = Path(__file__).with_name("mathjax.js")
SVG = "http://www.w3.org/2000/svg"
MATHML = "http://www.w3.org/1998/Math/MathML"
EM = 1000.0  # MathJax's SVG units per em
EX = 0.442  # MathJax's x-height, in em: lengths it gives in ex
# Node starts MathJax in about 0.5 s, then typesets 100-300 formulas a second on one core.
START_SECONDS = 30.0
SECONDS_PER_FORMULA = 0.1
# MathJax's own variants, which MathML has not: the nearest MathML one, or none.
TEX_VARIANTS = {"-tex-calligraphic": "script", "-tex-bold-calligraphic": "bold-script",
                "-tex-mathit": "italic", "-tex-oldstyle": None, "-tex-bold-oldstyle": "bold", "-tex-variant": None}
# A mathvariant as Unicode names its letters and digits (MATHEMATICAL BOLD SMALL X); a few
# are older characters (DOUBLE-STRUCK CAPITAL R, PLANCK CONSTANT, BLACK-LETTER CAPITAL C).
VARIANT_NAMES = {
    "bold": "BOLD", "italic": "ITALIC", "bold-italic": "BOLD ITALIC", "double-struck": "DOUBLE-STRUCK",
    "script": "SCRIPT", "bold-script": "BOLD SCRIPT", "fraktur": "FRAKTUR", "bold-fraktur": "BOLD FRAKTUR",
    "sans-serif": "SANS-SERIF", "bold-sans-serif": "SANS-SERIF BOLD", "sans-serif-italic": "SANS-SERIF ITALIC",
    "sans-serif-bold-italic": "SANS-SERIF BOLD ITALIC", "monospace": "MONOSPACE",
}
OLDER_NAMES = {"ITALIC SMALL H": "PLANCK CONSTANT", "FRAKTUR CAPITAL": "BLACK-LETTER CAPITAL"}
LETTER_TOKENS = (f"{{{MATHML}}}mi", f"{{{MATHML}}}mn")
_MIN_WIDTH = re.compile(r"min-width: ([\d.]+)ex")

Key = tuple[str, bool]  # a formula's TeX, and whether it is displayed


@dataclass(frozen=True)
class Formula:
    svg: str  # an inline <svg> sized in em, its <title> the TeX; text in font-family "serif"; a
    # display with \tag numbers: a block of two, the formula's and the numbers' (_tagged)
    mathml: str  # <math> with the TeX as its annotation


@dataclass(frozen=True)
class Typeset:
    formulas: dict[Key, Formula]  # every formula MathJax typeset
    errors: dict[Key, str]  # MathJax's message for each formula it rejects
    missing: frozenset[Key]  # formulas left untypeset (MathJax absent, stopped, out of time)
    reason: str = ""  # why they were left


_known: dict[Key, Formula | str] = {}  # this process's answers so far: a Formula or MathJax's message


def typeset(wanted: Iterable[Key]) -> Typeset:
    """Each formula of `wanted` typeset, or MathJax's reason to reject it."""
    wanted = set(wanted)
    asked = sorted(wanted - set(_known))
    reason = _ask_mathjax(asked) if asked else ""
    answers = {key: _known[key] for key in wanted if key in _known}
    return Typeset(
        formulas={key: answer for key, answer in answers.items() if isinstance(answer, Formula)},
        errors={key: answer for key, answer in answers.items() if isinstance(answer, str)},
        missing=frozenset(wanted - set(answers)),
        reason=reason,
    )


def _ask_mathjax(asked: list[Key]) -> str:
    """Typeset `asked` into _known; returns why some were left, or ''."""
    node = shutil.which("node")
    if node is None or not (MATHJAX / "package.json").is_file():
        return "Node.js or MathJax is not installed (`bash tasks.sh build` installs them)"
    requests = "".join(json.dumps({"tex": tex, "display": display}) + "\n" for tex, display in asked)
    timeout = START_SECONDS + SECONDS_PER_FORMULA * len(asked)
    try:
        completed = subprocess.run([node, str(SCRIPT), str(MATHJAX)], input=requests.encode("utf-8"),
                                   capture_output=True, timeout=timeout, check=False, **subprocess_dies_with_parent())
    except subprocess.TimeoutExpired as expired:
        completed = subprocess.CompletedProcess([], -1, expired.stdout or b"", expired.stderr or b"")
        stopped = f"MathJax did not finish within {timeout:.0f} s"
    else:
        stopped = f"MathJax stopped: {completed.stderr.decode('utf-8', 'replace').strip()[-300:]}"
    answered = completed.stdout.decode("utf-8", "replace").split("\n")[:-1]  # whole lines: a stopped one may end in the middle
    for key, line in zip(asked, answered):
        answer = json.loads(line)
        if "error" in answer:
            _known[key] = html.unescape(answer["error"])
        else:
            try:
                _known[key] = _formula(key, answer["svg"], answer["mathml"])
            except (ET.ParseError, ValueError, TypeError, AttributeError) as error:  # a picture of a kind not foreseen
                stopped = f"MathJax's picture of '{key[0]}' could not be read ({error})"
    return "" if all(key in _known for key in asked) else stopped


def _formula(key: Key, svg: str, mathml: str) -> Formula:
    return Formula(_print_svg(key, svg), _book_mathml(key[0], mathml))


def _without_foreign_attributes(root: ET.Element) -> None:
    """Drop what only MathJax reads (data-*), ids (each formula's own, they would collide in a
    page), and links, classes and styles, which bank TeX can set (\\mmlToken, \\bbox, \\unicode)
    and must not: MathJax draws with attributes of its own (fill, stroke, font-family)."""
    for element in root.iter():
        for name in list(element.attrib):
            local = name.rsplit("}", 1)[-1]
            if local.startswith("data-") or local in ("id", "href", "class", "style") or "url(" in element.attrib[name]:
                del element.attrib[name]


def _print_svg(key: Key, container: str) -> str:
    """MathJax's SVG as a picture for WeasyPrint: sized in em of the text around it, lowered
    by its depth onto the baseline, the TeX as its title (the tagged PDF's alternative text).
    A display with \\tag numbers is two pictures in a block (_tagged)."""
    tex, display = key
    svg = ET.fromstring(container).find(f"{{{SVG}}}svg")
    if "viewBox" not in svg.attrib:
        return _tagged(tex, svg)
    return _xml(_picture(svg, tex, f"math {'display' if display else 'inline'}", inline=not display), SVG)


def _picture(svg: ET.Element, title: str, classes: str, inline: bool = False) -> ET.Element:
    """`svg`, with a viewBox in MathJax's units, as WeasyPrint draws it (_print_svg)."""
    _without_foreign_attributes(svg)
    for text in svg.iter(f"{{{SVG}}}text"):
        # MathJax advances 1 em per CJK character (LiteAdaptor's cjkCharWidth), as a CJK
        # face draws it; at its default 0.884 em, the characters of 点击次数 stood apart.
        text.set("font-size", f"{EM:g}px")
    x, y, width, height = (float(number) / EM for number in svg.get("viewBox").split())
    svg.set("width", f"{width:.4f}em")
    svg.set("height", f"{height:.4f}em")
    svg.attrib.pop("focusable", None)
    svg.set("class", classes)
    if inline:
        svg.set("style", f"vertical-align: {-(y + height):.4f}em")
    element = ET.Element(f"{{{SVG}}}title")
    element.text = title
    svg.insert(0, element)
    return svg


def _tagged(tex: str, svg: ET.Element) -> str:
    """A display with \\tag numbers as Anki shows it: the formula centred in the column, the
    numbers at the column's right edge. MathJax makes it as wide as its container (width 100%):
    two nested <svg>s, each a viewBox one unit wide that preserveAspectRatio puts in the middle
    (the formula) or at the right edge (the numbers), which WeasyPrint does not draw. So here
    they are two pictures in a block, after a space as wide as the numbers' picture (which holds
    MathJax's space before them): the stylesheet spreads the three across the column, and
    shrinks them alike where the column is narrower (templates/print/content.css). The
    numbers' picture has their text as its title: the tagged PDF gives every figure
    alternative text."""
    nested = {("table" if "data-table" in inner.attrib else "labels"): inner for inner in svg.iter(f"{{{SVG}}}svg")}
    _, top, _, height = (float(number) for number in nested["table"].get("viewBox").split())
    # Each content starts at 0; the viewBox's unit is at its middle (the formula) or its right end (the numbers).
    formula_width = 2 * float(nested["table"].get("viewBox").split()[0]) + 1
    room = (float(_MIN_WIDTH.search(svg.get("style"))[1]) * EX * EM - formula_width) / 2  # either side of it
    numbers_width = float(nested["labels"].get("viewBox").split()[0]) + 1
    numbers = " ".join("".join(chr(int(glyph.get("data-c"), 16)) for glyph in label.iter(f"{{{SVG}}}path")
                               if glyph.get("data-c"))
                       for label in nested["labels"].iter(f"{{{SVG}}}g") if label.get("data-mml-node") == "mtd")
    pictures = []
    for name, left, width, title, classes in (("table", 0, formula_width, tex, "math display"),
                                              ("labels", numbers_width - room, room, numbers, "math tags")):
        picture = ET.Element(f"{{{SVG}}}svg", {"viewBox": f"{left:.1f} {top:g} {width:.1f} {height:g}", "role": "img"})
        picture.extend(list(nested[name]))
        pictures.append(_xml(_picture(picture, title, classes), SVG))
    return (f'<span class="math display tagged"><span class="math tags-room" style="width: {room / EM:.4f}em"></span>'
            f'{"".join(pictures)}</span>')


def _book_mathml(tex: str, mathml: str) -> str:
    """MathJax's MathML as the EPUB wants it: MathML 3 only, with the TeX as its annotation."""
    math = ET.fromstring(mathml)
    _without_foreign_attributes(math)
    for element in math.iter():
        if len(element):  # MathJax indents its MathML: whitespace between elements only
            element.text = None
        element.tail = None
        for name in [name for name, value in element.attrib.items() if value == ""]:
            # MathJax writes some as empty (an aligned's columnspacing); pandoc writes an empty
            # attribute bare, as HTML may and XHTML may not.
            del element.attrib[name]
        variant = element.get("mathvariant", "")
        if variant.startswith("-tex-"):
            if TEX_VARIANTS.get(variant):
                element.set("mathvariant", TEX_VARIANTS[variant])
            else:
                del element.attrib["mathvariant"]
        if element.tag in LETTER_TOKENS:
            _in_styled_characters(element)
    for table in math.iter(f"{{{MATHML}}}mtable"):
        _labels_as_cells(table)
    semantics = ET.Element(f"{{{MATHML}}}semantics")
    row = ET.SubElement(semantics, f"{{{MATHML}}}mrow")
    row.extend(list(math))
    annotation = ET.SubElement(semantics, f"{{{MATHML}}}annotation", encoding="application/x-tex")
    annotation.text = tex
    for child in list(math):
        math.remove(child)
    math.append(semantics)
    math.set("display", "block" if math.get("display") == "block" else "inline")
    return _xml(math, MATHML)


def styled(ch: str, variant: str) -> str:
    """`ch` in a mathvariant's own character (x, bold: 𝐱; R, double-struck: ℝ); else ''."""
    if variant not in VARIANT_NAMES or not (ch.isalpha() or ch.isdigit()):
        return ""
    name = f"{VARIANT_NAMES[variant]} {re.sub(r'^(LATIN|GREEK) |LETTER ', '', unicodedata.name(ch, ''))}"
    older = next((name.replace(prefix, character) for prefix, character in OLDER_NAMES.items()
                  if name.startswith(prefix)), name)
    for candidate in (f"MATHEMATICAL {name}", older):
        try:
            return unicodedata.lookup(candidate)
        except KeyError:
            pass
    return ""


def _in_styled_characters(token: ET.Element) -> None:
    """`token` (<mi>, <mn>) with its mathvariant's characters (\\mathbb{R}: ℝ) in place of the
    attribute, which MathML Core, so Chromium and WebKit (Apple Books), ignores but for
    "normal": they drew ℝ as an italic R and \\boldsymbol{\\theta} as a plain θ. A single
    letter keeps mathvariant="normal", lest a reader italicise 𝐱 again; a character with no
    such form (Chinese, ∇) stays as it is, and so does the attribute, for readers that know it."""
    variant = token.get("mathvariant", "")
    if variant not in VARIANT_NAMES or not token.text:
        return
    characters = [styled(ch, variant) for ch in token.text]
    token.text = "".join(new or old for new, old in zip(characters, token.text))
    if not all(characters):
        return
    if token.tag == f"{{{MATHML}}}mi" and len(token.text) == 1:
        token.set("mathvariant", "normal")
    else:
        del token.attrib["mathvariant"]


def _labels_as_cells(table: ET.Element) -> None:
    """`table`'s rows with \\tag numbers (<mlabeledtr>, whose first cell is the number) as
    plain rows with the number as a cell of its own, at the end (or the start, for
    side="left"). MathML Core, which Chromium and WebKit (Apple Books) render, has no
    <mlabeledtr>: they showed the number before the formula and stacked its cells' contents."""
    left = table.get("side") == "left"
    rows = list(table)
    if not any(row.tag == f"{{{MATHML}}}mlabeledtr" for row in rows):
        return
    for row in rows:
        cells = list(row)
        if row.tag == f"{{{MATHML}}}mlabeledtr":
            row.tag = f"{{{MATHML}}}mtr"
            label, cells = cells[0], cells[1:]
            label.set("columnalign", "left" if left else "right")
            spacing = ET.Element(f"{{{MATHML}}}mspace", width="1em")  # apart from the formula
            label.insert(len(label) if left else 0, spacing)
        else:  # an unnumbered row: an empty cell where the others have their number
            label = ET.Element(f"{{{MATHML}}}mtd")
        for cell in list(row):
            row.remove(cell)
        row.extend([label, *cells] if left else [*cells, label])
    if left and table.get("columnalign"):  # its columns' alignments, each now a column further
        table.set("columnalign", "left " + table.get("columnalign"))


def _xml(root: ET.Element, namespace: str) -> str:
    """`root` written with `namespace` as the default one, as HTML wants inline SVG and MathML
    (ElementTree's default_namespace refuses attributes without a namespace)."""
    ET.register_namespace("", namespace)
    return ET.tostring(root, encoding="unicode")


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
