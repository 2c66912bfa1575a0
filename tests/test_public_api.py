"""``import spindle as asyncio`` works: every public asyncio name exists in spindle."""

from __future__ import annotations

import asyncio
import inspect

import pytest

import spindle

# Python 3.11's asyncio.__all__ (spindle supports 3.11+), plus the later additions spindle has.
ASYNCIO_311 = sorted(asyncio.__all__) if hasattr(asyncio, "__all__") else []
LATER_ADDITIONS = ["QueueShutDown", "create_eager_task_factory", "eager_task_factory"]

# Classes that must be asyncio's very own (isinstance / except clauses in libraries).
SHARED_WITH_ASYNCIO = [
    "CancelledError",
    "InvalidStateError",
    "TimeoutError",
    "IncompleteReadError",
    "LimitOverrunError",
    "SendfileNotAvailableError",
    "BrokenBarrierError",
    "QueueEmpty",
    "QueueFull",
    "BaseProtocol",
    "Protocol",
    "BufferedProtocol",
    "DatagramProtocol",
    "SubprocessProtocol",
    "BaseTransport",
    "ReadTransport",
    "WriteTransport",
    "Transport",
    "DatagramTransport",
    "SubprocessTransport",
]

# Names whose objects spindle implements itself (must not be asyncio's).
SPINDLE_OWN = [
    "Future",
    "Task",
    "run",
    "Runner",
    "sleep",
    "gather",
    "wait",
    "wait_for",
    "as_completed",
    "shield",
    "create_task",
    "ensure_future",
    "timeout",
    "timeout_at",
    "Timeout",
    "TaskGroup",
    "to_thread",
    "run_coroutine_threadsafe",
    "wrap_future",
    "Lock",
    "Event",
    "Condition",
    "Semaphore",
    "BoundedSemaphore",
    "Barrier",
    "Queue",
    "PriorityQueue",
    "LifoQueue",
    "new_event_loop",
    "get_event_loop",
    "set_event_loop",
    "get_running_loop",
]


@pytest.mark.parametrize("name", ASYNCIO_311 + LATER_ADDITIONS)
def test_name_exists(name: str) -> None:
    assert hasattr(spindle, name), f"spindle.{name} is missing"
    assert name in spindle.__all__


@pytest.mark.parametrize("name", SHARED_WITH_ASYNCIO)
def test_shared_classes_are_asyncios_own(name: str) -> None:
    assert getattr(spindle, name) is getattr(asyncio, name)


@pytest.mark.parametrize("name", SPINDLE_OWN)
def test_runtime_is_spindles_own(name: str) -> None:
    ours = getattr(spindle, name)
    assert ours is not getattr(asyncio, name)
    module = inspect.getmodule(ours)
    assert module is not None and module.__name__.startswith("spindle")


def test_all_has_no_unknown_names() -> None:
    missing = [name for name in spindle.__all__ if not hasattr(spindle, name)]
    assert missing == []
