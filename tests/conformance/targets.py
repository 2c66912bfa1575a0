"""The implementations the conformance run can test: spindle (the default), or asyncio itself.

Running the harness with ``SPINDLE_CONFORMANCE_TARGET=asyncio`` puts stock asyncio in
spindle's place: same loading, same adapters, same exclusions.  asyncio passes its own tests,
so anything that fails in that mode is a fault of the harness, not of the implementation.

A target says which loop, Future and Task to use, and which public asyncio names it
implements itself (``replacements``): those are what the test modules see when they say
``asyncio.Lock`` or ``asyncio.tasks.Task``.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["ASYNCIO", "SPINDLE", "Target", "current_target", "spindle_replacements"]

# A generator in test_utils.TestLoop's protocol: it is sent the time of the next timer and
# yields how far to advance the clock.
TimeGenerator = Callable[[], Iterator[float | None]]

# Where spindle implements asyncio's public names, most authoritative first.  A module that
# does not exist yet is skipped (the name then stays asyncio's, and count.py says so).
SPINDLE_API_MODULES = (
    "spindle",
    "spindle._core.futures",
    "spindle._core.tasks",
    "spindle.events",
    "spindle.exceptions",
    "spindle.tasks",
    "spindle.timeouts",
    "spindle.taskgroups",
    "spindle.threads",
    "spindle.locks",
    "spindle.queues",
    "spindle.runners",
    "spindle.streams",
    "spindle.subprocess",
)


@dataclass(frozen=True)
class Target:
    """One implementation of asyncio's API, as the conformance tests see it."""

    name: str
    new_event_loop: Callable[[], asyncio.AbstractEventLoop]
    # A loop on virtual time, for the tests written against test_utils.TestLoop.
    new_virtual_time_loop: Callable[[TimeGenerator | None], asyncio.AbstractEventLoop]
    future_class: Callable[[], type[Any]]
    task_class: Callable[[], type[Any]]
    replacements: Callable[[], dict[str, object]]
    install: Callable[[], object]
    uninstall: Callable[[], None]


def asyncio_public_names() -> dict[str, object]:
    """asyncio's public names and objects: every submodule's ``__all__``.

    Not just ``asyncio.__all__``: on 3.11 it leaves out ``taskgroups.__all__`` (TaskGroup).
    """
    public: dict[str, object] = {}
    for value in vars(asyncio).values():
        if isinstance(value, types.ModuleType) and value.__name__.startswith("asyncio."):
            public.update((name, getattr(value, name)) for name in getattr(value, "__all__", ()))
    return public


def spindle_replacements() -> dict[str, object]:
    """Every public asyncio name that spindle implements itself, mapped to spindle's object.

    Names spindle merely re-exports (the exception classes, the protocol classes) are asyncio's
    own objects and are not replacements.
    """
    public = asyncio_public_names()
    found: dict[str, object] = {}
    for module_name in SPINDLE_API_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise  # the module exists but is broken: say so, do not hide it
            continue
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if name in public and name not in found and value is not public[name]:
                found[name] = value
    # CPython's tests instantiate asyncio.BaseEventLoop() and mock its selector to get an
    # inert loop; spindle's BaseEventLoop (BaseLoop) has no I/O layer at all and cannot run.
    # Its concrete loop, whose poller simply has nothing to report, plays that part.
    if "BaseEventLoop" in found:
        found["BaseEventLoop"] = importlib.import_module("spindle._io.loop").EventLoop
    return found


def _spindle_loop() -> asyncio.AbstractEventLoop:
    import spindle

    return spindle.new_event_loop()


def _spindle_virtual_time_loop(gen: TimeGenerator | None) -> asyncio.AbstractEventLoop:
    # TestLoop's generator also asserts *when* timers were scheduled; a virtual clock that jumps
    # to each deadline reproduces the times the tests then observe, but not those assertions.
    from .adapters import VirtualTimeLoop

    return VirtualTimeLoop()


def _spindle_future() -> type[Any]:
    from spindle._core.faces import Future

    return Future


def _spindle_task() -> type[Any]:
    from spindle._core.tasks import Task

    return Task


def _spindle_install() -> object:
    from spindle import patch

    return patch.install()


def _spindle_uninstall() -> None:
    from spindle import patch

    patch.uninstall()


def _asyncio_virtual_time_loop(gen: TimeGenerator | None) -> asyncio.AbstractEventLoop:
    from test.test_asyncio import utils as test_utils

    loop: asyncio.AbstractEventLoop = test_utils.TestLoop(gen)
    return loop


SPINDLE = Target(
    name="spindle",
    new_event_loop=_spindle_loop,
    new_virtual_time_loop=_spindle_virtual_time_loop,
    future_class=_spindle_future,
    task_class=_spindle_task,
    replacements=spindle_replacements,
    install=_spindle_install,
    uninstall=_spindle_uninstall,
)

ASYNCIO = Target(
    name="asyncio",
    new_event_loop=asyncio.new_event_loop,
    new_virtual_time_loop=_asyncio_virtual_time_loop,
    future_class=lambda: asyncio.Future,
    task_class=lambda: asyncio.Task,
    replacements=dict,
    install=asyncio.get_event_loop_policy,
    uninstall=lambda: None,
)

TARGETS = {target.name: target for target in (SPINDLE, ASYNCIO)}


def current_target() -> Target:
    """The target named by ``SPINDLE_CONFORMANCE_TARGET`` (default: spindle)."""
    name = os.environ.get("SPINDLE_CONFORMANCE_TARGET", "spindle")
    try:
        return TARGETS[name]
    except KeyError:
        raise RuntimeError(
            f"cannot run the conformance tests: SPINDLE_CONFORMANCE_TARGET={name!r} "
            f"is not one of {sorted(TARGETS)}"
        ) from None
