"""The bank format has one definition (the classes of qbank/model.py): the loader validates against it, and
schema/bank.schema.json, which editors read while a bank is typed, is generated from it.

The published schema is judged here by an independent JSON Schema validator (`jsonschema`, as
an editor's YAML extension would use it), so the loader and the editor cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import FIXTURES, ROOT

from qbank.model import BankError
from qbank.reader import load_bank
from qbank.schema import JSON_SCHEMA_PATH, SCHEMA_COMMENT, json_schema_text

PUBLISHED = json.loads(JSON_SCHEMA_PATH.read_text(encoding="utf-8"))
# Broken banks whose mistake is one of shape (keys, types, patterns): an editor sees it too.
# The others (duplicate ids, images, encoding, YAML syntax) are beyond what a JSON Schema says.
SHAPE_MISTAKES = ("unknown-key", "missing-field", "empty-field", "wrong-type", "bad-item-id", "bad-bank-id",
                  "bad-lang", "several-errors")


def editor_errors(path: Path) -> list[str]:
    validator = jsonschema.Draft202012Validator(PUBLISHED)
    return [error.message for error in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]


def test_the_published_schema_is_the_one_the_loader_uses() -> None:
    jsonschema.Draft202012Validator.check_schema(PUBLISHED)
    assert JSON_SCHEMA_PATH.read_text(encoding="utf-8") == json_schema_text(), (
        "schema/bank.schema.json is stale: run `python -m qbank.schema > schema/bank.schema.json`"
    )


@pytest.mark.parametrize("bank", sorted((ROOT / "source").glob("*.yaml")), ids=lambda path: path.stem)
def test_every_bank_in_source_passes_both_and_names_the_schema_for_editors(bank: Path) -> None:
    load_bank(bank)
    assert editor_errors(bank) == []
    assert bank.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_COMMENT


@pytest.mark.parametrize("case", SHAPE_MISTAKES)
def test_a_mistake_of_shape_is_refused_by_both(case: str) -> None:
    bank = FIXTURES / "broken" / f"{case}.yaml"
    with pytest.raises(BankError):
        load_bank(bank)
    assert editor_errors(bank), f"the editor's schema accepts {case}.yaml, which the loader refuses"


def test_the_schema_offers_completions_with_descriptions() -> None:
    item = PUBLISHED["properties"]["items"]["items"]
    assert set(item["properties"]) >= {"id", "title", "question", "answer", "explanation", "tags"}
    assert item["additionalProperties"] is False and set(item["required"]) == {"id", "title", "question", "answer"}
    assert all(prop.get("description") for prop in item["properties"].values())
