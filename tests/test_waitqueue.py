"""The wait queue under every synchronisation primitive (``spindle._waitqueue``), on its own.

Its rules are tested here once: waiters are woken in the order they parked, a wake-up is never
spent on a waiter that gave up or already holds one, and a wake-up a waiter will not use is
passed on rather than lost.  The primitives (tests/test_locks.py, tests/test_queues.py) are
tested for their own policies on top.  No loop runs: waking a waiter only resolves a future.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import spindle
from spindle import _waitqueue as waitqueue

# The primitive the waiters wait on, as diagnostics will name it.
OWNER = object()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = spindle.new_event_loop()
    yield loop
    loop.close()


def state(waiter: asyncio.Future[object]) -> str:
    if waiter.cancelled():
        return "abandoned"
    return "woken" if waiter.done() else "parked"


def states(waiters: waitqueue.Waiters) -> list[str]:
    return [state(waiter) for waiter in waiters]


def test_waiters_are_woken_in_the_order_they_parked(loop: asyncio.AbstractEventLoop) -> None:
    waiters: waitqueue.Waiters = deque()
    first, second, third = (waitqueue.park(waiters, loop, OWNER) for _ in range(3))
    assert waitqueue.wake(waiters, 2) == 2
    assert first.done() and second.done() and not third.done()
    assert len(waiters) == 3  # woken waiters stay queued until they leave


def test_a_waiter_records_what_it_waits_on(loop: asyncio.AbstractEventLoop) -> None:
    waiters: waitqueue.Waiters = deque()
    waiter = waitqueue.park(waiters, loop, OWNER)
    assert getattr(waiter, "_owner", None) is OWNER  # what diagnostics read (waits.py)


def test_a_wake_up_skips_abandoned_and_woken_waiters(loop: asyncio.AbstractEventLoop) -> None:
    waiters: waitqueue.Waiters = deque()
    gave_up, woken, parked = (waitqueue.park(waiters, loop, OWNER) for _ in range(3))
    gave_up.cancel()
    woken.set_result(True)
    assert waitqueue.wake(waiters, 1) == 1
    assert parked.done()
    assert waitqueue.wake(waiters, 1) == 0  # nobody is parked any more


def test_wake_head_wakes_only_a_parked_head(loop: asyncio.AbstractEventLoop) -> None:
    waiters: waitqueue.Waiters = deque()
    head, second = waitqueue.park(waiters, loop, OWNER), waitqueue.park(waiters, loop, OWNER)
    head.cancel()
    assert waitqueue.wake_head(waiters) is False  # the head's task will pass it on itself
    assert not second.done()
    waitqueue.leave(waiters, head)
    assert waitqueue.wake_head(waiters) is True and second.done()
    assert waitqueue.wake_head(waiters) is False  # already woken


def test_take_wakes_the_first_parked_waiter_and_removes_it(
    loop: asyncio.AbstractEventLoop,
) -> None:
    waiters: waitqueue.Waiters = deque()
    gave_up, first, second = (waitqueue.park(waiters, loop, OWNER) for _ in range(3))
    gave_up.cancel()
    assert waitqueue.take(waiters) is True
    assert first.done() and first.result() is None
    assert list(waiters) == [second]  # the abandoned waiter was dropped on the way
    waitqueue.take_all(waiters)
    assert second.done() and not waiters


def test_abandon_says_whether_a_wake_up_was_held(loop: asyncio.AbstractEventLoop) -> None:
    waiters: waitqueue.Waiters = deque()
    woken, parked = waitqueue.park(waiters, loop, OWNER), waitqueue.park(waiters, loop, OWNER)
    waitqueue.wake(waiters, 1)
    assert waitqueue.abandon(waiters, woken) is True  # it held one: pass it on
    assert waitqueue.abandon(waiters, parked) is False  # it held none
    assert parked.cancelled() and not waiters
    assert waitqueue.wake(waiters, 1) == 0  # no later wake-up lands on an abandoned waiter


def test_anyone_waiting_counts_parked_and_woken_but_not_abandoned(
    loop: asyncio.AbstractEventLoop,
) -> None:
    waiters: waitqueue.Waiters = deque()
    assert not waitqueue.anyone_waiting(waiters)
    only = waitqueue.park(waiters, loop, OWNER)
    only.cancel()
    assert not waitqueue.anyone_waiting(waiters)  # a newcomer need not queue behind it
    waitqueue.park(waiters, loop, OWNER)
    waitqueue.wake_all(waiters)
    assert waitqueue.anyone_waiting(waiters)  # woken but not yet run: still ahead of others


class WaitQueueRules(RuleBasedStateMachine):
    """Random park / wake / give up / take the turn sequences against two rules.

    * Fairness: a wake-up never goes to a waiter while one that parked before it is still
      parked (neither woken nor given up).
    * No lost wake-up: every wake-up handed out is, at any moment, held by a woken waiter,
      used (its waiter took its turn), or handed back because nobody was parked when its
      holder gave up and passed it on.
    """

    def __init__(self) -> None:
        super().__init__()
        self.loop = spindle.new_event_loop()
        self.waiters: waitqueue.Waiters = deque()
        self.order: list[asyncio.Future[object]] = []  # every waiter, in park order
        self.issued = self.used = self.handed_back = 0

    def teardown(self) -> None:
        self.loop.close()

    def _in_queue(self, state: str) -> list[asyncio.Future[object]]:
        return [w for w, s in zip(self.waiters, states(self.waiters), strict=True) if s == state]

    @rule()
    def park(self) -> None:
        self.order.append(waitqueue.park(self.waiters, self.loop, OWNER))

    @rule(n=st.integers(0, 3))
    def wake(self, n: int) -> None:
        self.issued += waitqueue.wake(self.waiters, n)

    @rule()
    def wake_head(self) -> None:
        self.issued += waitqueue.wake_head(self.waiters)

    @rule()
    def wake_all(self) -> None:
        self.issued += waitqueue.wake_all(self.waiters)

    @precondition(lambda self: self.waiters)
    @rule(data=st.data())
    def give_up(self, data: st.DataObject) -> None:
        """A waiting task is cancelled: it abandons its waiter and passes on what it held."""
        waiter = data.draw(st.sampled_from(list(self.waiters)))
        if waitqueue.abandon(self.waiters, waiter):
            self.issued -= 1  # the wake-up it held moves on: issued anew below, or handed back
            if waitqueue.wake(self.waiters, 1):
                self.issued += 1
            else:
                self.handed_back += 1

    @precondition(lambda self: any(s == "woken" for s in states(self.waiters)))
    @rule(data=st.data())
    def take_turn(self, data: st.DataObject) -> None:
        waiter = data.draw(st.sampled_from(self._in_queue("woken")))
        waitqueue.leave(self.waiters, waiter)
        self.used += 1

    @invariant()
    def fifo(self) -> None:
        still_parked_before = False
        for waiter in self.order:
            if waiter.cancelled():
                continue
            if not waiter.done():
                still_parked_before = True
            elif still_parked_before:
                raise AssertionError("a waiter was woken while an earlier one is still parked")

    @invariant()
    def no_wake_up_lost(self) -> None:
        assert self.issued == len(self._in_queue("woken")) + self.used


WaitQueueRules.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
test_wait_queue_rules = WaitQueueRules.TestCase
