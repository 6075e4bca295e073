"""How long ``python starter.py --help`` takes, from a shell (goal: under half a second).

    .venv/bin/python -m bench.cli_startup [--repeat 10]

Runs the command in a fresh interpreter ``--repeat`` times and prints the median, fastest and
slowest wall time, beside a bare interpreter's start (``python -c pass``) for scale, then the
modules that cost most to import (``python -X importtime``). Heavy modules (temporalio,
SQLAlchemy, the services) are imported inside the commands, so they must not be in that list.
It asserts nothing (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import machine_line

GOAL_SECONDS = 0.5
ROOT = Path(__file__).resolve().parent.parent


def wall_times(argv: list[str], repeat: int) -> list[float]:
    """Wall time of ``argv`` (run from the repository) ``repeat`` times, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def heaviest_imports(count: int) -> list[tuple[float, str]]:
    """The ``count`` imports of ``starter.py --help`` that take longest (cumulative), among
    what ``cli`` imports and what those import in turn."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "starter.py", "--help"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    found: list[tuple[float, str]] = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip()) - 1) // 2  # two spaces a level
        if depth in (1, 2):
            found.append((int(parts[1]) / 1e6, f"{'  ' * (depth - 1)}{name.strip()}"))
    return sorted(found, reverse=True)[:count]


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs of each command")
    args = parser.parse_args()

    bare = wall_times([sys.executable, "-c", "pass"], args.repeat)
    helped = wall_times([sys.executable, "starter.py", "--help"], args.repeat)
    print(f"# starter.py --help, {args.repeat} runs ({machine_line()})")
    print(f"python -c pass         median {statistics.median(bare):.3f} s")
    print(
        f"starter.py --help      median {statistics.median(helped):.3f} s "
        f"(fastest {min(helped):.3f}, slowest {max(helped):.3f}; goal < {GOAL_SECONDS} s)"
    )
    print("heaviest imports (cumulative, one run under -X importtime, which slows it):")
    for seconds, name in heaviest_imports(8):
        print(f"  {seconds:6.3f} s  {name}")


if __name__ == "__main__":
    main()
