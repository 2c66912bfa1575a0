"""Testing aids: a virtual clock, and a pytest plugin."""

from spindle.testing.clock import VirtualClock

__all__ = ["VirtualClock"]
