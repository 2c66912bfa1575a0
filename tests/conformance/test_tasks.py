"""CPython's test_tasks, run against the target.

Covers Task, gather, wait, wait_for, as_completed, shield, sleep, current_task. The classes come
from ``harness.collect``, which loads CPython's module with asyncio's names resolving to the
target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_tasks"))
