"""``python -m bench.pyperf``: pyperformance's asyncio benchmarks, unmodified, on every loop.

Prints the time of one run of each benchmark per implementation, with the ratio to asyncio,
from interleaved rounds, the same kind of table as ``python -m bench``.

Method: one process per (round, benchmark, implementation) (``bench.pyperf.worker``: pyperf's
worker mode, in which the benchmark's script times ``WARMUPS + VALUES`` runs, each in a fresh
loop made by ``asyncio.new_event_loop()``, and keeps the last ``VALUES``).  A measurement is the
mean of its values.  Within a round, for each benchmark, the implementations take turns in an
order that rotates with the round and the benchmark, so each goes first equally often and the
runs of one benchmark are seconds apart (what the paired ratio in ``report`` relies on on a
shared machine).  A fresh process for each keeps one benchmark's heap and caches out of the next.

A benchmark an implementation fails (an error, or no result within ``--timeout``: rloop 0.5 hangs
in ``asyncio_tcp``) is not asked of it again in later rounds: its cell reads "n/a" and the reason
is logged once, and a hang costs one timeout per run, not one per round.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import columns, options, report, targets
from bench.driver import ROOT, rotated
from bench.pyperf.suite import DEFAULT, asyncio_group

__all__ = ["Settings", "main", "run", "values_of"]

DEFAULT_ROUNDS = 3
# A process runs a benchmark twice (warm-up, value): asyncio_tcp_ssl, the longest, takes about
# 20 s so here on a busy machine.  One that takes this long has hung.
DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Settings:
    """What to run: benchmarks, implementations, rounds, and pyperf's values per process."""

    names: list[str]
    impls: list[str]
    rounds: int
    values: int
    warmups: int
    timeout: float = DEFAULT_TIMEOUT


def values_of(path: Path) -> list[float]:
    """The values (seconds per run) in a pyperf JSON file, warm-ups left out.

    pyperf's format (version 1.0): ``{"benchmarks": [{"runs": [{"values": [...],
    "warmups": [[loops, value], ...], "metadata": {...}}]}], ...}``.
    """
    data = json.loads(path.read_text())
    values = [
        float(value)
        for bench in data["benchmarks"]
        for run in bench["runs"]
        for value in run.get("values", [])
    ]
    if not values:
        raise ValueError(f"no values in {path}")
    return values


def measure(impl: str, name: str, values: int, warmups: int, timeout: float) -> float | str:
    """Mean seconds per run of benchmark ``name`` on ``impl``; a string saying why if it failed."""
    with tempfile.TemporaryDirectory(prefix="spindle-bench-pyperf-") as tmp:
        output = Path(tmp) / "values.json"
        command = [sys.executable, "-m", "bench.pyperf.worker", impl, name, str(output)]
        command += [str(values), str(warmups)]
        try:
            done = subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return f"no result after {timeout:.0f} s (hung?)"
        if done.returncode != 0 or not output.is_file():
            lines = (done.stderr or done.stdout).strip().splitlines()
            return f"exit status {done.returncode}: " + " / ".join(lines[-3:])
        return statistics.fmean(values_of(output))


def run(settings: Settings, log: Callable[[str], None]) -> report.Results:
    """Every round of ``settings``; progress and failures go to ``log``."""
    results = report.Results(sizes=dict.fromkeys(settings.names, 1), impls=list(settings.impls))
    for round_no in range(settings.rounds):
        log(f"round {round_no + 1}/{settings.rounds}")
        for index, name in enumerate(settings.names):
            for impl in rotated(list(settings.impls), round_no + index):
                if (name, impl) in results.notes:
                    continue  # failed in an earlier round: not asked again
                outcome = measure(impl, name, settings.values, settings.warmups, settings.timeout)
                if isinstance(outcome, str):
                    log(f"{name} on {impl}: {outcome}")
                    results.note(name, impl, outcome)
                else:
                    results.record(name, impl, round_no, outcome)
    return results


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.pyperf", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, help=f"rounds (default {DEFAULT_ROUNDS}; 1 with --quick)")
    p.add_argument("--values", type=int, default=1, help="timed runs per process (default 1)")
    p.add_argument(
        "--warmups", type=int, help="untimed runs first, per process (default 1; 0 with --quick)"
    )
    p.add_argument(
        "--quick", action="store_true", help="1 round, no warm-up: a sanity check, not numbers"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds a process may take before it counts as hung (default {DEFAULT_TIMEOUT:.0f})",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark of pyperformance's asyncio group (repeatable)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="the whole asyncio group this Python supports (eager variants need 3.12+)",
    )
    options.add_common(p)
    return p


def _settings(args: argparse.Namespace) -> Settings:
    group = asyncio_group()
    if args.only:
        unknown = [name for name in args.only if name not in group]
        if unknown:
            raise SystemExit(
                f"cannot run {', '.join(unknown)}: pyperformance's asyncio group has "
                + ", ".join(group)
            )
        names = list(dict.fromkeys(args.only))
    elif args.all:
        names = [name for name, bench in group.items() if bench.supported]
    else:
        missing = [name for name in DEFAULT if name not in group]
        if missing:
            raise SystemExit(f"the installed pyperformance lacks {', '.join(missing)}")
        names = list(DEFAULT)
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else DEFAULT_ROUNDS)
    warmups = args.warmups if args.warmups is not None else (0 if args.quick else 1)
    if rounds < 1 or args.values < 1 or warmups < 0 or args.timeout <= 0:
        raise SystemExit(
            "cannot run: --rounds and --values must be at least 1, --warmups >= 0, "
            "--timeout positive"
        )
    return Settings(names, options.impls(args), rounds, args.values, warmups, args.timeout)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = _settings(args)
    found = columns.available(settings.impls, _log)
    if not found:
        _log("cannot run: no implementation is available")
        return 1
    settings = dataclasses.replace(settings, impls=[c.name for c in found])
    started = time.perf_counter()
    results = run(settings, _log)
    elapsed = time.perf_counter() - started
    print(columns.header(found, rounds=settings.rounds, seconds=elapsed))
    print(
        f"pyperformance benchmarks, unmodified; {settings.warmups} warm-up + "
        f"{settings.values} timed run(s) per process; time per run (lower is better)"
    )
    print("\n" if args.markdown else "", end="")
    rows = report.table(results, cell=report.time_cell, unit="time", first="benchmark")
    print(report.render(rows, markdown=args.markdown))
    print(targets.section(results, first="benchmark", beat_asyncio=True, markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
