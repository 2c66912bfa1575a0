"""CPython's test_protocols, run against the target.

Covers the abstract protocol classes, which spindle re-exports from asyncio (they are interfaces
that libraries subclass). The classes come from ``harness.collect``, which loads CPython's
module with asyncio's names resolving to the target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_protocols"))
