"""The one way this project runs pandoc: the binary that pypandoc-binary ships."""

from __future__ import annotations

import subprocess
from functools import cache

import pypandoc

from .processes import subprocess_dies_with_parent


@cache
def pandoc_path() -> str:
    return pypandoc.get_pandoc_path()


def run_pandoc(
    args: list[str], stdin: bytes, env: dict[str, str] | None = None, cwd: str | None = None,
    timeout: float | None = None,
) -> bytes:
    """Run pandoc with `args`, feeding `stdin`; raises RuntimeError with pandoc's message, and
    subprocess.TimeoutExpired (pandoc killed, its stderr so far attached) after `timeout` seconds.
    pandoc is killed if this process dies first."""
    completed = subprocess.run(
        [pandoc_path(), *args], input=stdin, capture_output=True, env=env, cwd=cwd, check=False, timeout=timeout,
        **subprocess_dies_with_parent(),
    )
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"pandoc {' '.join(args[:2])} failed: {message}")
    return completed.stdout
