"""From timings to a table: medians, spread, and the ratio to asyncio.

Pure functions over plain data, so the arithmetic can be read (and checked) without a loop.

- **ops/s** is the median over rounds of ``n / seconds``.
- **spread** (shown as ``±``) is half the interquartile range of those rates, relative to the
  median: how far the middle half of the rounds stray, insensitive to the odd round disturbed by
  another process.
- **ratio** ("x asyncio", asyncio = 1.00x) is the median over rounds of the *paired* ratio
  ``asyncio seconds / impl seconds`` within the same round.  The two were measured seconds
  apart, so a round in which the machine was busy slows both and the pair cancels it out;
  this is why the ratio can differ slightly from the quotient of the two medians.
- the last row is the geometric mean of each implementation's ratios over the cases it ran.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

__all__ = ["Results", "Summary", "render", "summarise"]

REFERENCE = "asyncio"


@dataclass
class Results:
    """Every timing of a run: ``seconds[(case, impl)][round]``, and why a cell has none."""

    sizes: dict[str, int]
    impls: list[str]
    seconds: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)

    def record(self, case: str, impl: str, round_no: int, seconds: float) -> None:
        self.seconds.setdefault((case, impl), {})[round_no] = seconds

    def note(self, case: str, impl: str, why: str) -> None:
        self.notes.setdefault((case, impl), why)


@dataclass(frozen=True)
class Summary:
    """One cell of the table."""

    ops: float
    spread: float
    ratio: float | None


def summarise(n: int, timings: dict[int, float], reference: dict[int, float]) -> Summary:
    """The cell for ``n`` operations timed in ``timings`` (round -> seconds)."""
    rates = [n / t for t in timings.values()]
    ops = statistics.median(rates)
    spread = 0.0
    if len(rates) >= 2:
        q1, _, q3 = statistics.quantiles(rates, n=4, method="inclusive")
        spread = (q3 - q1) / 2 / ops
    paired = [reference[r] / t for r, t in timings.items() if r in reference]
    ratio = statistics.median(paired) if paired else None
    return Summary(ops, spread, ratio)


def _rate(ops: float) -> str:
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if ops >= scale:
            return f"{ops / scale:.2f}{suffix}"
    return f"{ops:.0f}"


def _cells(results: Results, case: str, impl: str) -> tuple[str, str]:
    timings = results.seconds.get((case, impl))
    if not timings:
        return ("n/a" if (case, impl) in results.notes else "-", "")
    reference = results.seconds.get((case, REFERENCE), {})
    cell = summarise(results.sizes[case], timings, reference)
    ratio = "" if cell.ratio is None else f"{cell.ratio:.2f}x"
    return (f"{_rate(cell.ops)} ±{cell.spread * 100:.0f}%", ratio)


def _geomean_row(results: Results) -> list[str]:
    row = ["geometric mean"]
    for impl in results.impls:
        ratios = []
        for case in results.sizes:
            timings = results.seconds.get((case, impl))
            reference = results.seconds.get((case, REFERENCE), {})
            if timings:
                ratio = summarise(results.sizes[case], timings, reference).ratio
                if ratio is not None:
                    ratios.append(ratio)
        row += ["", f"{math.exp(statistics.fmean(map(math.log, ratios))):.2f}x" if ratios else ""]
    return row


def table(results: Results) -> list[list[str]]:
    """Header row, one row per case, then the geometric-mean row."""
    rows = [["case"] + [h for impl in results.impls for h in (f"{impl} ops/s", "x asyncio")]]
    for case in results.sizes:
        rows.append([case] + [c for impl in results.impls for c in _cells(results, case, impl)])
    rows.append(_geomean_row(results))
    return rows


def render(results: Results, *, markdown: bool = False) -> str:
    """The table as aligned text, or as a GitHub markdown table."""
    rows = table(results)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        return ("| " + " | ".join(cells) + " |") if markdown else "  ".join(cells)

    out = [line(rows[0])]
    if markdown:
        rules = [":" + "-" * (widths[0] + 1)] + ["-" * (w + 1) + ":" for w in widths[1:]]
        out.append("|" + "|".join(rules) + "|")
    out += [line(row) for row in rows[1:]]
    return "\n".join(out)
