"""pytest plugin (installed with spindle, registered through the ``pytest11`` entry point).

* ``@pytest.mark.spindle`` on an ``async def`` test runs it on a fresh spindle loop;
  ``@pytest.mark.spindle(virtual_clock=True)`` gives that loop a ``VirtualClock``, so sleeps
  take no real time and ``loop.time()`` is exact.
* The ``spindle_loop`` and ``virtual_loop`` fixtures give a fresh loop to synchronous tests.

Either way the loop is closed afterwards, and the test fails if the loop's exception handler
was called (an error nobody saw is a bug) unless the test installed its own handler.
"""

from __future__ import annotations

import gc
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

from spindle._io.loop import EventLoop
from spindle.testing.clock import VirtualClock

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


def _new_loop(virtual_clock: bool) -> tuple[EventLoop, _Recorder]:
    loop = EventLoop(clock=VirtualClock() if virtual_clock else None)
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
    try:
        loop.run_until_complete(pyfuncitem.obj(**kwargs))
    finally:
        _finish(loop, recorder)
    return True


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
