"""CPython's test_waitfor, run against the target.

Covers wait_for(). The classes come from ``harness.collect``, which loads CPython's module with
asyncio's names resolving to the target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_waitfor"))
