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

import types
import unittest
from collections.abc import Callable
from typing import Any

from .targets import Target, TimeGenerator

__all__ = ["ADAPTERS", "make_test_case"]

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
            {"new_task": new_task},
        ),
    }


def _events(module: types.ModuleType, target: Target) -> Classes:
    def create_event_loop(self: Any) -> Any:
        return target.new_event_loop()

    return {
        "TargetEventLoopTests": type(
            "TargetEventLoopTests",
            (module.EventLoopTestsMixin, module.test_utils.TestCase),
            {"create_event_loop": create_event_loop},
        )
    }


def _base_events(module: types.ModuleType, target: Target) -> Classes:
    def set_up(self: Any) -> None:
        # BaseEventLoopTests.setUp builds a bare asyncio BaseEventLoop with a mock selector;
        # skip it and use a real loop of the target.
        module.test_utils.TestCase.setUp(self)
        self.loop = target.new_event_loop()
        self.set_event_loop(self.loop)

    return {
        "TargetBaseEventLoopTests": type(
            "TargetBaseEventLoopTests", (module.BaseEventLoopTests,), {"setUp": set_up}
        )
    }


# CPython test module -> the Target classes to add to it.
ADAPTERS: dict[str, Callable[[types.ModuleType, Target], Classes]] = {
    "test_base_events": _base_events,
    "test_events": _events,
    "test_futures": _futures,
    "test_futures2": _futures2,
    "test_tasks": _tasks,
}
