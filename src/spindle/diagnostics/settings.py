"""Whether spindle explains itself, and how eagerly.

Diagnostics are on by default: the people most helped by "main() blocked the event loop for
10.0 s at test.py:25" are the ones who do not know to ask for it.  They can be turned off
without touching the program, through the environment, or from code:

    SPINDLE_DIAGNOSTICS=0            no diagnostics at all (also "false", "no", "off")
    SPINDLE_BLOCK_THRESHOLD=0.25     report loop steps longer than 0.25 s (default 0.1 s)
    SPINDLE_TIMELINE=timeline.txt    write a task timeline there when the runner closes

    spindle.diagnostics.configure(enabled=False, block_threshold=0.25, timeline="t.txt")

``configure()`` wins over the environment.  Settings are read when a ``Runner`` starts its loop,
so a change applies to the next ``spindle.run()``, never to one already running.
``spindle.run()`` keeps asyncio's exact signature; that is why there is no ``diagnostics=``
argument.  The default threshold is asyncio's own ``slow_callback_duration`` (debug mode).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

__all__ = ["DEFAULT_BLOCK_THRESHOLD", "Settings", "configure", "current", "reset", "resolve"]

DEFAULT_BLOCK_THRESHOLD = 0.1

_OFF_WORDS = frozenset({"0", "false", "no", "off"})


@dataclasses.dataclass(frozen=True)
class Settings:
    """What diagnostics do for one runner."""

    enabled: bool = True
    block_threshold: float = DEFAULT_BLOCK_THRESHOLD
    timeline_path: str | None = None


@dataclasses.dataclass
class _Overrides:
    """What ``configure()`` set; None leaves the environment (or the default) in charge."""

    enabled: bool | None = None
    block_threshold: float | None = None
    timeline_path: str | None = None


_overrides = _Overrides()


def _check_threshold(seconds: float, source: str) -> float:
    if not seconds > 0:
        raise ValueError(f"cannot use block threshold {seconds!r} from {source}: must be > 0")
    return seconds


def configure(
    *,
    enabled: bool | None = None,
    block_threshold: float | None = None,
    timeline: str | os.PathLike[str] | None = None,
) -> None:
    """Override the environment; arguments left as None keep their current value."""
    if enabled is not None:
        _overrides.enabled = enabled
    if block_threshold is not None:
        _overrides.block_threshold = _check_threshold(float(block_threshold), "configure()")
    if timeline is not None:
        _overrides.timeline_path = os.fspath(timeline)


def reset() -> None:
    """Forget every ``configure()`` call: the environment and the defaults apply again."""
    global _overrides
    _overrides = _Overrides()


def _threshold_from(environ: Mapping[str, str]) -> float:
    text = environ.get("SPINDLE_BLOCK_THRESHOLD", "").strip()
    if not text:
        return DEFAULT_BLOCK_THRESHOLD
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(
            f"cannot use SPINDLE_BLOCK_THRESHOLD={text!r}: expected seconds, e.g. 0.1"
        ) from None
    return _check_threshold(seconds, "SPINDLE_BLOCK_THRESHOLD")


def resolve(environ: Mapping[str, str]) -> Settings:
    """The settings that ``configure()`` and then ``environ`` (then the defaults) give."""
    enabled = environ.get("SPINDLE_DIAGNOSTICS", "").strip().lower() not in _OFF_WORDS
    threshold = _overrides.block_threshold
    return Settings(
        enabled=enabled if _overrides.enabled is None else _overrides.enabled,
        block_threshold=_threshold_from(environ) if threshold is None else threshold,
        timeline_path=_overrides.timeline_path or environ.get("SPINDLE_TIMELINE") or None,
    )


def current() -> Settings:
    """The settings in force now, from ``configure()`` and ``os.environ``."""
    return resolve(os.environ)
