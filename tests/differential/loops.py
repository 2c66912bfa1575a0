"""The loops a differential run uses: spindle's and asyncio's own, both on virtual time.

spindle's loop takes a clock (``spindle.testing.VirtualClock``).  asyncio's loop has none to
give, so ``VirtualAsyncioLoop`` builds virtual time from its public surface: ``time()`` returns
the virtual now, and the selector, asked to wait ``timeout`` seconds, jumps the clock instead.

One more thing makes asyncio's loop comparable event for event.  Its timer heap compares
handles by deadline only, so timers that share a deadline come out in no defined order (with
four or more, not in the order they were scheduled); spindle defines that order (first
scheduled, first run).  The programs use few distinct deadlines, so ties are common.
``call_at`` therefore adds a tiny, growing offset to each deadline: still due in the same
pass (the offsets stay far below the loop's clock resolution), but ordered as scheduled.
The clock only takes nominal values (multiples of ``QUANTUM``), so the offsets never show.

And one thing makes asyncio deterministic at all.  A TaskGroup that aborts cancels its tasks
in the order of a set, and so does the runner when it cancels the tasks left at the end; a
set of tasks is ordered by their hashes, that is by their addresses.  Both loops therefore
make their tasks through a task factory whose tasks hash by their number in the run (1, 2,
3, ...): with the same operations on the same hashes, every set iterates in the same order.
The price: spindle's shortcuts for tasks of exactly its own class are not taken for these.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import selectors
from collections.abc import Callable
from typing import Any

import spindle
from spindle.testing import VirtualClock

__all__ = ["QUANTUM", "VirtualAsyncioLoop", "spindle_loop"]

# Every delay a program uses is a multiple of this, so every deadline is one too.
QUANTUM = 1 / 64
# The offset that orders timers sharing a deadline: the n-th timer gets n * TIE_BREAK.
TIE_BREAK = 1e-13
# asyncio runs a timer when its deadline is within the clock resolution (1 ns) of now:
# the offsets must stay below that.
MAX_TIMERS = 5000


def _numbered_task_factory(task_class: type[Any]) -> Callable[..., Any]:
    """A task factory making tasks of a subclass of ``task_class`` that hash by number."""
    numbers = itertools.count(1)

    class NumberedTask(task_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.number = next(numbers)
            super().__init__(*args, **kwargs)

        def __hash__(self) -> int:
            return self.number  # type: ignore[no-any-return]

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        return NumberedTask(coro, loop=loop, **kwargs)

    return factory


def spindle_loop() -> asyncio.AbstractEventLoop:
    """spindle's loop on a virtual clock that starts at 0."""
    loop = spindle.EventLoop(clock=VirtualClock())
    loop.set_task_factory(_numbered_task_factory(spindle.Task))
    return loop


class _JumpingSelector(selectors.DefaultSelector):
    """A selector whose waits move the loop's virtual clock instead of the real one."""

    def __init__(self, loop: VirtualAsyncioLoop) -> None:
        super().__init__()
        self._virtual_loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise RuntimeError("virtual asyncio loop: nothing will ever happen (no timer left)")
        if timeout > 0:
            self._virtual_loop.jump(timeout)
        return super().select(0)


class VirtualAsyncioLoop(asyncio.SelectorEventLoop):
    """asyncio's own selector loop, on a virtual clock that starts at 0."""

    def __init__(self) -> None:
        self.virtual_now = 0.0
        self.timers_scheduled = 0
        super().__init__(selector=_JumpingSelector(self))
        self.set_task_factory(_numbered_task_factory(asyncio.Task))

    def time(self) -> float:
        return self.virtual_now

    def jump(self, seconds: float) -> None:
        """Move the clock to the nominal time ``seconds`` from now (the next deadline)."""
        self.virtual_now = round((self.virtual_now + seconds) / QUANTUM) * QUANTUM

    def call_at(
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        self.timers_scheduled += 1
        if self.timers_scheduled > MAX_TIMERS:
            raise RuntimeError("virtual asyncio loop: too many timers to order ties exactly")
        offset = self.timers_scheduled * TIE_BREAK
        return super().call_at(when + offset, callback, *args, context=context)
