"""A recorded timeline, written out: text, Chrome trace-event JSON, or an HTML page.

``write(path, tracks, end, title)`` picks the format by the path's extension:

* ``.json``: the Chrome trace-event format (``{"traceEvents": [...]}``), which Perfetto
  (ui.perfetto.dev, "Open trace file") and ``chrome://tracing`` open: one thread per task,
  named after it, with a slice per step (``run``) and per wait (``wait: lock``, with what it
  waited on in the slice's arguments).
* ``.html``/``.htm``: a page that needs nothing but a browser (no network, no CDN): the summary
  first (tasks, the running time per task name, the longest steps, the longest waits), then one
  row per task with its running and waiting stretches in colour, a legend, hover details and a
  zoom (mouse wheel, drag, or the buttons).  The page's code is in ``timeline_page.html``.
* anything else: text, the summary and then one line per task.

Everything here is a pure function of the tracks (tested with tables), except ``write``.
"""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from typing import Any

from spindle.diagnostics.timeline import RUN, Summary, Track, summarize

__all__ = ["render_html", "render_json", "render_text", "write"]

_BAR_WIDTH = 40
_CALL_WIDTH = 32

# Colours of the page and the legend (and their order).
KIND_COLOURS = {
    RUN: "#2f9e58",
    "sleep": "#9cc4e4",
    "lock": "#f0a33a",
    "queue": "#b28ad8",
    "I/O": "#e07b91",
    "task": "#8a9bb5",
    "future": "#c9c9c9",
}


def _seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.3f} s"
    return f"{value * 1e3:.1f} ms"


# -- text -------------------------------------------------------------------------------------


def _bar(track: Track, end: float) -> str:
    """``#`` where the task ran, ``.`` where it waited, over the whole run."""
    cells = [" "] * _BAR_WIDTH
    scale = _BAR_WIDTH / end if end > 0 else 0.0
    for wanted in ("wait", RUN):  # running drawn last: it wins a shared column
        for segment in track.segments:
            if (segment.kind == RUN) != (wanted == RUN):
                continue
            first = min(int(segment.start * scale), _BAR_WIDTH - 1)
            last = max(first, min(math.ceil(segment.end * scale) - 1, _BAR_WIDTH - 1))
            for column in range(first, last + 1):
                cells[column] = "#" if wanted == RUN else "."
    return "|" + "".join(cells) + "|"


def _summary_lines(summary: Summary) -> list[str]:
    lines = [
        f"{summary.tasks} tasks in {_seconds(summary.duration)}",
        "running time per task name:",
    ]
    for name, count, seconds in summary.run_by_name[:10]:
        lines.append(f"  {name} ({count} task{'s' if count != 1 else ''}): {_seconds(seconds)}")
    lines.append("longest steps:")
    for name, start, seconds in summary.longest_steps:
        lines.append(f"  {name}: {_seconds(seconds)} at {start:.3f}")
    lines.append("longest waits:")
    for name, kind, label, start, seconds in summary.longest_waits:
        lines.append(f"  {name}: {_seconds(seconds)} on {kind} ({label}) at {start:.3f}")
    return lines


def _short(call: str) -> str:
    return call if len(call) <= _CALL_WIDTH else call[: _CALL_WIDTH - 4] + "...)"


def render_text(tracks: list[Track], end: float) -> str:
    """The summary, then a table with one line and one bar per task."""
    rows = [["task", "coroutine", "created", "ended", "ran", "outcome", ""]]
    for t in tracks:
        ran = sum(s.end - s.start for s in t.segments if s.kind == RUN)
        ended = "-" if t.ended is None else f"{t.ended:.3f}"
        rows.append(
            [
                t.name,
                _short(t.call),
                f"{t.created:.3f}",
                ended,
                f"{ran:.3f}",
                t.outcome,
                _bar(t, end),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = [*_summary_lines(summarize(tracks, end)), ""]
    for row in rows:
        cells = [
            cell.rjust(width) if column in (2, 3, 4) else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*cells, row[6]]).rstrip())
    lines.append("(# running, . waiting; the bar spans the whole run)")
    return "\n".join(lines) + "\n"


# -- Chrome trace events ----------------------------------------------------------------------


def _microseconds(seconds: float) -> float:
    return round(seconds * 1e6, 3)


def trace_events(tracks: list[Track], title: str) -> list[dict[str, Any]]:
    """The events: process and thread names, then a complete ("X") event per segment."""
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": 1, "tid": 0, "args": {"name": title}}
    ]
    for t in tracks:
        label = f"{t.name} {t.call}"
        events.append(
            {"name": "thread_name", "ph": "M", "pid": 1, "tid": t.number, "args": {"name": label}}
        )
        events.append(
            {
                "name": "thread_sort_index",
                "ph": "M",
                "pid": 1,
                "tid": t.number,
                "args": {"sort_index": t.number},
            }
        )
        for s in t.segments:
            running = s.kind == RUN
            event: dict[str, Any] = {
                "name": t.call if running else f"wait: {s.kind}",
                "cat": "run" if running else "wait",
                "ph": "X",
                "pid": 1,
                "tid": t.number,
                "ts": _microseconds(s.start),
                "dur": _microseconds(s.end - s.start),
                "args": {"task": t.name} if running else {"task": t.name, "on": s.label},
            }
            events.append(event)
    return events


def render_json(tracks: list[Track], end: float, title: str) -> str:
    """The Chrome trace-event JSON object (Perfetto, chrome://tracing)."""
    summary = summarize(tracks, end)
    document = {
        "traceEvents": trace_events(tracks, title),
        "displayTimeUnit": "ms",
        "otherData": {"producer": "spindle", "title": title, "tasks": summary.tasks},
    }
    return json.dumps(document, separators=(",", ":")) + "\n"


# -- the HTML page ----------------------------------------------------------------------------


def _table(table_id: str, caption: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    if not rows:
        body = f'<tr><td colspan="{len(header)}">none</td></tr>'
    return (
        f'<table id="{table_id}"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _summary_html(summary: Summary) -> str:
    running = sum(row[2] for row in summary.run_by_name)
    cards = [
        ("task-count", str(summary.tasks), "tasks"),
        ("duration", _seconds(summary.duration), "from first to last event"),
        ("running", _seconds(running), "running, all tasks together"),
    ]
    card_html = "".join(
        f'<div class="card"><span class="figure" id="{key}">{html.escape(value)}</span>'
        f"<span>{html.escape(text)}</span></div>"
        for key, value, text in cards
    )
    by_name = _table(
        "run-by-name",
        "Running time per task name",
        ["task name", "tasks", "running"],
        [
            [name, str(count), _seconds(seconds)]
            for name, count, seconds in summary.run_by_name[:15]
        ],
    )
    steps = _table(
        "longest-steps",
        "Longest steps",
        ["task", "took", "at"],
        [
            [name, _seconds(seconds), f"{start:.3f} s"]
            for name, start, seconds in summary.longest_steps
        ],
    )
    waits = _table(
        "longest-waits",
        "Longest waits",
        ["task", "waited", "on", "at"],
        [
            [name, _seconds(seconds), f"{kind}: {label}" if label else kind, f"{start:.3f} s"]
            for name, kind, label, start, seconds in summary.longest_waits
        ],
    )
    return f'<div class="cards">{card_html}</div><div class="tables">{by_name}{steps}{waits}</div>'


def _page_data(tracks: list[Track], end: float, title: str) -> dict[str, Any]:
    return {
        "title": title,
        "end": end,
        "colours": KIND_COLOURS,
        "tasks": [
            {
                "name": t.name,
                "call": t.call,
                "origin": t.origin,
                "created": t.created,
                "ended": t.ended,
                "outcome": t.outcome,
                "segments": [[s.start, s.end, s.kind, s.label] for s in t.segments],
            }
            for t in tracks
        ],
    }


def render_html(tracks: list[Track], end: float, title: str) -> str:
    """The self-contained page (its code: ``timeline_page.html``)."""
    page = resources.files("spindle.diagnostics").joinpath("timeline_page.html").read_text("utf-8")
    # Inside <script type="application/json">, only "</" could end the element early.
    data = json.dumps(_page_data(tracks, end, title), separators=(",", ":")).replace("</", "<\\/")
    return (
        page.replace("{{TITLE}}", html.escape(title))
        .replace("{{SUMMARY}}", _summary_html(summarize(tracks, end)))
        .replace("{{DATA}}", data)
    )


def render(path: str, tracks: list[Track], end: float, title: str) -> str:
    """The timeline in the format ``path``'s extension names."""
    lowered = path.lower()
    if lowered.endswith(".json"):
        return render_json(tracks, end, title)
    if lowered.endswith((".html", ".htm")):
        return render_html(tracks, end, title)
    return render_text(tracks, end)


def write(path: str, tracks: list[Track], end: float, title: str) -> None:
    """Write the timeline to ``path`` (OSError if it cannot be written)."""
    text = render(path, tracks, end, title)
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
