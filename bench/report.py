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

When both ``spindle`` (diagnostics off) and ``spindle-diag`` (as users run it: under the runner,
diagnostics on) ran, a second table gives what the diagnostics cost on each case: the median of
the per-round paired ratios ``spindle-diag seconds / spindle seconds``, minus one.  The target
is at most 5% on every row.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

__all__ = ["Results", "Summary", "diagnostics_cost", "render", "summarise", "table"]

REFERENCE = "asyncio"
# (with diagnostics, without): the pair whose paired ratio is the diagnostics' cost.
DIAGNOSTICS_PAIR = ("spindle-diag", "spindle")


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
        """Keep the first reason ``impl`` could not time ``case``."""
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


def _summaries(results: Results) -> dict[tuple[str, str], Summary]:
    """A summary for every (case, impl) that has timings."""
    out: dict[tuple[str, str], Summary] = {}
    for (case, impl), timings in results.seconds.items():
        reference = results.seconds.get((case, REFERENCE), {})
        out[case, impl] = summarise(results.sizes[case], timings, reference)
    return out


def _geomean(ratios: list[float]) -> str:
    return f"{math.exp(statistics.fmean(map(math.log, ratios))):.2f}x" if ratios else ""


def table(results: Results) -> list[list[str]]:
    """Header row, one row per case, then the geometric mean of the ratios.

    The ratio columns appear only when asyncio, the reference, is among the implementations.
    A cell reads "n/a" when the implementation failed that case (the reason was logged).
    """
    with_ratio = REFERENCE in results.impls
    summaries = _summaries(results)
    header = ["case"]
    for impl in results.impls:
        header += [f"{impl} ops/s", "x asyncio"] if with_ratio else [f"{impl} ops/s"]
    rows = [header]
    for case in results.sizes:
        row = [case]
        for impl in results.impls:
            cell = summaries.get((case, impl))
            rate = "n/a" if cell is None else f"{_rate(cell.ops)} ±{cell.spread * 100:.0f}%"
            ratio = "" if cell is None or cell.ratio is None else f"{cell.ratio:.2f}x"
            row += [rate, ratio] if with_ratio else [rate]
        rows.append(row)
    if with_ratio:
        row = ["geometric mean"]
        for impl in results.impls:
            cells = [s for (_, i), s in summaries.items() if i == impl]
            ratios = [s.ratio for s in cells if s.ratio is not None]
            row += ["", _geomean(ratios)]
        rows.append(row)
    return rows


def diagnostics_cost(results: Results) -> list[list[str]] | None:
    """Header row and one row per case: spindle-diag's extra time over spindle's, or None.

    None when the run did not time both.  The cost is the median over rounds of the paired
    ratio ``with / without - 1`` (positive: the diagnostics made the case slower).
    """
    with_diag, without = DIAGNOSTICS_PAIR
    if with_diag not in results.impls or without not in results.impls:
        return None
    rows = [["case", f"{with_diag} vs {without}"]]
    for case in results.sizes:
        on = results.seconds.get((case, with_diag), {})
        off = results.seconds.get((case, without), {})
        paired = [on[r] / off[r] for r in on if r in off]
        cell = f"{(statistics.median(paired) - 1) * 100:+.1f}%" if paired else "n/a"
        rows.append([case, cell])
    return rows


def render(results: Results, *, markdown: bool = False) -> str:
    """The tables as aligned text, or as GitHub markdown tables."""
    out = _render_rows(table(results), markdown)
    cost = diagnostics_cost(results)
    if cost is not None:
        title = "What the default diagnostics cost (time with them on vs off, same run):"
        out += "\n\n" + title + "\n\n" + _render_rows(cost, markdown)
    return out


def _render_rows(rows: list[list[str]], markdown: bool) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        return ("| " + " | ".join(cells) + " |") if markdown else "  ".join(cells).rstrip()

    out = [line(rows[0])]
    if markdown:
        rules = [":" + "-" * (widths[0] + 1)] + ["-" * (w + 1) + ":" for w in widths[1:]]
        out.append("|" + "|".join(rules) + "|")
    out += [line(row) for row in rows[1:]]
    return "\n".join(out)
