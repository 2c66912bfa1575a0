"""Cancellation told truly: swallowed cancellations, slow shutdowns, unretrieved exceptions,
task tracebacks without spindle's own frames; and the pytest plugin's deadlock failure."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path
from typing import Any

import pytest

import spindle
from spindle.diagnostics.cancellation import format_swallowed
from spindle.diagnostics.frames import Location
from spindle.diagnostics.shutdown import next_interval
from spindle.testing import VirtualClock

ROOT = Path(__file__).resolve().parent.parent


def spindle_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "spindle"]


def virtual_run(main: Any) -> Any:
    return spindle.run(main, loop_factory=lambda: spindle.EventLoop(clock=VirtualClock()))


async def stubborn(times: int) -> None:
    for _ in range(times):
        try:  # noqa: SIM105 (the line numbers below are this shape's)
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            pass  # swallowed


def test_a_swallowed_cancellation_is_reported_once_with_its_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        task = asyncio.create_task(stubborn(3), name="stubborn")
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.sleep(0.5)
        task.cancel()
        await task

    virtual_run(main())
    reports = [m for m in spindle_messages(caplog) if "swallowed" in m]
    line = stubborn.__code__.co_firstlineno + 3
    here = (
        Path(__file__).relative_to(Path.cwd()) if Path.cwd() in Path(__file__).parents else __file__
    )
    assert reports == [
        f"spindle: stubborn stubborn() swallowed its cancellation: the CancelledError was "
        f"caught in stubborn() at {here}:{line}: await asyncio.sleep(1) and not re-raised, so "
        f"the task goes on running; it is now at {here}:{line}: await asyncio.sleep(1).  A "
        "cancelled task should re-raise CancelledError once it has cleaned up (or call "
        "uncancel() if it means to go on)."
    ]


def test_cleanup_timeouts_and_taskgroups_are_not_swallowing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def cleans_up() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(1)  # cleanup that awaits, then the cancellation goes on

    async def times_out() -> None:
        try:
            async with asyncio.timeout(1):
                await asyncio.sleep(10)
        except TimeoutError:
            await asyncio.sleep(1)

    async def main() -> None:
        task = asyncio.create_task(cleans_up())
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await times_out()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(asyncio.sleep(1))

    virtual_run(main())
    assert not [m for m in spindle_messages(caplog) if "swallowed" in m]


def test_a_swallowed_cancellation_text() -> None:
    caught = Location("app.py", 12, "Worker.run")
    assert format_swallowed("Task-2 run()", caught, None) == (
        "spindle: Task-2 run() swallowed its cancellation: the CancelledError was caught in "
        "Worker.run() at app.py:12 and not re-raised, so the task goes on running.  A cancelled "
        "task should re-raise CancelledError once it has cleaned up (or call uncancel() if it "
        "means to go on)."
    )


@pytest.mark.parametrize(("interval", "expected"), [(5.0, 10.0), (20.0, 40.0), (40.0, 60.0)])
def test_shutdown_reports_back_off_to_once_a_minute(interval: float, expected: float) -> None:
    assert next_interval(interval) == expected


def test_a_slow_shutdown_says_which_tasks_it_waits_for(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPINDLE_SHUTDOWN_GRACE", "2")

    async def main() -> None:
        asyncio.create_task(stubborn(20), name="stubborn")  # noqa: RUF006 (spindle keeps it)
        await asyncio.sleep(0)

    virtual_run(main())  # the runner waits for it, as asyncio's does, until it ends
    waits = [m for m in spindle_messages(caplog) if m.startswith("spindle: shutdown has waited")]
    assert [w.split(" for ")[0] for w in waits] == [
        "spindle: shutdown has waited 2 s",
        "spindle: shutdown has waited 6 s",
        "spindle: shutdown has waited 14 s",
    ]
    assert "stubborn stubborn(times=20): waiting, cancelled 1x and still running" in waits[0]
    assert "waiting at" in waits[0] and "await asyncio.sleep(1)" in waits[0]
    assert re.search(r"\n    on          sleep, \d\.\d s left", waits[0])


def test_an_unretrieved_exception_is_reported_when_the_runner_closes_with_its_places(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kept: list[asyncio.Task[None]] = []

    async def fail() -> None:
        raise ValueError("boom")

    async def main() -> None:
        kept.append(asyncio.create_task(fail()))
        await asyncio.sleep(0.1)

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        virtual_run(main())
        errors = [r for r in caplog.records if r.name == "asyncio"]
    assert len(errors) == 1
    message = errors[0].getMessage().splitlines()
    assert message[0] == "Task exception was never retrieved"
    assert message[1].startswith("task created at ") and message[1].endswith(" in main()")
    assert message[2].endswith(
        f':{fail.__code__.co_firstlineno + 1} in fail(): raise ValueError("boom")'
    )
    kept.clear()  # reported once: not again when collected


def test_a_task_traceback_has_no_spindle_frames() -> None:
    async def fail() -> None:
        raise ValueError("boom")

    async def main() -> None:
        await asyncio.create_task(fail())

    with pytest.raises(ValueError) as info:
        spindle.run(main())
    files = [frame.filename for frame in traceback.extract_tb(info.value.__traceback__)]
    # What remains of spindle is the runner's way in (run, run_until_complete, the main
    # task's result), as with asyncio's runner; nothing between main() and fail().
    assert files[0] == __file__  # the test's spindle.run(...) line
    first = files.index(__file__, 1)
    assert files[first:] == [__file__, __file__]
    assert all("/spindle/" in f for f in files[1:first])


def test_the_pytest_plugin_fails_a_deadlocked_virtual_clock_test_at_once(tmp_path: Path) -> None:
    test = tmp_path / "test_deadlock.py"
    test.write_text(
        textwrap.dedent(
            """\
            import asyncio
            import pytest

            @pytest.mark.spindle(virtual_clock=True)
            async def test_deadlock():
                ping_ready, pong_ready = asyncio.Event(), asyncio.Event()

                async def ping():
                    await pong_ready.wait()
                    ping_ready.set()

                async def pong():
                    await ping_ready.wait()
                    pong_ready.set()

                await asyncio.gather(
                    asyncio.create_task(ping(), name="ping"),
                    asyncio.create_task(pong(), name="pong"),
                )
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test.name)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        "deadlock: Task-1 test_deadlock() waits at test_deadlock.py:16 on gather() of 2 "
        "awaitables, 0 done; waiting for ping, pong" in lines
    )
    assert (
        "deadlock: ping ping() waits at test_deadlock.py:9 on Event pong_ready (unset, "
        "waiting: 1)" in lines
    )
    assert (
        "deadlock: pong pong() waits at test_deadlock.py:13 on Event ping_ready (unset, "
        "waiting: 1)" in lines
    )
    assert "1 failed" in lines[-1]
