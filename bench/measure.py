"""Runs one command and prints its wall time and peak memory as JSON (for bench/benchmark.py).

    python -m bench.measure COMMAND...   # {"seconds": s, "largest_mb": m, "tree_mb": m, "code": c}

largest_mb: the peak resident memory of the largest single process of the command's tree: the
larger of the kernel's ru_maxrss over the reaped children and each process's own peak (VmHWM),
read from /proc every 50 ms while it runs. ru_maxrss alone misses the chunk layouts: they are
children of a fork server, which reaps them, but which ends unreaped itself, so their figures
never reach us (a 280 MB chunk did not count). A process's VmHWM holds its peak between two
readings; only what a process does after the last reading before it ends can escape.
tree_mb: the peak of the sum over every process of the tree alive at the same moment, sampled
every 50 ms from /proc (Linux only), so processes side by side add up.
processes: for each name the build gives its processes ("qbank cards", "pdf chunk", "pandoc":
processes.name_this_process), the peak of the largest process of that name, largest first.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids of every process now alive."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # the process ended while we looked
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _tree_memory(root: int) -> dict[tuple[str, int], tuple[int, int]]:
    """Resident bytes now and at the peak so far of each process of root's tree, by (name, pid)."""
    tree, each, pending = _children(), {}, [root]
    while pending:
        pid = pending.pop()
        pending += tree.get(pid, [])
        try:
            resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
            status = Path(f"/proc/{pid}/status").read_text()
            peak = int(status.split("VmHWM:", 1)[1].split()[0]) * 1024 if "VmHWM:" in status else resident
            each[(Path(f"/proc/{pid}/comm").read_text().strip(), pid)] = (resident, peak)
        except OSError:
            pass  # the process ended while we looked
    return each


def main() -> None:
    started = time.perf_counter()
    process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    tree_peak, peaks = 0, {}
    while process.poll() is None:
        each = _tree_memory(process.pid)
        tree_peak = max(tree_peak, sum(resident for resident, _ in each.values()))
        for process_key, (_, peak) in each.items():
            peaks[process_key] = max(peaks.get(process_key, 0), peak)
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    by_name: dict[str, int] = {}
    for (name, _), peak in peaks.items():
        by_name[name] = max(by_name.get(name, 0), peak)
    reaped_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    largest_mb = max([reaped_kb / 1024] + [peak / 2**20 for peak in by_name.values()])
    print(json.dumps({"seconds": seconds, "largest_mb": largest_mb, "tree_mb": tree_peak / 2**20,
                      "code": process.returncode,
                      "processes": {name: round(peak / 2**20) for name, peak in
                                    sorted(by_name.items(), key=lambda entry: -entry[1])}}))


if __name__ == "__main__":
    main()
