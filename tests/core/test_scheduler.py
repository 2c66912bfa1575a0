"""The scheduler's policies and the loop's state machine, tested without running a loop."""

from __future__ import annotations

import asyncio
import math

import pytest

import spindle
from spindle._core.clock import MonotonicClock
from spindle._core.scheduler import MAX_POLL_TIMEOUT, LoopState, poll_timeout
from spindle.testing import VirtualClock


class FrozenClock:
    """A clock whose time is fixed: ``timeout_until`` is then plain arithmetic."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def timeout_until(self, deadline: float) -> float:
        return max(0.0, deadline - self.now)


@pytest.mark.parametrize(
    ("work_waiting", "next_deadline", "now", "expected"),
    [
        # Work is waiting: never block, whatever the timers say.
        (True, None, 10.0, 0.0),
        (True, 12.0, 10.0, 0.0),
        (True, 5.0, 10.0, 0.0),
        # Nothing to do and no timer: block until I/O (or a wake-up) arrives.
        (False, None, 10.0, None),
        # A timer ahead: block until it is due.
        (False, 12.5, 10.0, 2.5),
        # A timer already due (or overdue): do not block.
        (False, 10.0, 10.0, 0.0),
        (False, 9.0, 10.0, 0.0),
        # A timer at infinity never fires; a far one is waited for a day at a time.
        (False, math.inf, 10.0, None),
        (False, 1e300, 10.0, MAX_POLL_TIMEOUT),
        (False, 10.0 + MAX_POLL_TIMEOUT + 1, 10.0, MAX_POLL_TIMEOUT),
    ],
)
def test_poll_timeout_table(
    work_waiting: bool, next_deadline: float | None, now: float, expected: float | None
) -> None:
    assert poll_timeout(work_waiting, next_deadline, FrozenClock(now)) == expected


def test_poll_timeout_on_a_virtual_clock_jumps_to_the_deadline_and_does_not_block() -> None:
    clock = VirtualClock(start=1.0)
    assert poll_timeout(False, 4.0, clock) == 0.0
    assert clock.time() == 4.0
    # Work waiting: the clock does not move.
    assert poll_timeout(True, 9.0, clock) == 0.0
    assert clock.time() == 4.0


def test_poll_timeout_on_the_real_clock_is_never_negative() -> None:
    clock = MonotonicClock()
    assert poll_timeout(False, clock.time() - 5.0, clock) == 0.0
    assert 0.0 < (poll_timeout(False, clock.time() + 60.0, clock) or 0.0) <= 60.0


def test_a_loop_goes_idle_running_idle_closed() -> None:
    loop = spindle.new_event_loop()
    seen: list[LoopState] = []
    assert loop._state is LoopState.IDLE
    loop.call_soon(lambda: seen.append(loop._state))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [LoopState.RUNNING]
    assert loop._state is LoopState.IDLE
    loop.close()
    assert loop._state is LoopState.CLOSED
    assert loop.is_closed() and not loop.is_running()


def test_a_move_the_state_machine_lacks_is_refused_naming_both_states() -> None:
    loop = spindle.new_event_loop()
    loop.close()
    with pytest.raises(RuntimeError, match="from closed to running"):
        loop._move_to(LoopState.RUNNING)
    assert loop._state is LoopState.CLOSED


def test_stop_before_run_forever_ends_the_next_run_after_one_pass() -> None:
    loop = spindle.new_event_loop()
    try:
        ran: list[int] = []
        loop.stop()
        loop.call_soon(ran.append, 1)
        loop.run_forever()
        assert ran == [1]
        assert loop._state is LoopState.IDLE
    finally:
        loop.close()


def test_infinite_and_huge_delays_are_accepted_and_never_fire(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    fired: list[str] = []
    for delay in (math.inf, 1e300):
        any_loop.call_later(delay, fired.append, f"call_later({delay})")
        any_loop.call_at(delay, fired.append, f"call_at({delay})")

    async def main() -> str:
        # A wait_for with an infinite timeout finishes with its awaitable.
        return await asyncio.wait_for(asyncio.sleep(0.01, "done"), timeout=math.inf)

    assert any_loop.run_until_complete(main()) == "done"
    assert fired == []
