"""What the watchdog says, and when: pure functions, tested with tables."""

from __future__ import annotations

import pytest

from spindle.diagnostics.blocking import (
    Blocked,
    LiveReport,
    format_blocked,
    format_live,
    format_starved,
    next_report_at,
)
from spindle.diagnostics.frames import Location

AT = Location("/nowhere/t.py", 25, "main")


@pytest.mark.parametrize(
    ("last", "following"),
    [
        (0.1, 1.0),  # the first report comes at the threshold, the next at 1 s
        (0.5, 1.0),
        (1.0, 2.0),
        (2.0, 4.0),
        (32.0, 64.0),
        (64.0, 124.0),  # gaps stop growing at a minute
        (124.0, 184.0),
    ],
)
def test_reports_come_again_with_backoff_at_most_a_minute_apart(
    last: float, following: float
) -> None:
    assert next_report_at(last) == following


def test_the_report_times_of_a_long_block() -> None:
    times = [0.1]
    while times[-1] < 300:
        times.append(next_report_at(times[-1]))
    assert times == [0.1, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 124.0, 184.0, 244.0, 304.0]


def live(**changes: object) -> LiveReport:
    fields: dict[str, object] = {
        "what": "main()",
        "seconds": 0.123,
        "location": AT,
        "task": "Task-1 main(), created at t.py:40 in <module>()",
        "awaited_by": (),
        "stack": ("    t.py:25 in main: time.sleep(10)",),
        "first": True,
        "moved": True,
    }
    fields.update(changes)
    return LiveReport(**fields)  # type: ignore[arg-type]


LIVE_TABLE = [
    (
        live(),
        "spindle: main() has been blocking the event loop for 0.1 s, at /nowhere/t.py:25\n"
        "  task Task-1 main(), created at t.py:40 in <module>()\n"
        "  the loop's thread, in this step (most recent call last):\n"
        "    t.py:25 in main: time.sleep(10)\n"
        "  spindle says so again at 1 s, 2 s, 4 s ... (at most once a minute) while it lasts.",
    ),
    (
        live(first=False, moved=False, seconds=2.04),
        "spindle: main() is still blocking the event loop: 2.0 s so far, at /nowhere/t.py:25",
    ),
    (
        live(first=False, moved=True, seconds=4.0, awaited_by=("awaited by Task-0 top()",)),
        "spindle: main() is still blocking the event loop: 4.0 s so far, at /nowhere/t.py:25\n"
        "  task Task-1 main(), created at t.py:40 in <module>()\n"
        "  awaited by Task-0 top()\n"
        "  the loop's thread, in this step (most recent call last):\n"
        "    t.py:25 in main: time.sleep(10)",
    ),
    (
        live(what="callback sleep()", location=None, task=None, stack=()),
        "spindle: callback sleep() has been blocking the event loop for 0.1 s, "
        "in C code (no Python frame to show)\n"
        "  spindle says so again at 1 s, 2 s, 4 s ... (at most once a minute) while it lasts.",
    ),
    (
        live(first=False, moved=False, interrupted=True, seconds=3.0),
        "spindle: Ctrl-C while main() blocks the event loop (3.0 s so far), at /nowhere/t.py:25\n"
        "  task Task-1 main(), created at t.py:40 in <module>()\n"
        "  the loop's thread, in this step (most recent call last):\n"
        "    t.py:25 in main: time.sleep(10)\n"
        "  The main task is cancelled, but a task sees a cancellation only at an await, and "
        "this step\n"
        "  has not reached one: press Ctrl-C again to interrupt it where it is.",
    ),
]


@pytest.mark.parametrize(("report", "expected"), LIVE_TABLE)
def test_live_report_text(report: LiveReport, expected: str) -> None:
    assert format_live(report) == expected


@pytest.mark.parametrize(
    ("blocked", "expected"),
    [
        (
            Blocked("main()", 10.004, AT),
            "spindle: main() blocked the event loop for 10.0 s at /nowhere/t.py:25",
        ),
        (
            Blocked("callback tick()", 0.26, Location("/nowhere/t.py", 3, "tick")),
            "spindle: callback tick() blocked the event loop for 0.3 s at /nowhere/t.py:3",
        ),
        (
            Blocked("callback sleep()", 1.0, None),
            "spindle: callback sleep() blocked the event loop for 1.0 s "
            "in C code (no Python frame to show)",
        ),
    ],
)
def test_final_report_text(blocked: Blocked, expected: str) -> None:
    assert format_blocked(blocked) == expected


@pytest.mark.parametrize(
    ("cpu_seconds", "cause", "where"),
    [
        (
            3.41,
            "while the process used 3.4 s of CPU: a call into C code held the GIL (the "
            "interpreter's lock)",
            "the loop's thread is where the C call was made",
        ),
        (
            0.8,
            "and the process used only 0.8 s of CPU: it was stopped, or waited that long for a "
            "CPU (a loaded machine), or a call into C code held the GIL (the interpreter's "
            "lock) while it waited",
            "the loop's thread shows where it was",
        ),
    ],
    ids=["a-c-call-held-the-gil", "the-process-got-no-cpu"],
)
def test_starved_report_text(cpu_seconds: float, cause: str, where: str) -> None:
    text = format_starved(3.46, cpu_seconds, Blocked("main()", 3.4, None), 2.0)
    assert text == (
        f"spindle: for 3.5 s no Python thread could run, spindle's watchdog neither, {cause}\n"
        "  the loop was running main()\n"
        "  faulthandler printed every thread's stack above, after 2.0 s "
        f'("Timeout (...)!"): {where}'
    )
    assert format_starved(2.5, cpu_seconds, None, None).count("\n") == 0
