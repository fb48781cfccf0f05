"""`build.py pull`, judged by Anki's engine: the seed deck is imported and studied, fields are
edited as Anki's editor stores them (a typo, a bold word, a new bullet, a tag), the deck is
exported by Anki, and `pull --write` must change exactly those lines of the YAML; the rebuilt
deck then updates those notes, adds none, and keeps every review."""

from __future__ import annotations

import time
from pathlib import Path

from anki.collection import Collection  # first: anki's modules import in a cycle
from ankiread import BANK_ID, build_apkg, col, export, import_apkg, log_counts, notes_by_item, reviews, study  # noqa: F401
from conftest import FIXTURES, SEED_ITEMS, copy_bank, run_build


def edit(col: Collection, item_id: str, field: str, old: str, new: str) -> None:
    note = notes_by_item(col)[item_id]
    assert old in note[field], note[field]
    note[field] = note[field].replace(old, new)
    col.update_note(note)


def test_edits_made_in_anki_come_back_as_exactly_those_lines(seed_copy: Path, tmp_path: Path, col: Collection) -> None:
    import_apkg(col, build_apkg(seed_copy, tmp_path / "dist"))
    study(col, 5)
    time.sleep(1)  # Anki dates an edit in seconds: the learner edits after the import
    edit(col, "scalable-architecture", "Question", "请简要描述", "请简单描述")  # a typo
    edit(col, "scalable-architecture", "Explanation", "不仅需要", "<b>不仅</b>需要")  # a bold word
    edit(col, "data-bias", "Question", "的问题。</p>", "的问题。</p><ul><li>请举例。</li></ul>")  # a new bullet
    tagged = notes_by_item(col)["inference-performance"]
    tagged.tags.append("重要")
    col.update_note(tagged)
    edit(col, "security-and-privacy", "Question", "<p>", '<p><span style="color: rgb(255, 0, 0);">注意</span>')
    edit(col, "explainability", "Question", "</p>", "（简述）</p>")
    before = reviews(col)
    package = export(col, tmp_path / "edited.apkg")

    original = seed_copy.read_text(encoding="utf-8")
    # The maintainer meanwhile retitled explainability in the YAML: a conflict.
    assert "  title: 如何设计一个高效的可解释AI大模型？\n" in original
    seed_copy.write_text(original.replace("  title: 如何设计一个高效的可解释AI大模型？\n", "  title: 如何设计一个高效的可解释大模型？\n"),
                         encoding="utf-8")
    original = seed_copy.read_text(encoding="utf-8")
    shown = run_build("pull", package, seed_copy)
    assert shown.returncode == 0, shown.stderr
    assert seed_copy.read_text(encoding="utf-8") == original  # without --write, nothing is written
    assert "conflict: item explainability changed in Anki and in the YAML since the last build (title, question differ)" in shown.stderr
    assert "not pulled: item security-and-privacy: question: Anki's text holds formatting" in shown.stderr
    assert len([line for line in shown.stderr.splitlines() if "explainability" in line]) == 1

    written = run_build("pull", package, seed_copy, "--write")
    assert written.returncode == 0, written.stderr
    expected = (original
                .replace("  question: 请简要描述如何设计一个可扩展的AI大模型架构。\n", "  question: 请简单描述如何设计一个可扩展的AI大模型架构。\n")
                .replace("  explanation: 可扩展的AI大模型架构不仅需要", "  explanation: 可扩展的AI大模型架构**不仅**需要")
                .replace("  question: 请谈谈在AI大模型训练过程中，如何处理数据偏差的问题。\n",
                         "  question: |-\n    请谈谈在AI大模型训练过程中，如何处理数据偏差的问题。\n\n    - 请举例。\n"))
    inference = expected.index("- id: inference-performance")
    tags_at = expected.index("  tags:\n", inference)
    following = expected.index("- id:", tags_at)
    expected = expected[:following] + "  - 重要\n" + expected[following:]
    assert seed_copy.read_text(encoding="utf-8") == expected

    rebuilt = import_apkg(col, build_apkg(seed_copy, tmp_path / "dist2"))
    # The three pulled items and the retitled one; the rest are as the learner has them.
    assert log_counts(rebuilt) == {"new": 0, "updated": 4, "duplicate": SEED_ITEMS - 4, "conflicting": 0}
    assert col.note_count() == SEED_ITEMS
    assert reviews(col) == before
    notes = notes_by_item(col)
    assert "请简单描述" in notes["scalable-architecture"]["Question"]
    assert "<strong>不仅</strong>" in notes["scalable-architecture"]["Explanation"]
    assert "<li>请举例。</li>" in notes["data-bias"]["Question"]
    assert f"{BANK_ID}::重要" in notes["inference-performance"].tags


def test_a_note_added_in_anki_becomes_an_item_and_a_deleted_one_is_reported(seed_copy: Path, tmp_path: Path,
                                                                           col: Collection) -> None:
    import_apkg(col, build_apkg(seed_copy, tmp_path / "dist"))
    notetype = col.models.by_name(f"qbank: {BANK_ID}")
    added = col.new_note(notetype)
    added["ItemId"], added["Title"] = "", "什么是<b>提示工程</b>？"
    added["Question"], added["Answer"] = "<p>请解释提示工程。</p>", "<p>设计输入以引导模型输出。</p>"
    added.tags = [BANK_ID, f"{BANK_ID}::提示"]
    col.add_note(added, col.get_card(col.find_cards("")[0]).did)
    col.remove_notes([notes_by_item(col)["overfitting"].id])
    package = export(col, tmp_path / "edited.apkg")

    result = run_build("pull", package, seed_copy, "--write")
    assert result.returncode == 0, result.stderr
    assert "item overfitting: its note is not in the deck (deleted in Anki?); the item is kept" in result.stderr
    text = seed_copy.read_text(encoding="utf-8")
    assert "- id: overfitting\n" in text
    assert text.endswith(f"- id: q-{text.rsplit('- id: q-', 1)[1].split(chr(10))[0]}\n  title: 什么是**提示工程**？\n"
                         "  question: 请解释提示工程。\n  answer:\n    lead: 设计输入以引导模型输出。\n  tags:\n  - 提示\n"
                         f"  guid: {added.guid}\n")
    # The new item's build updates the note it came from; the kept item's note comes back.
    log = import_apkg(col, build_apkg(seed_copy, tmp_path / "dist2"))
    assert log_counts(log)["new"] == 1 and [note.fields[0] for note in log.new] == ["overfitting"]
    assert col.get_note(added.id)["ItemId"].startswith("q-")


def test_a_bank_in_sections_gets_its_edits_under_the_items_section(tmp_path: Path, col: Collection) -> None:
    bank = copy_bank(FIXTURES / "sections" / "sections-bank.yaml", tmp_path / "bank")
    import_apkg(col, build_apkg(bank, tmp_path / "dist"))
    time.sleep(1)  # Anki dates an edit in seconds: the learner edits after the import
    edit(col, "bias-variance", "Question", "trade-off.", "trade-off briefly.")
    tagged = notes_by_item(col)["second-highest"]
    tagged.tags.append("hard")
    col.update_note(tagged)
    package = export(col, tmp_path / "edited.apkg")
    original = bank.read_text(encoding="utf-8")
    written = run_build("pull", package, bank, "--write")
    assert written.returncode == 0, written.stderr
    question = "question: Explain the bias-variance trade-off"
    assert bank.read_text(encoding="utf-8") == (original.replace(f"{question}.", f"{question} briefly.")
        .replace("tags: [sql]\n  - id: count-per-customer", "tags: [sql, hard]\n  - id: count-per-customer"))
