"""Benchmark the build on synthetic banks shaped like the seed bank (issue 6).

    bash tasks.sh bench                 # sizes 30, 300, 2000
    python bench/benchmark.py --sizes 30,300,2000,10000 --full-only 10000 --no-floor 10000
    python bench/benchmark.py --sizes 2000 --sectioned 2000 --full-only 2000 --no-floor 2000

For each size it times, each in a fresh process as a user runs it: every output alone (cold,
--force), the whole build cold, and the no-op rebuild, with the peak memory of the build (the
largest single process, and the whole process tree at its fullest; see bench/measure.py), and
under the table the peak of each kind of process (writer, chunk, pandoc). As
the floor it times the bare tools on the same bank in the same run: one genanki write, one
WeasyPrint render of the cheat sheet's own HTML, one pandoc EPUB call on the EPUB writer's own
HTML. It prints a Markdown table (kept in README.md). Banks are generated in a temporary
folder, never committed. --full-only SIZES measures only the full build at those sizes, and
--no-floor SIZES skips the bare tools there (bare WeasyPrint holds the whole layout in memory:
about 9 GB at 10,000 items). --sectioned SIZES adds, at those sizes, a row for the same bank in
sections of SECTION_SIZE items, measured in the same run.

Not a test: timings depend on the machine. Nothing here is imported by the product.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "source" / "ai-startup-interview.yaml"
sys.path.insert(0, str(ROOT))
SECTION_SIZE = 100  # items per section in a --sectioned bank: 20 sections at 2,000 items



def synthetic_bank(size: int, folder: Path, sectioned: bool = False) -> Path:
    """A bank of `size` items cycling through the seed's items, each made distinct by swapping
    a few characters for others from the common CJK range, so that texts keep the seed's real
    lengths and bullet structure while the set of glyphs grows as a real large bank's would."""
    seed = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    rng = random.Random(size)
    common = [chr(code) for code in range(0x4E00, 0x4E00 + 3500)]

    def vary(text: str) -> str:
        chars = list(text)
        for _ in range(max(1, len(chars) // 25)):
            position = rng.randrange(len(chars))
            if "\u4e00" <= chars[position] <= "\u9fff":
                chars[position] = rng.choice(common)
        return "".join(chars)

    items = []
    for number in range(size):
        base = seed["items"][number % len(seed["items"])]
        items.append({
            "id": f"item-{number + 1:05d}",
            "title": vary(base["title"]),
            "question": vary(base["question"]),
            "answer": {
                "lead": vary(base["answer"]["lead"]),
                "points": [{"term": vary(p["term"]), "text": vary(p["text"])} for p in base["answer"]["points"]],
            },
            "explanation": vary(base["explanation"]),
            "tags": list(base["tags"]),  # a shared list would be dumped as a YAML alias
        })
    bank = {key: seed[key] for key in ("title", "lang", "description", "closing")}
    if sectioned:
        name = f"synthetic-{size}-sectioned"
        sections = [{"id": f"section-{start // SECTION_SIZE + 1}", "title": vary(items[start]["title"]),
                     "intro": vary(seed["description"]), "items": items[start:start + SECTION_SIZE]}
                    for start in range(0, size, SECTION_SIZE)]
        bank = {"id": name, **bank, "sections": sections}
    else:
        name = f"synthetic-{size}"
        bank = {"id": name, **bank, "items": items}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(bank, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def measure(command: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Seconds and peak MB (largest process, whole tree) of one run of `command` in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.measure", *command], capture_output=True, text=True, env=env, check=True, cwd=ROOT
    )
    figures = json.loads(result.stdout)
    if figures["code"] != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return figures


def bare_tools(bank: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.floor", str(bank)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_size(size: int, formats: list[str], work: Path, full_only: bool, floor: bool, sectioned: bool) -> dict:
    bank = synthetic_bank(size, work, sectioned)
    out = work / f"dist-{bank.stem}"
    build = [sys.executable, str(ROOT / "build.py"), str(bank), "--out", str(out)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600"}
    subprocess.run([*build, "--format", "apkg"], env=env, check=True, capture_output=True)  # writes the lock: not timed
    sections = -(-size // SECTION_SIZE)
    row: dict = {"size": size, "label": f"{size} in {sections} section{'s' * (sections > 1)}" if sectioned else str(size)}
    for name in formats:
        row[name] = None if full_only else measure([*build, "--format", name, "--force"], env)["seconds"]
    full = measure([*build, "--force"], env)
    row["full"], row["largest_mb"], row["tree_mb"] = full["seconds"], full["largest_mb"], full["tree_mb"]
    row["processes"] = full["processes"]
    row["noop"] = None if full_only else measure(build, env)["seconds"]
    row["bare"] = bare_tools(bank) if floor else None
    return row


def _cell(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:.2f}"


def _sizes(text: str) -> list[int]:
    return [int(size) for size in text.split(",") if size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="30,300,2000")
    parser.add_argument("--full-only", default="", metavar="SIZES", help="at these sizes, only the full build")
    parser.add_argument("--no-floor", default="", metavar="SIZES", help="at these sizes, no bare tools")
    parser.add_argument("--sectioned", default="", metavar="SIZES", help="at these sizes, the bank in sections too")
    args = parser.parse_args()
    full_only, no_floor, sectioned = _sizes(args.full_only), _sizes(args.no_floor), _sizes(args.sectioned)
    from qbank.writers import WRITERS

    formats = list(WRITERS)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for size, in_sections in [(size, False) for size in _sizes(args.sizes)] + [(size, True) for size in sectioned]:
            started = time.perf_counter()
            rows.append(bench_size(size, formats, Path(work), size in full_only, size not in no_floor, in_sections))
            print(f"# {rows[-1]['label']} items measured in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(f"| items | {' | '.join(formats)} | full build | no-op | peak MB largest process | peak MB process tree "
          "| bare genanki | bare WeasyPrint | bare pandoc EPUB | full / bare sum |")
    print("|" + " ---: |" * (len(formats) + 9))
    for row in rows:
        bare = row["bare"] or {}
        ratio = f"{row['full'] / sum(bare.values()):.2f}" if bare else "–"
        cells = [_cell(row[name]) for name in formats]
        print(
            f"| {row['label']} | {' | '.join(cells)} | {row['full']:.2f} | {_cell(row['noop'])} | {row['largest_mb']:.0f} | "
            f"{row['tree_mb']:.0f} | {_cell(bare.get('genanki'))} | {_cell(bare.get('weasyprint'))} | "
            f"{_cell(bare.get('pandoc-epub'))} | {ratio} |"
        )
    print("\nPeak MB of the full build's largest process of each kind:")
    for row in rows:
        print(f"- {row['label']} items: " + ", ".join(f"{name} {mb}" for name, mb in row["processes"].items()))
    unsectioned = [row for row in rows if row["label"] == str(row["size"])]
    if len(unsectioned) > 1:
        first, last = unsectioned[0], unsectioned[-1]
        growth = (last["full"] / first["full"]) / (last["size"] / first["size"])
        print(f"\nTime per item at {last['size']} items relative to {first['size']}: {growth:.2f}x (1.0 = linear)")


if __name__ == "__main__":
    main()
