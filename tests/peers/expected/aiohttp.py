"""Tests of aiohttp's suite that are known not to pass here, each with its reason."""

from __future__ import annotations

from tests.peers.expected import spindle_only
from tests.peers.outcomes import Expectation

__all__ = ["EXPECTED"]

EXPECTED: dict[str, Expectation] = {
    "tests/test_client_proto.py::test_closed_property_lazy_creation[pyloop]": spindle_only(
        "asserts isinstance(loop.create_future(), asyncio.Future); spindle's loop makes "
        "spindle's own Future, which is not a subclass of asyncio's C Future (the project's "
        "rule: its own Future and Task; asyncio.isfuture() is true for it)"
    ),
}
