"""spindle explains itself: the pending-task report, diagnostics under asyncio's own runner,
and what a user sees on stderr.

The watchdog, the instruments, the timeline and the settings have their own files in
``tests/diagnostics/``.  The report texts are built by pure functions, tested with tables.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import spindle
from spindle import diagnostics, events
from spindle.diagnostics.frames import FrameKind, Location, classify
from spindle.diagnostics.pending import PendingTask, describe_call, format_pending
from spindle.patch import RunnerAwareEventLoop
from spindle.runners import Runner, run
from spindle.tasks import create_task, sleep
from spindle.testing import VirtualClock

HERE = Path(__file__)
REL = "tests/test_diagnostics.py"


def line_of(marker: str) -> int:
    """The line of this file that ends with the comment ``# <marker>``."""
    lines = HERE.read_text().splitlines()
    found = [n for n, line in enumerate(lines, 1) if line.rstrip().endswith(f"# {marker}")]
    assert len(found) == 1, marker
    return found[0]


def where(marker: str) -> str:
    """How a report shows the marked line: ``file:line: source``."""
    number = line_of(marker)
    return f"{REL}:{number}: {HERE.read_text().splitlines()[number - 1].strip()}"


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [name for name in os.environ if name.startswith("SPINDLE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(HERE.parent.parent)  # reports show paths relative to the repository
    diagnostics.reset()
    yield
    diagnostics.reset()


@pytest.fixture
def reports(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[logging.LogRecord]]]:
    # The "spindle" logger keeps its records from the root logger (where caplog listens).
    spindle_logger = logging.getLogger("spindle")
    spindle_logger.addHandler(caplog.handler)
    try:
        yield lambda: [r for r in caplog.records if r.name == "spindle"]
    finally:
        spindle_logger.removeHandler(caplog.handler)


def virtual_loop() -> asyncio.AbstractEventLoop:
    return spindle.EventLoop(clock=VirtualClock())


def seconds_in(message: str) -> float:
    match = re.search(r"for (\d+\.\d) s at", message)
    assert match, message
    return float(match.group(1))


# -- under asyncio's own runner (spindle.install(), python -m spindle) -----------------------


def asyncio_runner(*, virtual: bool = True) -> asyncio.Runner:
    """asyncio's runner, on the loop that spindle.install()'s policy would give it."""
    clock = VirtualClock() if virtual else None
    return asyncio.Runner(loop_factory=lambda: RunnerAwareEventLoop(clock=clock))


def test_asyncio_runner_reports_the_tasks_main_left_pending(reports: Any) -> None:
    async def main() -> None:
        create_task(say_after(1, "hello"))  # asyncio-creates-hello
        await asyncio.sleep(0)

    with asyncio_runner() as runner:
        runner.run(main())
        assert reports() == []  # not before the runner closes: it may run another main
    [message] = [r.getMessage() for r in reports()]
    lines = message.splitlines()
    assert lines[0] == (
        "spindle: main() returned while 1 task was still pending; it was cancelled:"
    )
    assert lines[1].endswith(
        f": created at {REL}:{line_of('asyncio-creates-hello')} in main(), "
        f"waiting at {where('say-after-waits')}"
    )


def test_asyncio_runner_reports_main_blocking_until_it_returns(reports: Any) -> None:
    diagnostics.configure(block_threshold=0.1)

    async def main() -> None:
        time.sleep(0.3)  # blocks-under-asyncio-runner

    with asyncio_runner(virtual=False) as runner:
        runner.run(main())
    *live, record = reports()
    assert live[0].getMessage().startswith("spindle: main() has been blocking the event loop")
    message = record.getMessage()
    assert message.startswith("spindle: main() blocked the event loop for ")
    assert message.endswith(f" s at {where('blocks-under-asyncio-runner')}")
    assert 0.2 <= seconds_in(message) <= 0.4


def watchdog_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "spindle-watchdog"]


def test_the_watchdog_of_asyncio_runner_lives_from_its_first_main_to_its_close() -> None:
    with asyncio_runner() as runner:
        runner.get_loop()
        assert watchdog_threads() == []  # no main yet: maybe no runner at all
        runner.run(sleep(0))
        assert len(watchdog_threads()) == 1
    assert watchdog_threads() == []


@pytest.mark.parametrize("enabled", [True, False])
def test_a_finished_run_leaves_no_reference_cycle(
    enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What run() made is freed when it returns, by reference counting alone, as asyncio's
    # objects are: the loop (its worker threads' pool lets go of it at close), and with
    # diagnostics on, the watchdog and the ps server (their stopped helper threads let go of
    # their bound methods).  Nothing waits for the garbage collector.
    monkeypatch.setenv("SPINDLE_PS", "1")  # the default, which the suite turns off
    diagnostics.configure(enabled=enabled)
    made: list[weakref.ref[Any]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        made.append(weakref.ref(loop))
        await asyncio.sleep(0)

    gc.collect()
    gc.disable()
    try:
        run(main())
        assert made[0]() is None
        gc.set_debug(gc.DEBUG_SAVEALL)
        assert gc.collect() == 0
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_asyncio_runner_reports_nothing_when_diagnostics_are_off(reports: Any) -> None:
    diagnostics.configure(enabled=False)

    async def main() -> None:
        create_task(say_after(1, "hello"))
        await asyncio.sleep(0)

    with asyncio_runner() as runner:
        runner.run(main())
        assert watchdog_threads() == []
    assert reports() == []


# -- which frames are the program's -------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "kind"),
    [
        (spindle.__file__, FrameKind.SPINDLE),
        (inspect.getfile(Runner), FrameKind.SPINDLE),
        (threading.__file__, FrameKind.STDLIB),
        ("<frozen importlib._bootstrap>", FrameKind.STDLIB),
        (__file__, FrameKind.USER),
        ("<string>", FrameKind.USER),
        (inspect.getfile(pytest), FrameKind.USER),  # third-party packages are the program's
    ],
)
def test_frames_are_sorted_by_the_file_they_run(filename: str, kind: FrameKind) -> None:
    assert classify(filename) is kind


# -- the pending-task report ---------------------------------------------------------------


async def say_after(delay: float, what: str) -> None:
    await sleep(delay)  # say-after-waits
    print(what)


def test_tasks_left_pending_by_main_are_reported_before_they_are_cancelled(reports: Any) -> None:
    async def main() -> None:
        create_task(say_after(1, "hello"))  # creates-hello
        create_task(say_after(2, "world"))  # creates-world
        await sleep(0)

    run(main(), loop_factory=virtual_loop)
    [message] = [r.getMessage() for r in reports()]
    waiting = f"waiting at {where('say-after-waits')}"
    lines = message.splitlines()
    assert re.fullmatch(
        r"spindle: main\(\) returned while 2 tasks were still pending; they were cancelled:",
        lines[0],
    )
    assert re.fullmatch(r"  Task-\d+ say_after\(delay=1, what='hello'\): created at .*", lines[1])
    assert lines[1].endswith(f": created at {REL}:{line_of('creates-hello')} in main(), {waiting}")
    assert lines[2].endswith(f": created at {REL}:{line_of('creates-world')} in main(), {waiting}")
    assert lines[3].startswith("spindle: hint: a task runs only while the event loop runs")


def test_a_task_that_never_started_is_reported_as_such(reports: Any) -> None:
    async def main() -> None:
        loop = events.get_running_loop()
        # Created one pass before the loop stops: its first step never comes.
        loop.call_soon(lambda: create_task(say_after(1, "late")))

    run(main(), loop_factory=virtual_loop)
    [message] = [r.getMessage() for r in reports()]
    assert "1 task was still pending; it was cancelled:" in message
    assert message.splitlines()[1].endswith(", never started")


def test_nothing_is_reported_when_main_raised(reports: Any) -> None:
    async def main() -> None:
        create_task(say_after(1, "hello"))
        await sleep(0)
        raise ValueError("main failed")

    with pytest.raises(ValueError):
        run(main(), loop_factory=virtual_loop)
    assert reports() == []


def test_nothing_is_reported_when_diagnostics_are_off(reports: Any) -> None:
    diagnostics.configure(enabled=False)

    async def main() -> None:
        create_task(say_after(1, "hello"))
        await sleep(0)

    run(main(), loop_factory=virtual_loop)
    assert reports() == []


def test_pending_tasks_are_reported_on_any_loop(
    any_loop: asyncio.AbstractEventLoop, reports: Any
) -> None:
    async def main() -> None:
        create_task(say_after(1, "hello"))
        await sleep(0)

    run(main(), loop_factory=lambda: any_loop)
    [message] = [r.getMessage() for r in reports()]
    assert "say_after(delay=1, what='hello')" in message
    assert f"waiting at {REL}:{line_of('say-after-waits')}" in message


SPINDLE_SLEEP = inspect.getfile(sleep)
PENDING_TABLE = [
    (
        [PendingTask("Task-2", "work()", None, None)],
        "spindle: main() returned while 1 task was still pending; it was cancelled:\n"
        "  Task-2 work(): never started",
    ),
    (
        [PendingTask("Task-3", "sleep(delay=5)", None, Location(SPINDLE_SLEEP, 9, "sleep"))],
        "spindle: main() returned while 1 task was still pending; it was cancelled:\n"
        "  Task-3 sleep(delay=5): waiting in sleep()",
    ),
    (
        [
            PendingTask("Task-10", "b()", Location("/x/b.py", 3, "main"), None),
            PendingTask("Task-9", "a(n=1)", None, Location("/x/a.py", 7, "a")),
        ],
        "spindle: main() returned while 2 tasks were still pending; they were cancelled:\n"
        "  Task-9 a(n=1): waiting at /x/a.py:7\n"
        "  Task-10 b(): created at /x/b.py:3 in main(), never started",
    ),
]


@pytest.mark.parametrize(("tasks", "expected"), PENDING_TABLE)
def test_pending_report_text(tasks: list[PendingTask], expected: str) -> None:
    text = format_pending("main", tasks)
    assert text.startswith(expected + "\nspindle: hint: ")


def test_a_call_is_described_with_its_arguments() -> None:
    coro = say_after(1.5, "x" * 100)
    try:
        # Long values are shortened, as reprlib does.
        assert describe_call(coro) == (
            "say_after(delay=1.5, what='xxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxx')"
        )
    finally:
        coro.close()
    assert describe_call(coro) == "say_after()"  # finished: its arguments are gone


# -- on stderr, as a user sees it ----------------------------------------------------------


def run_program(source: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", **env}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=30,
        check=False,
    )


UNRETRIEVED = """
    import spindle.runners, spindle.tasks

    async def fail():
        raise ValueError("nobody asked")

    async def main():
        spindle.tasks.create_task(fail())
        await spindle.tasks.sleep(0.01)

    spindle.runners.run(main())
    print("done")
"""


def test_an_exception_nobody_retrieved_shows_on_stderr() -> None:
    result = run_program(UNRETRIEVED)
    assert result.stdout == "done\n"
    assert "exception was never retrieved" in result.stderr
    assert "ValueError: nobody asked" in result.stderr


def test_diagnostics_go_to_stderr_and_the_environment_turns_them_off() -> None:
    program = """
        import time, spindle.runners, spindle.tasks
        async def main():
            spindle.tasks.create_task(spindle.tasks.sleep(1))
            time.sleep(0.2)
        spindle.runners.run(main())
    """
    shown = run_program(program, SPINDLE_BLOCK_THRESHOLD="0.05")
    assert shown.stdout == ""
    assert "spindle: main() has been blocking the event loop for " in shown.stderr
    assert re.search(
        r"spindle: main\(\) blocked the event loop for 0\.\d s at <string>:5", shown.stderr
    )
    assert "spindle: main() returned while 1 task was still pending" in shown.stderr
    hidden = run_program(program, SPINDLE_BLOCK_THRESHOLD="0.05", SPINDLE_DIAGNOSTICS="0")
    assert (hidden.stdout, hidden.stderr) == ("", "")
