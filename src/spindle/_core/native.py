"""mypyc's class options, without depending on ``mypy_extensions`` at run time; ``from_none``.

The compiled build reads ``@mypyc_attr(...)`` and ``@trait`` while mypy analyses the sources
(where ``TYPE_CHECKING`` is true, so it sees ``mypy_extensions``' own decorators).  At run time,
in either build, they are plain no-op decorators, so spindle needs nothing outside the
standard library.

``raise X from Y`` compiles without its ``from`` clause: mypyc raises ``X`` and drops ``Y``
(so ``from None`` no longer hides the exception being handled).  The compiled modules write
``raise from_none(X)`` instead; ``tests/test_compiled.py`` refuses ``raise ... from`` in them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

__all__ = ["from_none", "mypyc_attr", "trait"]

C = TypeVar("C", bound=type)
E = TypeVar("E", bound=BaseException)

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr, trait
else:

    def mypyc_attr(*_names: str, **_attrs: Any) -> Any:
        """``@mypyc_attr(allow_interpreted_subclasses=True)`` and the like: a no-op here."""
        return lambda cls: cls

    def trait(cls: C) -> C:
        """``@trait``: a no-op here."""
        return cls


def from_none(error: E) -> E:
    """``error``, marked as ``raise error from None`` marks it: its context is not shown."""
    error.__cause__ = None  # sets __suppress_context__ too, as "from None" does
    return error
