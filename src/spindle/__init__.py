"""spindle: an async runtime for Python, written in Python.

``import spindle as asyncio`` works for the public API; ``spindle.install()`` makes unmodified
asyncio programs run on spindle's loop.
"""

from spindle._core.futures import Future, isfuture, wrap_concurrent_future
from spindle._core.handles import Handle, TimerHandle
from spindle._core.tasks import (
    Task,
    all_tasks,
    create_eager_task_factory,
    current_task,
    eager_task_factory,
    ensure_future,
    iscoroutine,
    iscoroutinefunction,
)
from spindle._io.loop import EventLoop
from spindle.events import get_event_loop, get_running_loop, new_event_loop, set_event_loop
from spindle.exceptions import (
    BrokenBarrierError,
    CancelledError,
    IncompleteReadError,
    InvalidStateError,
    LimitOverrunError,
    QueueEmpty,
    QueueFull,
    QueueShutDown,
    SendfileNotAvailableError,
    TimeoutError,
)
from spindle.locks import Barrier, BoundedSemaphore, Condition, Event, Lock, Semaphore
from spindle.queues import LifoQueue, PriorityQueue, Queue

__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "BrokenBarrierError",
    "CancelledError",
    "Condition",
    "Event",
    "EventLoop",
    "Future",
    "Handle",
    "IncompleteReadError",
    "InvalidStateError",
    "LifoQueue",
    "LimitOverrunError",
    "Lock",
    "PriorityQueue",
    "Queue",
    "QueueEmpty",
    "QueueFull",
    "QueueShutDown",
    "Semaphore",
    "SendfileNotAvailableError",
    "Task",
    "TimeoutError",
    "TimerHandle",
    "all_tasks",
    "create_eager_task_factory",
    "current_task",
    "eager_task_factory",
    "ensure_future",
    "get_event_loop",
    "get_running_loop",
    "iscoroutine",
    "iscoroutinefunction",
    "isfuture",
    "new_event_loop",
    "set_event_loop",
    "wrap_concurrent_future",
]
