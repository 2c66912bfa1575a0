"""TLS over any transport: start_tls and ssl= support."""

from __future__ import annotations

from spindle._io.readiness import ReadinessLoop

__all__ = ["TLSMethods"]


class TLSMethods(ReadinessLoop):
    """TLS over any transport: start_tls and ssl= support."""
