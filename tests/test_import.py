"""`build.py import` on real banks people bring (tests/fixtures/real/, each with its SOURCE.md):
an English Markdown Q&A document, two Chinese ones (one mostly formulas), and two Anki CSV/TSV
decks. Each import is built, and every item and every formula is looked for in every output by
the readers a learner uses (Anki's engine, a PDF's outline and structure tree, epubcheck and the
EPUB's navigation and MathML); then the rules on small
documents written here: HTML, links, images, formulas, CSV headers, and refusals."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader

from conftest import FIXTURES, run_build, tiny_png
from pdfread import page_text
from ankiread import col, import_apkg, log_counts, notes_by_item  # noqa: F401 - col is a fixture
from epubread import Book, epubcheck
from pdfread import alt_texts, outline_leaves

from qbank.importers import _formulas_as_text
from qbank.importers.common import ImportedItem
from qbank.importers.markup import invalid_math_as_text
from qbank.lock import Lock
from qbank.render import render_bank
from qbank.writers.formulas import MATH_SPAN
from qbank.lint import html_tags, lint_bank
from qbank.reader import load_bank

REAL = FIXTURES / "real"
MATHML = "http://www.w3.org/1998/Math/MathML"
# (source, --format, bank id, --lang, items, items whose answer continues on further flashcards).
# No output refuses what another can show: an answer longer than a card continues.
REAL_BANKS = [
    ("data-science-interviews/theory.md", "qa", "ds-theory", "en", 39, {"what-are-the-main-assumptions-of-linear"}),
    ("deeplearning-500-questions/ch03.md", "qa", "dl-500-ch03", "zh-CN", 31,
     {"3-4-2", "3-4-3", "3-4-8-relu-0", "3-4-10-softmax", "3-4-11", "3-4-12-center-loss", "3-6-7", "3-6-10-bn"}),
    ("pumpkin-book/ch04.md", "qa", "pumpkin-ch04", "zh-CN", 4, {"4-2-5-4-6"}),
    ("anki-csv/docker.csv", "csv", "docker", "en", 21, set()),
    ("anki-csv/lvm.csv", "csv", "lvm", "en", 14, set()),
]
# How many distinct formulas each bank holds, counted once by hand: a bank whose formulas all
# went missing would otherwise find the same nothing in every output.
FORMULAS = {"ds-theory": 0, "dl-500-ch03": 116, "pumpkin-ch04": 79, "docker": 0, "lvm": 0}
# What Anki's MathJax typesets in a field: \(…\) inline, \[…\] displayed.
ANKI_MATH = re.compile(r"\\\((.*?)\\\)|\\\[(.*?)\\\]", re.DOTALL)


def _items(bank: dict) -> list[dict]:
    """A bank's items, in their order, whether it has sections or not."""
    return bank.get("items") or [item for section in bank.get("sections", []) for item in section["items"]]


def _import(source: Path, *args: object) -> tuple[object, dict]:
    result = run_build("import", source, *args)
    bank = yaml.safe_load(Path(args[args.index("-o") + 1]).read_text(encoding="utf-8")) if result.returncode == 0 else {}
    return result, bank


@pytest.fixture(scope="module", params=REAL_BANKS, ids=[spec[2] for spec in REAL_BANKS])
def real_build(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    source, format_, bank_id, lang, count, continued = request.param
    folder = tmp_path_factory.mktemp(bank_id)
    target = folder / "bank" / f"{bank_id}.yaml"
    result, bank = _import(REAL / source, "--format", format_, "--id", bank_id, "--lang", lang, "-o", target)
    assert result.returncode == 0, result.stderr
    assert f"wrote {target}: {count} items" in result.stdout
    built = run_build(target, "--out", folder / "dist")
    assert built.returncode == 0 and "warning" not in built.stderr, built.stderr
    return folder / "dist", target, bank, result, continued


def test_every_item_is_in_every_output(real_build, col) -> None:  # noqa: F811
    dist, target, bank, _, _ = real_build
    items = _items(bank)
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids) and all(item["answer"]["lead"].strip() for item in items)
    # Anki's engine imports one note per item, each with its answer.
    log = import_apkg(col, dist / f"{bank['id']}.apkg")
    assert log_counts(log) == {"new": len(items), "updated": 0, "duplicate": 0, "conflicting": 0}
    assert set(notes_by_item(col)) == set(ids)
    # The cheat sheet and the flashcards have a bookmark per item, in order (on the cheat
    # sheet, under its section's).
    for output, numbered in [(f"{bank['id']}.pdf", True), (f"{bank['id']}.cards.pdf", False)]:
        outline = outline_leaves(PdfReader(dist / output))
        assert len(outline) == len(items), output
        if numbered:
            assert [title.split(". ", 1)[0] for title in outline] == [str(n) for n in range(1, len(items) + 1)]
    # The book is valid, and its contents lead to every item.
    epubcheck(dist / f"{bank['id']}.epub")
    targets = [href.rsplit("#", 1)[-1] for _, href in Book(dist / f"{bank['id']}.epub").toc_entries()]
    assert [t for t in targets if t.startswith("item-")] == [f"item-{item_id}" for item_id in ids]


def test_every_formula_is_typeset_the_same_in_every_output(real_build, col) -> None:  # noqa: F811
    """Every formula of the bank (MathJax typesets each: the build warned of none shown as TeX)
    is in Anki's fields as written, MathJax's MathML with its TeX in the EPUB, and a figure with
    its TeX as alternative text in both tagged PDFs: the same formulas everywhere."""
    dist, target, bank, _, _ = real_build
    doc = render_bank(load_bank(target), Lock.open(target))
    everywhere = {tex for tex, _ in doc.formulas}
    on_cards = {html.unescape(span[2]) for path, field in doc.fields.items() if path[0] == "items"
                for span in MATH_SPAN.finditer(field)}
    import_apkg(col, dist / f"{bank['id']}.apkg")
    in_anki = {html.unescape(found[1] or found[2]) for note in notes_by_item(col).values() for field in note.fields
               for found in ANKI_MATH.finditer(field)}
    book = Book(dist / f"{bank['id']}.epub")
    in_book = {annotation.text for path in book.spine for annotation in book.xhtml(path).iter(f"{{{MATHML}}}annotation")}
    assert in_book == everywhere
    assert in_anki == on_cards
    assert everywhere <= set(alt_texts(PdfReader(dist / f"{bank['id']}.pdf")))
    assert on_cards <= set(alt_texts(PdfReader(dist / f"{bank['id']}.cards.pdf")))
    assert len(everywhere) == FORMULAS[bank["id"]]
    if bank["id"] == "pumpkin-ch04":
        assert sum(bool(re.search(r"[\u4e00-\u9fff]", tex)) for tex in everywhere) == 24


def test_the_long_answers_continue_on_further_flashcards(real_build) -> None:
    dist, _, bank, _, continued = real_build
    items = _items(bank)
    fronts = "".join(page_text(page) for page in PdfReader(dist / f"{bank['id']}.cards.pdf").pages[::2])
    # Each front's head: "4. Question card 2 of 3", "5. 面试题 第 2 张 / 共 3 张".
    later_cards = re.findall(r"(\d+)\.(?:Question|面试题)(?:card|第)([2-9]|\d\d)", fronts)
    assert {items[int(number) - 1]["id"] for number, _ in later_cards} == continued
    # and each of those fronts says it continues: "(continued, 2 of 3)", "（续 2/3）".
    label = "（续" if bank["lang"].startswith("zh") else "(continued,"
    assert fronts.count(label) == len(later_cards)


def test_sections_are_kept_in_order_and_ids_come_from_titles(real_build) -> None:
    _, target, bank, result, _ = real_build
    items = _items(bank)
    sections = [(section["id"], section["title"], len(section["items"])) for section in bank.get("sections", [])]
    if bank["id"] == "ds-theory":
        assert bank["title"] == "Theoretical interview questions"
        assert sections == [("supervised-machine-learning", "Supervised machine\xa0learning", 1),
                            ("linear-regression", "Linear regression", 13), ("validation", "Validation", 6),
                            ("classification", "Classification", 19)]
        assert items[1]["id"] == "what-is-regression-which-models-can-you-use-to"
        assert items[1]["title"] == "What is regression? Which models can you use to solve a regression problem? 👶"
        # Bold paragraphs inside an answer ("**Bias** is the error …") are not questions.
        assert not any(item["title"].startswith("Bias") for item in items)
        # The table of contents' anchor links would be refused by the loader.
        assert "(#" not in yaml.safe_dump(bank)
    if bank["id"] == "dl-500-ch03":
        assert sections == [("3-3", "3.3 超参数", 3), ("3-4", "3.4 激活函数", 13), ("3-5-batch-size", "3.5 Batch_Size", 5),
                            ("3-6", "3.6 归一化", 10)]
        assert items[0]["id"] == "3-3-1" and items[0]["title"] == "3.3.1 什么是超参数？"
        assert "3-4-12-2" not in [item["id"] for item in items]  # its two 3.4.12 differ by their words
        # Missing images are said and not referenced; the kept ones are copied beside the bank.
        assert "image 'img/ch3/3.4.9.1.png' is not a PNG, JPEG or GIF file found" in result.stderr
        assert (target.parent / "img" / "ch3" / "3-26.png").read_bytes() == (
            REAL / "deeplearning-500-questions" / "img" / "ch3" / "3-26.png").read_bytes()
        assert "3.4.9.1.png" not in target.read_text(encoding="utf-8")
        # MathJax, Anki's engine, typesets every formula here (f^{`}(x) too, which pandoc's
        # reader refused): none is kept as text.
        assert "kept as text" not in result.stderr
        assert "f^{`}(x) =1" in target.read_text(encoding="utf-8")
    if bank["id"] == "pumpkin-ch04":
        assert [(title, count) for _, title, count in sections] == [("4.2 划分选择", 4)]
        assert items[3]["id"] == "4-2-5-4-6" and items[3]["title"] == "4.2.5 式(4.6)的解释"
        # Chinese inside \text{}, and a brace opened in one formula and closed in another:
        # MathJax typesets them all, so none is kept as text.
        assert "kept as text" not in result.stderr
        assert r"\operatorname{Gini\_index}(D,\text{色泽}=\text{青绿})" in items[3]["answer"]["lead"]
    if bank["id"] == "lvm":
        assert items[0] == {"id": "what-does-lsblk-do", "title": "What does lsblk do?",
                            "question": "What does lsblk do?", "answer": {"lead": "list block devices"}}


def test_lint_names_the_html_the_real_banks_show_as_text(real_build) -> None:
    _, target, bank, _, _ = real_build
    warnings = [w.message for w in lint_bank(load_bank(target))]
    html = [w for w in warnings if w.startswith("HTML is shown as its characters")]
    if bank["id"] == "ds-theory":  # the note's <table> and the formulas drawn by a web service (<img src="https://…">)
        assert any("<table> (write a pipe table)" in w for w in html)
        assert any("<img> (write ![what it shows](images/x.png)" in w for w in html)
    else:
        assert html == []


# -- the rules, on documents written here -------------------------------------------------------


def test_safe_html_becomes_markdown_and_the_rest_is_named_by_lint(tmp_path: Path) -> None:
    (tmp_path / "src" / "pics").mkdir(parents=True)
    (tmp_path / "src" / "pics" / "dot.png").write_bytes(tiny_png())
    source = tmp_path / "src" / "notes.md"
    source.write_text(
        "# Notes\n\n## Chemistry\n\n**What is <i>water</i>?**\n\n"
        "H<sub>2</sub>O, <b>always</b>.<br/>\nSee <img src=\"pics/dot.png\" alt=\"a dot\"> and x<sup>2</sup>.\n"
        "<span style=\"color:red\">red</span> and `<b>code</b>`\n\n<br/>\n\n**Unanswered?**\n", encoding="utf-8")
    target = tmp_path / "out" / "notes.yaml"
    result, bank = _import(source, "--format", "qa", "--id", "notes", "--lang", "en", "-o", target)
    assert result.returncode == 0, result.stderr
    item = _items(bank)[0]
    assert item["title"] == "What is *water*?" and "tags" not in item
    assert [(section["id"], section["title"]) for section in bank["sections"]] == [("chemistry", "Chemistry")]
    assert item["answer"]["lead"] == ("H~2~O, **always**.\\\nSee ![a dot](pics/dot.png) and x^2^.\n"
                                      "<span style=\"color:red\">red</span> and `<b>code</b>`")
    assert (tmp_path / "out" / "pics" / "dot.png").read_bytes() == tiny_png()
    assert len(_items(bank)) == 1 and "question 'Unanswered?' has no answer: left out" in result.stderr
    assert html_tags(item["answer"]["lead"]) == ["span"]
    warning, = [w for w in lint_bank(load_bank(target)) if w.message.startswith("HTML")]
    assert warning.item_id == "what-is-water" and "<span> (no Markdown for it: remove it)" in warning.message


def test_images_outside_the_source_folder_are_not_read_or_copied(tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(tiny_png())
    (tmp_path / "src").mkdir()
    os.symlink(tmp_path / "secret.png", tmp_path / "src" / "link.png")
    source = tmp_path / "src" / "doc.md"
    source.write_text("## Q?\n\n![up](../secret.png) ![via a link](link.png) ![web](https://example.com/x.png)\n",
                      encoding="utf-8")
    target = tmp_path / "out" / "doc.yaml"
    result, bank = _import(source, "--format", "qa", "--id", "doc", "--lang", "en", "-o", target)
    assert result.returncode == 0, result.stderr
    assert bank["items"][0]["answer"]["lead"] == "up via a link [web](https://example.com/x.png)"
    assert sorted(p.name for p in target.parent.iterdir()) == ["doc.yaml"]


def test_anki_headers_and_a_spreadsheet_header_row(tmp_path: Path) -> None:
    anki = tmp_path / "notes.txt"
    anki.write_text("#separator:Semicolon\n#html:true\n#columns:Front;Back;Tags\n#tags column:3\n"
                    "What is <b>2+2</b>?;\"4<br>always\";math basics\n", encoding="utf-8")
    result, bank = _import(anki, "--id", "anki", "--lang", "en", "-o", tmp_path / "a" / "anki.yaml")
    assert result.returncode == 0, result.stderr
    assert bank["items"] == [{"id": "what-is-2-2", "title": "What is **2+2**?", "question": "What is **2+2**?",
                              "answer": {"lead": "4\\\nalways"}, "tags": ["math", "basics"]}]
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("问题,答案,标签\n什么是过拟合？,\"模型记住了训练集，\n泛化变差\",机器学习\n", encoding="utf-8")
    result, bank = _import(sheet, "--id", "sheet", "--lang", "zh-CN", "-o", tmp_path / "s" / "sheet.yaml")
    assert result.returncode == 0, result.stderr
    item, = bank["items"]
    assert item["id"].startswith("q-") and item["answer"]["lead"] == "模型记住了训练集，\n泛化变差"
    assert item["tags"] == ["机器学习"]


def test_a_deck_column_makes_the_sections(tmp_path: Path) -> None:
    """Anki's export with decks (`#deck column`): a section per deck, in the order each first
    comes, named without the levels every deck shares."""
    anki = tmp_path / "decks.txt"
    anki.write_text("#separator:tab\n#html:false\n#deck column:1\n"
                    "Ops::Docker\tdocker ps\tlist containers\n"
                    "Ops::Disks::LVM\tlvs\tlist logical volumes\n"
                    "Ops::Docker\tdocker rm\tremove a container\n", encoding="utf-8")
    result, bank = _import(anki, "--id", "ops", "--lang", "en", "-o", tmp_path / "o" / "ops.yaml")
    assert result.returncode == 0, result.stderr
    assert [(section["id"], section["title"], [item["title"] for item in section["items"]])
            for section in bank["sections"]] == [("docker", "Docker", ["docker ps", "docker rm"]),
                                                 ("disks-lvm", "Disks::LVM", ["lvs"])]
    assert [item.number for item in load_bank(tmp_path / "o" / "ops.yaml").items] == [1, 2, 3]


@pytest.mark.parametrize(("name", "data", "message"), [
    ("gbk.csv", "问题,答案\n一,二\n".encode("gbk"), "gbk.csv:1: not valid UTF-8"),
    ("huge.csv", b"q,a\nx,\"" + b"y" * 100_001 + b"\"\n", "huge.csv:2: a field is longer than 100,000 characters"),
    ("empty.csv", b"only,\n", "no row has both a front and a back"),
    ("prose.md", b"# Essay\n\nJust prose.\n", "prose.md: no questions found"),
])
def test_what_cannot_be_read_is_one_line_and_writes_nothing(tmp_path: Path, name: str, data: bytes,
                                                            message: str) -> None:
    source = tmp_path / name
    source.write_bytes(data)
    target = tmp_path / "out" / "x.yaml"
    result = run_build("import", source, "--format", "qa" if name.endswith(".md") else "csv",
                       "--id", "x", "--lang", "zh-CN", "-o", target)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert not target.exists()


def test_a_formula_mathjax_rejects_is_kept_as_text() -> None:
    """What would stop the build (MathJax's own refusal) is imported as text, with a note."""
    texts, notes = invalid_math_as_text(["Fine: $x^2$. Broken: $\\frac{1}{$ here."])
    assert texts == ["Fine: $x^2$. Broken: \\$\\frac{1}{\\$ here."]
    assert notes == ["the formula '\\frac{1}{' is kept as text: MathJax rejects it (Missing close brace)"]


def test_a_key_point_of_an_imported_item_is_checked_for_formulas_too() -> None:
    """Every Markdown text an importer gives an item (an Anki deck's key points included) is
    checked, so a formula MathJax rejects cannot reach the build."""
    item = ImportedItem("Title $x$", "Question?", "Answer.", 1, points=[("Term", "Broken: $\\frac{1}{$ here.")])
    description, notes = _formulas_as_text("", [item])
    assert item.points == [("Term", "Broken: \\$\\frac{1}{\\$ here.")] and item.title == "Title $x$"
    assert notes == ["the formula '\\frac{1}{' is kept as text: MathJax rejects it (Missing close brace)"]
