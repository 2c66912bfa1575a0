"""Which line of the user's program a diagnostic should point at.

A report is only useful when it names the user's own line ("test.py:25: time.sleep(10)"), not
the loop's internals nor the standard-library function the user called.  So every frame is
sorted into one of three kinds by the file it runs: spindle's own code, the standard library,
or *user code* (everything else, including third-party packages in site-packages: from
spindle's point of view they are part of the program it runs).

Reports show the user's frames and the libraries' below them, and leave spindle's own out
(``stacks``); they point at the innermost user line.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import linecache
import os
import sysconfig
import types

from spindle._core.handles import is_spindle_file

__all__ = [
    "FrameKind",
    "Location",
    "LoopActivity",
    "call_name",
    "classify",
    "display_path",
    "read_activity",
]

_STDLIB_DIRS = tuple(
    {os.path.realpath(sysconfig.get_paths()[key]) + os.sep for key in ("stdlib", "platstdlib")}
)
_THIRD_PARTY_MARKERS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")


class FrameKind(enum.Enum):
    SPINDLE = "spindle"
    STDLIB = "stdlib"
    USER = "user"


@functools.lru_cache(maxsize=4096)
def classify(filename: str) -> FrameKind:
    """The kind of code that ``filename`` (a code object's ``co_filename``) holds."""
    if filename.startswith("<frozen "):
        return FrameKind.STDLIB
    if filename.startswith("<"):  # "<string>", "<stdin>": code the user typed
        return FrameKind.USER
    if is_spindle_file(filename):
        return FrameKind.SPINDLE
    path = os.path.realpath(filename)
    if is_spindle_file(path):
        return FrameKind.SPINDLE
    if any(marker in path for marker in _THIRD_PARTY_MARKERS):
        return FrameKind.USER
    if path.startswith(_STDLIB_DIRS):
        return FrameKind.STDLIB
    return FrameKind.USER


def display_path(filename: str) -> str:
    """``filename`` as a report shows it: relative to the working directory when it lies below
    it; a standard-library or installed module as its import path shows it
    (``urllib/request.py``); anything else in full."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        return filename
    if not relative.startswith(os.pardir):
        return relative
    return _library_path(filename)


@functools.lru_cache(maxsize=1024)
def _library_path(filename: str) -> str:
    for marker in _THIRD_PARTY_MARKERS:
        if marker in filename:
            return filename.rpartition(marker)[2]
    path = os.path.realpath(filename)
    for directory in _STDLIB_DIRS:
        if path.startswith(directory):
            return path[len(directory) :]
    return filename


def call_name(qualname: str) -> str:
    """How a report names a function: ``main()``, ``Worker.run()``; never ``f.<locals>.g()``."""
    return f"{qualname.rpartition('<locals>.')[2]}()"


@dataclasses.dataclass(frozen=True)
class Location:
    """A line of source: where a task was created, where it waits, where the loop blocked."""

    filename: str
    lineno: int
    function: str

    @classmethod
    def of_frame(cls, frame: types.FrameType) -> Location:
        code = frame.f_code
        return cls(code.co_filename, frame.f_lineno or code.co_firstlineno, code.co_qualname)

    def source(self) -> str:
        """The stripped source line, or "" when the file cannot be read."""
        return linecache.getline(self.filename, self.lineno).strip()

    def describe(self) -> str:
        """``file.py:25: time.sleep(10)`` (without the source when it is unavailable)."""
        where = f"{display_path(self.filename)}:{self.lineno}"
        source = self.source()
        return f"{where}: {source}" if source else where


@dataclasses.dataclass(frozen=True)
class LoopActivity:
    """The user code that the loop's thread is running right now."""

    # The frame the loop called: a task's coroutine, or a callback.  Kept (not just its id) so
    # that a later step cannot reuse its address while a report still compares against it.
    entry: types.FrameType
    # The innermost user frame: where that code is now.
    location: Location

    @property
    def is_task_step(self) -> bool:
        return bool(self.entry.f_code.co_flags & _COROUTINE_FLAGS)


# A task steps a coroutine: ``async def``, or a generator-based one (@types.coroutine).
_COROUTINE_FLAGS = inspect.CO_COROUTINE | inspect.CO_ITERABLE_COROUTINE


def read_activity(innermost: types.FrameType | None) -> LoopActivity | None:
    """What user code the loop's thread runs, from its innermost frame; None if none.

    None means the loop is inside itself (polling, bookkeeping) or not running at all (no
    spindle frame on the stack).
    """
    first_user: types.FrameType | None = None
    outermost_user: types.FrameType | None = None
    frame = innermost
    while frame is not None:
        kind = classify(frame.f_code.co_filename)
        if kind is FrameKind.SPINDLE:
            if first_user is None or outermost_user is None:
                return None
            return LoopActivity(outermost_user, Location.of_frame(first_user))
        if kind is FrameKind.USER:
            first_user = first_user or frame
            outermost_user = frame
        frame = frame.f_back
    return None
