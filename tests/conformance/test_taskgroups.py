"""CPython's test_taskgroups, run against the target.

Covers TaskGroup. The classes come from ``harness.collect``, which loads CPython's module with
asyncio's names resolving to the target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_taskgroups"))
