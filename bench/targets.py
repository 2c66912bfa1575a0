"""Issue 8's targets, measured: a verdict per row from the same run's paired rounds.

Each target compares two columns row by row: the median over rounds of the paired ratio
``other seconds / impl seconds`` (above 1: ``impl`` is faster, or for the echo server's CPU
table, uses less CPU), against the bar the issue sets:

* ``spindle`` at least as fast as ``uvloop`` (>= 1.00) on every row, in every suite;
* ``spindle`` faster than stock asyncio (> 1.00) on every pyperformance benchmark;
* ``spindle-diag`` within 5% of ``spindle`` (>= 0.95): diagnostics on cost at most 5%;
* ``spindle-pure`` not slower than ``spindle@REF`` (>= 1.00) for each ref timed: the pure build
  does not get slower than the code it replaces.

A target whose columns are not both in the run is left out.  On a shared machine a row within a
few percent of its bar can fall either side from run to run: the ratio is printed with the
verdict so that a near miss reads as one.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench import builds
from bench.report import Results, render

__all__ = ["Target", "for_columns", "paired", "section", "table"]


@dataclass(frozen=True)
class Target:
    """``impl`` against ``other``: met when the paired ratio reaches ``bar``."""

    impl: str
    other: str
    bar: float
    strict: bool = False  # met only above the bar, not at it

    @property
    def title(self) -> str:
        sign = ">" if self.strict else ">="
        return f"{self.impl} vs {self.other} ({sign} {self.bar:.2f})"

    def met(self, ratio: float) -> bool:
        return ratio > self.bar if self.strict else ratio >= self.bar


def for_columns(impls: list[str], *, beat_asyncio: bool = False) -> list[Target]:
    """The targets that ``impls`` (a run's columns) can show."""
    wanted = [Target("spindle", "uvloop", 1.0)]
    if beat_asyncio:
        wanted.append(Target("spindle", "asyncio", 1.0, strict=True))
    wanted.append(Target("spindle-diag", "spindle", 0.95))
    for impl in impls:
        variant = builds.parse(impl)
        if variant is not None and variant.build.ref is not None and not variant.diagnostics:
            wanted.append(Target("spindle-pure", impl, 1.0))
    return [t for t in wanted if t.impl in impls and t.other in impls]


def paired(results: Results, row: str, impl: str, other: str) -> float | None:
    """Median over rounds of ``other seconds / impl seconds`` for ``row``; None if no pair."""
    mine = results.seconds.get((row, impl), {})
    theirs = results.seconds.get((row, other), {})
    ratios = [theirs[r] / t for r, t in mine.items() if r in theirs and t > 0]
    return statistics.median(ratios) if ratios else None


def table(results: Results, targets: list[Target], *, first: str = "case") -> list[list[str]]:
    """Header, one row per row of ``results`` with each target's ratio and verdict, a count."""
    rows = [[first] + [t.title for t in targets]]
    met = [0] * len(targets)
    for row in results.sizes:
        cells = [row]
        for index, target in enumerate(targets):
            ratio = paired(results, row, target.impl, target.other)
            if ratio is None:
                cells.append("n/a")
                continue
            ok = target.met(ratio)
            met[index] += ok
            # Three decimals: a ratio just under its bar must not print as the bar itself.
            cells.append(f"{ratio:.3f}x {'ok' if ok else 'MISS'}")
        rows.append(cells)
    rows.append(["rows met"] + [f"{m}/{len(results.sizes)}" for m in met])
    return rows


def section(
    results: Results, *, first: str = "case", beat_asyncio: bool = False, markdown: bool = False
) -> str:
    """The targets table with its title, for printing after a suite's table; "" if none apply."""
    wanted = for_columns(results.impls, beat_asyncio=beat_asyncio)
    if not wanted:
        return ""
    title = "issue 8's targets: paired per-round ratios, ok = met in this run (bench/targets.py)"
    return f"\n{title}\n\n" + render(table(results, wanted, first=first), markdown=markdown)
