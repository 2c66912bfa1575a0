"""``Returned``: what ``resuming.resume`` hands back when a task's coroutine returned.

A class of its own module so that the compiled build compiles it (``compiled_modules.txt``)
while ``resuming`` stays interpreted: the interpreted ``resume`` makes one in a single C call
(an interpreted class would run its ``__init__`` as one more Python frame per task), and the
compiled ``TaskCore._step`` reads its value from a native slot.
"""

from __future__ import annotations

__all__ = ["Returned"]


class Returned:
    """A coroutine's return value, told apart from anything it could yield."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value
