"""CPython's test_base_events, run against the target.

Covers the loop's scheduling, lifecycle, exception handler and task factory. The classes come
from ``harness.collect``, which loads CPython's module with asyncio's names resolving to the
target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_base_events"))
