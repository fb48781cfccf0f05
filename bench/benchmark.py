"""Benchmark the build on synthetic banks shaped like the seed bank (issue 6).

    bash tasks.sh bench                 # sizes 30, 300, 2000
    python bench/benchmark.py --sizes 30,300

For each size it times, each in a fresh process as a user runs it: every output alone (cold,
--force), the whole build cold, and the no-op rebuild, with the peak memory of the largest
process involved. As the floor it times the bare tools on the same bank in the same run:
one genanki write, one WeasyPrint render of the cheat sheet's own HTML, one pandoc EPUB call
on the EPUB writer's own HTML. It prints a Markdown table (kept in README.md).

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

# Runs a command and prints its peak resident memory: the largest process of its tree (Linux
# folds reaped grandchildren, such as pandoc, into the child's maximum).
MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)


def synthetic_bank(size: int, folder: Path) -> Path:
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
    bank = {"id": f"synthetic-{size}", **bank, "items": items}
    path = folder / f"synthetic-{size}.yaml"
    path.write_text(yaml.safe_dump(bank, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Seconds and peak MB of one run of `command` in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, env=env, check=True
    )
    seconds, peak_kb, code = result.stdout.split()
    if code != "0":
        raise SystemExit(f"failed: {' '.join(command)}")
    return float(seconds), int(peak_kb) / 1024


def bare_tools(bank: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.floor", str(bank)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_size(size: int, formats: list[str], work: Path) -> dict:
    bank = synthetic_bank(size, work)
    out = work / f"dist-{size}"
    build = [sys.executable, str(ROOT / "build.py"), str(bank), "--out", str(out)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600"}
    subprocess.run([*build, "--force"], env=env, check=True, capture_output=True)  # writes the lock: not timed
    row: dict = {"size": size}
    for name in formats:
        row[name] = measure([*build, "--format", name, "--force"], env)[0]
    row["full"], row["peak_mb"] = measure([*build, "--force"], env)
    row["noop"] = measure(build, env)[0]
    row["bare"] = bare_tools(bank)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="30,300,2000")
    args = parser.parse_args()
    from qbank.writers import WRITERS

    formats = list(WRITERS)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for size in (int(s) for s in args.sizes.split(",")):
            started = time.perf_counter()
            rows.append(bench_size(size, formats, Path(work)))
            print(f"# {size} items measured in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(f"| items | {' | '.join(formats)} | full build | no-op | peak MB | bare genanki | bare WeasyPrint | bare pandoc EPUB | full / bare sum |")
    print("|" + " ---: |" * (len(formats) + 8))
    for row in rows:
        bare_sum = sum(row["bare"].values())
        cells = [f"{row[name]:.2f}" for name in formats]
        print(
            f"| {row['size']} | {' | '.join(cells)} | {row['full']:.2f} | {row['noop']:.2f} | {row['peak_mb']:.0f} | "
            f"{row['bare']['genanki']:.2f} | {row['bare']['weasyprint']:.2f} | {row['bare']['pandoc-epub']:.2f} | "
            f"{row['full'] / bare_sum:.2f} |"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = (last["full"] / first["full"]) / (last["size"] / first["size"])
        print(f"\nTime per item at {last['size']} items relative to {first['size']}: {growth:.2f}x (1.0 = linear)")


if __name__ == "__main__":
    main()
