"""Whether spindle explains itself, and how eagerly.

Diagnostics are on by default: the people most helped by "main() blocked the event loop for
10.0 s at test.py:25" are the ones who do not know to ask for it.  They can be turned off
without touching the program, through the environment, or from code:

    SPINDLE_DIAGNOSTICS=0            no diagnostics at all (also "false", "no", "off")
    SPINDLE_BLOCK_THRESHOLD=0.25     report loop steps longer than 0.25 s (default 0.1 s)
    SPINDLE_TIMELINE=timeline.txt    write a task timeline there when the runner closes
    SPINDLE_DUMP_SIGNAL=SIGUSR1      print the task dump (``dump_tasks``) on that signal
    SPINDLE_PS=0                     do not answer ``python -m spindle ps/pstree PID``
    SPINDLE_SHUTDOWN_GRACE=5         say which cancelled tasks shutdown still waits for
                                     after that many seconds (default 5)
    SPINDLE_SHOW_INTERNAL_FRAMES=1   keep spindle's own frames in task tracebacks

    spindle.diagnostics.configure(enabled=False, block_threshold=0.25, timeline="t.txt")

``configure()`` wins over the environment.  Settings are read when a ``Runner`` starts its loop,
so a change applies to the next ``spindle.run()``, never to one already running.
``spindle.run()`` keeps asyncio's exact signature; that is why there is no ``diagnostics=``
argument.  The default threshold is asyncio's own ``slow_callback_duration`` (debug mode).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
from collections.abc import Mapping

__all__ = ["DEFAULT_BLOCK_THRESHOLD", "Settings", "configure", "current", "reset", "resolve"]

DEFAULT_BLOCK_THRESHOLD = 0.1
DEFAULT_SHUTDOWN_GRACE = 5.0

logger = logging.getLogger("spindle")

_OFF_WORDS = frozenset({"0", "false", "no", "off"})


@dataclasses.dataclass(frozen=True)
class Settings:
    """What diagnostics do for one runner."""

    enabled: bool = True
    block_threshold: float = DEFAULT_BLOCK_THRESHOLD
    timeline_path: str | None = None
    dump_signal: signal.Signals | None = None
    ps: bool = True
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE
    show_internal_frames: bool = False


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


def _bad(name: str, text: str, expected: str, used: object) -> None:
    logger.warning(
        "spindle: ignoring %s=%r: expected %s; using %s instead", name, text, expected, used
    )


def _signal_from(environ: Mapping[str, str]) -> signal.Signals | None:
    text = environ.get("SPINDLE_DUMP_SIGNAL", "").strip()
    if not text:
        return None
    name = text.upper()
    try:
        number = int(name)
    except ValueError:
        number = None
    for candidate in signal.Signals:
        if candidate.value == number or candidate.name in (name, f"SIG{name}"):
            if candidate in (signal.SIGKILL, signal.SIGSTOP):
                break
            return candidate
    _bad("SPINDLE_DUMP_SIGNAL", text, "a signal name such as SIGUSR1", "no dump signal")
    return None


def _switch_from(environ: Mapping[str, str], name: str, default: bool) -> bool:
    text = environ.get(name, "").strip().lower()
    if not text:
        return default
    if text in _OFF_WORDS:
        return False
    if text in {"1", "true", "yes", "on"}:
        return True
    _bad(name, text, "1 or 0", "on" if default else "off")
    return default


def _grace_from(environ: Mapping[str, str]) -> float:
    text = environ.get("SPINDLE_SHUTDOWN_GRACE", "").strip()
    if not text:
        return DEFAULT_SHUTDOWN_GRACE
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        _bad("SPINDLE_SHUTDOWN_GRACE", text, "seconds > 0", DEFAULT_SHUTDOWN_GRACE)
        return DEFAULT_SHUTDOWN_GRACE
    return seconds


def resolve(environ: Mapping[str, str]) -> Settings:
    """The settings that ``configure()`` and then ``environ`` (then the defaults) give."""
    enabled = environ.get("SPINDLE_DIAGNOSTICS", "").strip().lower() not in _OFF_WORDS
    threshold = _overrides.block_threshold
    return Settings(
        enabled=enabled if _overrides.enabled is None else _overrides.enabled,
        block_threshold=_threshold_from(environ) if threshold is None else threshold,
        timeline_path=_overrides.timeline_path or environ.get("SPINDLE_TIMELINE") or None,
        dump_signal=_signal_from(environ),
        ps=_switch_from(environ, "SPINDLE_PS", True),
        shutdown_grace=_grace_from(environ),
        show_internal_frames=_switch_from(environ, "SPINDLE_SHOW_INTERNAL_FRAMES", False),
    )


def current() -> Settings:
    """The settings in force now, from ``configure()`` and ``os.environ``."""
    return resolve(os.environ)
