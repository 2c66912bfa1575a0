"""CPython's test_streams, run against the target.

Covers ``StreamReader``, ``StreamWriter``, ``open_connection`` and ``start_server``. The classes
come from ``harness.collect``, which loads CPython's module with asyncio's names resolving to
the target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_streams"))
