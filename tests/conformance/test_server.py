"""CPython's test_server, run against the target.

Covers ``Server``: ``start_serving``, ``serve_forever``, ``close`` and ``wait_closed``, over TCP
and Unix sockets (``SelectorStartServerTests`` makes ``asyncio.SelectorEventLoop()``, which is
the target's loop). The classes come from ``harness.collect``, which loads CPython's module with
asyncio's names resolving to the target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_server"))
