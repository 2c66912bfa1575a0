"""The command-line options every suite shares: which implementations, and the table's form."""

from __future__ import annotations

import argparse

from bench.impls import DEFAULT_IMPLS, check, ordered

__all__ = ["add_common", "impls"]


def add_common(parser: argparse.ArgumentParser) -> None:
    """``--impl``, ``--spindle-ref`` and ``--markdown``."""
    parser.add_argument(
        "--impl",
        action="append",
        metavar="IMPL",
        type=check,
        help=f"time only this implementation (repeatable): {', '.join(DEFAULT_IMPLS)}, "
        "spindle@REF, or a spindle one + '-diag' (default: all of the first list)",
    )
    parser.add_argument(
        "--spindle-ref",
        action="append",
        metavar="REF",
        default=[],
        help="also time spindle as of REF (a git ref of this repository, or the path of "
        "another checkout), built pure, as the column spindle@REF (repeatable)",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")


def impls(args: argparse.Namespace) -> list[str]:
    """The implementations ``args`` ask for, in table order."""
    chosen = list(args.impl) if args.impl else list(DEFAULT_IMPLS)
    return ordered(chosen + [f"spindle@{ref}" for ref in args.spindle_ref])
