"""``TLSEngine``: OpenSSL working on two memory buffers, and nothing else.

``SSLContext.wrap_bio`` gives an ``SSLObject`` that never touches a socket: it reads the
ciphertext we put into its *incoming* buffer and writes everything it wants sent (handshake
messages, encrypted records, alerts, close_notify) into its *outgoing* buffer.  When it needs
bytes the peer has not sent yet it raises ``SSLWantReadError``, which here simply means "not
yet".  This class wraps those calls into the few operations the TLS protocol needs, and knows
nothing of loops, transports or applications, so it can be reasoned about (and driven) alone.

Plaintext is encrypted as soon as it is written, so no reference to the caller's buffer is
kept.  The one exception is a renegotiation (TLS 1.2), during which OpenSSL refuses new data
until the peer answers: then a copy waits in ``backlog`` and goes out after the peer's reply.
"""

from __future__ import annotations

import collections
import ssl
from typing import Any

__all__ = ["TLSEngine"]

Data = bytes | bytearray | memoryview


class TLSEngine:
    def __init__(
        self, context: ssl.SSLContext, *, server_side: bool, server_hostname: str | None
    ) -> None:
        if not server_side and context.check_hostname and not server_hostname:
            # OpenSSL would verify the chain and quietly skip the name (ssl's sockets refuse
            # this too): a certificate for any host would do.
            raise ValueError(
                "cannot verify the server's name: the context has check_hostname on, "
                "but no server_hostname was given"
            )
        self.context = context
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.sslobj = context.wrap_bio(
            self._incoming,
            self._outgoing,
            server_side=server_side,
            server_hostname=None if server_side else server_hostname or None,
        )
        self.backlog: collections.deque[bytes] = collections.deque()
        self.backlog_size = 0

    # -- ciphertext in and out ---------------------------------------------------------------

    def feed(self, ciphertext: Data) -> None:
        """Ciphertext from the peer."""
        self._incoming.write(ciphertext)

    def ciphertext_in(self) -> int:
        """Ciphertext received and not decrypted yet."""
        return self._incoming.pending

    def has_output(self) -> bool:
        return self._outgoing.pending > 0

    def take_output(self) -> bytes:
        """Everything OpenSSL wants sent, to hand to the transport."""
        return self._outgoing.read()

    def unsent(self) -> int:
        """Bytes the application wrote that have not been taken for sending yet."""
        return self._outgoing.pending + self.backlog_size

    def drop(self) -> None:
        """The connection is gone: forget what was waiting to be sent."""
        self.backlog.clear()
        self.backlog_size = 0
        self._outgoing.read()

    # -- handshake and shutdown --------------------------------------------------------------

    def handshake(self) -> bool:
        """One handshake step: True once done; raises ``ssl.SSLError`` when it failed."""
        try:
            self.sslobj.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def details(self) -> dict[str, Any]:
        """The extra-info entries that exist once the handshake is done."""
        sslobj = self.sslobj
        return {
            "peercert": sslobj.getpeercert(),
            "cipher": sslobj.cipher(),
            "compression": sslobj.compression(),
            "ssl_object": sslobj,
        }

    def shutdown(self) -> bool:
        """Send our close_notify (once); True when the peer's has arrived too."""
        try:
            self.sslobj.unwrap()
        except ssl.SSLWantReadError:
            return False
        return True

    # -- plaintext ---------------------------------------------------------------------------

    def read_into(self, view: memoryview) -> tuple[int, bool]:
        """Decrypt into ``view`` until full or out of ciphertext: (count, close_notify came)."""
        filled = 0
        size = len(view)
        try:
            while filled < size:
                # With a buffer, read() returns a count (the stubs say bytes).
                count: int = self.sslobj.read(size - filled, view[filled:])  # type: ignore[assignment]
                if not count:
                    return filled, True
                filled += count
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLZeroReturnError:
            return filled, True
        return filled, False

    def plaintext_hint(self) -> int:
        """At most how many plaintext bytes the next reads can give (0: unknown)."""
        return self._incoming.pending + self.sslobj.pending()

    def discard_reads(self, scratch: memoryview) -> None:
        """Decrypt and drop what has arrived: after close() nobody reads it any more."""
        while self.read_into(scratch) == (len(scratch), False):
            pass

    def encrypt(self, data: Data) -> None:
        """Encrypt ``data`` into the outgoing buffer now, or keep a copy if OpenSSL waits."""
        if self.backlog:
            self._keep(data)  # behind what waits already, to keep the order
            return
        written = self._write(data)
        if written < len(data):
            self._keep(memoryview(data)[written:])

    def encrypt_backlog(self) -> None:
        """Retry what OpenSSL refused while it waited for the peer."""
        while self.backlog:
            chunk = self.backlog[0]
            written = self._write(chunk)
            self.backlog_size -= written
            if written < len(chunk):
                self.backlog[0] = chunk[written:]
                return
            self.backlog.popleft()

    def _write(self, data: Data) -> int:
        try:
            return self.sslobj.write(data)
        except ssl.SSLWantReadError:
            return 0  # a renegotiation: OpenSSL needs the peer's next message first

    def _keep(self, data: Data) -> None:
        self.backlog.append(bytes(data))  # a copy: the caller may reuse its buffer
        self.backlog_size += len(data)
