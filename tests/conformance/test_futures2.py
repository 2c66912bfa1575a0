"""CPython's test_futures2, run against the target.

Covers Future and Task tracebacks and repr. The classes come from ``harness.collect``, which
loads CPython's module with asyncio's names resolving to the target's; pytest collects them from
this namespace.
"""

from .harness import collect

globals().update(collect("test_futures2"))
