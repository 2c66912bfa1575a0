"""``EventLoop``: spindle's event loop, assembled from its facilities.

``BaseLoop`` (``_core``: callbacks, timers, tasks, lifecycle) is extended by ``ReadinessLoop``
(the poller: readers and writers).  Each I/O facility is a class of its own on top of that, in
its own room, and ``EventLoop`` lists every one of them:

    ConnectionMethods  connect/     create_connection, create_server, datagram endpoints,
                                    pipes, sendfile (built on the socket operations)
    TLSMethods         tls/         start_tls
    SubprocessMethods  subprocess/  subprocess_exec, subprocess_shell
    SignalMethods      signals.py   add_signal_handler, remove_signal_handler
    SocketMethods      sockets.py   sock_recv, sock_sendall, sock_connect, ..., getaddrinfo
    ReadinessLoop      readiness.py add_reader, add_writer, the poller and the wake-up

The transports and helpers those facilities create are handed the loop typed as ``IOLoop``
(``contract.py``): the few methods they may use.
"""

from __future__ import annotations

import asyncio

from spindle._io.connect.methods import ConnectionMethods
from spindle._io.readiness import ReadinessLoop
from spindle._io.signals import SignalMethods
from spindle._io.sockets import SocketMethods
from spindle._io.subprocess.methods import SubprocessMethods
from spindle._io.tls import TLSMethods

__all__ = ["EventLoop"]


# The ignore: spindle's handles, futures and tasks implement asyncio's interfaces without being
# asyncio's classes (see spindle._core.handles), so the type checker sees return types that
# differ from AbstractEventLoop's declarations.
class EventLoop(  # type: ignore[misc]
    ConnectionMethods,
    TLSMethods,
    SubprocessMethods,
    SignalMethods,
    SocketMethods,
    ReadinessLoop,
    asyncio.AbstractEventLoop,
):
    """spindle's event loop.

    ``asyncio.AbstractEventLoop`` comes last: isinstance checks see it, and every method of
    the classes before it (spindle's own) wins over its abstract declarations.
    """
