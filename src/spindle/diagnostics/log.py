"""Where spindle's reports go: the ``logging`` logger ``"spindle"``, to stderr, always.

A report that nobody sees is worth nothing, and the programs that need one most are often the
ones that silenced logging: ``logging.basicConfig(level=logging.ERROR)`` or a root logger set to
ERROR would hide a warning-level "main() blocked the event loop" sent through the root's
handlers.  So the ``spindle`` logger has a level and a handler of its own, and does not pass
its records on to the root logger (whose handlers would print them a second time):

* level WARNING, so the root logger's level does not decide for it;
* a handler that writes each record's message to the *current* ``sys.stderr`` (looked up at
  each report, so a redirected or captured stderr receives them);
* ``propagate = False``.

To route spindle's reports through the program's own logging set-up instead (a file, a JSON
log, a collector), give the logger the handlers you want, or hand it back to the root logger::

    import logging
    log = logging.getLogger("spindle")
    log.removeHandler(spindle.diagnostics.log.STDERR_HANDLER)   # or log.handlers.clear()
    log.propagate = True                                         # the root's handlers decide

(``logging.getLogger("spindle").setLevel(logging.CRITICAL)`` silences them; prefer
``SPINDLE_DIAGNOSTICS=0``, which also stops the work behind them.)

spindle sets the logger up when ``spindle.diagnostics`` is first imported, unless the program
configured it before (gave it a handler or a level): then it is left exactly as it is.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["STDERR_HANDLER", "logger", "set_up"]

logger = logging.getLogger("spindle")


class StderrHandler(logging.Handler):
    """Writes each record's message, and its traceback if any, to the current stderr."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            if stream is None:  # pythonw, or a closed interpreter: nowhere to write
                return
            stream.write(self.format(record) + "\n")
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


STDERR_HANDLER = StderrHandler()


def set_up() -> None:
    """Give the ``spindle`` logger its level and stderr handler (unless already configured)."""
    if logger.handlers or logger.level != logging.NOTSET:
        return
    logger.setLevel(logging.WARNING)
    logger.addHandler(STDERR_HANDLER)
    logger.propagate = False
