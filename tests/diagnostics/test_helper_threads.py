"""The diagnostics' threads step aside while the process forks (``helper_threads``).

A process that forks while other threads run hands its child their locks, held for good;
Python 3.12 warns of it at every ``fork()``.  A runner's watchdog and ps server are threads,
so a ``ProcessPoolExecutor`` (``multiprocessing`` forks on Linux) used from a coroutine must
not make a program forking under spindle any worse off than under asyncio.

(3.13 looks for other threads only after the fork's own hooks have run, when spindle's have
started again: it still warns there, though none of them ran at the fork.)
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

import spindle
from spindle import diagnostics
from spindle.diagnostics import control, helper_threads, watchdog
from spindle.diagnostics.helper_threads import HelperThread
from tests.children import in_forked_child
from tests.diagnostics.conftest import Reports, run_program

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")

HELPERS = {"spindle-watchdog", "spindle-ps"}
# The Python whose fork() warning is decided before the hooks that start the threads again.
WARNS_BEFORE_THE_HOOKS = sys.version_info[:2] == (3, 12)


class Waiter:
    """The simplest helper: waits on an event until interrupted, counts its runs and rearms."""

    def __init__(self, name: str = "test-helper") -> None:
        self.event = threading.Event()
        self.runs = 0
        self.rearms = 0
        self.thread = HelperThread(name, self.run, self.event.set, self.rearm)

    def run(self) -> None:
        self.runs += 1
        self.event.wait()

    def rearm(self) -> None:
        self.rearms += 1
        self.event.clear()


def helper_names() -> set[str]:
    return {t.name for t in threading.enumerate()} & HELPERS


def until_no_stray_threads(timeout: float = 5.0) -> None:
    """Wait until this process's system threads are Python's and faulthandler's timer.

    3.12's fork() warning counts every system thread (from ``/proc``): one that another test
    joined a moment ago may not have ended yet.  (The watchdog keeps faulthandler's timer
    armed: a thread Python does not list, which steps aside at a fork too.)
    """
    deadline = time.monotonic() + timeout
    while len(helper_threads.system_threads()) > len(threading.enumerate()) + 1:
        assert time.monotonic() < deadline, [t.name for t in threading.enumerate()]
        time.sleep(0.01)


def test_a_helper_stops_before_a_fork_and_starts_again_after_it_in_the_parent() -> None:
    helper = Waiter()
    helper.thread.start()
    try:
        before = [t for t in threading.enumerate() if t.name == "test-helper"]
        helper_threads._before_fork()
        try:
            assert [t for t in threading.enumerate() if t.name == "test-helper"] == []
        finally:
            helper_threads._after_fork_in_parent()
        after = [t for t in threading.enumerate() if t.name == "test-helper"]
        assert len(before) == len(after) == 1
        assert after != before  # a new thread, running the same function
        assert (helper.runs, helper.rearms) == (2, 1)
    finally:
        helper.thread.stop()
    assert not helper.thread.is_alive()


def test_a_stopped_helper_is_not_started_again_by_a_fork() -> None:
    helper = Waiter()
    helper.thread.start()
    helper.thread.stop()
    helper_threads._before_fork()
    helper_threads._after_fork_in_parent()
    assert not helper.thread.is_alive()
    assert (helper.runs, helper.rearms) == (1, 0)
    with pytest.raises(RuntimeError, match="cannot start the test-helper thread: it was stopped"):
        helper.thread.start()


def test_a_helper_that_does_not_stop_in_time_is_left_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Busy in its round (a report written to a stderr nobody reads, say): the fork goes on.
    monkeypatch.setattr(helper_threads, "PAUSE_TIMEOUT", 0.05)
    release = threading.Event()

    def busy() -> None:
        release.wait()

    helper = Waiter()
    helper.thread = HelperThread("test-helper", busy, lambda: None, helper.rearm)
    helper.thread.start()
    try:
        helper_threads._before_fork()
        helper_threads._after_fork_in_parent()
        assert helper.thread.is_alive()
        assert helper.rearms == 0  # not started twice
        assert len([t for t in threading.enumerate() if t.name == "test-helper"]) == 1
    finally:
        release.set()
        helper.thread.stop()


@pytest.mark.skipif(not helper_threads.system_threads(), reason="needs /proc/self/task")
def test_a_helper_that_arms_faulthandler_in_its_last_round_forks_with_no_timer_thread() -> None:
    # The watchdog may re-arm faulthandler's timer (a thread of its own) in the round the
    # fork interrupts: the timer is put aside after the helpers have stopped, not before.
    arm = watchdog._FaultHandlerArm(60.0)
    arm.start()
    helper = Waiter()

    def last_round_arms() -> None:
        helper.run()
        watchdog._FaultHandlerArm._arm(60.0)

    helper.thread = HelperThread("test-helper", last_round_arms, helper.event.set, helper.rearm)
    helper.thread.start()
    try:
        while helper.runs == 0:
            time.sleep(0.001)
        helper_threads._before_fork()
        try:
            at_the_fork = len(helper_threads.system_threads())
            python_threads = len(threading.enumerate())
        finally:
            helper_threads._after_fork_in_parent()
        assert at_the_fork == python_threads  # no system thread Python does not know of
        assert helper.thread.is_alive()  # started again, and the timer armed again
        assert len(helper_threads.system_threads()) == len(threading.enumerate()) + 1
    finally:
        helper.thread.stop()
        arm.stop()


def test_a_fork_waits_for_faulthandlers_timer_thread_only_while_it_is_armed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not armed (no stderr to print to) or fired already: no thread to wait for, and a fork
    # must not spend GONE_TIMEOUT looking for one.
    waited: list[set[int]] = []
    monkeypatch.setattr(watchdog, "until_one_ends", waited.append)
    arm = watchdog._FaultHandlerArm(60.0)
    arm.start()
    try:
        helper_threads._before_fork()
        helper_threads._after_fork_in_parent()
        assert len(waited) == 1  # armed: the cancel waits for the timer's thread
        watchdog._FaultHandlerArm._cancel()  # as when it could not be armed (no stderr)
        helper_threads._before_fork()
        helper_threads._after_fork_in_parent()
        assert len(waited) == 1
    finally:
        arm.stop()


@pytest.mark.skipif(not helper_threads.system_threads(), reason="needs /proc/self/task")
def test_a_fork_waits_for_the_timer_thread_the_last_arm_started_and_no_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each arm starts a new timer thread and the one it replaces ends a moment later: a fork
    # that waited for "one of the process's threads" to end could be let through by the old
    # timer's end (or any other thread's) while the new timer still ran.
    waited: list[set[int]] = []
    monkeypatch.setattr(watchdog, "until_one_ends", waited.append)
    python_threads = {t.native_id for t in threading.enumerate()}
    arm = watchdog._FaultHandlerArm(60.0)
    arm.start()
    try:
        first = watchdog._FaultHandlerArm._timer_threads
        watchdog._FaultHandlerArm._arm(60.0)  # as the watchdog's keep_alive does
        second = watchdog._FaultHandlerArm._timer_threads
        assert len(first) == len(second) == 1
        assert first != second  # a new thread for the new arm
        assert not (second & python_threads)  # faulthandler's, not one Python lists
        assert second <= helper_threads.system_threads()
        helper_threads._before_fork()
        helper_threads._after_fork_in_parent()
        assert waited == [set(second)]
    finally:
        arm.stop()
    assert watchdog._FaultHandlerArm._timer_threads == frozenset()


@pytest.mark.skipif(not helper_threads.system_threads(), reason="needs /proc/self/task")
def test_two_watchdogs_arming_at_once_note_the_timer_that_stays_armed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two loops' watchdogs share faulthandler's one timer.  When both re-arm it in the same
    # moment, the thread noted must be the timer of the arm that came last (the other one was
    # cancelled by it): a fork waits for the noted thread to end.  The listing of the process's
    # threads is slowed down here, to open the window between an arm and its note.
    real_listing = helper_threads.system_threads

    def slow_listing() -> set[int]:
        threads = real_listing()
        time.sleep(0.005)
        return threads

    monkeypatch.setattr(watchdog, "system_threads", slow_listing)
    python_threads = {t.native_id for t in threading.enumerate()}

    def arm_at_once(together: threading.Barrier) -> None:
        together.wait()
        watchdog._FaultHandlerArm._arm(60.0)

    arm = watchdog._FaultHandlerArm(60.0)
    arm.start()
    try:
        for _ in range(5):
            together = threading.Barrier(2)
            armers = [threading.Thread(target=arm_at_once, args=(together,)) for _ in range(2)]
            for armer in armers:
                armer.start()
            for armer in armers:
                armer.join()
            # The cancelled timers end a moment after their cancel: then one timer is left.
            deadline = time.monotonic() + 5.0
            while len(others := real_listing() - python_threads) > 1:
                assert time.monotonic() < deadline, others
                time.sleep(0.001)
            assert watchdog._FaultHandlerArm._timer_threads == others
    finally:
        arm.stop()


def test_forking_under_a_runner_the_helpers_step_aside_and_come_back(reports: Reports) -> None:
    diagnostics.configure(block_threshold=0.1)
    seen: dict[str, object] = {}

    async def main() -> None:
        seen["before"] = helper_names()
        if WARNS_BEFORE_THE_HOOKS:
            until_no_stray_threads()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            seen["child"] = in_forked_child(child_report)
        # 3.12+ warns at a fork with other threads running: there were none of spindle's.
        seen["warnings"] = [str(w.message) for w in caught]
        seen["after"] = helper_names()
        # Both work as before: ps answers for this process, the watchdog tells a block.
        seen["ps"] = control.ask(os.getpid())["pid"]
        time.sleep(0.35)  # blocks-after-the-fork
        await asyncio.sleep(0)

    spindle.run(main())
    assert seen["before"] == seen["after"] == HELPERS
    if WARNS_BEFORE_THE_HOOKS:
        assert not [text for text in seen["warnings"] if "multi-threaded" in text]  # type: ignore[attr-defined]
    assert seen["ps"] == os.getpid()
    assert any("blocking the event loop" in r.getMessage() for r in reports())
    # The child has none of its parent's helpers, and its own runner starts its own.
    assert seen["child"] == "threads: MainThread; in its own runner: spindle-ps, spindle-watchdog"


def child_report() -> str:
    threads = ", ".join(t.name for t in threading.enumerate())

    async def look() -> str:
        return ", ".join(sorted(helper_names()))

    own = spindle.run(look())
    return f"threads: {threads}; in its own runner: {own}"


@pytest.mark.skipif(
    not WARNS_BEFORE_THE_HOOKS,
    reason="3.12 only: 3.11 has no such warning, 3.13 counts threads after the fork's hooks",
)
def test_a_process_pool_under_a_runner_forks_without_the_multithreaded_warning(
    tmp_path: Path,
) -> None:
    # The pool forks its workers from the loop's thread, while the runner's helpers run.  A
    # program of its own: in the test run's process, a thread another test left ending would
    # be counted too.
    program = run_program(
        """
        import asyncio, concurrent.futures, warnings
        import spindle

        async def main():
            loop = asyncio.get_running_loop()
            with concurrent.futures.ProcessPoolExecutor(2) as pool:
                calls = [loop.run_in_executor(pool, abs, -i) for i in range(4)]
                return await asyncio.gather(*calls)

        if __name__ == "__main__":
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                print(spindle.run(main()))
            print([str(w.message) for w in caught if "multi-threaded" in str(w.message)])
        """,
        cwd=tmp_path,
    )
    assert program.returncode == 0, program.stderr
    assert program.stdout.splitlines() == ["[0, 1, 2, 3]", "[]"], program.stderr
