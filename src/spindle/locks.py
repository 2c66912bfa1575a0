"""Synchronisation primitives for tasks: Lock, Event, Condition, Semaphore, Barrier.

These mirror the running Python's asyncio classes.  Every waiting task parks in a wait queue
(``spindle._waitqueue``: a FIFO deque of futures, woken by whoever changes the state), which
keeps the fairness and no-lost-wake-up rules in one place.  What is left here is each
primitive's own policy, and one rule of its own:

* **A Condition always re-acquires.**  ``Condition.wait`` returns, or raises, holding the
  lock, even when cancelled, because the caller's ``async with`` will release it.

Where asyncio changed a primitive between versions (Condition.wait and Semaphore.acquire
were rewritten in 3.13), the version-specific branch is marked with the flag it depends on.

This module is longer than most because it keeps asyncio's module boundary: every class that
``asyncio.locks`` exports lives in ``spindle.locks``.
"""

from __future__ import annotations

import collections
import enum
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Literal, TypeVar

from spindle import _waitqueue as waitqueue
from spindle._core.timers import refuse_nan
from spindle._loopbound import LoopBound
from spindle.exceptions import BrokenBarrierError, CancelledError

__all__ = ["Barrier", "BoundedSemaphore", "Condition", "Event", "Lock", "Semaphore"]

T = TypeVar("T")

# 3.13 rewrote Condition.wait (a failed wait passes a possible notification on, and the
# cancellation raised is the one received) and Semaphore.acquire (it wakes as many waiters as
# there are free units, not one).  Up to 3.12 both behave as before.
PASS_ON_FAILED_CONDITION_WAIT = sys.version_info >= (3, 13)
SEMAPHORE_WAKES_ALL_IT_CAN = sys.version_info >= (3, 13)


def _tagged_repr(obj: object, extra: str, waiters: int) -> str:
    """``<spindle.locks.Lock object at 0x.. [extra, waiters:n]>``, as asyncio prints."""
    base = object.__repr__(obj)
    if waiters:
        extra = f"{extra}, waiters:{waiters}"
    return f"<{base[1:-1]} [{extra}]>"


class _AcquireReleaseContext:
    """``async with primitive:`` acquires on entry and releases on exit."""

    async def acquire(self) -> Literal[True]:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> None:
        await self.acquire()
        # Like asyncio, `async with lock as x` binds None: the lock is not a resource.

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class Lock(_AcquireReleaseContext, LoopBound):
    """A mutual-exclusion lock, not owned by any task; waiters acquire it in FIFO order."""

    def __init__(self) -> None:
        self._waiters: waitqueue.Waiters = collections.deque()
        self._locked = False

    def __repr__(self) -> str:
        return _tagged_repr(self, "locked" if self._locked else "unlocked", len(self._waiters))

    def locked(self) -> bool:
        """True while some task holds the lock."""
        return self._locked

    async def acquire(self) -> Literal[True]:
        """Wait until the lock is free and this task's turn has come, then take it."""
        waiters = self._waiters
        if not self._locked and not (waiters and waitqueue.anyone_waiting(waiters)):
            self._locked = True
            return True
        try:
            await waitqueue.wait_turn(waiters, self._get_loop(), self)
        except CancelledError:
            # release() may already have picked us; the lock is then free with nobody on
            # the way to take it, so wake the next in line.  (Only cancellation: on
            # GeneratorExit, when a dead task is collected, the loop may be closed.)
            if not self._locked:
                waitqueue.wake_head(waiters)
            raise
        self._locked = True
        return True

    def release(self) -> None:
        """Free the lock and let the first waiter (if any) take it next."""
        if not self._locked:
            raise RuntimeError("Lock is not acquired.")
        self._locked = False
        # Only the head is woken.  If it is already woken or abandoned, its task will run
        # acquire()'s exit path, which takes the lock or passes it on.
        waitqueue.wake_head(self._waiters)


class Event(LoopBound):
    """A flag that tasks can wait for; ``set()`` wakes every waiter at once."""

    def __init__(self) -> None:
        self._waiters: waitqueue.Waiters = collections.deque()
        self._value = False

    def __repr__(self) -> str:
        return _tagged_repr(self, "set" if self._value else "unset", len(self._waiters))

    def is_set(self) -> bool:
        """True once ``set()`` was called, until ``clear()``."""
        return self._value

    def set(self) -> None:
        """Raise the flag and wake every task waiting for it."""
        if self._value:
            return
        self._value = True
        waitqueue.wake_all(self._waiters)

    def clear(self) -> None:
        """Lower the flag.  Tasks already woken by ``set()`` still return from wait()."""
        self._value = False

    async def wait(self) -> Literal[True]:
        """Return at once if the flag is up, otherwise wait until ``set()`` is called."""
        if self._value:
            return True
        await waitqueue.wait_turn(self._waiters, self._get_loop(), self)
        return True


class Condition(_AcquireReleaseContext, LoopBound):
    """A condition variable: tasks wait, holding ``lock``, until another task notifies them."""

    def __init__(self, lock: Lock | None = None) -> None:
        self._lock = Lock() if lock is None else lock
        self._waiters: waitqueue.Waiters = collections.deque()

    def __repr__(self) -> str:
        return _tagged_repr(self, "locked" if self.locked() else "unlocked", len(self._waiters))

    def locked(self) -> bool:
        """True while the underlying lock is held."""
        return self._lock.locked()

    async def acquire(self) -> Literal[True]:
        """Acquire the underlying lock."""
        return await self._lock.acquire()

    def release(self) -> None:
        """Release the underlying lock."""
        self._lock.release()

    async def wait(self) -> Literal[True]:
        """Release the lock, wait to be notified, then re-acquire the lock and return True.

        The lock is held again when this returns *or raises*, cancellation included.  A
        wake-up may be spurious, so callers re-check their predicate (see ``wait_for``).
        """
        if not self.locked():
            raise RuntimeError("cannot wait on un-acquired lock")
        if not PASS_ON_FAILED_CONDITION_WAIT:
            return await self._wait_keeping_notification()
        # Asked before release(), so a wrong-loop error leaves the lock held as found.
        loop = self._get_loop()
        self.release()
        try:
            try:
                await waitqueue.wait_turn(self._waiters, loop, self)
                return True
            finally:
                cancelled = await self._reacquire()
                if cancelled is not None:
                    # The last cancellation received, the same instance (its message
                    # survives); it replaces whatever the wait itself ended with.
                    try:
                        raise cancelled
                    finally:
                        cancelled = None  # break the frame <-> traceback cycle
        except BaseException:
            # We may have been notified just before failing: hand that notification on,
            # at the price of a (permitted) spurious wake-up of another waiter.
            waitqueue.wake(self._waiters, 1, False)
            raise

    async def _wait_keeping_notification(self) -> Literal[True]:
        """Condition.wait up to 3.12: a notification received by a waiter that then fails
        (is cancelled) is not handed on, and a cancellation while re-acquiring the lock is
        raised as a new, bare CancelledError."""
        self.release()
        try:
            await waitqueue.wait_turn(self._waiters, self._get_loop(), self)
            return True
        finally:
            if await self._reacquire() is not None:
                raise CancelledError  # a new one: the message received is lost (3.11)

    async def _reacquire(self) -> CancelledError | None:
        """Take the lock back, however often we are cancelled meanwhile; the last
        cancellation received (to raise once the lock is held), or None."""
        cancelled: CancelledError | None = None
        try:
            while True:
                try:
                    await self.acquire()
                    return cancelled
                except CancelledError as exc:
                    cancelled = exc
        finally:
            cancelled = None  # the frame (in the error's traceback) must not hold the error

    async def wait_for(self, predicate: Callable[[], T]) -> T:
        """Wait until ``predicate()`` is true and return its (last) value."""
        result = predicate()
        while not result:
            await self.wait()
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiters; they return once they re-acquire the lock."""
        if not self.locked():
            raise RuntimeError("cannot notify on un-acquired lock")
        refuse_nan(n, "notify() n")
        waitqueue.wake(self._waiters, n, False)

    def notify_all(self) -> None:
        """Wake every waiter."""
        self.notify(len(self._waiters))


class Semaphore(_AcquireReleaseContext, LoopBound):
    """A counter of free units: ``acquire()`` takes one (waiting, FIFO, at zero)."""

    def __init__(self, value: int = 1) -> None:
        if not value >= 0:  # (NaN too: a semaphore of NaN units would never block)
            raise ValueError(f"Semaphore initial value must be >= 0, not {value!r}")
        self._waiters: waitqueue.Waiters = collections.deque()
        self._value = value

    def __repr__(self) -> str:
        extra = "locked" if self.locked() else f"unlocked, value:{self._value}"
        return _tagged_repr(self, extra, len(self._waiters))

    def locked(self) -> bool:
        """True if ``acquire()`` would wait: no unit free, or live waiters ahead of us."""
        return self._value == 0 or waitqueue.anyone_waiting(self._waiters)

    async def acquire(self) -> Literal[True]:
        """Take one unit, waiting in FIFO order until one is free."""
        if not self.locked():
            self._value -= 1
            return True
        waiter = waitqueue.park(self._waiters, self._get_loop(), self)
        try:
            try:
                await waiter
            finally:
                waitqueue.leave(self._waiters, waiter)
        except CancelledError:
            # _wake_up_next() reserves the unit for a waiter when it wakes it.  If we were
            # woken but then cancelled, give the reserved unit back (and, up to 3.12, hand
            # it straight to the next waiter).
            if waiter.done() and not waiter.cancelled():
                self._value += 1
                if not SEMAPHORE_WAKES_ALL_IT_CAN:
                    self._wake_up_next()
            raise
        finally:
            if SEMAPHORE_WAKES_ALL_IT_CAN:
                # Whether we got a unit or gave one back, waiters that arrived meanwhile
                # (and had to queue for fairness) may now be served.
                while self._value > 0 and self._wake_up_next():
                    pass
        if self._value > 0:
            self._wake_up_next()  # (3.13 has served them all above: this finds none)
        return True

    def release(self) -> None:
        """Return one unit, waking the first waiter if there is one."""
        self._value += 1
        self._wake_up_next()

    def _wake_up_next(self) -> bool:
        """Hand one unit to the first waiter still parked; False if there is none."""
        if waitqueue.wake(self._waiters, 1):
            self._value -= 1
            return True
        return False


class BoundedSemaphore(Semaphore):
    """A Semaphore whose ``release()`` refuses to raise the count above its initial value."""

    def __init__(self, value: int = 1) -> None:
        self._bound_value = value
        super().__init__(value)

    def release(self) -> None:
        """Return one unit; ValueError if every unit is already free."""
        if self._value >= self._bound_value:
            raise ValueError("BoundedSemaphore released too many times")
        super().release()


class BarrierState(enum.Enum):
    """Where a Barrier is in its cycle (its value is what ``repr`` shows)."""

    FILLING = "filling"  # tasks are arriving; fewer than `parties` so far
    DRAINING = "draining"  # the last party arrived; waiters are leaving with their index
    RESETTING = "resetting"  # reset() was called; waiters are leaving with BrokenBarrierError
    BROKEN = "broken"  # abort() was called; every wait() raises until reset()


class Barrier(LoopBound):
    """Blocks ``parties`` tasks until all have arrived, then releases them together.

    Each cycle: FILLING until the last party arrives, DRAINING while they leave, then
    FILLING again.  Tasks arriving while it drains (or resets) wait for the next cycle.
    """

    def __init__(self, parties: int) -> None:
        if not parties >= 1:  # (NaN too: a barrier for NaN parties would never trip)
            raise ValueError(f"parties must be > 0, not {parties!r}")
        self._cond = Condition()  # notified on every state change
        self._parties = parties
        self._state = BarrierState.FILLING
        self._count = 0  # tasks inside wait(), arrived or leaving

    def __repr__(self) -> str:
        extra = self._state.value
        if not self.broken:
            extra += f", waiters:{self.n_waiting}/{self.parties}"
        return _tagged_repr(self, extra, 0)

    async def __aenter__(self) -> int:
        return await self.wait()

    async def __aexit__(self, *exc_info: object) -> None:
        pass

    async def wait(self) -> int:
        """Wait for all parties; return this task's arrival index, 0 to parties - 1."""
        async with self._cond:
            await self._wait_for_next_cycle()
            index = self._count
            self._count += 1
            try:
                if index + 1 == self._parties:
                    self._set_state(BarrierState.DRAINING)
                else:
                    await self._wait_for_release()
                return index
            finally:
                self._leave()

    async def _wait_for_next_cycle(self) -> None:
        await self._cond.wait_for(self._is_open)
        if self._state is BarrierState.BROKEN:
            raise BrokenBarrierError("Barrier aborted")

    async def _wait_for_release(self) -> None:
        await self._cond.wait_for(self._is_released)
        if self._state in (BarrierState.BROKEN, BarrierState.RESETTING):
            raise BrokenBarrierError("Abort or reset of barrier")

    # The predicates, as methods: (mypyc, which will compile this module, takes no lambdas
    # inside methods).

    def _is_open(self) -> bool:
        """New arrivals may join: the barrier is neither draining nor resetting."""
        return self._state not in (BarrierState.DRAINING, BarrierState.RESETTING)

    def _is_released(self) -> bool:
        """The waiters of this cycle may leave: it tripped, broke or was reset."""
        return self._state is not BarrierState.FILLING

    def _leave(self) -> None:
        # The last task out of a draining or resetting barrier starts the next cycle.
        self._count -= 1
        if self._count == 0:
            if self._state in (BarrierState.DRAINING, BarrierState.RESETTING):
                self._state = BarrierState.FILLING
            self._cond.notify_all()

    def _set_state(self, state: BarrierState) -> None:
        self._state = state
        self._cond.notify_all()

    async def reset(self) -> None:
        """Return to FILLING; tasks waiting now get BrokenBarrierError."""
        async with self._cond:
            self._set_state(BarrierState.RESETTING if self._count else BarrierState.FILLING)

    async def abort(self) -> None:
        """Break the barrier: current and future ``wait()`` calls raise BrokenBarrierError."""
        async with self._cond:
            self._set_state(BarrierState.BROKEN)

    @property
    def parties(self) -> int:
        """The number of tasks needed to trip the barrier."""
        return self._parties

    @property
    def n_waiting(self) -> int:
        """The number of tasks waiting for the barrier to fill (0 unless FILLING)."""
        return self._count if self._state is BarrierState.FILLING else 0

    @property
    def broken(self) -> bool:
        """True after ``abort()``, until ``reset()``."""
        return self._state is BarrierState.BROKEN
