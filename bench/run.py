"""spindle's benchmark suite: ``python -m bench`` or ``python bench/run.py``.

Times spindle (its builds, diagnostics off and on), stock asyncio, uvloop and rloop side by
side, interleaved, and prints ops/s per implementation with the ratio to asyncio.  See
``bench/README.md`` for the method; ``bench.pyperf`` and ``bench.echo`` are the other suites.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if not __package__:
    # Run as a script (``python bench/run.py``): make the ``bench`` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import columns, driver, options, report, targets
from bench.cases import API_MODES, CASES, by_name, rows

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
        "--api",
        choices=[*API_MODES, "both"],
        default="both",
        help="whose sleep/gather/TaskGroup/Queue the cases call: each implementation's own, "
        "asyncio's on every loop ([asyncio-api] rows), or both (default)",
    )
    p.add_argument("--scale", type=float, help="multiply every case's size by this factor")
    options.add_common(p)
    return p


def _plan(args: argparse.Namespace) -> driver.Plan:
    scale = args.scale if args.scale is not None else (QUICK_SCALE if args.quick else 1.0)
    rounds = (
        args.rounds if args.rounds is not None else (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    )
    if rounds < 1 or scale <= 0:
        raise SystemExit("cannot run: --rounds must be at least 1 and --scale positive")
    cases = [by_name(name) for name in args.only] if args.only else list(CASES)
    plan_rows = rows(cases, args.api)
    sizes = {row.label: max(2, round(row.case.size * scale)) for row in plan_rows}
    return driver.Plan(rows=plan_rows, sizes=sizes, impls=options.impls(args), rounds=rounds)


def _means(plan: driver.Plan, api: str) -> dict[str, list[str]]:
    """One geometric mean per API mode run: over that mode's rows and the API-free ones."""
    modes = API_MODES if api == "both" else (api,)
    return {
        f"geometric mean, {mode} API": [row.label for row in plan.rows if mode in row.modes]
        for mode in modes
    }


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    plan = _plan(args)
    found = columns.available(plan.impls, _log)
    if not found:
        _log("cannot run: no implementation is available")
        return 1
    plan = driver.Plan(plan.rows, plan.sizes, [c.name for c in found], plan.rounds)
    started = time.perf_counter()
    results = driver.run(plan, _log)
    elapsed = time.perf_counter() - started
    print(columns.header(found, rounds=plan.rounds, seconds=elapsed))
    print("\n" if args.markdown else "", end="")
    rows_ = report.table(results, means=_means(plan, args.api))
    print(report.render(rows_, markdown=args.markdown))
    print(targets.section(results, markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
