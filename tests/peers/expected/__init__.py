"""The registered expectations of each suite, one module per suite (``EXPECTED``).

Each entry maps a test's pytest node id to an ``Expectation`` made by one of the helpers below,
with its reason.  ``outcomes.py`` says what each kind means and how a run is judged against
them; the README argues each deliberate difference.
"""

from __future__ import annotations

import importlib

from tests.peers.outcomes import Expectation, Kind

__all__ = ["both", "load", "not_run", "spindle_only", "timing"]


def both(reason: str) -> Expectation:
    """Fails on stock asyncio too, in this sandbox."""
    return Expectation(Kind.BOTH, reason)


def spindle_only(reason: str) -> Expectation:
    """Fails on spindle only: spindle differs from asyncio on purpose."""
    return Expectation(Kind.SPINDLE, reason)


def not_run(reason: str) -> Expectation:
    """Not run at all: it needs what the sandbox cannot give."""
    return Expectation(Kind.NOT_RUN, reason)


def timing(reason: str) -> Expectation:
    """Has a fixed time limit that a loaded machine may miss, on either loop."""
    return Expectation(Kind.TIMING, reason)


def load(suite: str) -> dict[str, Expectation]:
    module = importlib.import_module(f"tests.peers.expected.{suite}")
    expected: dict[str, Expectation] = module.EXPECTED
    return expected
