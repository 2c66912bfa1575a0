"""Test classes that point CPython's parametrised tests at the implementation under test.

CPython writes many tests once, as a mixin, and instantiates the mixin for each of asyncio's
implementations: ``BaseFutureTests`` becomes ``CFutureTests`` (``cls = futures._CFuture``) and
``PyFutureTests`` (``cls = futures._PyFuture``); ``EventLoopTestsMixin`` becomes one class per
selector.  Each function here adds one more instantiation, ``Target...``, whose Future, Task or
loop is the target's.  The asyncio-specific instantiations stay collected but are excluded (see
``exclusions.py``), so the count shows them.

``TargetTestCase`` replaces ``test_utils.TestCase`` for every test module: its
``new_test_loop()`` returns the target's loop on a virtual clock instead of asyncio's
``TestLoop`` (a subclass of asyncio's own ``BaseEventLoop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import types
import unittest
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from spindle import EventLoop
from spindle.testing import VirtualClock

from .targets import Target, TimeGenerator

__all__ = ["ADAPTERS", "VirtualTimeLoop", "follow_patched_asyncio_logger", "make_test_case"]


class VirtualTimeLoop(EventLoop):
    """spindle's loop on a virtual clock, with the ``advance_time()`` of asyncio's TestLoop.

    The clock jumps to each timer's deadline when the loop would wait, which is what the
    tests' time generators mostly ask for; the tests that move time by hand call
    ``advance_time``.
    """

    def __init__(self) -> None:
        self.virtual_clock = VirtualClock()
        super().__init__(clock=self.virtual_clock)

    def advance_time(self, advance: float) -> None:
        if advance:
            self.virtual_clock.advance(advance)


class _FollowAsyncioLogger:
    """Stands in for spindle's reference to the "asyncio" logger: forwards each call to
    whatever ``asyncio.base_events.logger`` is at that moment (the same logger, unless a test
    has patched it with a mock)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio.base_events.logger, name)


@contextlib.contextmanager
def follow_patched_asyncio_logger() -> Iterator[None]:
    """Let tests that ``mock.patch('asyncio.base_events.logger')`` see what spindle logs.

    spindle logs to the "asyncio" logger, as asyncio does, but through its own module-level
    reference, which such a patch does not reach.  For the duration of a test, every spindle
    module's ``logger`` that is the "asyncio" logger is replaced by a forwarder.
    """
    modules = [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("spindle")
        and isinstance(vars(module).get("logger"), logging.Logger)
        and vars(module)["logger"].name == "asyncio"
    ]
    with contextlib.ExitStack() as stack:
        for module in modules:
            stack.enter_context(mock.patch.object(module, "logger", _FollowAsyncioLogger()))
        yield


Classes = dict[str, type[Any]]


def make_test_case(target: Target, base: type[unittest.TestCase]) -> type[unittest.TestCase]:
    """``test_utils.TestCase`` with ``new_test_loop()`` making the target's virtual-time loop."""

    def new_test_loop(self: Any, gen: TimeGenerator | None = None) -> Any:
        loop = target.new_virtual_time_loop(gen)
        self.set_event_loop(loop)
        return loop

    return type("TargetTestCase", (base,), {"new_test_loop": new_test_loop})


def _futures(module: types.ModuleType, target: Target) -> Classes:
    future = target.future_class()
    base = module.test_utils.TestCase

    def new_future(self: Any) -> Any:
        return future(loop=self.loop)

    return {
        "TargetFutureTests": type(
            "TargetFutureTests", (module.BaseFutureTests, base), {"cls": future}
        ),
        "TargetFutureDoneCallbackTests": type(
            "TargetFutureDoneCallbackTests",
            (module.BaseFutureDoneCallbackTests, base),
            {"_new_future": new_future},
        ),
        "TargetFutureInheritanceTests": type(
            "TargetFutureInheritanceTests",
            (module.BaseFutureInheritanceTests, base),
            {"_get_future_cls": lambda self: future},
        ),
    }


def _futures2(module: types.ModuleType, target: Target) -> Classes:
    task = target.task_class()
    return {
        "TargetFutureTests": type(
            "TargetFutureTests",
            (module.FutureTests, unittest.IsolatedAsyncioTestCase),
            {"cls": task},
        )
    }


def _tasks(module: types.ModuleType, target: Target) -> Classes:
    task, future = target.task_class(), target.future_class()
    base = module.test_utils.TestCase
    attributes = {"Task": task, "Future": future}

    current_task = target.replacements().get("current_task", asyncio.current_task)

    def new_task(self: Any, coro: Any) -> Any:
        return task(coro, loop=self.loop)

    subclass_tests = type("TargetTask_SubclassTests", (module.BaseTaskTests, base), attributes)
    return {
        "TargetTask_Tests": type(
            "TargetTask_Tests", (module.BaseTaskTests, module.SetMethodsTest, base), attributes
        ),
        # add_subclass_tests() swaps in subclasses of Task and Future, and adds one test.
        "TargetTask_SubclassTests": module.add_subclass_tests(subclass_tests),
        "TargetCurrentLoopTests": type(
            "TargetCurrentLoopTests",
            (module.BaseCurrentLoopTests, base),
            # From 3.12 the tests call the class's current_task (3.11 calls asyncio's).
            {"new_task": new_task, "current_task": staticmethod(current_task)},
        ),
    }


def _on_target_loop(name: str, mixin: str) -> Callable[[types.ModuleType, Target], Classes]:
    """An adapter adding class ``name``: the module's loop mixin ``mixin`` on the target's loop.

    CPython instantiates these mixins once per selector (``EPollEventLoopTests`` makes
    ``asyncio.SelectorEventLoop(selectors.EpollSelector())``); the target's loop has a
    poller of its own and takes no selector.
    """

    def adapter(module: types.ModuleType, target: Target) -> Classes:
        def create_event_loop(self: Any) -> Any:
            return target.new_event_loop()

        bases = (getattr(module, mixin), module.test_utils.TestCase)
        return {name: type(name, bases, {"create_event_loop": create_event_loop})}

    return adapter


_events = _on_target_loop("TargetEventLoopTests", "EventLoopTestsMixin")


def _subprocess(module: types.ModuleType, target: Target) -> Classes:
    # CPython's SubprocessWatcherMixin makes its loop from the policy and attaches one of
    # asyncio's child watchers to it; the target's loop reaps its children itself.
    def set_up(self: Any) -> None:
        module.test_utils.TestCase.setUp(self)
        self.loop = target.new_event_loop()
        self.set_event_loop(self.loop)

    return {
        "TargetSubprocessTests": type(
            "TargetSubprocessTests",
            (module.SubprocessMixin, module.test_utils.TestCase),
            {"setUp": set_up},
        )
    }


class _FollowAsyncioSignal:
    """Stands in for spindle's reference to the ``signal`` module: forwards each attribute to
    whatever ``asyncio.unix_events.signal`` is at that moment (the module, or a test's mock)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio.unix_events.signal, name)


def _unix_events(module: types.ModuleType, target: Target) -> Classes:
    # CPython's signal tests fake the signal calls with mock.patch('asyncio.unix_events.signal'),
    # which spindle's loop does not go through.  Their class is replaced (same name) by one
    # in which spindle's signal calls follow that patch, as its log calls follow the logger's.
    base = module.SelectorEventLoopSignalTests

    def set_up(self: Any) -> None:
        patcher = mock.patch("spindle._io.signals.signal", _FollowAsyncioSignal())
        patcher.start()
        self.addCleanup(patcher.stop)
        base.setUp(self)

    name = base.__name__
    return {name: type(name, (base,), {"setUp": set_up})}


# CPython test module -> the Target classes to add to it.
ADAPTERS: dict[str, Callable[[types.ModuleType, Target], Classes]] = {
    "test_events": _events,
    "test_futures": _futures,
    "test_futures2": _futures2,
    "test_sendfile": _on_target_loop("TargetEventLoopTests", "SendfileTestsBase"),
    "test_sock_lowlevel": _on_target_loop("TargetEventLoopTests", "BaseSockTestsMixin"),
    "test_subprocess": _subprocess,
    "test_unix_events": _unix_events,
    "test_tasks": _tasks,
}
