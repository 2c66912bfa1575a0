"""TaskGroup, the class users hold: spindle's task group, weak-referenceable and subclassable.

Everything a TaskGroup does is ``TaskGroupCore``'s (``_taskgroupcore.py``, which explains how
a group works), compiled into a native class in the compiled build.  Native classes cannot
offer weak references safely (mypyc does not clear them when an object dies: mypyc issue
1102), nor take attributes they do not declare, and asyncio's TaskGroup does both, as an
ordinary Python class.  This subclass adds the interpreter's weak-reference slot and an
instance dictionary, and nothing else, as ``Future`` does for ``FutureCore``.

This module is deliberately not compiled (it is not in ``compiled_modules.txt``).
"""

from __future__ import annotations

from spindle._taskgroupcore import TaskGroupCore

__all__ = ["TaskGroup"]


class TaskGroup(TaskGroupCore):
    """Asynchronous context manager that runs a group of tasks and waits for all of them.

    Any exception other than CancelledError raised by a task cancels the remaining tasks
    and the body; the exceptions are then raised together as an ExceptionGroup.
    """

    __slots__ = ("__dict__", "__weakref__")
