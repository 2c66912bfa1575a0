"""CPython's test_ssl, run against the target.

Covers TLS over real sockets: handshakes, shutdowns, timeouts, flow control and errors, against
blocking peers in threads. The classes come from ``harness.collect``, which loads CPython's
module with asyncio's names resolving to the target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_ssl"))
