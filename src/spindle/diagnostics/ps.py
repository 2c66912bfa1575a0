"""``python -m spindle ps PID`` and ``python -m spindle pstree PID``: look inside a process.

``ps`` lists every task of the process's spindle loops, each with its state, where it was
created, the line it waits at and what it waits on, and which task awaits it; ``pstree``
draws the same tasks as the async call tree.  The answer comes from a thread of the target
process (``control``), so it arrives while the loop runs, is busy, or is stuck.  Exit status:
0, or 1 with the reason on stderr (no such process, another user's process, a process that
does not run spindle or runs it with diagnostics off).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from spindle.diagnostics import render
from spindle.diagnostics.control import ControlError, ask
from spindle.diagnostics.snapshot import from_json

__all__ = ["COMMANDS", "main", "report"]

COMMANDS = ("ps", "pstree")


def _check_process(pid: int) -> None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise ControlError(f"no process {pid}") from None
    except PermissionError:
        raise ControlError(
            f"process {pid} belongs to another user: only its own user can look inside it"
        ) from None


def report(command: str, pid: int) -> str:
    """The text ``python -m spindle <command> <pid>`` prints (ControlError if it cannot)."""
    if pid <= 0:
        raise ControlError(f"not a process id: {pid}")
    _check_process(pid)
    reply = ask(pid)
    loops = [from_json(loop) for loop in reply["loops"]]
    header = render.render_header(int(reply["pid"]), str(reply["command"]), loops)
    body = render.render_list(loops) if command == "ps" else render.render_tree(loops)
    return f"{header}\n{body}" if loops else header


def main(argv: Sequence[str]) -> int:
    """``argv``: the command and the pid.  Prints the report; returns the exit status."""
    command, pid_text = argv
    try:
        pid = int(pid_text)
    except ValueError:
        print(f"python -m spindle {command}: not a process id: {pid_text!r}", file=sys.stderr)
        return 2
    try:
        print(report(command, pid))
    except ControlError as exc:
        print(f"python -m spindle {command}: {exc}", file=sys.stderr)
        return 1
    return 0
