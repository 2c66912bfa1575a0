"""What counts as a coroutine."""

from __future__ import annotations

import inspect
import types
from collections.abc import Coroutine

__all__ = ["iscoroutine", "iscoroutinefunction"]

_COROUTINE_TYPES = (types.CoroutineType, types.GeneratorType, Coroutine)


def iscoroutine(obj: object) -> bool:
    """True for coroutine objects (and generator-based coroutines)."""
    return isinstance(obj, _COROUTINE_TYPES)


def iscoroutinefunction(func: object) -> bool:
    """True for ``async def`` functions (and ones marked with inspect.markcoroutinefunction)."""
    return inspect.iscoroutinefunction(func)
