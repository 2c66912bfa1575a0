"""Shared fixtures.

`any_loop` runs a test on spindle's loop and on stock asyncio's, so every expectation about loop
behaviour is checked against the reference implementation.  Teardown fails when the loop's
exception handler was called and the test did not install its own handler to expect it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest


def pytest_report_header() -> str:
    """Which build, Python and poller this run tests (the test command runs several)."""
    import spindle
    from spindle._io.poller import POLLER_SETTING, available_pollers, choose_poller

    kind, _ = choose_poller(os.environ.get(POLLER_SETTING, ""), available_pollers())
    python = ".".join(map(str, sys.version_info[:3]))
    build = "compiled" if spindle.COMPILED else "pure Python"
    return f"spindle {spindle.__version__}, {build}, on Python {python}, poller: {kind.value}"


def _spindle_loop() -> asyncio.AbstractEventLoop:
    import spindle

    return spindle.new_event_loop()


def _asyncio_loop() -> asyncio.AbstractEventLoop:
    return asyncio.new_event_loop()


LOOP_FACTORIES: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "spindle": _spindle_loop,
    "asyncio": _asyncio_loop,
}


class ExceptionHandlerRecorder:
    """Exception handler that keeps every context it is given."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.contexts.append(context)


@pytest.fixture(params=sorted(LOOP_FACTORIES))
def loop_factory(request: pytest.FixtureRequest) -> Callable[[], asyncio.AbstractEventLoop]:
    """A factory for new loops: spindle's, then asyncio's."""
    return LOOP_FACTORIES[request.param]


@pytest.fixture
def any_loop(
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
) -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh loop of each implementation, closed (and checked) after the test."""
    loop = loop_factory()
    recorder = ExceptionHandlerRecorder()
    loop.set_exception_handler(recorder)
    try:
        yield loop
    finally:
        if not loop.is_closed():
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
        gc.collect()
    if loop.get_exception_handler() is recorder and recorder.contexts:
        pytest.fail(f"unexpected calls of the loop's exception handler: {recorder.contexts!r}")
