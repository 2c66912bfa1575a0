"""What the blocking watchdog says, and when: pure functions, tested with tables.

A step that holds the loop past the threshold is reported while it runs, then again with
backoff, then once more when it ends, with the total:

    spindle: main() has been blocking the event loop for 0.1 s, at app.py:30: time.sleep(10)
      task Task-1 main(), created at app.py:40 in <module>
      the loop's thread, in this step (most recent call last):
        app.py:30 in main: time.sleep(10)
      spindle says so again at 1 s, 2 s, 4 s ... (at most once a minute) while it lasts.
    spindle: main() is still blocking the event loop: 1.0 s so far, at app.py:30: time.sleep(10)
    ...
    spindle: main() blocked the event loop for 10.0 s at app.py:30: time.sleep(10)

Repeats are one line unless the step has moved to another line (then the stack is shown
again).  Times are known to half the watchdog's wake-up interval, so they are printed to a
tenth of a second.
"""

from __future__ import annotations

import dataclasses

from spindle.diagnostics.frames import Location

__all__ = [
    "MAX_REPORT_GAP",
    "Blocked",
    "LiveReport",
    "format_blocked",
    "format_live",
    "format_starved",
    "next_report_at",
]

# Repeats come at most this far apart, however long the block.
MAX_REPORT_GAP = 60.0


def next_report_at(last: float) -> float:
    """When (seconds into the step) to report again after reporting at ``last``.

    1 s, then doubling (2, 4, 8 ... 64), then every minute: 124, 184 ...
    """
    if last < 1.0:
        return 1.0
    return last + min(last, MAX_REPORT_GAP)


def _where(location: Location | None) -> str:
    if location is None:
        return "in C code (no Python frame to show)"
    return f"at {location.describe()}"


@dataclasses.dataclass(frozen=True)
class LiveReport:
    """A step seen running past the threshold, with what was read of it."""

    what: str  # "main()", "callback on_timer()"
    seconds: float  # how long it has run so far
    location: Location | None  # the innermost user line; None: a C function, no frame
    task: str | None  # "Task-1 main(), created at app.py:40 in <module>"
    awaited_by: tuple[str, ...]  # "awaited by Task-1 main(), waiting at ..." lines
    stack: tuple[str, ...]  # the step's frames, formatted, outermost first
    first: bool  # the first report of this step (repeats are shorter)
    moved: bool  # the step is at another line than at the last report
    interrupted: bool = False  # made on Ctrl-C


def format_live(report: LiveReport) -> str:
    """The report of a step that is still running."""
    seconds = f"{report.seconds:.1f} s"
    if report.interrupted:
        head = f"spindle: Ctrl-C while {report.what} blocks the event loop ({seconds} so far)"
    elif report.first:
        head = f"spindle: {report.what} has been blocking the event loop for {seconds}"
    else:
        head = f"spindle: {report.what} is still blocking the event loop: {seconds} so far"
    head += f", {_where(report.location)}"
    if not (report.first or report.moved or report.interrupted):
        return head
    lines = [head]
    if report.task is not None:
        lines.append(f"  task {report.task}")
    lines += [f"  {line}" for line in report.awaited_by]
    if report.stack:
        lines.append("  the loop's thread, in this step (most recent call last):")
        lines += report.stack
    if report.interrupted:
        lines.append(
            "  The main task is cancelled, but a task sees a cancellation only at an await, "
            "and this step\n  has not reached one: press Ctrl-C again to interrupt it where it is."
        )
    elif report.first:
        lines.append(
            "  spindle says so again at 1 s, 2 s, 4 s ... (at most once a minute) while it lasts."
        )
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Blocked:
    """A step that held the loop past the threshold, once it has ended."""

    what: str
    seconds: float
    location: Location | None


def format_blocked(blocked: Blocked) -> str:
    """The final line: the whole time the step held the loop."""
    return (
        f"spindle: {blocked.what} blocked the event loop for {blocked.seconds:.1f} s "
        f"{_where(blocked.location)}"
    )


def format_starved(
    seconds: float,
    cpu_seconds: float,
    last_seen: Blocked | None,
    faulthandler_after: float | None,
) -> str:
    """The watchdog itself could not run for ``seconds``; the process used ``cpu_seconds``.

    The CPU time tells the two causes apart: a C call that holds the GIL keeps a CPU busy
    (all of it, or on a loaded machine the share the process gets), while a process that was
    stopped (SIGSTOP, a debugger) or not given a CPU at all used next to none.  A quarter of
    the time is the line: a process given any real share of a CPU would have run the
    watchdog's thread in it, unless the GIL was held.  (A C call that holds the GIL while it
    waits for I/O or a lock uses little too: the text names it with the second cause.)
    """
    head = f"spindle: for {seconds:.1f} s no Python thread could run, spindle's watchdog neither"
    if cpu_seconds >= seconds / 4:
        lines = [
            f"{head}, while the process used {cpu_seconds:.1f} s of CPU: a call into C code "
            "held the GIL (the interpreter's lock)"
        ]
        where = "the loop's thread is where the C call was made"
    else:
        lines = [
            f"{head}, and the process used only {cpu_seconds:.1f} s of CPU: it was stopped, or "
            "waited that long for a CPU (a loaded machine), or a call into C code held the GIL "
            "(the interpreter's lock) while it waited"
        ]
        where = "the loop's thread shows where it was"
    if last_seen is not None:
        at = "" if last_seen.location is None else f" {_where(last_seen.location)}"
        lines.append(f"  the loop was running {last_seen.what}{at}")
    if faulthandler_after is not None:
        lines.append(
            f"  faulthandler printed every thread's stack above, after {faulthandler_after:.1f} s "
            f'("Timeout (...)!"): {where}'
        )
    return "\n".join(lines)
