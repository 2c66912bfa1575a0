"""``EventLoop``: spindle's event loop, assembled from its layers.

``BaseLoop`` (callbacks, timers, tasks, lifecycle) is extended by ``ReadinessLoop`` (the poller:
readers and writers), and each I/O facility is a class of its own on top of that, in its own
module.  ``EventLoop`` is simply all of them together.
"""

from __future__ import annotations

import asyncio

from spindle._io.sockets import SocketMethods
from spindle._io.subprocesses import SubprocessMethods
from spindle._io.tls import TLSMethods
from spindle._io.transports import TransportMethods

__all__ = ["EventLoop"]


# The ignore: spindle's handles, futures and tasks implement asyncio's interfaces without being
# asyncio's classes (see spindle._core.handles), so the type checker sees return types that
# differ from AbstractEventLoop's declarations.
class EventLoop(  # type: ignore[misc]
    SubprocessMethods, TLSMethods, TransportMethods, SocketMethods, asyncio.AbstractEventLoop
):
    """spindle's event loop.

    ``asyncio.AbstractEventLoop`` comes last: isinstance checks see it, and every method of
    the classes before it (spindle's own) wins over its abstract declarations.
    """
