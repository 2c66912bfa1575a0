"""spindle's benchmark suite: ``python -m bench`` or ``python bench/run.py``.

Times spindle, stock asyncio, uvloop and rloop side by side, interleaved, and prints ops/s per
implementation with the ratio to asyncio.  See ``bench/README.md`` for the method.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

if not __package__:
    # Run as a script (``python bench/run.py``): make the ``bench`` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import driver, report
from bench.cases import CASES, by_name
from bench.impls import IMPLS

__all__ = ["main"]

DEFAULT_ROUNDS = 11
QUICK_ROUNDS = 5
QUICK_SCALE = 0.2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument(
        "--rounds",
        type=int,
        help=f"rounds to run (default {DEFAULT_ROUNDS}, {QUICK_ROUNDS} with --quick)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"fewer rounds and sizes x{QUICK_SCALE}: a sanity check in seconds",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="CASE",
        choices=[c.name for c in CASES],
        help="run only this case (repeatable)",
    )
    p.add_argument(
        "--impl",
        action="append",
        metavar="IMPL",
        choices=IMPLS,
        help=f"time only this implementation (repeatable; from {', '.join(IMPLS)})",
    )
    p.add_argument("--scale", type=float, help="multiply every case's size by this factor")
    p.add_argument("--markdown", action="store_true", help="print the table as markdown")
    return p


def _plan(args: argparse.Namespace) -> driver.Plan:
    scale = args.scale if args.scale is not None else (QUICK_SCALE if args.quick else 1.0)
    rounds = (
        args.rounds if args.rounds is not None else (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    )
    if rounds < 1 or scale <= 0:
        raise SystemExit("cannot run: --rounds must be at least 1 and --scale positive")
    cases = [by_name(name) for name in args.only] if args.only else list(CASES)
    impls = [i for i in IMPLS if i in args.impl] if args.impl else list(IMPLS)
    sizes = {c.name: max(2, round(c.size * scale)) for c in cases}
    return driver.Plan(sizes=sizes, impls=impls, rounds=rounds)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    plan = _plan(args)
    versions = driver.probe(plan.impls, _log)
    if not versions:
        _log("cannot run: no implementation is available")
        return 1
    plan = driver.Plan(plan.sizes, [i for i in plan.impls if i in versions], plan.rounds)
    started = time.perf_counter()
    results = driver.run(plan, _log)
    elapsed = time.perf_counter() - started
    header = (
        f"{plan.rounds} rounds in {elapsed:.0f} s; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; " + ", ".join(f"{i} {v}" for i, v in versions.items())
    )
    print(header + ("\n" if args.markdown else ""))
    print(report.render(results, markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
