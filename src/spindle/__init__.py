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
from spindle.runners import Runner, run
from spindle.streams import (
    StreamReader,
    StreamReaderProtocol,
    StreamWriter,
    open_connection,
    open_unix_connection,
    start_server,
    start_unix_server,
)
from spindle.taskgroups import TaskGroup
from spindle.tasks import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    as_completed,
    create_task,
    gather,
    shield,
    sleep,
    wait,
    wait_for,
)
from spindle.threads import run_coroutine_threadsafe, to_thread, wrap_future
from spindle.timeouts import Timeout, timeout, timeout_at

__all__ = [
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
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
    "Runner",
    "Semaphore",
    "SendfileNotAvailableError",
    "StreamReader",
    "StreamReaderProtocol",
    "StreamWriter",
    "Task",
    "TaskGroup",
    "Timeout",
    "TimeoutError",
    "TimerHandle",
    "all_tasks",
    "as_completed",
    "create_eager_task_factory",
    "create_task",
    "current_task",
    "eager_task_factory",
    "ensure_future",
    "gather",
    "get_event_loop",
    "get_running_loop",
    "iscoroutine",
    "iscoroutinefunction",
    "isfuture",
    "new_event_loop",
    "open_connection",
    "open_unix_connection",
    "run",
    "run_coroutine_threadsafe",
    "set_event_loop",
    "shield",
    "sleep",
    "start_server",
    "start_unix_server",
    "timeout",
    "timeout_at",
    "to_thread",
    "wait",
    "wait_for",
    "wrap_concurrent_future",
    "wrap_future",
]

# Importing the diagnostics registers them with the runner: spindle explains what went wrong
# (a blocked loop, tasks left pending) unless SPINDLE_DIAGNOSTICS=0.
from spindle import diagnostics as diagnostics
