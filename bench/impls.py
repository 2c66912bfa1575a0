"""The implementations under test: how to get a loop of each, and which primitives it brings.

Every implementation is imported lazily, inside its worker process only (see ``worker``), so
importing uvloop never touches the process that times spindle, and a worker timing a spindle
build from its own directory (``builds``) imports that build and no other.  An implementation
that cannot be imported is reported as unavailable with the reason, and the run goes on
without it.

An implementation offers its loops two ways, because the suites drive loops two ways:

* ``open_loop()``: a context manager giving a fresh loop, and the way a program runs a
  coroutine on it to completion (``Running``), and closing it after (``bench.run``'s cases and
  ``bench.echo``'s server run inside it): ``loop.run_until_complete`` on a bare loop,
  ``Runner.run`` for ``spindle-diag``, whose loop is a runner's;
* ``install()``: make asyncio's own entry points (``asyncio.new_event_loop``, ``asyncio.run``)
  create this implementation's loops, for programs run unmodified (``bench.pyperf``).  For
  uvloop and rloop that is a loop policy, as their users set it; for spindle, ``spindle.install``.
"""

from __future__ import annotations

import asyncio
import importlib
import platform
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from bench import builds
from bench.api import Api, asyncio_api

__all__ = [
    "DEFAULT_IMPLS",
    "Impl",
    "Running",
    "Unavailable",
    "check",
    "load",
    "ordered",
    "plain_loop",
]

# The columns of a run with no --impl, in table order; asyncio, the reference, comes first.
DEFAULT_IMPLS: tuple[str, ...] = (
    "asyncio",
    "spindle",
    "spindle-diag",
    "spindle-pure",
    "uvloop",
    "rloop",
)
_OTHERS = ("asyncio", "uvloop", "rloop")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class Unavailable(Exception):
    """An implementation cannot be used in this environment."""


@dataclass(frozen=True)
class Running:
    """An open loop, and how a program runs a coroutine on it: ``run(coro)`` to completion."""

    loop: asyncio.AbstractEventLoop
    run: Callable[[Coroutine[Any, Any, Any]], Any]


@dataclass(frozen=True)
class Impl:
    """A loaded implementation: name, version, which build, its loops and its primitives."""

    name: str
    version: str
    build: str  # which build this is, for the report ("pure Python, /path"); "" if only one
    open_loop: Callable[[], AbstractContextManager[Running]]
    install: Callable[[], None]
    api: Api  # the implementation's own primitives (asyncio's for a loop-only implementation)

    def primitives(self, mode: str) -> Api:
        """The primitives a row calls: ``"asyncio"``'s on this loop, or this one's own."""
        return asyncio_api() if mode == "asyncio" else self.api


def check(name: str) -> str:
    """``name`` if it names an implementation; ValueError saying which names exist otherwise."""
    if name in _OTHERS or builds.parse(name) is not None:
        return name
    raise ValueError(
        f"no implementation {name!r}: choose from {', '.join(DEFAULT_IMPLS)}, "
        "spindle@REF (a git ref or a checkout, built pure), and any spindle one + '-diag'"
    )


def ordered(names: list[str]) -> list[str]:
    """``names`` without repeats, asyncio first, spindle's columns together, the rest after."""
    unique = list(dict.fromkeys(names))

    def rank(name: str) -> int:
        if name == "asyncio":
            return 0
        return 1 if builds.parse(name) is not None else 2

    return sorted(unique, key=rank)


@contextmanager
def plain_loop(factory: LoopFactory) -> Iterator[Running]:
    """A loop from ``factory``, run with ``run_until_complete``, closed on the way out."""
    loop = factory()
    try:
        yield Running(loop, loop.run_until_complete)
    finally:
        loop.close()


class FactoryPolicy(asyncio.DefaultEventLoopPolicy):
    """The default policy, except that new loops come from ``factory`` (uvloop's, rloop's)."""

    def __init__(self, factory: LoopFactory) -> None:
        super().__init__()
        self._factory = factory

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return self._factory()


def _loop_only(
    name: str, version: str, factory: LoopFactory, install: Callable[[], None] | None = None
) -> Impl:
    """An implementation that ships only a loop: asyncio's primitives run on it.

    Its ``install`` sets a policy whose loops come from ``factory``, unless one is given.
    """

    def set_policy() -> None:
        asyncio.set_event_loop_policy(FactoryPolicy(factory))

    def open_loop() -> AbstractContextManager[Running]:
        return plain_loop(factory)

    return Impl(name, version, "", open_loop, install or set_policy, asyncio_api())


def load(name: str) -> Impl:
    """Import implementation ``name``; Unavailable (with the reason) when it cannot be."""
    variant = builds.parse(check(name))
    try:
        if variant is not None:
            from bench.spindle_impl import load_spindle

            return load_spindle(name, variant)
        if name == "asyncio":
            return _load_asyncio()
        if name == "uvloop":
            return _load_uvloop()
        return _load_rloop()
    except Exception as exc:
        # Whatever stops it (not installed, a build missing, spindle half-written), go on.
        raise Unavailable(f"cannot load {name}: {exc!r}") from exc


def _default_policy() -> None:
    asyncio.set_event_loop_policy(None)  # asyncio's own loops


def _load_asyncio() -> Impl:
    version = platform.python_version()
    return _loop_only("asyncio", version, asyncio.new_event_loop, install=_default_policy)


def _load_uvloop() -> Impl:
    import uvloop

    return _loop_only("uvloop", metadata.version("uvloop"), uvloop.new_event_loop)


def _load_rloop() -> Impl:
    # rloop ships no type information; reach it through importlib so mypy sees plain objects.
    rloop = importlib.import_module("rloop")
    factory: LoopFactory = rloop.new_event_loop
    return _loop_only("rloop", metadata.version("rloop"), factory)
