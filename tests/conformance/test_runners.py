"""CPython's test_runners, run against the target.

Covers run() and Runner. The classes come from ``harness.collect``, which loads CPython's module
with asyncio's names resolving to the target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_runners"))
