"""Run unmodified asyncio programs on spindle: ``install()`` and ``uninstall()``.

asyncio already has a sanctioned seam for swapping the loop implementation: the event-loop
*policy*.  ``asyncio.run``, ``asyncio.Runner``, ``asyncio.new_event_loop``,
``asyncio.get_event_loop`` and ``asyncio.set_event_loop`` all ask the current policy (on 3.11,
3.12 and 3.13 alike; ``tests/test_patch.py`` checks each interpreter it can find).  So
``install()`` sets a policy whose ``new_event_loop`` makes a spindle loop, exactly as uvloop does,
and replaces no attribute of the asyncio module.  ``get_event_loop`` and ``set_event_loop`` are
forwarded to ``spindle.events`` so that asyncio and spindle share one notion of "this thread's
current loop" instead of keeping two that could disagree.

What the policy cannot reach: loops built by naming a class (``asyncio.SelectorEventLoop()``,
3.13's ``asyncio.EventLoop()``) and an explicit ``loop_factory=`` given to ``asyncio.run`` or
``asyncio.Runner``.  Those are the caller's deliberate choice, and are left alone.

``uninstall()`` puts back the policy that was current when ``install()`` ran, unless someone
has replaced spindle's policy since: then theirs is left in place, because restoring ours over it
would undo a choice made after ours.  Both calls are idempotent.  They are meant to be called
from the main thread at start-up, as ``asyncio.set_event_loop_policy`` itself is.
"""

from __future__ import annotations

import asyncio

from spindle import events

__all__ = ["SpindleEventLoopPolicy", "install", "is_installed", "uninstall"]


class SpindleEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """The default policy, except that new loops are spindle's.

    Subclassing the default policy (rather than the abstract one) keeps everything else the
    platform's policy offers, such as the child-watcher methods that 3.11 code still calls.
    """

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return events.new_event_loop()

    def get_event_loop(self) -> asyncio.AbstractEventLoop:
        return events.get_event_loop()

    def set_event_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        events.set_event_loop(loop)


class _Installation:
    """What ``install()`` did, so that ``uninstall()`` can undo exactly that."""

    def __init__(self) -> None:
        self.policy: SpindleEventLoopPolicy | None = None
        self.previous: asyncio.AbstractEventLoopPolicy | None = None


_installation = _Installation()


def is_installed() -> bool:
    """Whether spindle's policy (set by ``install()``) is asyncio's current policy."""
    policy = _installation.policy
    return policy is not None and asyncio.get_event_loop_policy() is policy


def install() -> SpindleEventLoopPolicy:
    """Make asyncio's entry points create spindle loops; return the policy now in force.

    Calling it again while installed changes nothing and returns the same policy.
    """
    current = _installation.policy
    if current is not None and is_installed():
        return current
    policy = SpindleEventLoopPolicy()
    _installation.previous = asyncio.get_event_loop_policy()
    _installation.policy = policy
    asyncio.set_event_loop_policy(policy)
    return policy


def uninstall() -> None:
    """Restore the policy that ``install()`` replaced; do nothing when not installed."""
    if is_installed():
        asyncio.set_event_loop_policy(_installation.previous)
    _installation.policy = None
    _installation.previous = None
