"""The command line as a user meets it: usage, exit codes (0 ok, 1 bad bank, 2 bad usage),
`--check`, and `build.py import` for turning an article into a bank."""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import FIXTURES, SEED_BANK, SEED_ITEMS, copy_bank, run_build
from refusals import snapshot

from qbank.reader import load_bank
from qbank.writers import WRITERS

ARTICLE = FIXTURES / "seed-article.md"


def test_help_names_every_option_and_the_import_command() -> None:
    result = run_build("--help")
    assert result.returncode == 0
    for option in ("--out", "--format", "--check", "--force", "--watch", "--paper", "--cloze", "--shift-backs", "import"):
        assert option in result.stdout


def test_an_unknown_format_is_a_usage_error_listing_the_real_ones(seed_copy: Path, tmp_path: Path) -> None:
    result = run_build(seed_copy, "--out", tmp_path / "dist", "--format", "apkg,docx")
    assert result.returncode == 2
    assert "unknown format docx; available: " + ", ".join(WRITERS) in result.stderr
    assert not (tmp_path / "dist").exists()


def test_an_empty_format_list_and_a_bad_paper_are_usage_errors(seed_copy: Path, tmp_path: Path) -> None:
    assert run_build(seed_copy, "--out", tmp_path, "--format", ",").returncode == 2
    result = run_build(seed_copy, "--out", tmp_path, "--paper", "a5")
    assert result.returncode == 2 and "invalid choice: 'a5'" in result.stderr


def test_check_validates_and_lints_and_writes_nothing(seed_copy: Path, tmp_path: Path) -> None:
    before = snapshot(seed_copy.parent)
    result = run_build(seed_copy, "--check", "--out", tmp_path / "dist")
    assert result.returncode == 0, result.stderr
    assert f"{seed_copy}: {SEED_ITEMS} items, valid (4 warnings)" in result.stdout
    assert result.stderr.count("warning: ") == 4
    assert snapshot(seed_copy.parent) == before  # no lock file written or changed
    assert not (tmp_path / "dist").exists()


def test_check_reports_every_bank_and_fails_if_one_is_bad(seed_copy: Path, tmp_path: Path) -> None:
    broken = copy_bank(FIXTURES / "broken" / "bad-lang.yaml", tmp_path / "broken")
    result = run_build(broken, seed_copy, "--check")
    assert result.returncode == 1
    assert f"error: {broken}:4:7: bank.lang 'zh_CN'" in result.stderr
    assert f"{seed_copy}: {SEED_ITEMS} items, valid" in result.stdout  # the bad bank did not stop the run
    assert "Traceback" not in result.stderr


def test_a_missing_bank_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    result = run_build(tmp_path / "nope.yaml", "--check")
    assert result.returncode == 1
    assert result.stderr == f"error: {tmp_path / 'nope.yaml'}: no such file; check the path\n"  # (more in test_faults)


# -- build.py import ---------------------------------------------------------------------------


def _without_ids_and_tags(bank: dict) -> dict:
    items = [{key: value for key, value in item.items() if key not in ("id", "tags")} for item in bank["items"]]
    return {**bank, "items": items}


def test_import_reproduces_the_committed_bank_but_for_ids_and_tags() -> None:
    result = run_build("import", ARTICLE, "--id", "ai-startup-interview", "--lang", "zh-CN")
    assert result.returncode == 0, result.stderr
    imported = yaml.safe_load(result.stdout)
    committed = yaml.safe_load(SEED_BANK.read_text(encoding="utf-8"))
    assert [item["id"] for item in imported["items"]] == [f"q{n:02d}" for n in range(1, SEED_ITEMS + 1)]
    assert _without_ids_and_tags(imported) == _without_ids_and_tags(committed)


def test_import_writes_a_bank_that_loads(tmp_path: Path) -> None:
    target = tmp_path / "imported.yaml"
    result = run_build("import", ARTICLE, "--id", "imported", "--lang", "zh-CN", "-o", target)
    assert result.returncode == 0, result.stderr
    assert f"wrote {target}" in result.stdout
    bank = load_bank(target)
    assert bank.id == "imported" and len(bank.items) == SEED_ITEMS


def test_import_refuses_a_bad_id_or_language(tmp_path: Path) -> None:
    result = run_build("import", ARTICLE, "--id", "AI Startup", "--lang", "zh-CN", "-o", tmp_path / "x.yaml")
    assert result.returncode == 1 and "error: --id 'AI Startup' is not a slug" in result.stderr
    result = run_build("import", ARTICLE, "--id", "ai", "--lang", "zh_CN", "-o", tmp_path / "x.yaml")
    assert result.returncode == 1 and "error: --lang 'zh_CN' is not a BCP 47 language tag" in result.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_import_refuses_an_article_it_cannot_read(tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.md"
    gbk.write_bytes("### 标题\n\n#### 1. 第一题\n\n**面试题：** 问题\n".encode("gbk"))
    result = run_build("import", gbk, "--id", "gbk", "--lang", "zh-CN")
    assert result.returncode == 1 and f"error: {gbk}:1: not valid UTF-8" in result.stderr

    shapeless = tmp_path / "essay.md"
    shapeless.write_text("### An essay\n\nJust prose, no numbered questions.\n", encoding="utf-8")
    result = run_build("import", shapeless, "--id", "essay", "--lang", "en")
    assert result.returncode == 1 and "no numbered item headings" in result.stderr

    result = run_build("import", tmp_path / "missing.md", "--id", "x", "--lang", "en")
    assert result.returncode == 1
    assert result.stderr == f"error: cannot read the article: {tmp_path / 'missing.md'}: no such file or folder; check the path\n"


def test_import_without_its_arguments_is_a_usage_error() -> None:
    result = run_build("import", ARTICLE)
    assert result.returncode == 2 and "--id" in result.stderr and "--lang" in result.stderr
