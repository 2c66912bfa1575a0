"""``python -m bench.echo``: an echo server on every loop, 50 loopback connections.

Prints two tables, each with the ratio to asyncio (higher is better in both): the server's CPU
time per request, and requests per second.

Method.  Per round, one server process per implementation (``bench.echo.server``) and one
client process (``bench.echo.client``, on uvloop for every server).  For each row (server kind x
message size), the servers take turns in an order that rotates with the round and the row:

0. (once per round, for each server: every row served untimed on connections of its own; see
   ``warm_up`` for why)
1. the client opens the connections to that server's port and runs a warm-up (a tenth of the
   round trips), so connection set-up and first-call costs are not measured;
2. the driver asks the server for its CPU time (user + system, every thread of the process);
3. the client runs the measured round trips on all connections at once, timing them;
4. the driver asks the server for its CPU time again; the client closes the connections.

CPU per request is (2 to 4) over the requests: the server's own work, which load from other
processes on the machine hardly changes.  Requests per second is the client's count over its
wall time: what a user sees, but limited by whichever process is slower and disturbed by load.
The client is idle while the server is asked, so nothing else is in flight around the marks.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import columns, options, report, targets
from bench.driver import Worker, WorkerFailed, rotated
from bench.echo.client import DEFAULT_IMPL

__all__ = ["EchoRow", "main", "rows", "run"]

CONNS = 50
DEFAULT_ROUNDS = 5
# Round trips per connection in one measurement, by message size: about 0.5-1 s on asyncio here.
PER_CONN = {1024: 200, 100 * 1024: 10}
KINDS = {"own": ("protocol", "streams"), "asyncio": ("protocol", "streams-asyncio")}


@dataclass(frozen=True)
class EchoRow:
    """One row: which of the server's echo servers, the message size, round trips per conn."""

    kind: str  # "protocol", "streams" (own start_server) or "streams-asyncio"
    size: int
    per_conn: int

    @property
    def label(self) -> str:
        size = f"{self.size // 1024}KiB"
        if self.kind == "streams-asyncio":
            return f"streams {size}[asyncio-api]"
        return f"{self.kind} {size}"


def rows(api: str, scale: float) -> list[EchoRow]:
    """The rows for ``api`` ("own", "asyncio", "both"), round trips scaled by ``scale``."""
    kinds = KINDS[api] if api != "both" else ("protocol", "streams", "streams-asyncio")
    return [
        EchoRow(kind, size, max(1, round(per_conn * scale)))
        for kind in kinds
        for size, per_conn in PER_CONN.items()
    ]


@dataclass(frozen=True)
class Plan:
    rows: list[EchoRow]
    impls: list[str]
    rounds: int
    conns: int
    client: str
    # A server process of its own for every row (--server-per-row): what one row's traffic
    # leaves in a process (its allocator's state above all) then shapes no other row.
    server_per_row: bool = False


class MeasureFailed(Exception):
    """A worker answered a request with an error."""


def _ok(reply: dict[str, Any]) -> dict[str, Any]:
    if "error" in reply:
        raise MeasureFailed(str(reply["error"]).strip())
    return reply


def _warm(row: EchoRow) -> dict[str, int]:
    return {"size": row.size, "per_conn": max(1, row.per_conn // 10)}


def warm_up(client: Worker, server: Worker, rows: list[EchoRow], conns: int) -> None:
    """Serve every row once, untimed, on connections of its own, before any is measured.

    A server process's first connections cost it about twice as much per request as any later
    ones for as long as they stay open (asyncio's server here: 30-45 us per 1 KiB request
    instead of 13-18), whatever the warm-up on them; only a process that has served and closed
    a first set of connections is in its steady state.
    """
    for row in rows:
        port = int(server.hello["ports"][row.kind])
        _ok(client.ask({"connect": port, "conns": conns}))
        try:
            _ok(client.ask({"run": _warm(row)}))
        finally:
            client.ask({"close": True})


def measure(client: Worker, server: Worker, row: EchoRow, conns: int) -> tuple[float, float]:
    """(server CPU seconds, client wall seconds) for ``conns * row.per_conn`` requests."""
    port = int(server.hello["ports"][row.kind])
    work = {"size": row.size, "per_conn": row.per_conn}
    _ok(client.ask({"connect": port, "conns": conns}))
    try:
        _ok(client.ask({"run": _warm(row)}))
        before = float(_ok(server.ask({"mark": True}))["cpu"])
        done = _ok(client.ask({"run": work}))
        after = float(_ok(server.ask({"mark": True}))["cpu"])
    finally:
        client.ask({"close": True})
    return after - before, float(done["seconds"])


def _run_round(
    plan: Plan, round_no: int, cpu: report.Results, wall: report.Results, log: Callable[[str], None]
) -> None:
    if plan.server_per_row:
        for index, row in enumerate(plan.rows):
            _serve(plan, [row], index, round_no, cpu, wall, log)
    else:
        _serve(plan, plan.rows, 0, round_no, cpu, wall, log)


def _serve(
    plan: Plan,
    rows_: list[EchoRow],
    first_index: int,
    round_no: int,
    cpu: report.Results,
    wall: report.Results,
    log: Callable[[str], None],
) -> None:
    """Serve ``rows_`` in one round: a server process per implementation, warmed up on them."""
    servers: dict[str, Worker] = {}
    client = Worker(plan.client, "bench.echo.client")
    try:
        for impl in plan.impls:
            servers[impl] = Worker(impl, "bench.echo.server")
        for impl, server in list(servers.items()):
            try:
                warm_up(client, server, rows_, plan.conns)
            except (MeasureFailed, WorkerFailed) as exc:
                if not client.alive:
                    log(f"the client died, ending round {round_no + 1}: {exc}")
                    return
                log(f"{impl} cannot serve, sitting out round {round_no + 1}: {exc}")
                servers.pop(impl).close()
        for index, row in enumerate(rows_, start=first_index):
            for impl in rotated(list(servers), round_no + index):
                seen = (row.label, impl) in cpu.notes
                try:
                    cpu_seconds, wall_seconds = measure(client, servers[impl], row, plan.conns)
                except (MeasureFailed, WorkerFailed) as exc:
                    if not client.alive:
                        log(f"the client died, ending round {round_no + 1}: {exc}")
                        return
                    if isinstance(exc, WorkerFailed):
                        servers.pop(impl).close()  # sits out the rest of the round
                    cpu.note(row.label, impl, str(exc))
                    if not seen:
                        log(f"{row.label} on {impl}: {exc}")
                    continue
                cpu.record(row.label, impl, round_no, cpu_seconds)
                wall.record(row.label, impl, round_no, wall_seconds)
    finally:
        client.close()
        for server in servers.values():
            server.close()


def run(plan: Plan, log: Callable[[str], None]) -> tuple[report.Results, report.Results]:
    """(server CPU, client wall) timings of every round of ``plan``."""
    sizes = {row.label: plan.conns * row.per_conn for row in plan.rows}
    cpu = report.Results(sizes=dict(sizes), impls=list(plan.impls))
    wall = report.Results(sizes=dict(sizes), impls=list(plan.impls))
    for round_no in range(plan.rounds):
        log(f"round {round_no + 1}/{plan.rounds}")
        _run_round(plan, round_no, cpu, wall, log)
    return cpu, wall


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.echo", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, help=f"rounds (default {DEFAULT_ROUNDS}; 2 with --quick)")
    p.add_argument("--quick", action="store_true", help="2 rounds, a fifth of the round trips")
    p.add_argument("--scale", type=float, help="multiply the round trips per connection")
    p.add_argument("--conns", type=int, default=CONNS, help=f"connections (default {CONNS})")
    p.add_argument(
        "--api",
        choices=["own", "asyncio", "both"],
        default="both",
        help="streams server: each implementation's own start_server, asyncio's, or both",
    )
    p.add_argument(
        "--client", default=DEFAULT_IMPL, help=f"the client's implementation ({DEFAULT_IMPL})"
    )
    p.add_argument(
        "--server-per-row",
        action="store_true",
        help="a server process of its own for every row, warmed up on that row only",
    )
    options.add_common(p)
    return p


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (2 if args.quick else DEFAULT_ROUNDS)
    scale = args.scale if args.scale is not None else (0.2 if args.quick else 1.0)
    if rounds < 1 or scale <= 0 or args.conns < 1:
        raise SystemExit("cannot run: --rounds and --conns must be at least 1, --scale positive")
    found = columns.available(options.impls(args), _log)
    clients = columns.available([args.client], _log)
    if not found or not clients:
        _log("cannot run: no server implementation, or the client's, is available")
        return 1
    plan = Plan(
        rows(args.api, scale),
        [c.name for c in found],
        rounds,
        args.conns,
        args.client,
        server_per_row=args.server_per_row,
    )
    started = time.perf_counter()
    cpu, wall = run(plan, _log)
    elapsed = time.perf_counter() - started
    client = clients[0]
    print(columns.header(found, rounds=plan.rounds, seconds=elapsed))
    print(f"  client: {client.name} {client.version}; {plan.conns} connections per server")
    for title, results, cell, unit in (
        ("server CPU time per request (lower is better)", cpu, report.time_cell, "cpu/req"),
        ("requests per second, at the client", wall, report.rate_cell, "req/s"),
    ):
        print(f"\n{title}\n")
        rows_ = report.table(results, cell=cell, unit=unit, first="server")
        print(report.render(rows_, markdown=args.markdown))
    # The targets are about the server's CPU per request.
    print(targets.section(cpu, first="server", markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
