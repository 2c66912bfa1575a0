"""CPython's test_events, run against the target.

Covers the loop's callbacks, timers, threadsafe calls and executors, and its I/O
(``TargetEventLoopTests``): TCP, Unix and UDP connections and servers, TLS, readers and
writers, pipes and PTYs, on real descriptors.  The classes come from ``harness.collect``,
which loads CPython's module with asyncio's names resolving to the target's; pytest collects
them from this namespace.
"""

from .harness import collect

globals().update(collect("test_events"))
