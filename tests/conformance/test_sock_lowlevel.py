"""CPython's test_sock_lowlevel, run against the target.

Covers the loop's low-level socket methods (``sock_recv``, ``sock_sendall``, ``sock_connect``,
``sock_accept``, ...) on real sockets, through ``TargetEventLoopTests``. The classes come from
``harness.collect``, which loads CPython's module with asyncio's names resolving to the
target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_sock_lowlevel"))
