"""Which build of spindle is running: compiled by mypyc, or pure Python.

spindle's hot path is one set of Python sources with two builds (see ``setup.py``).  A few
places do the same work two ways, because what is fast differs: in the pure build, building a
handle field by field skips a Python call; in the compiled build, the constructor is a direct
C call and ``object.__new__`` of a native class is not allowed.  Those places test
``COMPILED`` and carry a ``# FAST PATH:`` comment; ``tests/core/test_fast_paths.py`` holds the
two ways to the same result.

This module is compiled with the others, so ``COMPILED`` is True exactly when the hot modules
are native code.
"""

from __future__ import annotations

from typing import Final

__all__ = ["COMPILED"]

# A compiled module's __file__ is its extension module (.so / .pyd), not its .py source.
COMPILED: Final[bool] = not __file__.endswith((".py", ".pyc"))
