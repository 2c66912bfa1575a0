"""Queues for handing items between tasks: FIFO, priority (lowest first) and LIFO.

Blocked ``get()`` and ``put()`` calls park in a wait queue each (``spindle._waitqueue``), of
getters and of putters.  A ``put_nowait`` wakes the first getter, a ``get_nowait`` the first
putter, and takes it out of its queue.  Being woken is a hint, not a hand-over: the woken
task re-checks the queue when it runs, because another task may have taken the item (or the
slot) first; if it finds nothing it parks again, at the back.  A woken task that is
cancelled before it runs passes its wake-up on, so that no item sits in the queue while a
getter sleeps.

``shutdown()`` is Python 3.13's: afterwards ``put`` raises QueueShutDown, ``get`` drains
what is left and then raises it (at once with ``immediate=True``, which also discards the
items and counts them as done for ``join()``), and every blocked caller is woken to see it.

The storage hooks ``_init``, ``_put`` and ``_get`` are asyncio's, kept because code in the
wild subclasses asyncio.Queue and overrides them (to keep a set, a dict, ...).
"""

from __future__ import annotations

import collections
import heapq
from types import GenericAlias
from typing import Any, Generic, TypeVar

from spindle import _waitqueue as waitqueue
from spindle._core.timers import refuse_nan
from spindle._loopbound import LoopBound
from spindle.exceptions import QueueEmpty, QueueFull, QueueShutDown
from spindle.locks import Event

__all__ = ["LifoQueue", "PriorityQueue", "Queue", "QueueEmpty", "QueueFull", "QueueShutDown"]

T = TypeVar("T")


class Queue(LoopBound, Generic[T]):
    """A FIFO queue of at most ``maxsize`` items (unbounded when ``maxsize <= 0``)."""

    # The container belongs to the subclass: a deque here, a heap (list) in PriorityQueue,
    # a list in LifoQueue, anything in a user's subclass.  The base class only takes its
    # len(), truth and iteration, so it is typed by the hooks, not here.
    _queue: Any

    # Queue[int] is a types.GenericAlias, as asyncio.Queue[int] is (Generic would give a
    # typing alias); Generic stays as a base so that type checkers see a generic class.
    def __class_getitem__(cls, item: Any) -> GenericAlias:
        return GenericAlias(cls, item)

    def __init__(self, maxsize: int = 0) -> None:
        refuse_nan(maxsize, "Queue maxsize")  # (<= 0 or infinity: unbounded)
        self._maxsize = maxsize
        self._getters: waitqueue.Waiters = collections.deque()
        self._putters: waitqueue.Waiters = collections.deque()
        self._unfinished_tasks = 0  # items put and not yet marked task_done()
        self._finished = Event()  # set whenever _unfinished_tasks is 0
        self._finished.set()
        self._is_shutdown = False
        self._init(maxsize)

    # Storage hooks, overridden by subclasses.

    def _init(self, maxsize: int) -> None:
        self._queue = collections.deque()

    def _put(self, item: T) -> None:
        self._queue.append(item)

    def _get(self) -> T:
        item: T = self._queue.popleft()
        return item

    # Inspection.

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at {id(self):#x} {self._format()}>"

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self._format()}>"

    def _format(self) -> str:
        parts = [f"maxsize={self._maxsize!r}"]
        if getattr(self, "_queue", None):  # may be missing if a subclass's _init failed
            parts.append(f"_queue={list(self._queue)!r}")
        if self._getters:
            parts.append(f"_getters[{len(self._getters)}]")
        if self._putters:
            parts.append(f"_putters[{len(self._putters)}]")
        if self._unfinished_tasks:
            parts.append(f"tasks={self._unfinished_tasks}")
        if self._is_shutdown:
            parts.append("shutdown")
        return " ".join(parts)

    @property
    def maxsize(self) -> int:
        """The most items the queue holds (``<= 0``: no limit)."""
        return self._maxsize

    def qsize(self) -> int:
        """The number of items in the queue."""
        return len(self._queue)

    def empty(self) -> bool:
        """True if the queue holds no items."""
        return not self._queue

    def full(self) -> bool:
        """True if the queue holds ``maxsize`` items (never, when unbounded)."""
        return 0 < self._maxsize <= self.qsize()

    # Putting and getting.

    async def put(self, item: T) -> None:
        """Put ``item`` in the queue, waiting for a free slot if it is full."""
        while self.full():
            if self._is_shutdown:
                raise QueueShutDown
            putters = self._putters
            putter = waitqueue.park(putters, self._get_loop(), self)
            try:
                await putter
            except BaseException:
                # Pass a wake-up we received on while the slot is still free.
                if waitqueue.abandon(putters, putter) and not self.full():
                    waitqueue.take(putters)
                raise
        self.put_nowait(item)

    def put_nowait(self, item: T) -> None:
        """Put ``item`` in the queue; QueueFull if there is no free slot."""
        if self._is_shutdown:
            raise QueueShutDown
        if self.full():
            raise QueueFull
        self._put(item)
        self._unfinished_tasks += 1
        if self._unfinished_tasks == 1:
            self._finished.clear()  # set exactly while nothing is unfinished
        if self._getters:
            waitqueue.take(self._getters)

    async def get(self) -> T:
        """Remove and return an item, waiting for one if the queue is empty."""
        while self.empty():
            if self._is_shutdown:
                raise QueueShutDown
            getters = self._getters
            getter = waitqueue.park(getters, self._get_loop(), self)
            try:
                await getter
            except BaseException:
                # Pass a wake-up we received on while the item is still there.
                if waitqueue.abandon(getters, getter) and not self.empty():
                    waitqueue.take(getters)
                raise
        return self.get_nowait()

    def get_nowait(self) -> T:
        """Remove and return an item; QueueEmpty if there is none."""
        if self.empty():
            if self._is_shutdown:
                raise QueueShutDown
            raise QueueEmpty
        item = self._get()
        if self._putters:
            waitqueue.take(self._putters)
        return item

    # Tracking work.

    def task_done(self) -> None:
        """Mark one item taken by ``get()`` as processed; ``join()`` waits for all of them."""
        if self._unfinished_tasks <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished_tasks -= 1
        if self._unfinished_tasks == 0:
            self._finished.set()

    async def join(self) -> None:
        """Wait until every item put so far has been marked ``task_done()``."""
        if self._unfinished_tasks > 0:
            await self._finished.wait()

    def shutdown(self, immediate: bool = False) -> None:
        """Refuse further puts and wake every blocked caller to see QueueShutDown.

        Gets still drain the remaining items, unless ``immediate``: then the items are
        discarded at once and counted as done, which may release ``join()``.
        """
        self._is_shutdown = True
        if immediate:
            while not self.empty():
                self._get()
                if self._unfinished_tasks > 0:
                    self._unfinished_tasks -= 1
            if self._unfinished_tasks == 0:
                self._finished.set()
        waitqueue.take_all(self._getters)
        waitqueue.take_all(self._putters)


class PriorityQueue(Queue[T]):
    """A queue that returns the smallest item first (items are often ``(priority, data)``)."""

    def _init(self, maxsize: int) -> None:
        self._queue = []

    def _put(self, item: T) -> None:
        heapq.heappush(self._queue, item)

    def _get(self) -> T:
        item: T = heapq.heappop(self._queue)
        return item


class LifoQueue(Queue[T]):
    """A queue that returns the most recently added item first."""

    def _init(self, maxsize: int) -> None:
        self._queue = []

    def _put(self, item: T) -> None:
        self._queue.append(item)

    def _get(self) -> T:
        item: T = self._queue.pop()
        return item
