"""CPython's test_buffered_proto, run against the target.

Covers ``BufferedProtocol``: the transport reads into buffers the protocol provides. The classes
come from ``harness.collect``, which loads CPython's module with asyncio's names resolving to
the target's; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_buffered_proto"))
