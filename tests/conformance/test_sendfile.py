"""CPython's test_sendfile, run against the target.

Covers ``loop.sock_sendfile()`` and ``loop.sendfile()``, native and by the read-and-send
fallback, over plain and TLS transports, through ``TargetEventLoopTests``. The classes come from
``harness.collect``, which loads CPython's module with asyncio's names resolving to the
target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_sendfile"))
