"""spindle: an async runtime for Python, written in Python.

``import spindle as asyncio`` works for the public API; ``spindle.install()`` makes unmodified
asyncio programs run on spindle's loop.

Where a name is part of the runtime, spindle implements it (the loop, Future, Task, every
function and primitive).  A few names are *interfaces* that must be asyncio's own objects for
drop-in compatibility, and are re-exported as they are:

* the exception classes (``except asyncio.CancelledError`` must catch spindle's);
* the protocol and transport base classes (libraries subclass ``asyncio.Protocol`` and check
  ``isinstance(t, asyncio.Transport)``; spindle's transports derive from them);
* the policy machinery (``get/set_event_loop_policy``, ``AbstractEventLoopPolicy``): it is
  asyncio's global switch, and ``spindle.install()`` works *through* it;
  ``spindle.DefaultEventLoopPolicy`` is spindle's policy, whose loops are spindle's;
* the child watchers (deprecated in 3.12, gone in 3.14): spindle reaps its children itself
  (pidfd, or a thread per child) and never consults a watcher; the names exist so that code
  written for 3.11 that calls ``set_child_watcher`` still imports;
* ``_get_running_loop`` / ``_set_running_loop`` / ``_register_task`` / ``_enter_task`` / ...:
  asyncio's hooks for loop implementers, which spindle itself uses (see ``spindle._compat``).
"""

import sys
from asyncio import (
    AbstractEventLoop,
    AbstractServer,
    BaseProtocol,
    BaseTransport,
    BufferedProtocol,
    DatagramProtocol,
    DatagramTransport,
    Protocol,
    ReadTransport,
    SubprocessProtocol,
    SubprocessTransport,
    Transport,
    WriteTransport,
    get_event_loop_policy,
    set_event_loop_policy,
)

if sys.version_info < (3, 14):  # asyncio removed the child watchers in 3.14
    from asyncio import (
        AbstractChildWatcher,
        FastChildWatcher,
        MultiLoopChildWatcher,
        PidfdChildWatcher,
        SafeChildWatcher,
        ThreadedChildWatcher,
        get_child_watcher,
        set_child_watcher,
    )

from spindle._compat import enter_task as _enter_task
from spindle._compat import leave_task as _leave_task
from spindle._compat import register_task as _register_task
from spindle._compat import set_running_loop as _set_running_loop
from spindle._compat import unregister_task as _unregister_task
from spindle._core.build import COMPILED
from spindle._core.faces import Future
from spindle._core.futures import isfuture, wrap_concurrent_future
from spindle._core.handles import Handle, TimerHandle
from spindle._core.loop import BaseLoop as BaseEventLoop
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
from spindle._io.connect.servers import Server
from spindle._io.loop import EventLoop
from spindle._io.loop import EventLoop as SelectorEventLoop
from spindle._version import __version__ as __version__
from spindle.events import (
    _get_running_loop,
    get_event_loop,
    get_running_loop,
    new_event_loop,
    set_event_loop,
)
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
from spindle.patch import (
    AbstractEventLoopPolicy,  # asyncio's class, fetched without 3.14's warning
    install,
    uninstall,
)
from spindle.patch import SpindleEventLoopPolicy as DefaultEventLoopPolicy
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
from spindle.subprocess import create_subprocess_exec, create_subprocess_shell
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
    "COMPILED",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "AbstractEventLoop",
    "AbstractEventLoopPolicy",
    "AbstractServer",
    "Barrier",
    "BaseEventLoop",
    "BaseProtocol",
    "BaseTransport",
    "BoundedSemaphore",
    "BrokenBarrierError",
    "BufferedProtocol",
    "CancelledError",
    "Condition",
    "DatagramProtocol",
    "DatagramTransport",
    "DefaultEventLoopPolicy",
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
    "Protocol",
    "Queue",
    "QueueEmpty",
    "QueueFull",
    "QueueShutDown",
    "ReadTransport",
    "Runner",
    "SelectorEventLoop",
    "Semaphore",
    "SendfileNotAvailableError",
    "Server",
    "StreamReader",
    "StreamReaderProtocol",
    "StreamWriter",
    "SubprocessProtocol",
    "SubprocessTransport",
    "Task",
    "TaskGroup",
    "Timeout",
    "TimeoutError",
    "TimerHandle",
    "Transport",
    "WriteTransport",
    "_enter_task",
    "_get_running_loop",
    "_leave_task",
    "_register_task",
    "_set_running_loop",
    "_unregister_task",
    "all_tasks",
    "as_completed",
    "create_eager_task_factory",
    "create_subprocess_exec",
    "create_subprocess_shell",
    "create_task",
    "current_task",
    "eager_task_factory",
    "ensure_future",
    "gather",
    "get_event_loop",
    "get_event_loop_policy",
    "get_running_loop",
    "install",
    "iscoroutine",
    "iscoroutinefunction",
    "isfuture",
    "new_event_loop",
    "open_connection",
    "open_unix_connection",
    "run",
    "run_coroutine_threadsafe",
    "set_event_loop",
    "set_event_loop_policy",
    "shield",
    "sleep",
    "start_server",
    "start_unix_server",
    "timeout",
    "timeout_at",
    "to_thread",
    "uninstall",
    "wait",
    "wait_for",
    "wrap_concurrent_future",
    "wrap_future",
]

# Importing the diagnostics registers them with the runner: spindle explains what went wrong
# (a blocked loop, tasks left pending) unless SPINDLE_DIAGNOSTICS=0.
from spindle import diagnostics as diagnostics

# Python 3.14's asyncio.graph API (and its two asyncio.futures functions), on 3.11 and later.
from spindle.diagnostics.graph import (
    FrameCallGraphEntry,
    FutureCallGraph,
    capture_call_graph,
    format_call_graph,
    future_add_to_awaited_by,
    future_discard_from_awaited_by,
    print_call_graph,
)

__all__ += [
    "FrameCallGraphEntry",
    "FutureCallGraph",
    "capture_call_graph",
    "format_call_graph",
    "future_add_to_awaited_by",
    "future_discard_from_awaited_by",
    "print_call_graph",
]

if sys.version_info < (3, 14):
    __all__ += [
        "AbstractChildWatcher",
        "FastChildWatcher",
        "MultiLoopChildWatcher",
        "PidfdChildWatcher",
        "SafeChildWatcher",
        "ThreadedChildWatcher",
        "get_child_watcher",
        "set_child_watcher",
    ]
