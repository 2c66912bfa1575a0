"""What ``ssl=`` and its companion arguments mean, for every loop method that takes them.

``create_connection``, ``create_unix_connection``, ``create_server``, ``create_unix_server``
and ``connect_accepted_socket`` take the same family of arguments (``ssl``,
``server_hostname``, ``ssl_handshake_timeout``, ``ssl_shutdown_timeout``); this module checks
them the way asyncio does, so the methods agree, and says which context a client uses.
"""

from __future__ import annotations

import ssl
from typing import Any

__all__ = ["check_tls_arguments", "client_context"]


def check_tls_arguments(
    ssl_arg: Any,
    *,
    server_hostname: str | None = None,
    handshake_timeout: float | None = None,
    shutdown_timeout: float | None = None,
    server: bool = False,
) -> None:
    """asyncio's rules for ``ssl=``, ``server_hostname=`` and the TLS timeouts."""
    if server and ssl_arg is not None and not isinstance(ssl_arg, ssl.SSLContext):
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


def client_context(ssl_arg: Any, server_hostname: str | None) -> ssl.SSLContext:
    """The context a client connection uses: ``ssl_arg`` if it is one, else (``ssl=True``)
    secure defaults, with no hostname check when there is no hostname to check."""
    if isinstance(ssl_arg, ssl.SSLContext):
        return ssl_arg
    context = ssl.create_default_context()
    if not server_hostname:
        context.check_hostname = False
    return context
