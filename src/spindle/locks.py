"""Synchronisation primitives for tasks: Lock, Event, Condition, Semaphore, Barrier.

These mirror asyncio's classes (3.13 behaviour) and are built from one idea: a task that
must wait parks a future from ``loop.create_future()`` in a FIFO deque, and whoever
changes the state resolves the future at the head.  Three rules follow, and most of the
code below exists to keep them when a waiting task is cancelled:

* **Fairness.**  Waiters are served in arrival order, and a newcomer may not barge past
  a queue of waiters even when the lock or a semaphore unit happens to be free at that
  instant (it would starve them).  Waiters that are already cancelled do not count.
* **No lost wake-up.**  Resolving a waiter's future does not run it; it runs on a later
  pass, and may be cancelled in between.  A cancelled task that had been handed the
  lock (or a unit) passes it on to the next waiter rather than taking it to the grave.
* **A Condition always re-acquires.**  ``Condition.wait`` returns, or raises, holding
  the lock, even when cancelled, because the caller's ``async with`` will release it.

This module is longer than most because it keeps asyncio's module boundary: every
class that ``asyncio.locks`` exports lives in ``spindle.locks``.
"""

from __future__ import annotations

import asyncio
import collections
import enum
from collections.abc import Callable
from types import TracebackType
from typing import Literal, TypeVar

from spindle._core.futures import note_owner
from spindle._loopbound import LoopBound
from spindle.exceptions import BrokenBarrierError, CancelledError

__all__ = ["Barrier", "BoundedSemaphore", "Condition", "Event", "Lock", "Semaphore"]

T = TypeVar("T")

# A waiter's future; it carries no meaningful result, only "your turn".
_Waiter = asyncio.Future[bool]


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
        self._waiters: collections.deque[_Waiter] = collections.deque()
        self._locked = False

    def __repr__(self) -> str:
        return _tagged_repr(self, "locked" if self._locked else "unlocked", len(self._waiters))

    def locked(self) -> bool:
        """True while some task holds the lock."""
        return self._locked

    async def acquire(self) -> Literal[True]:
        """Wait until the lock is free and this task's turn has come, then take it."""
        if not self._locked and all(w.cancelled() for w in self._waiters):
            self._locked = True
            return True
        waiter = self._get_loop().create_future()
        note_owner(waiter, self)
        self._waiters.append(waiter)
        try:
            try:
                await waiter
            finally:
                self._waiters.remove(waiter)
        except CancelledError:
            # release() may already have picked us; the lock is then free with nobody on
            # the way to take it, so wake the next in line.  (Only cancellation: on
            # GeneratorExit, when a dead task is collected, the loop may be closed.)
            if not self._locked:
                self._wake_up_first()
            raise
        self._locked = True
        return True

    def release(self) -> None:
        """Free the lock and let the first waiter (if any) take it next."""
        if not self._locked:
            raise RuntimeError("Lock is not acquired.")
        self._locked = False
        self._wake_up_first()

    def _wake_up_first(self) -> None:
        # Only the head is woken.  If it is already done (woken before, or cancelled), its
        # task will run acquire()'s exit path, which takes the lock or passes it on.
        if self._waiters and not self._waiters[0].done():
            self._waiters[0].set_result(True)


class Event(LoopBound):
    """A flag that tasks can wait for; ``set()`` wakes every waiter at once."""

    def __init__(self) -> None:
        self._waiters: collections.deque[_Waiter] = collections.deque()
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
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(True)

    def clear(self) -> None:
        """Lower the flag.  Tasks already woken by ``set()`` still return from wait()."""
        self._value = False

    async def wait(self) -> Literal[True]:
        """Return at once if the flag is up, otherwise wait until ``set()`` is called."""
        if self._value:
            return True
        waiter = self._get_loop().create_future()
        note_owner(waiter, self)
        self._waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            self._waiters.remove(waiter)


class Condition(_AcquireReleaseContext, LoopBound):
    """A condition variable: tasks wait, holding ``lock``, until another task notifies them."""

    def __init__(self, lock: Lock | None = None) -> None:
        self._lock = Lock() if lock is None else lock
        self._waiters: collections.deque[_Waiter] = collections.deque()

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
        # Made before release(), so a wrong-loop error leaves the lock held as found.
        waiter = self._get_loop().create_future()
        note_owner(waiter, self)
        self.release()
        try:
            try:
                self._waiters.append(waiter)
                try:
                    await waiter
                    return True
                finally:
                    self._waiters.remove(waiter)
            finally:
                await self._reacquire()
        except BaseException:
            # We may have been notified just before failing: hand that notification on,
            # at the price of a (permitted) spurious wake-up of another waiter.
            self._notify(1)
            raise

    async def _reacquire(self) -> None:
        """Take the lock back, however often we are cancelled meanwhile.

        The last cancellation is re-raised afterwards (the same instance, so its message
        survives), which replaces any exception the wait itself ended with.
        """
        cancelled: CancelledError | None = None
        while True:
            try:
                await self.acquire()
                break
            except CancelledError as exc:
                cancelled = exc
        if cancelled is not None:
            try:
                raise cancelled
            finally:
                cancelled = None  # break the frame <-> traceback cycle

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
        self._notify(n)

    def notify_all(self) -> None:
        """Wake every waiter."""
        self.notify(len(self._waiters))

    def _notify(self, n: int) -> None:
        # Waiters already woken (or cancelled) do not use up the count.
        woken = 0
        for waiter in self._waiters:
            if woken >= n:
                break
            if not waiter.done():
                waiter.set_result(False)
                woken += 1


class Semaphore(_AcquireReleaseContext, LoopBound):
    """A counter of free units: ``acquire()`` takes one (waiting, FIFO, at zero)."""

    def __init__(self, value: int = 1) -> None:
        if value < 0:
            raise ValueError(f"Semaphore initial value must be >= 0, not {value!r}")
        self._waiters: collections.deque[_Waiter] = collections.deque()
        self._value = value

    def __repr__(self) -> str:
        extra = "locked" if self.locked() else f"unlocked, value:{self._value}"
        return _tagged_repr(self, extra, len(self._waiters))

    def locked(self) -> bool:
        """True if ``acquire()`` would wait: no unit free, or live waiters ahead of us."""
        return self._value == 0 or any(not w.cancelled() for w in self._waiters)

    async def acquire(self) -> Literal[True]:
        """Take one unit, waiting in FIFO order until one is free."""
        if not self.locked():
            self._value -= 1
            return True
        waiter = self._get_loop().create_future()
        note_owner(waiter, self)
        self._waiters.append(waiter)
        try:
            try:
                await waiter
            finally:
                self._waiters.remove(waiter)
        except CancelledError:
            # _wake_up_next() reserves the unit for a waiter when it resolves the future.
            # If we were resolved but then cancelled, give the reserved unit back.
            if waiter.done() and not waiter.cancelled():
                self._value += 1
            raise
        finally:
            # Whether we got a unit or gave one back, waiters that arrived meanwhile (and
            # had to queue for fairness) may now be served.
            while self._value > 0 and self._wake_up_next():
                pass
        return True

    def release(self) -> None:
        """Return one unit, waking the first waiter if there is one."""
        self._value += 1
        self._wake_up_next()

    def _wake_up_next(self) -> bool:
        """Hand one unit to the first waiter still waiting; False if there is none."""
        for waiter in self._waiters:
            if not waiter.done():
                self._value -= 1
                waiter.set_result(True)
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
        if parties < 1:
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
        await self._cond.wait_for(
            lambda: self._state not in (BarrierState.DRAINING, BarrierState.RESETTING)
        )
        if self._state is BarrierState.BROKEN:
            raise BrokenBarrierError("Barrier aborted")

    async def _wait_for_release(self) -> None:
        await self._cond.wait_for(lambda: self._state is not BarrierState.FILLING)
        if self._state in (BarrierState.BROKEN, BarrierState.RESETTING):
            raise BrokenBarrierError("Abort or reset of barrier")

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
