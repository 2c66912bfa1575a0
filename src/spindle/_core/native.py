"""mypyc's class options, without depending on ``mypy_extensions`` at run time.

The compiled build reads ``@mypyc_attr(...)`` and ``@trait`` while mypy analyses the sources
(where ``TYPE_CHECKING`` is true, so it sees ``mypy_extensions``' own decorators).  At run time,
in either build, they are plain no-op decorators, so spindle needs nothing outside the
standard library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

__all__ = ["mypyc_attr", "trait"]

C = TypeVar("C", bound=type)

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr, trait
else:

    def mypyc_attr(*_names: str, **_attrs: Any) -> Any:
        """``@mypyc_attr(allow_interpreted_subclasses=True)`` and the like: a no-op here."""
        return lambda cls: cls

    def trait(cls: C) -> C:
        """``@trait``: a no-op here."""
        return cls
