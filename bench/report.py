"""From timings to a table: medians, spread, and the ratio to asyncio.

Pure functions over plain data, so the arithmetic can be read (and checked) without a loop.
Every suite records *seconds* per measurement of a row; a row also says how many units one
measurement is (``n``: callbacks, requests, or 1 for a whole benchmark run), so a cell can show
a rate (``n`` over the median seconds) or a time per unit (the median seconds over ``n``).

- **the cell** is computed from the median over rounds of the seconds.
- **spread** (shown as ``±``) is half the interquartile range of those seconds, relative to the
  median: how far the middle half of the rounds stray, insensitive to the odd round disturbed by
  another process.
- **ratio** ("x asyncio", asyncio = 1.00x, higher is better) is the median over rounds of the
  *paired* ratio ``asyncio seconds / impl seconds`` within the same round.  The two were
  measured seconds apart, so a round in which the machine was busy slows both and the pair
  cancels it out; this is why the ratio can differ slightly from the quotient of two medians.
- a geometric-mean row summarises each implementation's ratios over a group of rows.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Results", "Summary", "rate_cell", "render", "summarise", "table", "time_cell"]

REFERENCE = "asyncio"


@dataclass
class Results:
    """Every timing of a run: ``seconds[(row, impl)][round]``, and why a cell has none.

    ``sizes`` maps each row, in table order, to the units one measurement of it is.
    """

    sizes: dict[str, int]
    impls: list[str]
    seconds: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)

    def record(self, row: str, impl: str, round_no: int, seconds: float) -> None:
        self.seconds.setdefault((row, impl), {})[round_no] = seconds

    def note(self, row: str, impl: str, why: str) -> None:
        """Keep the first reason ``impl`` could not time ``row``."""
        self.notes.setdefault((row, impl), why)


@dataclass(frozen=True)
class Summary:
    """One cell of the table."""

    seconds: float  # median seconds of one measurement
    spread: float
    ratio: float | None


def summarise(timings: dict[int, float], reference: dict[int, float]) -> Summary:
    """The cell for ``timings`` (round -> seconds), paired with the reference's rounds."""
    values = list(timings.values())
    median = statistics.median(values)
    spread = 0.0
    if len(values) >= 2:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        spread = (q3 - q1) / 2 / median if median else 0.0
    paired = [reference[r] / t for r, t in timings.items() if r in reference and t > 0]
    ratio = statistics.median(paired) if paired else None
    return Summary(median, spread, ratio)


Cell = Callable[[int, Summary], str]


def _scaled(value: float, steps: tuple[tuple[float, str], ...], digits: str) -> str:
    for scale, suffix in steps:
        if value >= scale:
            return f"{value / scale:{digits}}{suffix}"
    last_scale, last_suffix = steps[-1]
    return f"{value / last_scale:{digits}}{last_suffix}"


def rate_cell(n: int, cell: Summary) -> str:
    """``n`` units over the median seconds: "1.23M ±5%"."""
    rate = n / cell.seconds if cell.seconds > 0 else math.inf
    text = _scaled(rate, ((1e6, "M"), (1e3, "k"), (1.0, "")), ".2f") if rate >= 1 else f"{rate:.2f}"
    return f"{text} ±{cell.spread * 100:.0f}%"


def time_cell(n: int, cell: Summary) -> str:
    """The median seconds per unit: "1.23 s ±5%", "45.6 us ±3%"."""
    steps = ((1.0, " s"), (1e-3, " ms"), (1e-6, " us"), (1e-9, " ns"))
    return f"{_scaled(cell.seconds / n, steps, '.3g')} ±{cell.spread * 100:.0f}%"


def _summaries(results: Results) -> dict[tuple[str, str], Summary]:
    """A summary for every (row, impl) that has timings."""
    out: dict[tuple[str, str], Summary] = {}
    for (row, impl), timings in results.seconds.items():
        reference = results.seconds.get((row, REFERENCE), {})
        out[row, impl] = summarise(timings, reference)
    return out


def _geomean(ratios: list[float]) -> str:
    return f"{math.exp(statistics.fmean(map(math.log, ratios))):.2f}x" if ratios else ""


def table(
    results: Results,
    *,
    cell: Cell = rate_cell,
    unit: str = "ops/s",
    first: str = "case",
    means: dict[str, list[str]] | None = None,
) -> list[list[str]]:
    """Header row, one row per measured row, then the geometric means of the ratios.

    ``means`` maps each geometric-mean row's title to the rows it covers (default: one over
    every row).  The ratio columns appear only when asyncio, the reference, is among the
    implementations.  A cell reads "n/a" when the implementation failed that row (the reason
    was logged).
    """
    with_ratio = REFERENCE in results.impls
    summaries = _summaries(results)
    header = [first]
    for impl in results.impls:
        header += [f"{impl} {unit}", "x asyncio"] if with_ratio else [f"{impl} {unit}"]
    rows = [header]
    for name, n in results.sizes.items():
        row = [name]
        for impl in results.impls:
            summary = summaries.get((name, impl))
            text = "n/a" if summary is None else cell(n, summary)
            ratio = "" if summary is None or summary.ratio is None else f"{summary.ratio:.2f}x"
            row += [text, ratio] if with_ratio else [text]
        rows.append(row)
    if with_ratio:
        groups = means if means is not None else {"geometric mean": list(results.sizes)}
        for title, members in groups.items():
            row = [title]
            for impl in results.impls:
                cells = [summaries.get((m, impl)) for m in members]
                ratios = [c.ratio for c in cells if c is not None and c.ratio is not None]
                row += ["", _geomean(ratios)]
            rows.append(row)
    return rows


def render(rows: list[list[str]], *, markdown: bool = False) -> str:
    """The rows of ``table`` as aligned text, or as a GitHub markdown table."""
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
