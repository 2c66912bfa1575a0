"""Pairs of (loop, Future class, Task class) to run the same test on spindle and asyncio."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import spindle


@dataclass
class Impl:
    name: str
    loop: Any
    Future: Any
    Task: Any
    handler_calls: list[dict[str, Any]] = field(default_factory=list)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)


@pytest.fixture(params=["spindle", "asyncio"])
def impl(request: pytest.FixtureRequest) -> Iterator[Impl]:
    if request.param == "spindle":
        it = Impl("spindle", spindle.new_event_loop(), spindle.Future, spindle.Task)
    else:
        it = Impl("asyncio", asyncio.new_event_loop(), asyncio.Future, asyncio.Task)
    it.loop.set_exception_handler(lambda loop, ctx: it.handler_calls.append(ctx))
    yield it
    it.loop.run_until_complete(it.loop.shutdown_default_executor())
    it.loop.close()
    gc.collect()
