"""Tests of websockets's suite that are known not to pass here, each with its reason."""

from __future__ import annotations

from tests.peers.outcomes import Expectation

__all__ = ["EXPECTED"]

EXPECTED: dict[str, Expectation] = {}
