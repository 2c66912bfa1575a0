"""The wait queue under every synchronisation primitive: tasks parked in arrival order.

A task that cannot go on (the lock is held, no semaphore unit is free, the event is not set,
nobody notified it, the queue is empty or full) *parks*: it makes a future, joins the back of
the primitive's queue of waiters, and awaits the future.  Whoever changes the state *wakes*
waiters by resolving their futures.  Lock, Event, Condition, Semaphore and Queue all do it
with the functions below, on a plain ``collections.deque`` of futures, so the discipline is
written (and tested, in ``tests/test_waitqueue.py``) once.  The deque stays a deque, in the
attribute asyncio gives it (``_waiters``, ``_getters``, ``_putters``): CPython's own tests and
some libraries read those.

A waiter's future moves only forward::

    parked (pending) ──wake──▶ woken (result set: "your turn")
          └──────cancel────▶ abandoned (cancelled: the waiting task gave up)

Being woken is a promise of a turn, not the turn itself.  The woken task runs on a later
pass of the loop, and may be cancelled in between.  Three rules follow:

* **Fairness.**  Waiters are woken in the order they parked; a wake-up is never spent on a
  waiter that is abandoned or already woken (they are skipped).
* **No lost wake-up.**  A task whose wait fails after it was woken holds a wake-up it will
  not use: ``abandon`` says so, and the primitive passes it on to the next parked waiter (if
  what it stood for, the free lock, the item, the slot, is still there).
* **Woken waiters stay or go.**  Lock, Event, Condition and Semaphore leave their woken
  waiters in the deque until each leaves (``wake``, ``wake_head``): a woken waiter still counts
  as "someone is waiting", which keeps newcomers from barging past it.  Queue takes a woken
  waiter out at once (``take``), as asyncio's does.

The functions are plain functions over the deque rather than methods of a class around it:
the primitives test ``if waiters:`` on their hot paths, which a deque answers without a
Python call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from spindle._core.futures import note_owner

__all__ = [
    "Waiters",
    "abandon",
    "anyone_waiting",
    "leave",
    "park",
    "take",
    "take_all",
    "wait_turn",
    "wake",
    "wake_all",
    "wake_head",
]

# The future a waiter parks.  Its result says nothing beyond "your turn"; it is the value
# asyncio's primitive sets (True, False for a Condition, None for a Queue), as some tests
# look at it.
Waiter = asyncio.Future[Any]
Waiters = deque[Waiter]


def park(waiters: Waiters, loop: asyncio.AbstractEventLoop, owner: object) -> Waiter:
    """A new waiter at the back of ``waiters``; await it to wait for a wake-up.

    ``owner`` is the primitive the waiter waits on, recorded for diagnostics (what is this
    task waiting for?).
    """
    waiter = loop.create_future()
    note_owner(waiter, owner)
    waiters.append(waiter)
    return waiter


async def wait_turn(waiters: Waiters, loop: asyncio.AbstractEventLoop, owner: object) -> None:
    """Park at the back of ``waiters`` until woken; leave the queue however the wait ends."""
    waiter = park(waiters, loop, owner)
    try:
        await waiter
    finally:
        leave(waiters, waiter)


def leave(waiters: Waiters, waiter: Waiter) -> None:
    """``waiter``'s wait is over: take it out of ``waiters`` (if it is still there)."""
    with contextlib.suppress(ValueError):
        waiters.remove(waiter)


def abandon(waiters: Waiters, waiter: Waiter) -> bool:
    """``waiter``'s wait failed (cancelled, or another error): withdraw it.

    No later wake-up can land on it, and it leaves ``waiters``.  Returns True when it had
    already been woken: it holds a wake-up it will not use, which the caller should pass on.
    """
    waiter.cancel()
    leave(waiters, waiter)
    return not waiter.cancelled()


def anyone_waiting(waiters: Waiters) -> bool:
    """Whether some waiter is parked or woken (not abandoned): a newcomer must queue."""
    return any(not waiter.cancelled() for waiter in waiters)


def wake_head(waiters: Waiters, result: object = True) -> bool:
    """Wake the first waiter if it is still parked.

    Only the head: if it is woken already, or abandoned, its task has yet to run, and will
    then take what it was woken for or hand it on (a Lock's rule).
    """
    if waiters:
        head = waiters[0]
        if not head.done():
            head.set_result(result)
            return True
    return False


def wake(waiters: Waiters, n: int = 1, result: object = True) -> int:
    """Wake the first ``n`` parked waiters (they stay queued until they leave); how many."""
    woken = 0
    for waiter in waiters:
        if woken >= n:
            break
        if not waiter.done():
            waiter.set_result(result)
            woken += 1
    return woken


def wake_all(waiters: Waiters) -> int:
    """Wake every parked waiter; how many."""
    return wake(waiters, len(waiters))


def take(waiters: Waiters, result: object = None) -> bool:
    """Wake the first parked waiter and take it out of ``waiters`` (a Queue's rule).

    The woken and abandoned waiters in front of it are dropped on the way.  False if no
    waiter was parked.
    """
    while waiters:
        waiter = waiters.popleft()
        if not waiter.done():
            waiter.set_result(result)
            return True
    return False


def take_all(waiters: Waiters) -> None:
    """Empty ``waiters``, waking every parked waiter (a Queue shutting down)."""
    while take(waiters):
        pass
