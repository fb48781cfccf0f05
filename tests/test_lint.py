"""The lint: near-duplicate items, untagged items, over-long answers - warnings, never errors."""

from __future__ import annotations

import dataclasses

from conftest import FIXTURES, SEED_BANK, copy_bank, run_build

from qbank.lint import MAX_ANSWER_CHARS, duplicate_clusters, flashcards_spanned, lint_bank
from qbank.model import Item
from qbank.reader import load_bank

LINT_BANK = FIXTURES / "lint" / "lint.yaml"

# The article asks some questions twice in other words; these are all its repeats, and no
# unrelated item may join them.
SEED_REPEATS = [
    {"class-imbalance", "data-skew", "sample-imbalance"},  # items 7, 23, 26
    {"hyperparameter-selection", "hyperparameter-tuning"},  # items 9, 13
    {"limited-compute", "insufficient-compute"},  # items 10, 28
    {"training-data-privacy", "data-privacy-protection"},  # items 11, 27
]


def _ids(clusters) -> list[set[str]]:
    return [{item.id for item in cluster.items} for cluster in clusters]


def test_the_seed_banks_repeats_are_found_and_nothing_else() -> None:
    bank = load_bank(SEED_BANK)
    clusters = duplicate_clusters(bank.items)
    assert _ids(clusters) == SEED_REPEATS
    assert all(0.6 <= cluster.similarity <= 1 for cluster in clusters)


def test_the_seed_bank_lints_with_only_its_repeats() -> None:
    # Every seed item is tagged and short enough: the repeats are the only warnings.
    warnings = lint_bank(load_bank(SEED_BANK))
    assert len(warnings) == len(SEED_REPEATS)
    assert all("near-duplicate items" in warning.message for warning in warnings)
    first = warnings[0]
    assert first.item_id == "class-imbalance"
    assert "class-imbalance (#7, line " in first.message and "sample-imbalance (#26, line " in first.message


def test_the_fixture_warns_about_each_problem_once() -> None:
    bank = load_bank(LINT_BANK)
    warnings = [(w.location.line, w.item_id, w.message) for w in lint_bank(bank)]
    assert len(warnings) == 3, warnings
    duplicate, untagged, long_answer = warnings
    assert duplicate[:2] == (7, "prevent-overfitting")
    assert "prevent-overfitting (#1, line 7), avoid-overfitting (#2, line 22)" in duplicate[2]
    assert "low-latency-serving" not in duplicate[2]  # same subject words, different question
    assert untagged == (52, "untagged-item", "item has no tags")
    assert long_answer[:2] == (57, "long-answer")
    assert f"over {MAX_ANSWER_CHARS} is hard to review" in long_answer[2]


def test_english_items_are_compared_by_their_words() -> None:
    # By character bigrams, unrelated English items were about 45% alike and a lower threshold
    # lumped the whole fixture together; by their words they stay under 30%, while the
    # reworded copy is still 81% alike.
    items = load_bank(LINT_BANK).items
    assert _ids(duplicate_clusters(items, threshold=0.3)) == [{"prevent-overfitting", "avoid-overfitting"}]
    assert duplicate_clusters(items)[0].similarity == 0.81


def _copies(item: Item, count: int, first_number: int) -> list[Item]:
    return [dataclasses.replace(item, id=f"{item.id}-copy-{n}", number=first_number + n) for n in range(count)]


def test_many_copies_of_one_item_are_one_cluster() -> None:
    # Bigrams that every copy shares are common in the bank; duplicates must be found anyway,
    # in a tiny bank and when the copies are a quarter of the bank.
    item = load_bank(LINT_BANK).items[2]
    assert _ids(duplicate_clusters(tuple(_copies(item, 3, 1)))) == [{f"{item.id}-copy-{n}" for n in range(3)}]

    seed = load_bank(SEED_BANK).items
    first = seed[0]
    bank = (*seed, *_copies(first, 7, len(seed) + 1))
    clusters = _ids(duplicate_clusters(bank))
    assert {first.id, *(f"{first.id}-copy-{n}" for n in range(7))} in clusters
    assert all(cluster in clusters for cluster in SEED_REPEATS)


def test_check_prints_the_warnings_with_their_places_and_succeeds(tmp_path) -> None:
    bank = copy_bank(LINT_BANK, tmp_path / "bank")
    result = run_build(bank, "--check")
    assert result.returncode == 0, result.stderr
    assert f"{bank}: 5 items, valid (3 warnings)" in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert lines == [
        f"warning: {bank}:7:5: [item prevent-overfitting] near-duplicate items (similarity up to 81%): "
        "prevent-overfitting (#1, line 7), avoid-overfitting (#2, line 22)",
        f"warning: {bank}:52:5: [item untagged-item] item has no tags",
        f"warning: {bank}:57:5: [item long-answer] answer is 845 characters; over {MAX_ANSWER_CHARS} "
        "is hard to review on a card",
    ]


def test_an_answer_longer_than_a_flashcard_warns_once_how_many_cards_it_spans() -> None:
    item = load_bank(LINT_BANK).items[0]
    # 30 paragraphs of 70 characters (38.5 em, two lines of 36 em): 60 lines, at 24 a card.
    lead = "\n\n".join(["A paragraph that takes two lines of a flashcard at its smallest size."] * 30)
    long_item = dataclasses.replace(item, answer=dataclasses.replace(item.answer, lead=lead, points=()), explanation="")
    assert flashcards_spanned(long_item) == 3 and flashcards_spanned(item) == 1
    [warning] = [w for w in lint_bank(dataclasses.replace(load_bank(LINT_BANK), items=(long_item,))) if "answer" in w.message]
    assert warning.item_id == item.id and warning.message.startswith("answer spans 3 flashcards (")
