"""spindle explains itself: the blocking watchdog, the pending-task report, the settings.

The watchdog watches real time in a real thread, so its tests block the loop for real, with
thresholds short enough to keep each test well under a second.  The report texts are built by
pure functions, tested with tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import io
import logging
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import spindle
from spindle import diagnostics, events
from spindle.diagnostics import settings
from spindle.diagnostics.frames import FrameKind, Location, classify, read_activity
from spindle.diagnostics.pending import PendingTask, describe_call, format_pending
from spindle.diagnostics.timeline import Entry, render
from spindle.diagnostics.watchdog import Blocked, Watchdog, format_blocked
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
    for name in ("SPINDLE_DIAGNOSTICS", "SPINDLE_BLOCK_THRESHOLD", "SPINDLE_TIMELINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(HERE.parent.parent)  # reports show paths relative to the repository
    diagnostics.reset()
    yield
    diagnostics.reset()


@pytest.fixture
def reports(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.WARNING, logger="spindle")
    return lambda: [r for r in caplog.records if r.name == "spindle"]


def virtual_loop() -> asyncio.AbstractEventLoop:
    return spindle.EventLoop(clock=VirtualClock())


def seconds_in(message: str) -> float:
    match = re.search(r"for (\d+\.\d) s at", message)
    assert match, message
    return float(match.group(1))


# -- the blocking watchdog -----------------------------------------------------------------


def test_a_task_step_that_blocks_is_reported_with_its_line(reports: Any) -> None:
    diagnostics.configure(block_threshold=0.1)

    async def main() -> None:
        await sleep(0)
        time.sleep(0.3)  # blocks-in-main
        await asyncio.wait_for(events.get_running_loop().create_future(), 0.15)

    with pytest.raises(TimeoutError):
        run(main())
    [record] = reports()
    message = record.getMessage()
    assert message.startswith("spindle: main() blocked the event loop for ")
    assert message.endswith(f" s at {where('blocks-in-main')}")
    assert 0.2 <= seconds_in(message) <= 0.4
    # The loop went on idling afterwards, so the watchdog saw the step end and reported it.
    assert record.threadName == "spindle-watchdog"


def test_main_blocking_until_it_returns_is_reported_when_the_loop_stops(reports: Any) -> None:
    diagnostics.configure(block_threshold=0.1)

    async def main() -> None:
        time.sleep(0.3)  # blocks-until-return

    run(main())
    [record] = reports()
    message = record.getMessage()
    assert message.endswith(f" s at {where('blocks-until-return')}")
    assert 0.2 <= seconds_in(message) <= 0.4
    assert record.threadName == threading.current_thread().name  # flushed by the runner


def test_a_blocking_callback_is_reported_as_a_callback(reports: Any) -> None:
    diagnostics.configure(block_threshold=0.1)

    def slow_callback(done: asyncio.Future[None]) -> None:
        time.sleep(0.3)  # blocks-in-callback
        done.set_result(None)

    async def main() -> None:
        done = events.get_running_loop().create_future()
        events.get_running_loop().call_soon(slow_callback, done)
        await done

    run(main())
    [message] = [r.getMessage() for r in reports()]
    assert message.startswith("spindle: callback slow_callback() blocked the event loop for ")
    assert message.endswith(f" s at {where('blocks-in-callback')}")


def test_the_innermost_line_of_the_user_is_reported(reports: Any) -> None:
    diagnostics.configure(block_threshold=0.1)

    def crunch() -> None:
        time.sleep(0.3)  # blocks-in-helper

    async def main() -> None:
        crunch()

    run(main())
    [message] = [r.getMessage() for r in reports()]
    assert message.startswith("spindle: main() blocked the event loop")
    assert message.endswith(f" s at {where('blocks-in-helper')}")


def test_an_idle_loop_is_not_reported(reports: Any) -> None:
    diagnostics.configure(block_threshold=0.1)

    async def main() -> None:
        await sleep(0.3)  # the loop waits in its poll: idle, not blocked

    run(main())
    assert reports() == []


def test_steps_shorter_than_the_threshold_are_not_reported(reports: Any) -> None:
    diagnostics.configure(block_threshold=0.2)

    def short_step() -> None:
        time.sleep(0.07)

    async def main() -> None:
        loop = events.get_running_loop()
        for _ in range(4):  # 0.28 s in one pass, but no single step reaches 0.2 s
            loop.call_soon(short_step)
        await sleep(0)

    run(main())
    assert reports() == []


def test_steps_are_told_apart_within_one_pass(reports: Any) -> None:
    diagnostics.configure(block_threshold=0.1)

    def short_step() -> None:
        time.sleep(0.03)

    def long_step() -> None:
        time.sleep(0.3)  # the-long-step

    async def main() -> None:
        loop = events.get_running_loop()
        for step in (short_step, short_step, long_step, short_step):
            loop.call_soon(step)
        await sleep(0)

    run(main())
    [message] = [r.getMessage() for r in reports()]
    assert message.startswith("spindle: callback long_step() blocked the event loop for ")
    assert 0.2 <= seconds_in(message) <= 0.4
    assert message.endswith(f" s at {where('the-long-step')}")


def watchdog_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "spindle-watchdog"]


def test_the_watchdog_thread_lives_exactly_as_long_as_the_runner() -> None:
    assert watchdog_threads() == []
    with Runner() as runner:
        runner.get_loop()
        assert len(watchdog_threads()) == 1
    assert watchdog_threads() == []


def test_a_runner_dropped_without_close_does_not_keep_its_watchdog() -> None:
    runner = Runner(loop_factory=spindle.new_event_loop)
    runner.get_loop()
    [thread] = watchdog_threads()
    with pytest.warns(ResourceWarning, match="unclosed event loop"):
        del runner
        gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_no_watchdog_when_diagnostics_are_off() -> None:
    diagnostics.configure(enabled=False)
    with Runner() as runner:
        runner.get_loop()
        assert watchdog_threads() == []


def test_no_watchdog_on_a_loop_without_a_pass_counter() -> None:
    with Runner(loop_factory=asyncio.new_event_loop) as runner:
        runner.get_loop()
        assert watchdog_threads() == []


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
    [record] = reports()
    message = record.getMessage()
    assert message.startswith("spindle: main() blocked the event loop for ")
    assert message.endswith(f" s at {where('blocks-under-asyncio-runner')}")
    assert 0.2 <= seconds_in(message) <= 0.4


def test_asyncio_runner_writes_the_timeline_with_its_main_task(tmp_path: Path) -> None:
    path = tmp_path / "timeline.txt"
    diagnostics.configure(timeline=path)

    async def main() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            await asyncio.create_task(say_after(1, "hello"))

    with asyncio_runner() as runner:
        runner.run(main())
    rows = [line.split() for line in path.read_text().splitlines()]
    # main() was made before the runner ran the loop: it is followed from then on.
    assert [row[1:2] + row[-5:-1] for row in rows[1:]] == [
        ["main()", "0.000", "0.000", "1.000", "returned"],
        ["say_after(delay=1,", "0.000", "0.000", "1.000", "returned"],
    ]


def test_the_watchdog_of_asyncio_runner_lives_from_its_first_main_to_its_close() -> None:
    with asyncio_runner() as runner:
        runner.get_loop()
        assert watchdog_threads() == []  # no main yet: maybe no runner at all
        runner.run(sleep(0))
        assert len(watchdog_threads()) == 1
    assert watchdog_threads() == []


def test_asyncio_runner_reports_nothing_when_diagnostics_are_off(reports: Any) -> None:
    diagnostics.configure(enabled=False)

    async def main() -> None:
        create_task(say_after(1, "hello"))
        await asyncio.sleep(0)

    with asyncio_runner() as runner:
        runner.run(main())
        assert watchdog_threads() == []
    assert reports() == []


@pytest.mark.skipif(
    spindle.COMPILED,
    reason="reads the compiled loop's frames, which do not exist: the loop's own record of "
    "the handle it runs replaces it (issue 9 section 2, on its way)",
)
def test_the_watchdog_can_be_stopped_from_its_own_thread() -> None:
    # As when a loop that ends its own session is garbage-collected on the watchdog's thread.
    stopped_itself = threading.Event()

    def report(blocked: Blocked) -> None:
        watchdog.stop()  # must not try to join its own thread
        stopped_itself.set()

    def slow_callback() -> None:
        time.sleep(0.2)

    loop = spindle.EventLoop()
    watchdog = Watchdog(loop, 0.05, report)
    watchdog.start()
    try:
        loop.call_soon(slow_callback)
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert stopped_itself.wait(timeout=5)
    finally:
        watchdog.stop()
        loop.close()
    assert watchdog_threads() == []


# -- what the loop's thread is doing ---------------------------------------------------------


def test_a_stack_outside_any_loop_shows_no_activity() -> None:
    assert read_activity(sys._getframe()) is None


@pytest.mark.skipif(
    spindle.COMPILED,
    reason="reads the compiled loop's frames, which do not exist: the loop's own record of "
    "the handle it runs replaces it (issue 9 section 2, on its way)",
)
def test_a_stack_inside_a_callback_shows_the_callback_and_the_line() -> None:
    seen: list[Any] = []

    def callback() -> None:
        seen.append(read_activity(sys._getframe()))  # inside-callback

    loop = events.new_event_loop()
    try:
        loop.call_soon(callback)
        loop.call_soon(loop.stop)
        loop.run_forever()
    finally:
        loop.close()
    [activity] = seen
    assert activity.entry.f_code is callback.__code__
    assert not activity.is_task_step
    assert activity.location == Location(
        str(HERE), line_of("inside-callback"), callback.__qualname__
    )


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


@pytest.mark.parametrize(
    ("blocked", "expected"),
    [
        (
            Blocked("main()", 10.004, Location("/nowhere/t.py", 25, "main")),
            "spindle: main() blocked the event loop for 10.0 s at /nowhere/t.py:25",
        ),
        (
            Blocked("callback tick()", 0.26, Location("/nowhere/t.py", 3, "tick")),
            "spindle: callback tick() blocked the event loop for 0.3 s at /nowhere/t.py:3",
        ),
    ],
)
def test_blocked_report_text(blocked: Blocked, expected: str) -> None:
    assert format_blocked(blocked) == expected


# -- the timeline --------------------------------------------------------------------------


def test_the_timeline_is_written_when_the_runner_closes(tmp_path: Path) -> None:
    path = tmp_path / "timeline.txt"
    diagnostics.configure(timeline=path)

    async def main() -> None:
        hello = create_task(say_after(1, "hello"))
        create_task(sleep(5))
        with contextlib.redirect_stdout(io.StringIO()):
            await hello

    run(main(), loop_factory=virtual_loop)
    rows = [line.split() for line in path.read_text().splitlines()]
    assert rows[0] == ["task", "coroutine", "created", "started", "finished", "outcome"]
    assert [row[-5:-1] for row in rows[1:]] == [
        ["0.000", "0.000", "1.000", "returned"],  # main()
        ["0.000", "0.000", "1.000", "returned"],  # say_after(1, "hello")
        ["0.000", "0.000", "1.000", "cancelled"],  # sleep(5), cancelled when main() returned
    ]
    # The runner's own shutdown tasks are not the program's: they are left out.
    assert len(rows) == 4


def test_the_timeline_recorder_gives_the_task_factory_back(tmp_path: Path) -> None:
    diagnostics.configure(timeline=tmp_path / "timeline.txt")
    with Runner(loop_factory=virtual_loop) as runner:
        runner.get_loop().set_task_factory(None)
        runner.run(sleep(0))
        assert runner.get_loop().get_task_factory() is None


FULL = "|" + "#" * 40 + "|"
TIMELINE_TABLE = [
    (
        [Entry("Task-1", "main()", 0.0, 0.0, 2.0, "returned")],
        ["Task-1  main()       0.000    0.000     2.000  returned  " + FULL],
    ),
    (
        [
            Entry("Task-1", "main()", 0.0, 0.0, 2.0, "returned"),
            Entry("Task-2", "late()", 1.0, None, None, "pending"),
            Entry("Task-3", "quick()", 0.5, 1.0, 1.0, "cancelled"),
        ],
        [
            "Task-1  main()       0.000    0.000     2.000  returned   " + FULL,
            "Task-2  late()       1.000        -         -  pending    |"
            + " " * 20
            + "." * 20  # created, never started
            + "|",
            "Task-3  quick()      0.500    1.000     1.000  cancelled  |"
            + " " * 10
            + "." * 10
            + "#"  # finished as it started: one column still shows it ran
            + " " * 19
            + "|",
        ],
    ),
]


@pytest.mark.parametrize(("entries", "expected"), TIMELINE_TABLE)
def test_timeline_text(entries: list[Entry], expected: list[str]) -> None:
    lines = render(entries).splitlines()
    assert lines[0].split() == ["task", "coroutine", "created", "started", "finished", "outcome"]
    assert lines[1:] == expected


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, settings.Settings(True, 0.1, None)),
        ({"SPINDLE_DIAGNOSTICS": "0"}, settings.Settings(False, 0.1, None)),
        ({"SPINDLE_DIAGNOSTICS": "Off"}, settings.Settings(False, 0.1, None)),
        ({"SPINDLE_DIAGNOSTICS": "1"}, settings.Settings(True, 0.1, None)),
        ({"SPINDLE_BLOCK_THRESHOLD": "0.5"}, settings.Settings(True, 0.5, None)),
        ({"SPINDLE_TIMELINE": "t.txt"}, settings.Settings(True, 0.1, "t.txt")),
    ],
)
def test_settings_from_the_environment(environ: dict[str, str], expected: Any) -> None:
    assert settings.resolve(environ) == expected


def test_configure_wins_over_the_environment() -> None:
    diagnostics.configure(enabled=True, block_threshold=0.25)
    environ = {"SPINDLE_DIAGNOSTICS": "0", "SPINDLE_BLOCK_THRESHOLD": "3"}
    assert settings.resolve(environ) == settings.Settings(True, 0.25, None)
    diagnostics.reset()
    assert settings.resolve(environ) == settings.Settings(False, 3.0, None)


@pytest.mark.parametrize("bad", ["0", "-1", "soon"])
def test_a_bad_threshold_is_refused_with_its_source(bad: str) -> None:
    with pytest.raises(ValueError, match="SPINDLE_BLOCK_THRESHOLD"):
        settings.resolve({"SPINDLE_BLOCK_THRESHOLD": bad})


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
    assert "spindle: main() blocked the event loop for 0.2 s at <string>:5" in shown.stderr
    assert "spindle: main() returned while 1 task was still pending" in shown.stderr
    hidden = run_program(program, SPINDLE_BLOCK_THRESHOLD="0.05", SPINDLE_DIAGNOSTICS="0")
    assert (hidden.stdout, hidden.stderr) == ("", "")
