"""A child made by fork() does not inherit its parent's event loop (as asyncio from 3.12)."""

from __future__ import annotations

import asyncio
import os
import signal
import warnings

import pytest

import spindle
from tests.children import in_forked_child

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")


def report_from_child() -> list[str]:
    found = []
    try:
        asyncio.get_running_loop()
        found.append("a running loop")
    except RuntimeError:
        found.append("no running loop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: "no current event loop"
        loop = spindle.get_event_loop()
    found.append(f"loop {id(loop)}")
    found.append(f"wakeup fd {signal.set_wakeup_fd(-1)}")
    loop.close()
    return found


def test_a_forked_child_starts_without_its_parent_s_loop() -> None:
    async def main() -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        try:
            return in_forked_child(lambda: "; ".join(report_from_child())), id(loop)
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    report, parent_loop = spindle.run(main())
    running, loop, wakeup = report.split("; ")
    assert running == "no running loop"
    assert loop != f"loop {parent_loop}"
    assert wakeup == "wakeup fd -1"
