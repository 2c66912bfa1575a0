"""Tests of aiohttp's suite that are known not to pass here, each with its reason."""

from __future__ import annotations

from tests.peers.expected import both, spindle_only
from tests.peers.outcomes import Expectation

__all__ = ["EXPECTED"]

_ROOT = (
    "checks that a file or directory without read permission is refused; this sandbox runs as "
    "root, for whom the permission does not apply (fails on stock asyncio too)"
)

_PRIVATE_SSL = spindle_only(
    "reads the client context through asyncio's private transport._ssl_protocol._sslcontext "
    "(uvloop's private transport._sslcontext when that is missing); spindle's TLS transport "
    "has neither and gives the context the public way, get_extra_info('sslcontext') (the "
    "project's rule: no private asyncio names); the request the test makes over TLS succeeds"
)
_SSL_ERROR = "tests/test_connector.py::test_tcp_connector_do_not_raise_connector_ssl_error"

EXPECTED: dict[str, Expectation] = {
    **{
        f"{_SSL_ERROR}[pyloop-{host}]": _PRIVATE_SSL
        for host in (
            "ip address",
            "domain name",
            "fully-qualified domain name",
            "fully-qualified domain name with multiple trailing dots",
            "idna fully-qualified domain name",
        )
    },
    "tests/test_web_urldispatcher.py::test_static_directory_without_read_permission[pyloop-]": (
        both(_ROOT)
    ),
    "tests/test_web_urldispatcher.py::test_static_directory_without_read_permission"
    "[pyloop-my_file.txt]": both(_ROOT),
    "tests/test_web_urldispatcher.py::test_static_file_without_read_permission[pyloop]": both(
        _ROOT
    ),
    "tests/test_client_proto.py::test_closed_property_lazy_creation[pyloop]": spindle_only(
        "asserts isinstance(loop.create_future(), asyncio.Future); spindle's loop makes "
        "spindle's own Future, which is not a subclass of asyncio's C Future (the project's "
        "rule: its own Future and Task; asyncio.isfuture() is true for it)"
    ),
}
