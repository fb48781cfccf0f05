"""`build.py new`: a starter bank that builds in every format as it is, and never overwrites."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_build
from pypdf import PdfReader

from qbank.writers import WRITERS


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_new_bank_builds_in_every_format(tmp_path: Path, lang: str) -> None:
    result = run_build("new", "my-first-bank", "--lang", lang, "--source", tmp_path / "source")
    assert result.returncode == 0, result.stderr
    bank = tmp_path / "source" / "my-first-bank.yaml"
    text = bank.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schema/bank.schema.json\n")
    assert f"\nlang: {lang}  #" in text

    check = run_build(bank, "--check")
    assert check.returncode == 0, check.stderr
    assert "(0 warnings)" in check.stdout  # lint finds nothing to say about the example either

    build = run_build(bank, "--out", tmp_path / "dist")
    assert build.returncode == 0, build.stderr
    outputs = {name: tmp_path / "dist" / fmt.output_name("my-first-bank") for name, fmt in WRITERS.items()}
    assert all(path.stat().st_size > 0 for path in outputs.values())
    assert "What is a question bank?" in PdfReader(outputs["pdf"]).pages[0].extract_text()


def test_an_existing_bank_is_never_overwritten(tmp_path: Path) -> None:
    existing = tmp_path / "taken.yaml"
    existing.write_text("mine\n", encoding="utf-8")
    result = run_build("new", "taken", "--lang", "en", "--source", tmp_path)
    assert result.returncode == 2
    assert "already exists" in result.stderr and "Traceback" not in result.stderr
    assert existing.read_text(encoding="utf-8") == "mine\n"


@pytest.mark.parametrize("bank_id, lang, message", [
    ("Not_A_Slug", "en", "is not a bank id"),
    ("good-id", "english!", "is not a BCP 47 language tag"),
])
def test_a_bad_id_or_language_is_a_usage_error(tmp_path: Path, bank_id: str, lang: str, message: str) -> None:
    result = run_build("new", bank_id, "--lang", lang, "--source", tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert list(tmp_path.iterdir()) == []
