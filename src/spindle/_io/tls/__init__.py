"""TLS over any stream transport; this package's face is the I/O floor's one door to it.

    engine.py     TLSEngine: OpenSSL on two memory buffers, and nothing else
    states.py     TLSState, AppState and the timeouts
    transport.py  SSLTransport: what the application holds; TLSLayer, what it asks
    app_end.py    AppEnd: the application protocol, and asyncio's contract with it
    protocol.py   TLSProtocol: the state machine joining them to the transport below
    arguments.py  what ssl=, server_hostname= and the TLS timeouts mean
    start_tls.py  upgrade_to_tls, and the loop's start_tls (TLSMethods)

Everything outside this package imports from here, not from the modules above
(``tests/test_layers.py`` holds it to that).
"""

from spindle._io.tls.arguments import check_tls_arguments, client_context
from spindle._io.tls.engine import TLSEngine
from spindle._io.tls.protocol import TLSProtocol
from spindle._io.tls.start_tls import TLSMethods, upgrade_to_tls
from spindle._io.tls.transport import SSLTransport

__all__ = [
    "SSLTransport",
    "TLSEngine",
    "TLSMethods",
    "TLSProtocol",
    "check_tls_arguments",
    "client_context",
    "upgrade_to_tls",
]
