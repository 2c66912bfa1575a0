"""``TLSEngine`` on its own: two engines back to back, no loop, no socket.

The engine is OpenSSL on two memory buffers (``spindle._io.tls.engine``).  Here a client
engine and a server engine talk by handing each other's output over by hand (``pump``), so
every step of a TLS connection can be checked in order: the handshake, data both ways,
close_notify, what happens to data written before the handshake is done (OpenSSL refuses it
until the peer answers, as it does during a renegotiation: the engine keeps it in its
backlog), and how the handshake fails (an untrusted certificate, a wrong name, garbage).
"""

from __future__ import annotations

import ssl

import pytest

from spindle._io.tls import TLSEngine
from tests.io.tls_support import PKI, pki_fixture  # noqa: F401  (the pki fixture)


def engines(
    pki: PKI, *, ca: str = "ca.pem", server_hostname: str = "localhost"
) -> tuple[TLSEngine, TLSEngine]:
    client = TLSEngine(
        pki.client_context(ca=ca), server_side=False, server_hostname=server_hostname
    )
    server = TLSEngine(pki.server_context(), server_side=True, server_hostname=None)
    return client, server


def pump(a: TLSEngine, b: TLSEngine) -> int:
    """Hand each engine's output to the other until neither has any; the bytes moved."""
    moved = 0
    while a.has_output() or b.has_output():
        for sender, receiver in ((a, b), (b, a)):
            if sender.has_output():
                data = sender.take_output()
                moved += len(data)
                receiver.feed(data)
    return moved


def shake_hands(client: TLSEngine, server: TLSEngine) -> None:
    """Run both handshakes to the end, a step at a time, as the TLS protocol does."""
    client_done = server_done = False
    for _ in range(10):
        client_done = client.handshake()
        pump(client, server)
        server_done = server.handshake()
        pump(client, server)
        if client_done and server_done:
            return
    raise AssertionError("the handshake did not finish in 10 rounds")


def read_all(engine: TLSEngine, size: int = 64 * 1024) -> tuple[bytes, bool]:
    """Everything the engine can decrypt now, and whether the peer's close_notify came."""
    view = memoryview(bytearray(size))
    chunks = []
    while True:
        filled, peer_closed = engine.read_into(view)
        chunks.append(bytes(view[:filled]))
        if peer_closed or filled < size:
            return b"".join(chunks), peer_closed


def test_the_handshake_completes_between_two_engines(pki: PKI) -> None:
    client, server = engines(pki)
    assert not client.handshake()  # the client's hello is out: it waits for the server
    assert client.has_output() and not server.has_output()
    server.feed(client.take_output())
    assert not server.handshake()  # the server answers, and waits for the client's finish
    shake_hands(client, server)
    details = client.details()
    assert dict(pair[0] for pair in details["peercert"]["subject"]) == {"commonName": "localhost"}
    assert details["cipher"] is not None
    assert details["ssl_object"] is client.sslobj
    assert server.details()["peercert"] is None  # the server asked for no client certificate


def test_data_flows_both_ways(pki: PKI) -> None:
    client, server = engines(pki)
    shake_hands(client, server)
    client.encrypt(b"hello, server")
    assert client.unsent() > len(b"hello, server")  # a record: header, data and its tag
    pump(client, server)
    assert client.unsent() == 0
    assert server.plaintext_hint() > 0
    assert read_all(server) == (b"hello, server", False)
    server.encrypt(memoryview(b"hello, client"))
    pump(client, server)
    assert read_all(client) == (b"hello, client", False)
    assert server.plaintext_hint() == 0 and client.ciphertext_in() == 0


def test_a_message_larger_than_a_record_arrives_whole_in_small_reads(pki: PKI) -> None:
    client, server = engines(pki)
    shake_hands(client, server)
    message = bytes(range(256)) * 1024  # 256 KiB: sixteen 16 KiB records
    client.encrypt(message)
    pump(client, server)
    received, peer_closed = read_all(server, size=1000)
    assert received == message and not peer_closed


def test_the_encrypted_data_is_not_kept_by_reference(pki: PKI) -> None:
    client, server = engines(pki)
    shake_hands(client, server)
    buffer = bytearray(b"first")
    client.encrypt(buffer)
    buffer[:] = b"XXXXX"  # the caller reuses its buffer at once
    pump(client, server)
    assert read_all(server) == (b"first", False)


def test_close_notify_both_ways(pki: PKI) -> None:
    client, server = engines(pki)
    shake_hands(client, server)
    client.encrypt(b"last words")
    assert not client.shutdown()  # our close_notify is out; the peer's has not come
    pump(client, server)
    assert read_all(server) == (b"last words", True)  # the data, then the close_notify
    assert server.shutdown()  # the client's came: the server answers, and is done
    pump(client, server)
    assert client.shutdown()  # now the server's close_notify has come too


def test_data_written_before_the_handshake_waits_in_the_backlog(pki: PKI) -> None:
    # OpenSSL takes no application data until the handshake is done, as during a
    # renegotiation: the engine keeps a copy and sends it once OpenSSL takes it.
    client, server = engines(pki)
    early = bytearray(b"sent early")
    client.encrypt(early)
    early[:] = b"XXXXXXXXXX"
    client.encrypt(b", and more")  # behind what waits already, to keep the order
    assert list(client.backlog) == [b"sent early", b", and more"]
    assert client.unsent() >= len(b"sent early, and more")
    shake_hands(client, server)
    client.encrypt_backlog()
    assert not client.backlog and client.backlog_size == 0
    pump(client, server)
    assert read_all(server) == (b"sent early, and more", False)


def test_discarding_reads_drops_what_arrived(pki: PKI) -> None:
    client, server = engines(pki)
    shake_hands(client, server)
    client.encrypt(b"nobody reads this " * 1000)
    pump(client, server)
    server.discard_reads(memoryview(bytearray(4096)))
    assert server.plaintext_hint() == 0
    assert read_all(server) == (b"", False)


def test_dropping_forgets_what_was_waiting_to_be_sent(pki: PKI) -> None:
    client, _ = engines(pki)
    client.encrypt(b"never sent")  # before the handshake: it waits in the backlog
    client.handshake()  # and the hello waits in the outgoing buffer
    assert client.unsent() > 0
    client.drop()
    assert client.unsent() == 0 and not client.has_output() and not client.backlog


def test_a_server_the_client_does_not_trust_fails_both_handshakes(pki: PKI) -> None:
    client, server = engines(pki, ca="stranger.pem")
    client.handshake()
    pump(client, server)
    server.handshake()
    pump(client, server)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        client.handshake()
    assert client.has_output()  # the alert that tells the server why
    pump(client, server)
    with pytest.raises(ssl.SSLError):
        server.handshake()


def test_a_certificate_for_another_name_fails_the_handshake(pki: PKI) -> None:
    client, server = engines(pki, server_hostname="example.org")
    with pytest.raises(ssl.SSLCertVerificationError, match=r"example\.org"):
        shake_hands(client, server)


def test_garbage_instead_of_a_hello_fails_the_server_handshake(pki: PKI) -> None:
    _, server = engines(pki)
    server.feed(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    with pytest.raises(ssl.SSLError):
        server.handshake()


def test_a_client_that_would_check_no_name_is_refused(pki: PKI) -> None:
    with pytest.raises(ValueError, match="no server_hostname was given"):
        TLSEngine(pki.client_context(), server_side=False, server_hostname=None)
