"""TCP, Unix and UDP transports; create_connection, create_server, datagram endpoints, pipes, sendfile."""

from __future__ import annotations

from spindle._io.readiness import ReadinessLoop

__all__ = ["TransportMethods"]


class TransportMethods(ReadinessLoop):
    """TCP, Unix and UDP transports; create_connection, create_server, datagram endpoints, pipes, sendfile."""
