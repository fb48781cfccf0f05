#!/usr/bin/env python3
"""Build every bank in source/ into dist/ (see README.md, or `python build.py --help`).

Any Python 3 may run this file: if it is too old or lacks qbank's dependencies, the build
runs under the project's own .venv/ (which `bash tasks.sh build` makes), or, without one,
says in one line to make it first. (Kept free of newer syntax so old Pythons can say so.)
"""

import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
NEEDS = (3, 11)
# The import names of pyproject.toml's dependencies: found without importing them.
DEPENDENCIES = ("yaml", "jinja2", "pypandoc", "weasyprint", "genanki", "fontTools", "uharfbuzz")
TRIED_VENV = "QBANK_TRIED_VENV"  # set while re-running under .venv/, so a broken one cannot loop


def what_is_missing():
    """Why this Python cannot run qbank, or None if it can."""
    here = "%s (Python %s)" % (sys.executable or "this Python", ".".join(str(part) for part in sys.version_info[:3]))
    if sys.version_info < NEEDS:
        return "%s is too old: qbank needs Python %d.%d or newer" % ((here,) + NEEDS)
    import importlib.util

    missing = [name for name in DEPENDENCIES if importlib.util.find_spec(name) is None]
    if missing:
        return "%s lacks qbank's dependencies (%s)" % (here, ", ".join(missing))
    return None


def venv_python():
    for relative in (os.path.join(".venv", "bin", "python"), os.path.join(".venv", "Scripts", "python.exe")):
        candidate = os.path.join(ROOT, relative)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_under_venv(python):
    os.environ[TRIED_VENV] = "1"
    arguments = [python, os.path.join(ROOT, "build.py")] + sys.argv[1:]
    if os.name == "nt":  # no exec on Windows: run it and pass its exit code on
        import subprocess

        sys.exit(subprocess.call(arguments))
    os.execv(python, arguments)


def main():
    problem = what_is_missing()
    if problem:
        python = venv_python()
        if python and not os.environ.get(TRIED_VENV):
            run_under_venv(python)  # does not return
        if os.environ.get(TRIED_VENV):
            problem += " (this is .venv/, which is incomplete)"
        sys.stderr.write("build.py: error: %s; run 'bash tasks.sh build' first: it makes .venv/ with all that "
                         "qbank needs, and builds (README.md)\n" % problem)
        return 1
    os.environ.pop(TRIED_VENV, None)
    from qbank.cli import main as qbank_main

    return qbank_main()


if __name__ == "__main__":
    sys.exit(main())
