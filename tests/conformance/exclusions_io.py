"""The exclusions for CPython's I/O suites (sockets, servers, streams, TLS, sendfile).

``exclusions.py`` folds each table into its group of the same kind (asyncio's
implementations, asyncio's private internals); the rules for what goes where are there.
"""

from __future__ import annotations

__all__ = ["IO_ASYNCIO_IMPLEMENTATIONS", "IO_KNOWN_FAILURES", "IO_PRIVATE_INTERNALS"]

_SELECTOR_LOOP = (
    "runs the mixin on asyncio's selector loop with one selector; TargetEventLoopTests runs it "
    "on spindle's loop"
)

IO_ASYNCIO_IMPLEMENTATIONS = {
    **{
        f"{module}.{selector}EventLoopTests": _SELECTOR_LOOP
        for module in ("test_sock_lowlevel", "test_sendfile")
        for selector in ("Select", "Poll", "EPoll")
    },
    "test_sslproto.SslProtoHandshakeTests": (
        "tests asyncio's own sslproto.SSLProtocol class, fed a mock transport and a mock "
        "SSLObject; spindle's TLS layer is its own (test_ssl and SelectorStartTLSTests run it "
        "over real sockets)"
    ),
}

_SERVER_SOCKETS = (
    "asserts asyncio's private Server._sockets and _waiters are None once serve_forever() is "
    "cancelled (without those two assertions the test passes on spindle; the public part is "
    "tests/io/test_servers.py::test_serve_forever_until_cancelled_closes_the_server)"
)

IO_PRIVATE_INTERNALS = {
    "test_server.SelectorStartServerTests.test_start_server_1": _SERVER_SOCKETS,
    "test_server.SelectorStartServerTests.test_start_unix_server_1": _SERVER_SOCKETS,
    "test_ssl.TestSSL.test_flush_before_shutdown": (
        "pauses and resumes asyncio's private SSLProtocol (writer.transport._ssl_protocol) "
        "behind the transport's back"
    ),
    "test_ssl.TestSSL.test_remote_shutdown_receives_trailing_data": (
        "fills the write backlog through asyncio's private test hook "
        "transport._test__append_write_backlog()"
    ),
    "test_sendfile.TargetEventLoopTests.test_sendfile_force_unsupported_native": (
        "replaces the loop's private _sendfile_native with asyncio's BaseEventLoop._sendfile_native"
    ),
    "test_transports.TransportTests.test_flowcontrol_mixin_set_write_limits": (
        "tests asyncio's private transports._FlowControlMixin"
    ),
}

IO_KNOWN_FAILURES: dict[str, str] = {}
