"""Run a program on the three combinations and say where their outcomes part.

* ``asyncio``: asyncio's API on asyncio's own loop (the reference);
* ``asyncio API on spindle's loop``: checks spindle's loop, Future and Task under asyncio's
  functions;
* ``spindle``: spindle's API (``spindle.gather``, ``spindle.TaskGroup``, ``spindle.Queue``,
  ``spindle.Runner``, ...) on spindle's loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import spindle
from tests.differential.interpreter import execute
from tests.differential.loops import VirtualAsyncioLoop, spindle_loop
from tests.differential.outcome import Outcome
from tests.differential.programs import Program

__all__ = ["check_agreement", "outcomes"]


def outcomes(program: Program) -> dict[str, Outcome]:
    return {
        "asyncio": execute(asyncio, program, VirtualAsyncioLoop),
        "asyncio API on spindle's loop": execute(asyncio, program, spindle_loop),
        "spindle": execute(spindle, program, spindle_loop),
    }


def _first_difference(name: str, mine: list[Any], theirs: list[Any]) -> str:
    i = 0
    while i < min(len(mine), len(theirs)) and mine[i] == theirs[i]:
        i += 1
    context = "".join(f"\n      {entry!r}" for entry in mine[max(0, i - 3) : i])
    a = mine[i] if i < len(mine) else "(nothing more)"
    b = theirs[i] if i < len(theirs) else "(nothing more)"
    return f"{name} #{i}, after:{context}\n  reference: {a!r}\n  this one:  {b!r}"


def check_agreement(program: Program) -> None:
    """AssertionError naming the first difference unless all three outcomes are equal."""
    results = outcomes(program)
    reference = results.pop("asyncio")
    problems = []
    for who, outcome in results.items():
        for name in ("events", "finals", "reports"):
            mine, theirs = getattr(reference, name), getattr(outcome, name)
            if mine != theirs:
                difference = _first_difference(name, mine, theirs)
                problems.append(f"{who} differs from asyncio in {difference}")
                break
    if problems:
        raise AssertionError("\n".join(problems))
