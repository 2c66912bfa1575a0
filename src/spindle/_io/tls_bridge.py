"""Where stream connections meet the TLS layer (``spindle._io.tls``).

A TLS connection is a plain ``SocketTransport`` whose protocol is a ``TLSProtocol``: the
raw transport moves ciphertext, the ``TLSProtocol`` runs the handshake and hands cleartext
to the application's protocol through its ``app_transport``.  This module is the only place
the transports look the TLS layer up, and it checks the ``ssl=`` family of arguments the way
asyncio does, so ``create_connection``, ``create_server`` and friends agree on them.
"""

from __future__ import annotations

from typing import Any

try:
    import ssl
except ImportError:  # pragma: no cover - Python built without OpenSSL
    ssl = None  # type: ignore[assignment]

__all__ = ["check_tls_arguments", "client_context", "tls_protocol_class"]


def tls_protocol_class() -> Any:
    """``spindle._io.tls.TLSProtocol`` (or a clear error on a Python without ssl)."""
    if ssl is None:
        raise RuntimeError("cannot use ssl=: Python's ssl module is not available")
    from spindle._io.tls import TLSProtocol  # imported late: the TLS layer loads ssl

    return TLSProtocol


def check_tls_arguments(
    ssl_arg: Any,
    *,
    server_hostname: str | None = None,
    handshake_timeout: float | None = None,
    shutdown_timeout: float | None = None,
    server: bool = False,
) -> None:
    """asyncio's rules for ``ssl=``, ``server_hostname=`` and the TLS timeouts."""
    if server and ssl_arg is not None and (ssl is None or not isinstance(ssl_arg, ssl.SSLContext)):
        raise TypeError(f"ssl argument must be an SSLContext or None, got {ssl_arg!r}")
    if server_hostname is not None and not ssl_arg:
        raise ValueError("server_hostname is only meaningful with ssl")
    if handshake_timeout is not None and not ssl_arg:
        raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
    if shutdown_timeout is not None and not ssl_arg:
        raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
    for name, value in (("ssl_handshake_timeout", handshake_timeout),
                        ("ssl_shutdown_timeout", shutdown_timeout)):
        if value is not None and not value > 0:  # (NaN too)
            raise ValueError(f"{name} should be a positive number, got {value}")
    if ssl_arg:
        tls_protocol_class()  # fail now, with a clear message, if ssl is missing


def client_context(ssl_arg: Any, server_hostname: str | None) -> Any:
    """The context for a client connection: the given one, or a default for ``ssl=True``."""
    if ssl is not None and isinstance(ssl_arg, ssl.SSLContext):
        return ssl_arg
    context = ssl.create_default_context()
    if not server_hostname:
        context.check_hostname = False
    return context
