"""Every kind of invalid bank is refused the same way: each problem as `file:line:col: [item ID]
message` on stderr, exit code 1, no traceback, and nothing written - no output, no lock file,
not even the output folder's previous files touched.

One fixture bank per kind lives in tests/fixtures/broken/. All of them go through ONE build
and ONE `--check` run, so the whole table costs two process starts; each kind is still its
own test, reading its own lines from stderr.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, SEED_BANK, copy_bank, run_build, traced_memory
from refusals import Expected, RefusedRun, refuse_all

from qbank import reader
from qbank.model import BankError
from qbank.reader import load_bank


BROKEN = FIXTURES / "broken"
A_REAL_PNG = FIXTURES / "hostile" / "images" / "pixel.png"

# Each fixture's lines and columns, read off the fixture files by hand.
CASES: dict[str, list[Expected]] = {
    "unknown-key": [
        Expected(11, 5, "second-item", "required key 'answer' is missing"),
        Expected(14, 5, "second-item", "unknown key 'anwser' (did you mean 'answer'?)"),
    ],
    "missing-field": [Expected(11, 5, "no-question", "required key 'question' is missing")],
    "empty-field": [
        Expected(7, 12, "blank-title", "item 1.title is empty"),
        Expected(13, 14, "null-question", "item 2.question is empty"),
    ],
    "wrong-type": [
        Expected(8, 15, "number-question", "item 1.question must be text, not a number (put it in quotes"),
        Expected(12, 12, "list-title", "item 2.title must be text, not a list"),
    ],
    "duplicate-id": [Expected(16, 5, "same-id", "item id 'same-id' is used twice (first at line 6)")],
    "bad-item-id": [Expected(6, 9, "Gradient_Clipping", "item 1.id 'Gradient_Clipping' is not a slug")],
    "bad-bank-id": [Expected(2, 5, None, "bank.id 'AI Startup Interview' is not a slug")],
    "bad-lang": [Expected(4, 7, None, "bank.lang 'zh_CN' is not a BCP 47 language tag")],
    # Image problems are found by the render step; they point at the field holding the image.
    "image-missing": [Expected(13, 15, "missing-image", "image 'images/does-not-exist.png' does not exist")],
    # At the text of the key point that holds the image, not at the list of points.
    "image-outside": [Expected(13, 17, "first-item", "image '../outside.png' lies outside the bank's folder")],
    "image-absolute": [
        Expected(11, 18, "absolute-image", "image '/usr/share/pixmaps/debian-logo.png' is an absolute path")
    ],
    "image-remote": [
        Expected(8, 15, "remote-image", "image 'https://example.com/pixel.png' is not a file in the bank's folder")
    ],
    "image-not-an-image": [Expected(10, 13, "fake-image", "image 'images/not-a-picture.png' is not really a PNG")],
    # Line 13 is `    question: 请解释梯度<GBK bytes>的作用。`: the column counts characters, not bytes.
    "invalid-utf8": [Expected(13, 20, "gbk-text", "not valid UTF-8 (byte 0xb2)")],
    # The quote opened on line 12 is never closed: reported where it opens, not at the end of the file.
    "yaml-syntax": [Expected(12, 12, "second-item", "YAML syntax: while scanning a quoted scalar")],
    "several-errors": [
        Expected(11, 5, "first-item", "unknown key 'tgas' (did you mean 'tags'?)"),
        Expected(12, 9, "Second Item", "item 2.id 'Second Item' is not a slug"),
        Expected(15, 13, "Second Item", "item 2.answer needs a lead, points, or both"),
        Expected(16, 5, "third-item", "required key 'question' is missing"),
    ],
}


def test_every_broken_fixture_has_a_case() -> None:
    assert sorted(path.stem for path in BROKEN.glob("*.yaml")) == sorted(CASES)


def _refuse_all(tmp_path: Path, *options: str) -> RefusedRun:
    # A real PNG just outside the bank folders, where image-outside.yaml points: refused for its
    # place alone, not because it is missing or broken.
    shutil.copy(A_REAL_PNG, tmp_path / "outside.png")
    banks = {case: copy_bank(BROKEN / f"{case}.yaml", tmp_path / case) for case in CASES}
    return refuse_all(banks, tmp_path / "out", ["broken"], *options)


@pytest.fixture(scope="module")
def broken_build(tmp_path_factory: pytest.TempPathFactory) -> RefusedRun:
    return _refuse_all(tmp_path_factory.mktemp("broken-build"))


@pytest.fixture(scope="module")
def broken_check(tmp_path_factory: pytest.TempPathFactory) -> RefusedRun:
    return _refuse_all(tmp_path_factory.mktemp("broken-check"), "--check")


@pytest.fixture(params=["build", "check"])
def broken_run(request: pytest.FixtureRequest) -> RefusedRun:
    return request.getfixturevalue(f"broken_{request.param}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_problem_is_reported_at_its_line_and_item(broken_run: RefusedRun, case: str) -> None:
    broken_run.assert_reported(case, CASES[case])


def test_invalid_banks_exit_1_without_a_traceback(broken_run: RefusedRun) -> None:
    broken_run.assert_failed_cleanly()


def test_nothing_is_written(broken_run: RefusedRun) -> None:
    broken_run.assert_nothing_written()


def test_no_output_folder_is_created_for_an_invalid_bank(tmp_path: Path) -> None:
    bank = copy_bank(BROKEN / "bad-lang.yaml", tmp_path / "bank")
    result = run_build(bank, "--out", tmp_path / "dist")
    assert result.returncode == 1, result.stderr
    assert not (tmp_path / "dist").exists()


# -- the reader on its own: details that need no process of their own ----------------------------


def _problems(path: Path) -> list[str]:
    with pytest.raises(BankError) as raised:
        load_bank(path)
    return [str(problem) for problem in raised.value.problems]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bank.yaml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """\
id: minimal
title: Minimal
lang: en
items:
  - id: only-item
    title: Only
    question: What?
    answer:
      lead: This.
"""


def test_a_minimal_bank_loads(tmp_path: Path) -> None:
    bank = load_bank(_write(tmp_path, MINIMAL))
    assert [item.id for item in bank.items] == ["only-item"]
    assert bank.items[0].answer.lead == "This."
    assert bank.items[0].answer.points == ()
    assert bank.closing is None and bank.description == "" and bank.items[0].tags == ()


def test_optional_fields_may_be_left_blank(tmp_path: Path) -> None:
    bank = load_bank(_write(tmp_path, MINIMAL.replace("id: minimal\n", "id: minimal\nauthor:\ndescription:\n")
                            + "    explanation:\n"))
    assert bank.author == "" and bank.description == "" and bank.items[0].explanation == ""


def test_problems_are_listed_in_file_order(tmp_path: Path) -> None:
    # The walker meets the items before the bank's title; the user reads top to bottom.
    path = _write(tmp_path, MINIMAL.replace("title: Minimal", "title:").replace("question: What?", "question: 7"))
    problems = _problems(path)
    assert [p.split(": ", 1)[0].rsplit(":", 2)[1] for p in problems] == ["2", "7"]


def test_an_empty_file_and_an_empty_item_list_are_refused(tmp_path: Path) -> None:
    assert _problems(_write(tmp_path, "# nothing but a comment\n")) == [f"{tmp_path / 'bank.yaml'}:1:1: the file is empty"]
    problems = _problems(_write(tmp_path, MINIMAL.split("items:")[0] + "items: []\n"))
    assert len(problems) == 1 and "bank.items is empty" in problems[0]


def test_a_bank_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, "- just\n- a list\n"))
    assert problems == [f"{tmp_path / 'bank.yaml'}:1:1: bank must be a mapping (key: value), not a list"]


def test_a_point_without_its_term_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace("      lead: This.\n", "      points:\n        - text: only the text\n")
    problems = _problems(_write(tmp_path, text))
    assert len(problems) == 1
    assert ":10:11: [item only-item] item 1.answer.points[]: required key 'term' is missing" in problems[0]


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, MINIMAL.replace("    title: Only\n", "    title: Only\n    title: Again\n")))
    assert len(problems) == 1 and ":7:5: [item only-item] item 1: key 'title' appears twice" in problems[0]


def test_options_cloze_must_be_a_boolean(tmp_path: Path) -> None:
    assert load_bank(_write(tmp_path, MINIMAL + "options: {cloze: true}\n")).options.cloze is True
    problems = _problems(_write(tmp_path, MINIMAL + "options: {cloze: sometimes}\n"))
    assert len(problems) == 1 and ":10:18: bank.options.cloze must be true or false, not text" in problems[0]


def test_tags_are_single_words(tmp_path: Path) -> None:
    text = MINIMAL + "    tags: [ok, two words]\n"
    problems = _problems(_write(tmp_path, text))
    assert len(problems) == 1 and ":10:16: [item only-item] item 1.tags: each tag is one word" in problems[0]


def test_an_unreadable_path_is_a_bank_error_not_a_crash(tmp_path: Path) -> None:
    problems = _problems(tmp_path / "missing.yaml")
    assert problems == [f"{tmp_path / 'missing.yaml'}:1:1: cannot read the bank: No such file or directory"]


# -- a large bank: its items are checked as they are read, one item's nodes at a time -------------


def _bank_of(folder: Path, size: int) -> Path:
    """A bank of `size` items cycling through the seed's, each with its own id."""
    seed = yaml.safe_load(SEED_BANK.read_text(encoding="utf-8"))
    items = [{**copy.deepcopy(seed["items"][n % len(seed["items"])]), "id": f"item-{n:05d}"} for n in range(size)]
    path = folder / f"bank-{size}.yaml"
    path.write_text(yaml.safe_dump({**seed, "items": items}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_reading_holds_one_items_nodes_at_a_time(tmp_path: Path) -> None:
    """The node tree of a whole bank takes ~15 KB an item (150 MB at 10,000 items). Beyond
    what the loaded bank keeps, the peak of reading four times the items must grow by much
    less than the tree would: only the item being read has its nodes."""

    def above_kept(path: Path) -> int:  # the peak of load_bank, less what the bank keeps
        with traced_memory() as memory:
            bank = load_bank(path)
        assert len(bank.items) > 0
        return memory.peak - memory.kept

    def tree(path: Path) -> int:  # the whole file's node tree
        text = path.read_text(encoding="utf-8")
        with traced_memory() as memory:
            root = reader._compose(text)
        assert root is not None
        return memory.kept

    few, many = _bank_of(tmp_path, 100), _bank_of(tmp_path, 400)
    assert above_kept(many) - above_kept(few) < 0.5 * (tree(many) - tree(few))  # 1.0 with the whole tree


def test_the_places_inside_items_are_found_only_when_a_message_needs_one(tmp_path: Path) -> None:
    """Every build process holds the loaded bank; the places of the values inside its items
    (25 an item, more memory than the bank's text) are found again from the file's bytes by the
    first message that needs one. Kept from the start, finding them would add nothing."""
    path = _bank_of(tmp_path, 200)
    with traced_memory() as loading:
        bank = load_bank(path)
    with traced_memory() as finding:
        place = bank.place(("items", 150, "answer", "points", 1, "term"))
    assert finding.kept > 0.5 * loading.kept
    node = reader._compose(path.read_text(encoding="utf-8"))
    for step in ("items", 150, "answer", "points", 1, "term"):
        node = node.value[step] if isinstance(step, int) else next(v for k, v in node.value if k.value == step)
    assert (place.line, place.column) == (node.start_mark.line + 1, node.start_mark.column + 1)


def _whole_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading as before items (or sections) were checked while read: the whole node tree, then one walk."""
    compose = reader._compose
    monkeypatch.setattr(reader, "_compose", lambda text, lists=None: compose(text))


MIXED = """\
id: mixed
title: Mixed
author: 7
lang: en
items:
  - id: first
    title: One
    question: Why?
    answer: {lead: Because.}
    former_ids: [old-one]
  - id: Not A Slug
    title: Two
    question: Why?
    answer: {}
  - 42
  - id: second
    title: Three
    question: Why?
    answer:
      points:
        - {term: a, text: b}
        - {text: no term}
  - id: third
    title: Four
    question: Why?
    answer: {lead: Yes.}
    absorbs: [old-one, first]
  - id: fourth
    title: Five
    answer: {lead: So.}
    explantion: typo
    tags: [one, two words]
  - id: first
    title: Six
    question: Why?
    answer: {lead: Again.}
    former_ids: [old-two]
options: {cloze: maybe}
items:
  - not: read
"""


def test_problems_of_many_items_are_the_same_as_from_the_whole_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, MIXED)
    problems = _problems(path)
    _whole_tree(monkeypatch)
    assert problems == _problems(path)
    lines = [int(problem.split(": ", 1)[0].rsplit(":", 2)[1]) for problem in problems]
    assert lines == sorted(lines) and len(problems) == 13
    assert {problem.split("[item ", 1)[1].split("]")[0] for problem in problems if "[item " in problem} == {
        "Not A Slug", "second", "third", "fourth", "first"}


RENAMED = """\
id: renamed
title: Renamed
lang: en
items:
  - id: first
    title: One
    question: Why?
    answer:
      points:
        - {term: a, text: b}
        - {term: c, text: d}
    former_ids: [old-one, older-one]
    tags: [x, y]
  - id: second
    title: Two
    question: Why?
    answer: {lead: Yes.}
    absorbs: [merged]
    explanation: Because.
closing: {title: End, text: Done.}
options: {cloze: true}
"""


@pytest.mark.parametrize("text", [SEED_BANK.read_text(encoding="utf-8"), RENAMED,
                                  (FIXTURES / "sections" / "sections-bank.yaml").read_text(encoding="utf-8")],
                         ids=["seed", "renamed", "sections"])
def test_a_bank_and_its_places_are_the_same_as_from_the_whole_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    path = _write(tmp_path, text)
    read = load_bank(path)
    _whole_tree(monkeypatch)
    walked = load_bank(path)
    assert read == walked and repr(read) == repr(walked)
    assert read.places == walked.places and len(read.places) > 8 * len(read.items)
