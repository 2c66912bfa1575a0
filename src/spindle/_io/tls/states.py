"""The states of a TLS connection, and its timeouts.

A TLS connection (``protocol.TLSProtocol``) moves forward only:

    UNWRAPPED ─connection_made─▶ DO_HANDSHAKE ─done─▶ WRAPPED ─close()/peer closed─▶ FLUSHING
                                                                                       │
    CLOSED ◀── connection lost / aborted / failed (from any state) ◀── SHUTDOWN ◀──────┘

* ``UNWRAPPED``: created, no transport below yet.
* ``DO_HANDSHAKE``: handshake messages are being exchanged; the application has nothing yet.
* ``WRAPPED``: application data flows both ways.
* ``FLUSHING``: closing was decided; application data written before that must still be
  encrypted (it waits only while OpenSSL waits for the peer, e.g. during a renegotiation).
* ``SHUTDOWN``: our close_notify is out; we wait for the peer's before closing the transport.
* ``CLOSED``: the transport below is gone, or was aborted: nothing more is sent or received.

The application protocol has a lifecycle of its own (``AppState``), because asyncio's contract
with it is strict: ``connection_made`` once, then ``data_received`` any number of times,
``eof_received`` at most once, and ``connection_lost`` exactly once if and only if
``connection_made`` was called.
"""

from __future__ import annotations

import enum

__all__ = [
    "HANDSHAKE_TIMEOUT",
    "SHUTDOWN_TIMEOUT",
    "AppState",
    "TLSState",
    "check_move",
    "positive_timeout",
]

HANDSHAKE_TIMEOUT = 60.0  # seconds; asyncio's default
SHUTDOWN_TIMEOUT = 30.0  # seconds; asyncio's default


class TLSState(enum.Enum):
    UNWRAPPED = "UNWRAPPED"
    DO_HANDSHAKE = "DO_HANDSHAKE"
    WRAPPED = "WRAPPED"
    FLUSHING = "FLUSHING"
    SHUTDOWN = "SHUTDOWN"
    CLOSED = "CLOSED"


_S = TLSState
_MOVES: dict[TLSState, frozenset[TLSState]] = {
    _S.UNWRAPPED: frozenset({_S.DO_HANDSHAKE, _S.CLOSED}),
    _S.DO_HANDSHAKE: frozenset({_S.WRAPPED, _S.CLOSED}),
    _S.WRAPPED: frozenset({_S.FLUSHING, _S.CLOSED}),
    _S.FLUSHING: frozenset({_S.SHUTDOWN, _S.CLOSED}),
    _S.SHUTDOWN: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
}


def check_move(current: TLSState, new: TLSState) -> None:
    """Raise ``RuntimeError`` unless a TLS connection may go from ``current`` to ``new``."""
    if new not in _MOVES[current]:
        raise RuntimeError(f"cannot move a TLS connection from {current.name} to {new.name}")


class AppState(enum.Enum):
    """Where the application protocol is in its callbacks."""

    WAITING = "WAITING"  # connection_made not called yet
    CONNECTED = "CONNECTED"  # connection_made called
    EOF = "EOF"  # eof_received called
    LOST = "LOST"  # connection_lost called: nothing more, ever


def positive_timeout(value: float | None, default: float, name: str) -> float:
    """A TLS timeout in seconds: ``default`` for None; anything but a positive number fails."""
    if value is None:
        return default
    if value <= 0:
        raise ValueError(f"the TLS {name} timeout must be a positive number, got {value!r}")
    return float(value)
