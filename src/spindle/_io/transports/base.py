"""What every spindle transport shares: its lifecycle (``reading`` adds the read side,
``writable`` the write side; ``policy`` has the rules all transports follow).

Lifecycle.  A transport moves through four states, in order, and only forward:

    OPEN ──close()──▶ CLOSING ──buffer flushed──▶ LOST ──connection_lost() ran──▶ CLOSED
      └──────────── abort() / fatal error / EOF ───▶ LOST

``LOST`` means "``connection_lost`` is scheduled and no more I/O happens"; the descriptor is
released only when the protocol has been told, in ``CLOSED``.  Every path to the end goes
through ``_lose``, which acts once, so ``connection_lost`` is called exactly once however
many times, and in whatever order, ``close()``, ``abort()`` and errors arrive.

Once ``connection_lost`` has run the transport lets go of its protocol (``get_protocol()`` is
then None, as in asyncio): a protocol usually holds its transport, and without this the pair
would be a reference cycle that only the garbage collector frees.

A transport lost after its loop has closed releases its descriptor at once: no callback can
run any more to tell the protocol, and the other end (often a child process that outlives the
loop) must see the connection end now, not whenever the transport is garbage-collected.

A transport is two objects.  What the protocol and the program hold is the *face*: a class of
asyncio's (``asyncio.Transport``, ``ReadTransport``, ``DatagramTransport``), so that
``isinstance`` checks hold, that can be weakly referenced and subclassed, and whose methods
hand over to the *core* (``faces.py``).  The core is this class and its subclasses: the state,
the buffers and the read and write paths, native classes in the compiled build (mypyc cannot
compile a class that inherits asyncio's, whose ``__slots__`` fix a layout of their own).  The
core passes its face, never itself, to the protocol, to the loop and to every report.

A transport owns its descriptor (``_own``: a socket, a file object or a bare number): the
loop refuses outside readers and writers on it while the transport is open, and the
transport closes it when it ends.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import traceback
import warnings
from typing import Any, Final

from spindle._core.handles import capture_source_traceback
from spindle._core.native import mypyc_attr
from spindle._io.contract import IOLoop

__all__ = [
    "TransportCore",
    "TransportState",
    "settle_waiter",
]

logger = logging.getLogger("asyncio")

# What stands in for the protocol once connection_lost has run: every callback a late caller
# could still make on it is a no-op (see the module docstring).
_NO_PROTOCOL = asyncio.Protocol()


class TransportState(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # close() called: flushing the write buffer
    LOST = "lost"  # connection_lost scheduled: no more I/O
    CLOSED = "closed"  # connection_lost called, descriptor released


def settle_waiter(waiter: asyncio.Future[None] | None) -> None:
    """Tell whoever created a transport (if anyone waits) that it has started."""
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


_OPEN: Final = TransportState.OPEN
_LOST: Final = TransportState.LOST
_CLOSED: Final = TransportState.CLOSED


@mypyc_attr(allow_interpreted_subclasses=True)
class TransportCore:
    """State, protocol, extras and the road to ``connection_lost`` (see the module docstring)."""

    _fd: int

    def __init__(
        self,
        face: asyncio.BaseTransport,
        loop: IOLoop,
        protocol: asyncio.BaseProtocol,
        extra: dict[str, Any],
    ) -> None:
        self._face: asyncio.BaseTransport | None = face  # let go in CLOSED
        self._extra = extra  # the face's own dict (asyncio's BaseTransport._extra)
        self._loop = loop
        self._protocol = protocol
        self._state = _OPEN
        self._fileobj: Any = None  # what _own() was given, until released
        # Where it was made, for the unclosed-transport warning (debug mode only: it costs).
        self._created_at: traceback.StackSummary | None = (
            capture_source_traceback() if loop.get_debug() else None
        )

    def _own(self, fileobj: Any, fd: int) -> None:
        """Own ``fileobj`` (a socket, a file object or a bare descriptor number) and its
        descriptor ``fd``: it is closed when the transport ends, and while the transport is
        open the loop refuses outside readers and writers on ``fd``."""
        self._fileobj = fileobj
        self._fd = fd
        self._loop._claim_fd(fd, self.face())

    def face(self) -> Any:
        """What the protocol, the loop and reports see (see the module docstring); once
        the transport is CLOSED the core no longer holds it, and stands in for it."""
        face = self._face
        return self if face is None else face

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def _call_connection_made(self, waiter: asyncio.Future[None] | None) -> bool:
        """Tell the protocol it is connected; False if it raised.

        As in asyncio, whoever created the transport is not the one to hear about it:
        ``create_connection`` (or the server) still gets the transport, and the exception goes
        to the loop's exception handler.  Then the transport is closed (``connection_lost(None)``
        follows): a protocol that could not set itself up is not handed data.  asyncio leaves
        that transport open; here nothing more reaches a protocol in an unknown state.
        """
        try:
            self._protocol.connection_made(self.face())
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._report("Exception in protocol.connection_made()", exc)
            self.close()
            settle_waiter(waiter)
            return False
        return True

    # -- hooks for the concrete transports -----------------------------------------------

    def _describe(self) -> str:
        """What identifies this transport in its repr (e.g. ``fd=7``)."""
        return ""

    def _stop_io(self) -> None:
        """Stop reading and writing (entering LOST); the read and write sides add to it."""

    def _release(self) -> None:
        """Close the descriptor (entering CLOSED); safe to call twice."""
        fileobj, self._fileobj = self._fileobj, None
        if fileobj is None:
            return
        if isinstance(fileobj, int):
            os.close(fileobj)
        else:
            fileobj.close()

    def _holds_descriptor(self) -> bool:
        """Whether there is still a descriptor to release (asked by ``__del__``)."""
        return self._fileobj is not None

    # -- the lifecycle -------------------------------------------------------------------

    def __repr__(self) -> str:
        return self._repr_as(type(self.face()).__name__)

    def _repr_as(self, name: str) -> str:
        """The transport's repr, under the name of its face's class."""
        return f"<{name} {self._state.value} {self._describe()}>"

    # None once the connection is lost, as asyncio's.
    def get_protocol(self) -> asyncio.BaseProtocol | None:
        protocol = self._protocol
        return None if protocol is _NO_PROTOCOL else protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def close(self) -> None:
        """Lose the connection (a transport with a write buffer sends it first)."""
        self._lose(None)

    def is_closing(self) -> bool:
        return self._state is not _OPEN

    def _lose(self, exc: BaseException | None) -> None:
        """Stop all I/O now and tell the protocol on the next pass; later calls do nothing."""
        if self._state is _CLOSED:
            return
        if self._loop.is_closed():
            # Nobody can be told any more: see the module docstring.
            self._stop_io()
            self._end()
        elif self._state is not _LOST:
            self._state = _LOST
            self._stop_io()
            self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        try:
            self._protocol.connection_lost(exc)  # type: ignore[arg-type]
        finally:
            self._end()

    def _end(self) -> None:
        """Enter CLOSED: descriptor released, protocol let go."""
        self._state = _CLOSED
        self._release()
        self._protocol = _NO_PROTOCOL
        self._face = None  # (the face holds its core: no cycle left for the collector)

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        """An error the transport cannot go on after: report it and lose the connection."""
        if isinstance(exc, OSError):
            # The peer reset, the network went away...: the protocol hears it through
            # connection_lost(exc); only debug mode also logs it.
            if self._loop.get_debug():
                logger.debug("%r: %s", self.face(), message, exc_info=True)
        else:
            self._report(message, exc)
        self._lose(exc)

    def _report(self, message: str, exc: BaseException) -> None:
        self._loop.call_exception_handler(
            {
                "message": message,
                "exception": exc,
                "transport": self.face(),
                "protocol": self.get_protocol(),
            }
        )

    def _collected(self) -> None:
        """The face is being collected: release the descriptor, with a ResourceWarning if
        the program never closed the transport."""
        if self._state is _CLOSED or not self._holds_descriptor():
            return
        if self._state is not _OPEN:
            # Closed by its user (or an error), but the loop stopped before it could finish:
            # not the user's oversight, so no warning; just let the descriptor go.
            self._end()
            return
        where = ""
        if self._created_at:
            where = " created at\n" + "".join(traceback.format_list(self._created_at))
        face = self.face()
        message = f"unclosed transport {face!r}{where}"
        warnings.warn(message, ResourceWarning, stacklevel=1, source=face)
        self._end()
