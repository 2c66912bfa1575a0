"""CPython's test_timeouts, run against the target.

Covers timeout() and timeout_at(). The classes come from ``harness.collect``, which loads
CPython's module with asyncio's names resolving to the target's; pytest collects them from this
namespace.
"""

from .harness import collect

globals().update(collect("test_timeouts"))
