"""What every spindle transport does the same way: sockets, pipes, TLS and subprocesses alike.

* **Water marks.**  ``water_marks`` turns what the user gave ``set_write_buffer_limits`` (or
  ``set_read_buffer_limits``) into a ``(high, low)`` pair by asyncio's rules.  Only the default
  differs from one buffer to another: 64 KiB for a socket's or a pipe's write buffer, 512 KiB
  for what a TLS application has written, 256 KiB for ciphertext held for a paused reader.
* **Writes that cannot be delivered are dropped.**  After ``close()`` or once the connection
  is lost, a write can no longer reach the peer.  Raising would break the many protocols that
  write from callbacks racing with a peer's reset, so, as asyncio does, the write is dropped;
  unlike asyncio, ``DroppedWrites`` says how much was lost, at the 5th, 10th, 20th, 40th...
  dropped write: a few lines, however long a program keeps writing.
* **A protocol method that raises is reported, not propagated.**  Flow-control calls and
  subprocess events are notifications: their caller (the loop, in the middle of some
  transport's bookkeeping) cannot do anything about an error.  ``call_protocol`` hands it to
  the loop's exception handler, naming the method, the transport and the protocol.  (Errors
  in ``data_received`` and friends are another matter: they end the connection, which is each
  transport's ``_fatal_error``.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from spindle._io.contract import AnyLoop

__all__ = [
    "DEFAULT_HIGH_WATER",
    "DROPPED_WRITES_WARNING",
    "DroppedWrites",
    "Limit",
    "call_protocol",
    "warns_after_dropping",
    "water_marks",
]

logger = logging.getLogger("asyncio")

DEFAULT_HIGH_WATER = 64 * 1024  # a socket's or a pipe's write buffer (asyncio's default)
DROPPED_WRITES_WARNING = 5  # the first warning comes at this many dropped writes (asyncio's)


# A buffer limit: a number of bytes, or ``math.inf`` (asyncio takes both; a float is kept as
# given, not turned into an int, nor an int into a float).
Limit = int | float


def water_marks(
    high: Limit | None, low: Limit | None, default_high: int = DEFAULT_HIGH_WATER
) -> tuple[Limit, Limit]:
    """``(high, low)`` buffer limits from what the user gave, asyncio's way.

    Neither given: ``default_high`` and a quarter of it.  Only ``low``: four times it.
    Only ``high``: a quarter of it.  They must satisfy ``high >= low >= 0``.
    """
    if high is None:
        high = default_high if low is None else 4 * low
    if low is None:
        low = high // 4
    if not high >= low >= 0:
        raise ValueError(
            f"cannot set buffer limits: high ({high!r}) must be >= low ({low!r}) must be >= 0"
        )
    return high, low


def warns_after_dropping(count: int) -> bool:
    """Whether the ``count``-th dropped write is warned about: the 5th, 10th, 20th, 40th..."""
    multiple, rest = divmod(count, DROPPED_WRITES_WARNING)
    return rest == 0 and multiple > 0 and multiple & (multiple - 1) == 0


class DroppedWrites:
    """The writes a transport dropped because they could no longer be delivered."""

    def __init__(self) -> None:
        self.writes = 0
        self.nbytes = 0

    def add(self, transport: object, nbytes: int, *, closing: bool) -> None:
        """Count one more (of ``nbytes``); warn when the count calls for it.

        ``closing``: the transport is closing (else the connection is lost).
        """
        self.writes += 1
        self.nbytes += nbytes
        if warns_after_dropping(self.writes):
            logger.warning(
                "%r: %d writes (%d bytes) dropped: cannot write, the connection is %s",
                transport,
                self.writes,
                self.nbytes,
                "closing" if closing else "lost",
            )


def call_protocol(
    loop: AnyLoop,
    transport: object,
    protocol: object,
    method: Callable[..., object],
    *args: Any,
) -> bool:
    """``method(*args)`` (a method of ``protocol``); False if it raised.

    What it raises goes to the loop's exception handler (see the module docstring), except
    ``SystemExit`` and ``KeyboardInterrupt``, which stop the program as they always do.
    """
    try:
        method(*args)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        name = getattr(method, "__name__", repr(method))
        loop.call_exception_handler(
            {
                "message": f"protocol.{name}() failed",
                "exception": exc,
                "transport": transport,
                "protocol": protocol,
            }
        )
        return False
    return True
