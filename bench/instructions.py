"""Instructions per operation, counted by valgrind: the bench's cases without the machine's noise.

On a shared machine a wall-clock row moves by 10-20% from one run to the next; the number of
instructions a case executes does not move with the machine's load.  ``python -m
bench.instructions`` runs each row of ``bench.cases`` (spindle's own API and asyncio's, as
``python -m bench`` does) under ``valgrind --tool=callgrind``, in a fresh process, at two sizes,
and prints the difference in instructions divided by the difference in size: what one more
operation costs, with start-up, imports and warm-up (the same in both runs) cancelled out.

Instructions are not time (a cache miss costs more than an add, and valgrind does not count the
kernel's work); they are what a change to the hot path moves, to a fraction of a percent, and
what tells two implementations' costs apart where the clock cannot::

    .venv/bin/python -m bench.instructions --impl spindle --impl uvloop --only create_task

Each count takes valgrind some 10-30 seconds; ``--jobs`` runs that many at once (default: the
number of CPUs, which valgrind's counts do not depend on).

Under valgrind a program runs some 50 times slower, so with diagnostics on (``spindle-diag``)
the watchdog would see every large batch's step as a blocked loop, print its reports, and have
them counted as the case's work.  The counted runs raise its threshold by the same factor
(``SPINDLE_BLOCK_THRESHOLD``, ``VALGRIND_THRESHOLD``): a step is a block when it would be one
at full speed, and the watchdog wakes about as often per operation as it does at full speed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.cases import CASES, Row, by_name, rows
from bench.impls import check, load
from bench.worker import measure

__all__ = ["Count", "collected", "counted_environment", "main", "per_operation"]

# The two sizes counted; every case's body runs its operations in full batches of BATCH and
# one smaller remainder (``bench.cases``), so the larger size adds whole batches.
SMALL, LARGE = 2_000, 12_000
WARM_UP = 200  # operations run before the counted ones, in both runs alike
# The watchdog's threshold in the counted runs: the default (0.1 s) times valgrind's slowdown.
VALGRIND_THRESHOLD = "5"
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


@dataclass(frozen=True)
class Count:
    """One row on one implementation: instructions at the two sizes."""

    impl: str
    row: Row
    small: int
    large: int

    @property
    def per_operation(self) -> float:
        return per_operation(self.small, self.large)


def per_operation(small: int, large: int) -> float:
    """Instructions one operation adds: the two runs' difference over their sizes'."""
    return (large - small) / (LARGE - SMALL)


def collected(valgrind_stderr: str) -> int:
    """The instruction count in callgrind's closing summary (``Collected : N``)."""
    match = _COLLECTED.search(valgrind_stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{valgrind_stderr}")
    return int(match.group(1))


def counted_environment() -> dict[str, str]:
    """The counted process's environment: this one's, with the watchdog's threshold raised."""
    return {**os.environ, "SPINDLE_BLOCK_THRESHOLD": VALGRIND_THRESHOLD}


def _run_counted(impl: str, row: Row, n: int) -> int:
    """Instructions of a fresh process that warms ``row`` up and runs it ``n`` times."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", "bench.instructions", "--run", impl, row.case.name, row.api, str(n),
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, env=counted_environment()
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")
    return collected(done.stderr)


def _count(impl: str, row: Row) -> Count:
    return Count(impl, row, _run_counted(impl, row, SMALL), _run_counted(impl, row, LARGE))


def _run_one(impl_name: str, case_name: str, api_mode: str, n: int) -> None:
    """The process valgrind watches: warm up, then run the row ``n`` times."""
    impl = load(impl_name)
    case = by_name(case_name)
    api = impl.primitives(api_mode)
    measure(impl, case, WARM_UP, api)
    measure(impl, case, n, api)


def table(counts: list[Count], impls: list[str]) -> str:
    """A markdown table: a row per case, thousands of instructions per operation per column."""
    head = "| case | " + " | ".join(f"{name} (k instr/op)" for name in impls) + " |"
    lines = [head, "|:--|" + "--:|" * len(impls)]
    by_key = {(c.row.label, c.impl): c for c in counts}
    for label in dict.fromkeys(c.row.label for c in counts):
        cells = [f"{by_key[label, name].per_operation / 1000:.1f}" for name in impls]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--impl", action="append", help="a column (repeatable): spindle, uvloop")
    parser.add_argument("--only", action="append", help="a case (repeatable): all by default")
    parser.add_argument("--api", default="both", help="own, asyncio or both (default)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--run", nargs=4, metavar=("IMPL", "CASE", "API", "N"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.run is not None:
        impl_name, case_name, api_mode, n = args.run
        _run_one(impl_name, case_name, api_mode, int(n))
        return 0
    if shutil.which("valgrind") is None:
        print(
            "bench.instructions: valgrind is not on PATH (apt-get install valgrind)",
            file=sys.stderr,
        )
        return 2
    impls = [check(name) for name in (args.impl or ["spindle", "uvloop"])]
    cases = [by_name(name) for name in args.only] if args.only else list(CASES)
    work = [(impl, row) for row in rows(cases, args.api) for impl in impls]
    print(
        f"counting {len(work)} rows x 2 sizes under valgrind, {args.jobs} at a time",
        file=sys.stderr,
    )
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        counts = list(pool.map(lambda item: _count(*item), work))
    print(f"{sys.implementation.name} {sys.version.split()[0]}; sizes {SMALL} and {LARGE}")
    print()
    print(table(counts, impls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
