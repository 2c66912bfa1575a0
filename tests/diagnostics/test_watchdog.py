"""The blocking watchdog, on real blocked loops: reports while the step runs, with backoff,
then the total; blocking in C (with and without the GIL); Ctrl-C during a block.

The watchdog watches real time in a real thread, so these tests block the loop for real, with
short thresholds.  Reports are checked for what they say and for *when* they were made (while
the step was still running), never for exact durations.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import hashlib
import math
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import spindle
from spindle import diagnostics, events
from spindle.diagnostics import watchdog as watchdog_module
from spindle.diagnostics.watchdog import Watchdog
from spindle.runners import Runner, run
from spindle.tasks import sleep
from tests.children import user_environment
from tests.diagnostics.conftest import SRC, Reports, line_of, run_program

HERE = Path(__file__)
REL = "tests/diagnostics/test_watchdog.py"


def where(marker: str) -> str:
    """How a report shows the marked line: ``file:line: source``."""
    number = line_of(HERE, marker)
    return f"{REL}:{number}: {HERE.read_text().splitlines()[number - 1].strip()}"


def seconds_in(message: str) -> float:
    match = re.search(r"(?:for|so far\)?,?|:) (\d+\.\d) s", message)
    assert match, message
    return float(match.group(1))


def messages(reports: Reports) -> list[str]:
    return [record.getMessage() for record in reports()]


# -- a step that blocks, reported while it runs ---------------------------------------------


def test_a_blocked_step_is_reported_while_it_runs_then_with_its_total(reports: Reports) -> None:
    diagnostics.configure(block_threshold=0.1)
    ended_at: list[float] = []

    def crunch() -> None:
        time.sleep(0.6)  # blocks-in-helper

    async def main() -> None:
        await sleep(0)
        crunch()  # calls-helper
        ended_at.append(time.time())
        await sleep(0.05)

    run(main())
    records = reports()
    live, final = records[0], records[-1]
    # Made while the step ran, by the watchdog's thread.
    assert live.created < ended_at[0]
    assert live.threadName == "spindle-watchdog"
    lines = live.getMessage().splitlines()
    assert lines[0] == (
        f"spindle: main() has been blocking the event loop for {seconds_in(lines[0]):.1f} s, "
        f"at {where('blocks-in-helper')}"
    )
    assert re.fullmatch(r"  task Task-\d+ main\(\), created at .*", lines[1])
    assert lines[2] == "  the loop's thread, in this step (most recent call last):"
    assert lines[3].startswith(f"    {REL}:") and lines[3].endswith(
        " in main: crunch()  # calls-helper"
    )
    assert lines[4].endswith(" in crunch: time.sleep(0.6)  # blocks-in-helper")
    assert lines[5].startswith("  spindle says so again at 1 s, 2 s, 4 s")
    # And once more when it ended, with the whole time.
    text = final.getMessage()
    assert text.startswith("spindle: main() blocked the event loop for ")
    assert text.endswith(f" s at {where('blocks-in-helper')}")
    assert 0.5 <= seconds_in(text) <= 0.8


def test_a_long_block_is_reported_again_with_backoff() -> None:
    said: list[tuple[float, str]] = []
    loop = spindle.EventLoop()
    watchdog = Watchdog(loop, 0.1, lambda text: said.append((time.monotonic(), text)))
    started: list[float] = []

    def stuck() -> None:
        started.append(time.monotonic())
        time.sleep(2.4)  # stuck-for-a-while

    watchdog.start()
    try:
        loop.call_soon(stuck)
        loop.call_soon(loop.stop)
        loop.run_forever()
        watchdog.flush()
    finally:
        watchdog.stop()
        loop.close()
    kinds = [re.search(r"\(\) (has|is|blocked)", text)[1] for _, text in said]  # type: ignore[index]
    assert kinds == ["has", "is", "is", "blocked"], [text for _, text in said]
    # At the threshold, then at 1 s and at 2 s into the step (give or take the wake-ups).
    offsets = [at - started[0] for at, _ in said[:3]]
    assert offsets[0] < 0.5
    assert 0.9 <= offsets[1] < 1.5
    assert 1.9 <= offsets[2] < 2.4
    # Repeats are one line while the step stays on the same line.
    assert said[1][1] == (
        f"spindle: callback stuck() is still blocking the event loop: "
        f"{seconds_in(said[1][1]):.1f} s so far, at {where('stuck-for-a-while')}"
    )
    assert 2.3 <= seconds_in(said[3][1]) <= 2.7


def test_the_total_of_a_reported_step_is_right_to_the_tenth_of_a_second() -> None:
    # Its start is known to half a wake-up interval (a threshold / 4); once reported, the
    # thread wakes every few milliseconds, so its end is known closely too.  (With one wake-up
    # a threshold, a time.sleep(10) was told as 9.9 s now and then.)
    said: list[str] = []
    loop = spindle.EventLoop()
    watchdog = Watchdog(loop, 0.1, said.append)
    assert watchdog._next_wait() == 0.1 / watchdog_module.WAKES_PER_THRESHOLD

    def stuck() -> None:
        time.sleep(1.0)

    async def after() -> None:
        # Reported by now, and the thread wakes every REPORTED_WAKE to see it end.
        waits.append(watchdog._next_wait())
        await sleep(0.1)  # while the thread sees it ended

    waits: list[float] = []
    watchdog.start()
    try:
        loop.call_soon(stuck)
        loop.run_until_complete(after())
    finally:
        watchdog.stop()
        loop.close()
    assert waits == [watchdog_module.REPORTED_WAKE]
    assert said[-1].startswith("spindle: callback stuck() blocked the event loop for 1.0 s at ")


def test_what_runs_right_after_a_reported_step_is_not_overtaken_by_its_last_line() -> None:
    # The thread sees the end within milliseconds; the program's own output, a moment after
    # the step, must still come first (unbuffered, a print is two writes a line could split).
    said: list[str] = []
    seen_then: list[int] = []
    loop = spindle.EventLoop()
    watchdog = Watchdog(loop, 0.1, said.append)

    def stuck() -> None:
        time.sleep(0.5)

    def carry_on() -> None:
        time.sleep(0.02)  # printing, say: longer than the thread's wake-ups while it waits
        seen_then.append(len(said))

    async def after() -> None:
        await sleep(0.2)

    watchdog.start()
    try:
        loop.call_soon(stuck)
        loop.call_soon(carry_on)
        loop.run_until_complete(after())
    finally:
        watchdog.stop()
        loop.close()
    ends = [i for i, text in enumerate(said) if " blocked the event loop for " in text]
    assert ends and said[ends[0]].startswith("spindle: callback stuck() blocked the event loop")
    assert seen_then[0] <= ends[0], said


def test_a_block_inside_a_library_shows_the_library_and_the_users_line(
    reports: Reports,
) -> None:
    diagnostics.configure(block_threshold=0.1)

    async def main() -> None:
        threading.Event().wait(0.5)  # waits-in-the-standard-library

    run(main())
    lines = messages(reports)[0].splitlines()
    stack = lines[lines.index("  the loop's thread, in this step (most recent call last):") + 1 :]
    assert stack[0].endswith(
        " in main: threading.Event().wait(0.5)  # waits-in-the-standard-library"
    )
    # Below the user's line, the library's own (threading.py), down to where it waits.
    assert any(re.search(r"threading\.py:\d+ in (Event\.)?wait: ", line) for line in stack[1:])
    # The headline names the user's line, the one to change.
    assert lines[0].endswith(f"at {where('waits-in-the-standard-library')}")


def test_the_tasks_awaiting_the_blocked_one_are_named(reports: Reports) -> None:
    diagnostics.configure(block_threshold=0.1)

    async def worker() -> None:
        await sleep(0)
        time.sleep(0.4)  # the-worker-blocks

    async def main() -> None:
        await spindle.gather(worker(), sleep(0.01))  # main-gathers

    run(main())
    lines = messages(reports)[0].splitlines()
    assert lines[0].startswith("spindle: worker() has been blocking the event loop for ")
    assert re.fullmatch(r"  task Task-\d+ worker\(\), created at .* in main\(\)", lines[1])
    assert re.fullmatch(
        rf"  awaited by Task-\d+ main\(\), waiting at {re.escape(where('main-gathers'))}",
        lines[2],
    )


def test_a_blocking_callback_is_reported_as_a_callback(reports: Reports) -> None:
    diagnostics.configure(block_threshold=0.1)

    def slow_callback(done: asyncio.Future[None]) -> None:
        time.sleep(0.3)  # blocks-in-callback
        done.set_result(None)

    async def main() -> None:
        done = events.get_running_loop().create_future()
        events.get_running_loop().call_soon(slow_callback, done)
        await done

    run(main())
    said = messages(reports)
    assert said[0].startswith("spindle: callback slow_callback() has been blocking the event loop")
    assert "  task " not in said[0]  # a callback has no task
    assert said[-1].startswith("spindle: callback slow_callback() blocked the event loop for ")
    assert said[-1].endswith(f" s at {where('blocks-in-callback')}")


def test_an_idle_loop_and_short_steps_are_not_reported(reports: Reports) -> None:
    diagnostics.configure(block_threshold=0.2)

    def short_step() -> None:
        time.sleep(0.07)

    async def main() -> None:
        await sleep(0.3)  # the loop waits in its poll: idle, not blocked
        loop = events.get_running_loop()
        for _ in range(4):  # 0.28 s in one pass, but no single step reaches 0.2 s
            loop.call_soon(short_step)
        await sleep(0)

    run(main())
    assert reports() == []


def test_steps_are_told_apart_within_one_pass(reports: Reports) -> None:
    diagnostics.configure(block_threshold=0.1)

    def short_step() -> None:
        time.sleep(0.03)

    def long_step() -> None:
        time.sleep(0.3)  # the-long-step

    async def main() -> None:
        loop = events.get_running_loop()
        for step in (short_step, short_step, long_step, short_step):
            loop.call_soon(step)
        await sleep(0.05)

    run(main())
    said = messages(reports)
    assert [text.split(" ", 3)[1:3] for text in said] == [
        ["callback", "long_step()"],
        ["callback", "long_step()"],
    ]
    assert 0.2 <= seconds_in(said[-1]) <= 0.45


# -- blocking in C -------------------------------------------------------------------------


def test_a_blocking_socket_read_is_reported_at_the_line_that_reads(reports: Reports) -> None:
    diagnostics.configure(block_threshold=0.1)
    reader, writer = socket.socketpair()
    timer = threading.Timer(0.5, writer.sendall, (b"late",))

    async def main() -> None:
        timer.start()
        assert reader.recv(4) == b"late"  # blocking-recv

    try:
        run(main())
    finally:
        timer.join()
        reader.close()
        writer.close()
    said = messages(reports)
    assert said[0].startswith("spindle: main() has been blocking the event loop")
    assert said[0].splitlines()[0].endswith(f"at {where('blocking-recv')}")
    assert said[-1].endswith(f" s at {where('blocking-recv')}")


def test_a_c_function_called_as_a_callback_is_named_though_it_has_no_frame(
    reports: Reports,
) -> None:
    # The loop records what it runs: a C callback has no Python frame, but it is still named.
    diagnostics.configure(block_threshold=0.1)

    async def main() -> None:
        events.get_running_loop().call_soon(time.sleep, 0.4)
        await sleep(0.05)

    run(main())
    said = messages(reports)
    assert said[0].startswith("spindle: callback sleep() has been blocking the event loop for ")
    assert said[0].splitlines()[0].endswith(", in C code (no Python frame to show)")
    assert said[-1].startswith("spindle: callback sleep() blocked the event loop for ")


def _pbkdf2_iterations(seconds: float) -> int:
    """How many PBKDF2 rounds take at least about ``seconds`` here (hashlib releases the GIL).

    The quickest of three timings: on a loaded machine one timing may be stretched many times
    over, which would make the call that follows far shorter than meant.
    """
    fastest = math.inf
    for _ in range(3):
        started = time.perf_counter()
        hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 20_000)
        fastest = min(fastest, time.perf_counter() - started)
    return max(20_000, int(20_000 * seconds / fastest))


def test_a_cpu_loop_in_c_that_releases_the_gil_is_reported_while_it_runs(
    reports: Reports,
) -> None:
    diagnostics.configure(block_threshold=0.1)
    iterations = _pbkdf2_iterations(0.6)

    async def main() -> None:
        hashlib.pbkdf2_hmac("sha256", b"password", b"salt", iterations)  # cpu-in-c

    run(main())
    said = messages(reports)
    assert said[0].startswith("spindle: main() has been blocking the event loop")
    assert said[0].splitlines()[0].endswith(f"at {where('cpu-in-c')}")


def test_a_c_function_from_a_c_library_is_reported_at_the_line_calling_it(
    reports: Reports,
) -> None:
    diagnostics.configure(block_threshold=0.1)
    libc = ctypes.CDLL(None)  # ctypes.CDLL releases the GIL around the call

    async def main() -> None:
        libc.usleep(500_000)  # c-library-call

    run(main())
    said = messages(reports)
    assert said[0].splitlines()[0].endswith(f"at {where('c-library-call')}")


GIL_HOLDER = """
    import time
    import spindle as asyncio

    def spin(n):
        return sum(range(n))        # one C call: it never lets the GIL go

    def timed_spin(n):
        started = time.perf_counter()
        spin(n)
        return time.perf_counter() - started

    async def main():
        # Sized by the fastest of three runs: on a busy machine the long call can only take
        # longer than asked, never shorter (one slow calibration made it end before 2 s).
        fastest = min(timed_spin(2_000_000) for _ in range(3))
        n = int(2_000_000 * {seconds} / fastest)
        spin(n)                     # holds-the-gil
        await asyncio.sleep(0.3)    # the watchdog gets to run again

    asyncio.run(main())
    print("done")
"""


@pytest.mark.timeout(90)
def test_a_c_call_holding_the_gil_is_shown_by_faulthandler_while_it_lasts(
    tmp_path: Path,
) -> None:
    # No Python thread can run while a C call holds the GIL, the watchdog's neither: the
    # stacks come from faulthandler's thread, armed by the watchdog (default 2 s).
    source = GIL_HOLDER.replace("{seconds}", "4.0")
    result = run_program(source, cwd=tmp_path, SPINDLE_BLOCK_THRESHOLD="0.1")
    program = (tmp_path / "program.py").read_text().splitlines()
    line = next(n for n, text in enumerate(program, 1) if text.endswith("# holds-the-gil"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"
    err = result.stderr
    assert "Timeout (0:00:02)!" in err
    assert f'File "{tmp_path / "program.py"}", line {line} in main' in err or (
        f'File "program.py", line {line} in main' in err
    )
    assert re.search(
        r"spindle: for \d+\.\d s no Python thread could run, spindle's watchdog neither, "
        r"while the process used \d+\.\d s of CPU: a call into C code held the GIL",
        err,
    ), err
    assert "the loop was running main()" in err


STOPPED = """
    import spindle

    async def main():
        print("ready", flush=True)
        await spindle.sleep(6)   # SIGSTOP'd for 3 s meanwhile
        print("done")

    spindle.run(main())
"""


@pytest.mark.timeout(60)
def test_a_process_that_was_stopped_is_not_taken_for_a_c_call_holding_the_gil(
    tmp_path: Path,
) -> None:
    # Stopped (as a loaded machine or a debugger may stop it), the process uses no CPU: the
    # watchdog, which could not run either, says so instead of blaming a C call.
    program = tmp_path / "program.py"
    program.write_text(textwrap.dedent(STOPPED))
    env = user_environment(PYTHONPATH=str(SRC), SPINDLE_BLOCK_THRESHOLD="0.1")
    with subprocess.Popen(
        [sys.executable, str(program)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env, cwd=tmp_path,
    ) as child:  # fmt: skip
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        time.sleep(0.5)  # the loop sleeps; the watchdog has woken a few times
        child.send_signal(signal.SIGSTOP)
        time.sleep(3)
        child.send_signal(signal.SIGCONT)
        out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert out == "done\n"
    assert re.search(
        r"spindle: for \d+\.\d s no Python thread could run, spindle's watchdog neither, "
        r"and the process used only \d+\.\d s of CPU: it was stopped",
        err,
    ), err


# -- Ctrl-C during a block --------------------------------------------------------------------

CTRL_C_SPINDLE = """
    import time, spindle

    async def main():
        time.sleep(20)   # stuck

    spindle.run(main())
"""

CTRL_C_ASYNCIO = """
    import asyncio, time

    async def main():
        time.sleep(20)   # stuck

    asyncio.run(main())
"""


def _interrupt_when_blocked(tmp_path: Path, source: str, *command: str) -> tuple[int, str]:
    """Run the program, press Ctrl-C once the live report is out, then again; (status, stderr)."""
    (tmp_path / "program.py").write_text(textwrap.dedent(source))
    process = subprocess.Popen(
        [sys.executable, *command, "program.py"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env=user_environment(PYTHONPATH=str(SRC), SPINDLE_BLOCK_THRESHOLD="0.1"),
    )
    assert process.stderr is not None
    seen: list[str] = []
    try:
        for line in process.stderr:
            seen.append(line)
            if "says so again" in line:  # the end of the first live report
                process.send_signal(signal.SIGINT)
            if line.startswith("  has not reached one: press Ctrl-C again"):
                process.send_signal(signal.SIGINT)
                break
        seen.append(process.stderr.read())
        status = process.wait(timeout=30)
    finally:
        process.kill()
        process.wait()
        process.stderr.close()
    return status, "".join(seen)


@pytest.mark.parametrize(
    ("source", "command"),
    [(CTRL_C_SPINDLE, ()), (CTRL_C_ASYNCIO, ("-m", "spindle"))],
    ids=["spindle.run", "python -m spindle"],
)
def test_ctrl_c_during_a_block_prints_the_report_and_a_second_one_interrupts(
    tmp_path: Path, source: str, command: tuple[str, ...]
) -> None:
    status, err = _interrupt_when_blocked(tmp_path, source, *command)
    assert re.search(
        r"spindle: Ctrl-C while main\(\) blocks the event loop \(\d+\.\d s so far\), "
        r"at program\.py:5: time\.sleep\(20\)   # stuck\n"
        r"  task Task-\d+ main\(\), created at program\.py:\d+ in <module>\(\)\n"
        r"  the loop's thread, in this step \(most recent call last\):\n"
        r"    program\.py:5 in main: time\.sleep\(20\)   # stuck\n"
        r"  The main task is cancelled, but a task sees a cancellation only at an await",
        err,
    ), err
    # The second Ctrl-C interrupts the sleep where it is, as asyncio's would.
    assert "KeyboardInterrupt" in err
    assert status in (-signal.SIGINT, 128 + signal.SIGINT, 1)


# -- the thread's life ---------------------------------------------------------------------


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
    [ps_server] = [t for t in threading.enumerate() if t.name == "spindle-ps"]
    with pytest.warns(ResourceWarning, match="unclosed event loop"):
        del runner
        gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()
    # Its share of faulthandler's timer is given back: nothing would cancel the timer later.
    assert watchdog_module._FaultHandlerArm._users == 0
    # Nor the ps server's thread and socket: the session that started it is gone.
    ps_server.join(timeout=5)
    assert not ps_server.is_alive()


def test_no_watchdog_when_diagnostics_are_off() -> None:
    diagnostics.configure(enabled=False)
    with Runner() as runner:
        runner.get_loop()
        assert watchdog_threads() == []


def test_no_watchdog_on_asyncios_own_loop() -> None:
    with Runner(loop_factory=asyncio.new_event_loop) as runner:
        runner.get_loop()
        assert watchdog_threads() == []


def test_the_watchdog_can_be_stopped_from_its_own_thread() -> None:
    # As when a loop that ends its own session is garbage-collected on the watchdog's thread.
    stopped_itself = threading.Event()

    def report(text: str) -> None:
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


def test_the_watchdog_reads_the_loops_record_not_its_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the watchdog knows about the step comes from the loop's record of the running
    # handle: with every frame of the loop hidden (as in a compiled build), the step is
    # still found and named.
    said: list[str] = []
    loop = spindle.EventLoop()
    watchdog = Watchdog(loop, 0.1, said.append)

    def blocker() -> None:
        time.sleep(0.3)

    real_frames = sys._current_frames
    monkeypatch.setattr(sys, "_current_frames", lambda: {})
    watchdog.start()
    try:
        loop.call_soon(blocker)
        loop.call_soon(loop.stop)
        loop.run_forever()
        watchdog.flush()
    finally:
        watchdog.stop()
        loop.close()
        monkeypatch.setattr(sys, "_current_frames", real_frames)
    assert said[0].startswith("spindle: callback blocker() has been blocking the event loop")
    assert said[-1].startswith("spindle: callback blocker() blocked the event loop for ")


def test_a_step_s_last_line_waits_for_the_thread_s_report_of_it_under_way() -> None:
    # The step ends and the loop stops while the watchdog's thread is still telling its report
    # of it: flush(), on the loop's thread, says the step is over only after that report.
    said: list[str] = []
    telling, let_go = threading.Event(), threading.Event()

    def report(text: str) -> None:
        if threading.current_thread().name == "spindle-watchdog" and not telling.is_set():
            telling.set()
            let_go.wait(timeout=10)
        said.append(text)

    loop = spindle.EventLoop()
    watchdog = Watchdog(loop, 0.05, report)

    def stuck() -> None:
        assert telling.wait(timeout=10)

    releaser = threading.Timer(0.3, let_go.set)  # time enough for a flush that did not wait
    watchdog.start()
    try:
        loop.call_soon(stuck)
        loop.call_soon(loop.stop)
        loop.run_forever()
        releaser.start()
        watchdog.flush()
    finally:
        releaser.join()
        watchdog.stop()
        loop.close()
    assert said[0].startswith("spindle: callback stuck() has been blocking the event loop"), said
    assert said[-1].startswith("spindle: callback stuck() blocked the event loop for "), said


FORK_UNDER_THE_WATCHDOG = """
    import os, spindle

    async def child_main():
        await spindle.sleep(0)
        return "child ran"

    async def main():
        pid = os.fork()
        if pid == 0:
            # The parent's watchdog armed faulthandler's timer; its thread is not in the child.
            try:
                print(spindle.run(child_main()), flush=True)
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    print("child exited with", spindle.run(main()))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_runs_its_own_loop_under_diagnostics(tmp_path: Path) -> None:
    # The child used to hang in faulthandler.dump_traceback_later, waiting for the parent's
    # timer thread (CPython's test_fork_asyncio_run found it).
    result = run_program(FORK_UNDER_THE_WATCHDOG, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["child ran", "child exited with 0"]
