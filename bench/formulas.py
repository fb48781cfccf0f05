"""The time to typeset every formula of a bank with many formulas: MathJax (one Node process,
qbank/mathjax.py) against ziamath, the PDFs' typesetter before it, each cold (a fresh
process) and warm (again in the same process, from its per-formula cache).

The formulas are those of the English bank and the formulas fixture, each made distinct by a
numbered term, up to COUNT of them (a bank with 500 formulas).

    python -m bench.formulas [COUNT]     # prints {"mathjax": {...}, "ziamath": {...}} in seconds

ziamath is no longer one of qbank's dependencies: without `pip install ziamath==0.13` only
MathJax is timed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

from qbank.lock import Lock
from qbank.reader import load_bank
from qbank.render import _fields, _render_html

ROOT = Path(__file__).resolve().parent.parent
BANKS = (ROOT / "source" / "ml-coding-interview.yaml", ROOT / "tests" / "fixtures" / "formulas" / "formulas-bank.yaml")
COUNT = 500


def formulas(count: int) -> list[tuple[str, bool]]:
    """`count` distinct formulas, as the render step finds them."""
    found: list[tuple[str, bool]] = []
    for path in BANKS:
        bank = load_bank(path)
        found += [(tex, displayed) for _, tex, displayed in _render_html(bank, _fields(bank), 1)[3]]
    distinct = list(dict.fromkeys(found))
    return [(f"{tex} + {number}", displayed) for number in range(count // len(distinct) + 1)
            for tex, displayed in distinct][:count]


def _time_mathjax(wanted: list[tuple[str, bool]]) -> dict[str, float]:
    from qbank import mathjax
    started = time.perf_counter()
    typeset = mathjax.typeset(wanted)
    cold = time.perf_counter() - started
    assert not typeset.missing and not typeset.errors, (typeset.reason, typeset.errors)
    started = time.perf_counter()
    mathjax.typeset(wanted)
    return {"cold": cold, "warm": time.perf_counter() - started, "failed": 0}


def _time_ziamath(wanted: list[tuple[str, bool]]) -> dict[str, float]:
    """ziamath as the PDFs used it (main's qbank/writers/formulas.py, kept here as its calls)."""
    import ziamath
    ziamath.config.svg2 = False
    failed = 0

    def each() -> None:
        nonlocal failed
        for tex, displayed in wanted:
            try:
                ziamath.Latex(tex, size=100.0, inline=not displayed, margin=0, title=tex).svgxml()
            except Exception:  # what it cannot read, as before: a build error
                failed += 1

    started = time.perf_counter()
    each()
    # Warm was functools.cache on (tex, display): a dictionary look-up per formula.
    cache = {key: "" for key in wanted}
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for key in wanted:
        cache[key]
    return {"cold": cold, "warm": time.perf_counter() - started, "failed": failed}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--engine":  # one engine, in a fresh process: cold is cold
        wanted = [tuple(key) for key in json.loads(sys.stdin.read())]
        print(json.dumps((_time_mathjax if sys.argv[2] == "mathjax" else _time_ziamath)(wanted)))
        return
    wanted = formulas(int(sys.argv[1]) if len(sys.argv) > 1 else COUNT)
    results = {}
    engines = ["mathjax"]
    if importlib.util.find_spec("ziamath"):
        engines.append("ziamath")
    else:  # no longer a dependency of qbank: the comparison needs `pip install ziamath==0.13`
        print("note: ziamath is not installed (pip install ziamath==0.13); timing MathJax only", file=sys.stderr)
    for engine in engines:
        completed = subprocess.run([sys.executable, "-m", "bench.formulas", "--engine", engine], input=json.dumps(wanted),
                                   capture_output=True, text=True, check=True, cwd=ROOT)
        results[engine] = json.loads(completed.stdout)
    print(json.dumps({"formulas": len(wanted), **results}, indent=2))


if __name__ == "__main__":
    main()
