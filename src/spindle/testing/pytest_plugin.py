"""pytest plugin (installed with spindle, registered through the ``pytest11`` entry point).

* ``@pytest.mark.spindle`` on an ``async def`` test runs it on a fresh spindle loop;
  ``@pytest.mark.spindle(virtual_clock=True)`` gives that loop a ``VirtualClock``, so sleeps
  take no real time and ``loop.time()`` is exact.
* The ``spindle_loop`` and ``virtual_loop`` fixtures give a fresh loop to synchronous tests.

Either way the loop is closed afterwards, and the test fails if the loop's exception handler
was called (an error nobody saw is a bug) unless the test installed its own handler.

**Deadlocks fail at once.**  On the virtual clock, a loop with nothing ready, no timer, no
socket or pipe to watch and no thread at work can never move again: every task waits for
another.  A real-clock loop would sit there until the test's timeout; the plugin's loop fails
the test right away with the task dump (``spindle.diagnostics``), headed by one line per
waiting task::

    deadlock: Task-2 ping() waits at test_x.py:12 on Event pong_ready (unset, waiting: 1)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, TypeVarTuple, Unpack

import pytest

from spindle._core.tasks import Task
from spindle._io.loop import EventLoop
from spindle.diagnostics import render, snapshot
from spindle.testing.clock import VirtualClock

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

__all__ = ["spindle_loop", "virtual_loop"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "spindle(virtual_clock=False): run this async test on a fresh spindle event loop",
    )


class _Recorder:
    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []

    def __call__(self, loop: Any, context: dict[str, Any]) -> None:
        self.contexts.append(context)


class Deadlock(Exception):
    """Every task of a virtual-clock loop waits, and nothing can wake any of them."""


def describe_deadlock(loop: asyncio.AbstractEventLoop) -> str:
    """One ``deadlock: ...`` line per waiting task, then the whole task dump."""
    info = snapshot.take(loop)
    lines = []
    for task in info.tasks:
        user = [frame for frame in task.stack if frame.user]
        where = f" waits at {render.location(user[-1])}" if user else " waits"
        lines.append(f"deadlock: {task.name} {task.call}{where} on {task.waits_on}")
    return "\n".join([*lines, render.render_list([info]), render.render_tree([info])])


def _busy_threads() -> bool:
    """Whether a thread other than this one and the runtime's idle helpers is alive."""
    me = threading.current_thread()
    return any(
        thread is not me and not thread.daemon and not thread.name.startswith("spindle")
        for thread in threading.enumerate()
    )


class DeadlockCheckingLoop(EventLoop):
    """A virtual-clock loop that raises Deadlock instead of waiting for ever."""

    def __init__(self) -> None:
        super().__init__(clock=VirtualClock())
        self._executor_jobs = 0

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[[Unpack[Ts]], T],
        *args: *Ts,
    ) -> asyncio.Future[T]:
        fut = super().run_in_executor(executor, func, *args)
        self._executor_jobs += 1
        fut.add_done_callback(self._job_done)
        return fut

    def _job_done(self, _: object) -> None:
        self._executor_jobs -= 1

    def _poll(self, timeout: float | None) -> None:
        # Only the loop's own wake-up descriptor is watched: no I/O can come.
        if (
            timeout is None
            and len(self._fd_handlers) <= 1
            and self._executor_jobs == 0
            and not _busy_threads()
        ):
            raise Deadlock(describe_deadlock(self))
        super()._poll(timeout)


def _new_loop(virtual_clock: bool) -> tuple[EventLoop, _Recorder]:
    loop = DeadlockCheckingLoop() if virtual_clock else EventLoop()
    loop._track_task_origins = True  # dumps say where each task was created
    recorder = _Recorder()
    loop.set_exception_handler(recorder)
    return loop, recorder


def _finish(loop: EventLoop, recorder: _Recorder) -> None:
    try:
        if not loop.is_closed():
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
        gc.collect()
    if loop.get_exception_handler() is recorder and recorder.contexts:
        pytest.fail(f"unexpected calls of the loop's exception handler: {recorder.contexts!r}")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    marker = pyfuncitem.get_closest_marker("spindle")
    if marker is None or not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    loop, recorder = _new_loop(bool(marker.kwargs.get("virtual_clock", False)))
    names = inspect.signature(pyfuncitem.obj).parameters
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    main = loop.create_task(pyfuncitem.obj(**kwargs))
    if isinstance(main, Task):
        main._origin = None  # made by the plugin; the test's own tasks say where they come from
    deadlock = None
    try:
        loop.run_until_complete(main)
    except Deadlock as exc:
        deadlock = str(exc)
        _cancel_all(loop)
    finally:
        _finish(loop, recorder)
    if deadlock is not None:
        pytest.fail(deadlock, pytrace=False)
    return True


def _cancel_all(loop: EventLoop) -> None:
    """Cancel every task of a deadlocked loop and let them finish (no "destroyed" noise)."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        # Deadlock again: a task that swallows its cancellation; leave it.
        with contextlib.suppress(Deadlock):
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


@pytest.fixture
def spindle_loop() -> Iterator[EventLoop]:
    """A fresh spindle loop on the real clock."""
    loop, recorder = _new_loop(False)
    yield loop
    _finish(loop, recorder)


@pytest.fixture
def virtual_loop() -> Iterator[EventLoop]:
    """A fresh spindle loop on a virtual clock."""
    loop, recorder = _new_loop(True)
    yield loop
    _finish(loop, recorder)
