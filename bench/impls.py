"""The implementations under test: how to make a loop of each, and which primitives it brings.

Every implementation is imported lazily, inside its worker process only (see ``worker``), so
importing uvloop never touches the process that times spindle.  An implementation that cannot
be imported is reported as unavailable with the reason, and the run goes on without it.
"""

from __future__ import annotations

import asyncio
import importlib
import platform
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

from bench.api import Api, QueueLike, asyncio_api

__all__ = ["IMPLS", "Impl", "Unavailable", "load"]

# The order of the table's columns; asyncio, the reference, comes first.
IMPLS: tuple[str, ...] = ("asyncio", "spindle", "uvloop", "rloop")


class Unavailable(Exception):
    """An implementation cannot be used in this environment."""


@dataclass(frozen=True)
class Impl:
    """A loaded implementation: name, version, loop factory and primitives."""

    name: str
    version: str
    new_event_loop: Callable[[], asyncio.AbstractEventLoop]
    api: Api


def load(name: str) -> Impl:
    """Import implementation ``name``; Unavailable (with the reason) when it cannot be."""
    loaders = {
        "asyncio": _load_asyncio,
        "spindle": _load_spindle,
        "uvloop": _load_uvloop,
        "rloop": _load_rloop,
    }
    if name not in loaders:
        raise ValueError(f"no implementation {name!r}: choose from {', '.join(IMPLS)}")
    try:
        return loaders[name]()
    except Exception as exc:
        # Whatever stops it (not installed, or spindle's core half-written), the run goes on.
        raise Unavailable(f"cannot load {name}: {exc!r}") from exc


def _load_asyncio() -> Impl:
    return Impl("asyncio", platform.python_version(), asyncio.new_event_loop, asyncio_api())


def _load_uvloop() -> Impl:
    import uvloop

    return Impl("uvloop", metadata.version("uvloop"), uvloop.new_event_loop, asyncio_api())


def _load_rloop() -> Impl:
    # rloop ships no type information; reach it through importlib so mypy sees plain objects.
    rloop = importlib.import_module("rloop")
    factory: Callable[[], asyncio.AbstractEventLoop] = rloop.new_event_loop
    return Impl("rloop", metadata.version("rloop"), factory, asyncio_api())


def _load_spindle() -> Impl:
    import spindle
    from spindle import queues, taskgroups, tasks

    # Prove the core is there before timing anything: a loop must open and close.
    spindle.new_event_loop().close()

    def queue(maxsize: int) -> QueueLike:
        return queues.Queue[int](maxsize)

    # spindle's own primitives, never asyncio's: these are the objects spindle exports as
    # spindle.sleep, spindle.gather, spindle.TaskGroup and spindle.Queue.
    api = Api(sleep=tasks.sleep, gather=tasks.gather, task_group=taskgroups.TaskGroup, queue=queue)
    return Impl("spindle", spindle.__version__, spindle.new_event_loop, api)
