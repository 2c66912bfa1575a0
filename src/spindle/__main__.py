"""``python -m spindle script.py [args]``: run an unmodified asyncio program on spindle.

The program is run the way the interpreter would run it (as ``__main__``, with ``sys.argv`` and
``sys.path[0]`` set as it expects) after ``spindle.patch.install()``, so its ``asyncio.run(...)``
gets a spindle loop without a line of it changing.  ``python -m spindle -m module [args]`` does
the same for a module, like ``python -m``.  spindle explains the program as it does under
``spindle.run()``: a blocked loop and the tasks ``main()`` left pending are reported on stderr
(the policy's loop tells the diagnostics what asyncio's runner does; see ``spindle.patch``), and
``SPINDLE_DIAGNOSTICS=0`` turns that off.

spindle's own options end at the script or module name: everything after it belongs to the
program, even when it starts with a dash (``python -m spindle app.py --help`` shows the app's
help, not spindle's).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import runpy
import sys
from collections.abc import Sequence
from typing import NamedTuple

from spindle import patch
from spindle._core.build import COMPILED
from spindle._version import __version__
from spindle.diagnostics import ps, settings

__all__ = ["main"]

_DESCRIPTION = """\
Run an asyncio program on spindle's event loop, unmodified.

spindle installs its event-loop policy, then runs the program as __main__:
asyncio.run(), asyncio.Runner, asyncio.new_event_loop() and
asyncio.get_event_loop() in the program all get spindle loops.
On stderr, spindle explains a blocked loop (while it is blocked) and
the tasks left pending; the settings below tune that, or turn it off.
Reports go through the logging logger "spindle", which has a stderr
handler of its own."""

_EPILOG = """\
examples:
  python -m spindle server.py --port 8080
  python -m spindle -m http_app.main --workers 2
  SPINDLE_TIMELINE=run.html python -m spindle server.py

looking inside a running spindle program (same user only):
  python -m spindle ps PID       every task: state, where created, where it
                                 waits and on what, which task awaits it
  python -m spindle pstree PID   the same tasks as the async call tree

Everything after the script or module name is passed to the program.

""" + settings.help_text()


class Command(NamedTuple):
    """What to run: a script path or a module name, and the program's own arguments."""

    script: str | None
    module: str | None
    args: list[str]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m spindle",
        usage=(
            "%(prog)s [-h] [--version] "
            "(script [args ...] | -m module [args ...] | ps PID | pstree PID)"
        ),
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version_line())
    parser.add_argument("script", nargs="?", help="path of the Python script to run")
    parser.add_argument("-m", dest="module", metavar="module", help="run a module, as python -m")
    return parser


def version_line() -> str:
    """What ``--version`` prints: spindle's version and build, and the interpreter it runs on."""
    build = "compiled" if COMPILED else "pure Python"
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"spindle {__version__}, {build} ({python} on {sys.platform})"


def _split(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split argv into spindle's options (up to the script or module name) and the program's."""
    for index, arg in enumerate(argv):
        if arg == "-m":
            return list(argv[: index + 2]), list(argv[index + 2 :])
        if not arg.startswith("-"):
            return list(argv[: index + 1]), list(argv[index + 1 :])
    return list(argv), []


def parse_command(argv: Sequence[str]) -> Command:
    """Parse spindle's command line; exits with usage (status 2) when it names nothing to run."""
    parser = _parser()
    own, program_args = _split(argv)
    options = parser.parse_args(own)
    if options.script is None and options.module is None:
        parser.error("nothing to run: give a script path or -m module")
    return Command(options.script, options.module, program_args)


def _run_script(path: str, args: list[str]) -> None:
    if not os.path.exists(path):
        raise SystemExit(f"python -m spindle: cannot run {path!r}: no such file")
    sys.argv = [path, *args]
    # As the interpreter does for `python script.py`: the script's directory comes first.
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    runpy.run_path(path, run_name="__main__")


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a missing parent package of a dotted name
        return False


def _run_module(name: str, args: list[str]) -> None:
    if not _module_exists(name):
        raise SystemExit(f"python -m spindle: cannot run module {name!r}: no module of that name")
    # run_module(alter_sys=True) replaces argv[0] with the module's file, as `python -m` does.
    sys.argv = [name, *args]
    runpy.run_module(name, run_name="__main__", alter_sys=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m spindle``; the program's SystemExit passes through."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] in ps.COMMANDS and not os.path.exists(args[0]):
        raise SystemExit(ps.main(args))
    command = parse_command(args)
    patch.install_policy()  # the program is unmodified: no deprecation to tell it about
    try:
        if command.module is not None:
            _run_module(command.module, command.args)
        else:
            assert command.script is not None  # parse_command guarantees one of the two
            _run_script(command.script, command.args)
    finally:
        patch.uninstall()


if __name__ == "__main__":
    main()
