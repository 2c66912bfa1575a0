"""CPython's test_sslproto, run against the target.

Covers ``loop.start_tls()`` on both sides and TLS over ``create_connection``
(``SelectorStartTLSTests``); ``SslProtoHandshakeTests`` tests asyncio's own ``SSLProtocol``. The
classes come from ``harness.collect``, which loads CPython's module with asyncio's names
resolving to the target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_sslproto"))
