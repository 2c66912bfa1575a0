"""What counts as a coroutine."""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Coroutine

__all__ = ["iscoroutine", "iscoroutinefunction"]

# Python 3.11's asyncio still counts generators as (generator-based) coroutines; 3.12
# dropped them.  spindle follows the asyncio of the Python it runs on.
_COROUTINE_TYPES: tuple[type, ...] = (
    (types.CoroutineType, types.GeneratorType, Coroutine)
    if sys.version_info < (3, 12)
    else (types.CoroutineType, Coroutine)
)


def iscoroutine(obj: object) -> bool:
    """True for coroutine objects (and, on Python 3.11, generators)."""
    return isinstance(obj, _COROUTINE_TYPES)


def iscoroutinefunction(func: object) -> bool:
    """True for ``async def`` functions (and ones marked with inspect.markcoroutinefunction)."""
    return inspect.iscoroutinefunction(func)
