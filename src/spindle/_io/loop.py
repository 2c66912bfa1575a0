"""``EventLoop``: spindle's event loop, assembled from its layers.

``BaseLoop`` (callbacks, timers, tasks, lifecycle) is extended by ``ReadinessLoop`` (the poller:
readers and writers), and each I/O facility is a class of its own on top of that, in its own
module.  ``EventLoop`` is simply all of them together.
"""

from __future__ import annotations

from spindle._io.connect.methods import TransportMethods
from spindle._io.sockets import SocketMethods
from spindle._io.subprocess.methods import SubprocessMethods
from spindle._io.tls.start_tls import TLSMethods

__all__ = ["EventLoop"]


class EventLoop(SubprocessMethods, TLSMethods, TransportMethods, SocketMethods):
    """spindle's event loop."""
