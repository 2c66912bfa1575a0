"""Whether spindle explains itself, and how: every ``SPINDLE_*`` setting, in one table.

Diagnostics are on by default: the people most helped by "main() blocked the event loop for
10.0 s at test.py:25" are the ones who do not know to ask for it.  They are tuned, or turned
off, without touching the program, through the environment; or from code:

    spindle.diagnostics.configure(enabled=False, block_threshold=0.25, timeline="t.html")

``configure()`` wins over the environment.  Settings are read when a runner starts its loop,
so a change applies to the next ``spindle.run()``, never to one already running.
``spindle.run()`` keeps asyncio's exact signature; that is why there is no ``diagnostics=``
argument.

**A setting never stops a program.**  A value that cannot be used (``SPINDLE_BLOCK_THRESHOLD=
fast``, a timeline in a directory that does not exist) is reported once, naming the setting,
the value and what is used instead, on the ``spindle`` logger, and the program runs on with
that.  A name that is one typo away from a setting (``SPINDLE_BLOCK_TRESHOLD``) is reported
too.  ``configure()`` is code, so there a bad argument raises at once, naming it.

``SETTINGS`` is the table: ``python -m spindle --help`` and the README print it (a test holds
the README to it).  Parsing is pure (``resolve(environ)``), tested with tables.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import signal
import textwrap
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from spindle.diagnostics.log import logger

__all__ = [
    "DEFAULT_BLOCK_THRESHOLD",
    "SETTINGS",
    "Setting",
    "Settings",
    "configure",
    "current",
    "help_text",
    "markdown_table",
    "reset",
    "resolve",
]

DEFAULT_BLOCK_THRESHOLD = 0.1  # asyncio's own slow_callback_duration (debug mode)
DEFAULT_SHUTDOWN_GRACE = 5.0

_ON_WORDS = frozenset({"1", "true", "yes", "on"})
_OFF_WORDS = frozenset({"0", "false", "no", "off"})


@dataclasses.dataclass(frozen=True)
class Settings:
    """What diagnostics do for one runner."""

    enabled: bool = True
    block_threshold: float = DEFAULT_BLOCK_THRESHOLD
    timeline_path: str | None = None
    faulthandler: bool = True
    dump_signal: signal.Signals | None = None
    ps: bool = True
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE
    show_internal_frames: bool = False
    # Instruments (spindle.diagnostics.Instrument) installed on every runner's loop; from
    # configure() only.  They are the program's own, so they are installed even when
    # spindle's diagnostics are off.
    instruments: tuple[object, ...] = ()


# -- parsing one value: pure functions, ValueError(why) for a value that cannot be used --------


def parse_switch(text: str) -> bool:
    word = text.strip().lower()
    if word in _ON_WORDS:
        return True
    if word in _OFF_WORDS:
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def parse_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError("expected a number of seconds, e.g. 0.25") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError("expected a number of seconds above 0, e.g. 0.25")
    return seconds


def parse_signal(text: str) -> signal.Signals:
    name = text.strip().upper()
    try:
        number: int | None = int(name)
    except ValueError:
        number = None
    for candidate in signal.Signals:
        named = candidate.value == number or candidate.name in (name, f"SIG{name}")
        if named and candidate not in (signal.SIGKILL, signal.SIGSTOP):
            return candidate
    raise ValueError("expected a signal name such as SIGUSR1")


def parse_path(text: str) -> str:
    directory = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(directory):
        raise ValueError(f"its directory {directory} does not exist")
    return text


@dataclasses.dataclass(frozen=True)
class Setting:
    """One environment variable: what it sets, how it is read, what it means."""

    name: str  # the environment variable
    field: str  # the Settings attribute it sets
    parse: Callable[[str], Any]  # its text -> the value; ValueError(why) when unusable
    shown_default: str  # the default, as --help and the README show it
    meaning: str  # one line
    example: str

    @property
    def default(self) -> Any:
        return getattr(Settings(), self.field)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SPINDLE_DIAGNOSTICS",
        "enabled",
        parse_switch,
        "1",
        "spindle's reports and the work behind them; 0 (or false, no, off) turns them off",
        "0",
    ),
    Setting(
        "SPINDLE_BLOCK_THRESHOLD",
        "block_threshold",
        parse_seconds,
        "0.1",
        "report a callback or task step that holds the loop longer than this many seconds,"
        " while it runs and when it ends",
        "0.25",
    ),
    Setting(
        "SPINDLE_TIMELINE",
        "timeline_path",
        parse_path,
        "none",
        "when the program ends, write a timeline of its tasks there: *.html a page for a"
        " browser, *.json Chrome trace events (Perfetto, chrome://tracing), else text",
        "timeline.html",
    ),
    Setting(
        "SPINDLE_DUMP_SIGNAL",
        "dump_signal",
        parse_signal,
        "none",
        "print the task dump (every task, what it waits on, where) on that signal",
        "SIGUSR1",
    ),
    Setting(
        "SPINDLE_PS",
        "ps",
        parse_switch,
        "1",
        "answer `python -m spindle ps PID` / `pstree PID` (a private Unix socket); 0 does not",
        "0",
    ),
    Setting(
        "SPINDLE_SHUTDOWN_GRACE",
        "shutdown_grace",
        parse_seconds,
        "5",
        "after that many seconds, say which cancelled tasks the runner's shutdown still waits for",
        "2",
    ),
    Setting(
        "SPINDLE_SHOW_INTERNAL_FRAMES",
        "show_internal_frames",
        parse_switch,
        "0",
        "keep spindle's own frames in task tracebacks (for debugging spindle)",
        "1",
    ),
    Setting(
        "SPINDLE_FAULTHANDLER",
        "faulthandler",
        parse_switch,
        "1",
        "let the watchdog arm faulthandler, which prints the stacks when a C call holds the"
        " GIL (and so stops every Python thread) past the threshold; 0 leaves faulthandler"
        " alone",
        "0",
    ),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}


def _shown(setting: Setting, value: Any) -> str:
    """How a report names the value used: ``0.1``, ``on``, ``no timeline``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none (no timeline is written)" if setting.field == "timeline_path" else "none"
    return str(value)


# -- what configure() set ---------------------------------------------------------------------


@dataclasses.dataclass
class _Overrides:
    """What ``configure()`` set; a field absent leaves the environment (or the default)."""

    values: dict[str, Any] = dataclasses.field(default_factory=dict)


_overrides = _Overrides()


def configure(
    *,
    enabled: bool | None = None,
    block_threshold: float | None = None,
    timeline: str | os.PathLike[str] | None = None,
    faulthandler: bool | None = None,
    instruments: Iterable[object] | None = None,
) -> None:
    """Override the environment; arguments left as None keep their current value.

    Raises TypeError or ValueError, naming the argument, for a value that cannot be used.
    """
    values = _overrides.values
    if enabled is not None:
        values["enabled"] = _checked_bool("enabled", enabled)
    if block_threshold is not None:
        if isinstance(block_threshold, bool) or not isinstance(block_threshold, (int, float)):
            raise TypeError(
                f"configure(block_threshold=...) takes seconds, not {block_threshold!r}"
            )
        try:
            values["block_threshold"] = parse_seconds(str(block_threshold))
        except ValueError as exc:
            raise ValueError(f"configure(block_threshold={block_threshold!r}): {exc}") from None
    if timeline is not None:
        values["timeline_path"] = os.fspath(timeline)
    if faulthandler is not None:
        values["faulthandler"] = _checked_bool("faulthandler", faulthandler)
    if instruments is not None:
        values["instruments"] = tuple(instruments)


def _checked_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"configure({name}=...) takes True or False, not {value!r}")
    return value


def reset() -> None:
    """Forget every ``configure()`` call: the environment and the defaults apply again."""
    _overrides.values.clear()


# -- the environment ----------------------------------------------------------------------------

# (name, text) pairs already reported, so a program that runs many loops is told once.
_reported: set[tuple[str, str]] = set()


def _warn_once(name: str, text: str, message: str) -> None:
    if (name, text) not in _reported:
        _reported.add((name, text))
        logger.warning("%s", message)


def _from_environment(setting: Setting, environ: Mapping[str, str]) -> Any:
    """The value ``environ`` gives ``setting``: its default when unset, empty or unusable."""
    text = environ.get(setting.name, "").strip()
    if not text:
        return setting.default
    try:
        return setting.parse(text)
    except ValueError as why:
        _warn_once(
            setting.name,
            text,
            f"spindle: ignoring {setting.name}={text!r} ({why}); "
            f"using {_shown(setting, setting.default)} instead",
        )
        return setting.default


def _report_near_misses(environ: Mapping[str, str]) -> None:
    """A ``SPINDLE_*`` variable one typo away from a setting is almost surely meant as one."""
    for name in environ:
        if not name.startswith("SPINDLE_") or name in _BY_NAME:
            continue
        close = difflib.get_close_matches(name, _BY_NAME, n=1, cutoff=0.85)
        if close:
            _warn_once(
                name,
                "",
                f"spindle: ignoring {name}: no such setting (did you mean {close[0]}?); "
                f"{close[0]} is {_shown(_BY_NAME[close[0]], _BY_NAME[close[0]].default)}"
                " unless set",
            )


def resolve(environ: Mapping[str, str]) -> Settings:
    """The settings that ``configure()`` and then ``environ`` (then the defaults) give."""
    _report_near_misses(environ)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.field in _overrides.values:
            values[setting.field] = _overrides.values[setting.field]
        else:
            values[setting.field] = _from_environment(setting, environ)
    if "instruments" in _overrides.values:
        values["instruments"] = _overrides.values["instruments"]
    return Settings(**values)


def current() -> Settings:
    """The settings in force now, from ``configure()`` and ``os.environ``."""
    return resolve(os.environ)


# -- the table, for people -----------------------------------------------------------------------


def help_text() -> str:
    """The settings as ``python -m spindle --help`` lists them."""
    width = max(len(setting.name) for setting in SETTINGS)
    indent = " " * (width + 4)
    lines = ["settings (environment variables; a bad value warns and falls back):"]
    for setting in SETTINGS:
        text = (
            f"{setting.meaning} (default {setting.shown_default}; "
            f"e.g. {setting.name}={setting.example})"
        )
        wrapped = textwrap.wrap(text, 78 - len(indent)) or [""]
        lines.append(f"  {setting.name.ljust(width)}  {wrapped[0]}")
        lines += [indent + line for line in wrapped[1:]]
    return "\n".join(lines)


def markdown_table() -> str:
    """The settings as the README's table."""
    rows = ["| setting | default | meaning |", "|:--|:--|:--|"]
    for setting in SETTINGS:
        rows.append(f"| `{setting.name}` | `{setting.shown_default}` | {setting.meaning} |")
    return "\n".join(rows)
