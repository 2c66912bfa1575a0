"""Fixtures of the library tests: spindle loops to run on, and the servers libraries talk to.

Every test here runs an unmodified third-party library on spindle's loop and checks the results
of real work.  ``run_on_spindle`` runs a coroutine on a ``spindle.Runner``; ``spindle_loop`` is
a loop from ``spindle.new_event_loop()`` for tests that drive it with ``run_until_complete``.
Both fail the test when the loop's exception handler was called: a library that works only by
leaking errors into the handler does not count as working.

``postgres`` and ``redis_server`` are session-scoped real servers (see ``services``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, NoReturn, TypeVar

import pytest

import spindle
from tests.conftest import ExceptionHandlerRecorder
from tests.integration import services
from tests.io.conftest import fd_guard  # noqa: F401  (the fd_guard fixture)
from tests.io.tls_support import PKI, pki_fixture  # noqa: F401  (the pki fixture)

T = TypeVar("T")


def run_on_spindle(main: Coroutine[Any, Any, T]) -> T:
    """Runs ``main`` to completion on a ``spindle.Runner`` and returns its result."""
    recorder = ExceptionHandlerRecorder()
    with spindle.Runner() as runner:
        loop = runner.get_loop()
        assert isinstance(loop, spindle.EventLoop)
        loop.set_exception_handler(recorder)
        result = runner.run(main)
    assert recorder.contexts == [], "unexpected calls of the loop's exception handler"
    return result


def loop_module() -> str:
    """Where the running loop's class comes from: the proof that code ran on spindle."""
    return type(asyncio.get_running_loop()).__module__


@pytest.fixture
def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """Here only spindle's loop: overrides the root conftest's factory (spindle's, asyncio's)."""
    return spindle.new_event_loop


@pytest.fixture
def spindle_loop(any_loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
    """A loop from ``spindle.new_event_loop()``, closed and checked by ``any_loop``."""
    assert isinstance(any_loop, spindle.EventLoop)
    return any_loop


def _missing(reason: str) -> NoReturn:
    """Skip a test whose server is missing, except in CI, whose .ci/run installs them all."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must have every server: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres(pki: PKI) -> Iterator[services.Postgres]:
    """A PostgreSQL cluster (TLS on, with the test PKI's server certificate) for the session."""
    bindir = services.find_postgres_bindir()
    if bindir is None:
        _missing(f"PostgreSQL's initdb not found; {services.INSTALL_HINT}")
    try:
        certificate = (pki.path("server.pem"), pki.path("server.key"))
        server = services.start_postgres(bindir, tls=certificate)
    except LookupError as exc:
        _missing(f"cannot run PostgreSQL: {exc}")
    yield server
    services.stop_postgres(server)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[services.Redis]:
    binary = shutil.which("redis-server")
    if binary is None:
        _missing(f"redis-server not found; {services.INSTALL_HINT}")
    server = services.start_redis(binary)
    yield server
    services.stop_redis(server)
