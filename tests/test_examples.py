"""The seed programs under examples/, run on spindle, print what they printed on asyncio.

Programs without threads run in this process on a virtual clock, so both what they print and
*when* (in loop time) are asserted exactly, in microseconds of real time.  The two that need
real time run as real programs: ``run_in_executor`` (its sleeps happen in threads) and
``tasks_not_awaited`` (its ``time.sleep(10)`` blocks the loop: that is the point of it, and it
is what spindle's diagnostics must explain).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import spindle
from spindle.runners import run
from spindle.testing import VirtualClock

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CLOCK = re.compile(r"\d\d:\d\d:\d\d")


class TimedLines(io.TextIOBase):
    """A stdout that notes the loop time at which each line was printed."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.lines: list[tuple[float, str]] = []
        self._loop = loop
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *finished, self._partial = (self._partial + text).split("\n")
        # Wall-clock times (time.strftime) differ from run to run: compare their shape.
        self.lines.extend((self._loop.time(), CLOCK.sub("HH:MM:SS", line)) for line in finished)
        return len(text)


def load(name: str) -> dict[str, Any]:
    """The example's globals, without running its ``__main__`` part."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")


def timed_run(main: Callable[[], Any]) -> tuple[Any, list[tuple[float, str]]]:
    """Run ``main()`` with spindle.run on a virtual clock; its result and its timed output."""
    loop = spindle.EventLoop(clock=VirtualClock())
    output = TimedLines(loop)
    with contextlib.redirect_stdout(output):
        result = run(main(), loop_factory=lambda: loop)
    return result, output.lines


def test_hello_world_prints_world_one_second_after_hello() -> None:
    _, lines = timed_run(load("hello_world")["main"])
    assert lines == [(0.0, "hello"), (1.0, "world")]


def test_sequential_say_after_takes_three_seconds() -> None:
    _, lines = timed_run(load("say_after_sequential")["main"])
    assert lines == [
        (0.0, "started at HH:MM:SS"),
        (1.0, "hello"),
        (3.0, "world"),
        (3.0, "finished at HH:MM:SS"),
    ]


def test_say_after_as_tasks_takes_two_seconds() -> None:
    _, lines = timed_run(load("say_after_tasks")["main"])
    assert lines == [
        (0.0, "started at HH:MM:SS"),
        (1.0, "hello"),
        (2.0, "world"),
        (2.0, "finished at HH:MM:SS"),
    ]


def test_taskgroup_takes_two_seconds() -> None:
    _, lines = timed_run(load("taskgroup")["main"])
    assert lines == [
        (0.0, "started at HH:MM:SS"),
        (1.0, "hello"),
        (2.0, "world"),
        (2.0, "finished at HH:MM:SS"),
    ]


def test_gather_returns_one_and_two_after_two_seconds() -> None:
    main = load("gather")["main"]
    loop = spindle.EventLoop(clock=VirtualClock())
    try:
        # As the program does it: run_until_complete on a loop it manages itself.
        assert loop.run_until_complete(main()) == [1, 2]
        assert loop.time() == 2.0
    finally:
        loop.close()


def run_example(name: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_run_in_executor_overlaps_the_two_sleeps() -> None:
    stdout, stderr = run_example("run_in_executor").communicate(timeout=30)
    if sys.version_info >= (3, 12):
        # The seed calls get_event_loop() with no loop set: asyncio warns about that from
        # 3.12 on (in __main__, so the warning is shown), and spindle does as asyncio does.
        assert "DeprecationWarning: There is no current event loop" in stderr
        assert stderr.count("\n") == 2  # the warning and the line it points at, nothing else
    else:
        assert stderr == ""
    result, total = stdout.splitlines()
    assert result == "result : [1, 2]"
    # Real threads sleep for real: 2 s when the sleeps overlap, 3 s if they did not.
    assert re.fullmatch(r"total time : 2\.\d\d sec", total), total


def line_of(name: str, text: str) -> int:
    lines = (EXAMPLES / f"{name}.py").read_text().splitlines()
    [number] = [n for n, line in enumerate(lines, 1) if line.strip() == text]
    return number


def test_tasks_not_awaited_prints_no_hello_and_explains_why_on_stderr() -> None:
    # Both runs at once: the program blocks for 10 s of real time, once is enough to wait.
    explained = run_example("tasks_not_awaited")
    silent = run_example("tasks_not_awaited", SPINDLE_DIAGNOSTICS="0")
    stdout, stderr = explained.communicate(timeout=40)
    quiet_stdout, quiet_stderr = silent.communicate(timeout=40)

    # Exactly what asyncio prints: the two times, never "hello" nor "world".
    assert re.fullmatch(r"started at \d\d:\d\d:\d\d\ncall at \d\d:\d\d:\d\d\n", stdout), stdout
    assert re.fullmatch(r"started at \d\d:\d\d:\d\d\ncall at \d\d:\d\d:\d\d\n", quiet_stdout)
    assert quiet_stderr == ""

    path = "examples/tasks_not_awaited.py"
    waiting = f"waiting at {path}:{line_of('tasks_not_awaited', 'await asyncio.sleep(delay)')}"
    created = line_of("tasks_not_awaited", "task1 = asyncio.create_task(")
    all_lines = stderr.splitlines()
    block = f"{path}:{line_of('tasks_not_awaited', 'time.sleep(10)')}: time.sleep(10)"
    # While it blocks: the live report, then 1 s, 2 s, 4 s, 8 s; then the total.
    assert all_lines[0].startswith("spindle: main() has been blocking the event loop for ")
    assert all_lines[0].endswith(f", at {block}")
    again = [line for line in all_lines if " is still blocking the event loop: " in line]
    assert len(again) == 4, stderr
    [end] = [i for i, line in enumerate(all_lines) if " blocked the event loop for " in line]
    lines = all_lines[end:]
    assert lines[:4] == [
        f"spindle: main() blocked the event loop for 10.0 s at "
        f"{path}:{line_of('tasks_not_awaited', 'time.sleep(10)')}: time.sleep(10)",
        "spindle: main() returned while 2 tasks were still pending; they were cancelled:",
        f"  Task-2 say_after(delay=1, what='hello'): created at {path}:{created} in main(), "
        f"{waiting}: await asyncio.sleep(delay)",
        f"  Task-3 say_after(delay=2, what='world'): created at {path}:{created + 3} in main(), "
        f"{waiting}: await asyncio.sleep(delay)",
    ]
    assert lines[4].startswith("spindle: hint: a task runs only while the event loop runs")
    assert "time.sleep() blocks the loop" in stderr


def test_demo_runs_the_examples_it_is_given() -> None:
    demo = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py"), "hello_world"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout.splitlines()
    assert lines[1] == "=== 1/8  examples/hello_world.py: print, sleep 1 s, print"
    assert lines[2:4] == ["hello", "world"]
    assert lines[4].startswith("--- exit status 0, ")


def test_demo_refuses_an_unknown_example() -> None:
    demo = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py"), "nope"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert demo.returncode == 2
    assert demo.stdout.startswith("demo: no such example: nope")
