"""Tests of uvicorn's suite that are known not to pass here, each with its reason."""

from __future__ import annotations

from tests.peers.expected import spindle_only
from tests.peers.outcomes import Expectation

__all__ = ["EXPECTED"]

EXPECTED: dict[str, Expectation] = {
    "tests/test_compat.py::test_asyncio_run__default_loop_factory": spindle_only(
        "asserts that asyncio.run() without a loop factory makes the platform's default "
        "SelectorEventLoop; this run installs spindle's event-loop policy (spindle.install()), "
        "so the loop is spindle's, which is what the run is for"
    ),
}
