"""Run other projects' test suites on spindle's loop and on stock asyncio's, and judge the results.

    .venv/bin/python -m tests.peers                         # every suite, on both loops
    .venv/bin/python -m tests.peers anyio uvloop            # some suites
    .venv/bin/python -m tests.peers --targets spindle       # spindle only
    .venv/bin/python -m tests.peers uvloop -- -k test_tcp   # extra pytest arguments
    .venv/bin/python -m tests.peers anyio -- tests/test_x.py  # only these tests

For each suite: fetch and check its pinned source (``sources.py``), make its environment
(``venvs.py``), run its tests with pytest in the unpacked source, once per loop, with
``plugin/spindle_peers.py`` pointing them at that loop and recording every test's outcome;
then judge the outcomes against the suite's registered expectations (``expected/``).

A test that fails where nothing registers a failure is run once more, alone with the others
like it, in a new pytest process: suites with real servers and short time-outs have tests
that fail now and then on a loaded machine, on either loop.  A test that passes the second
time counts as passed, and the report says how many did.

The run fails (exit status 1) when, on spindle, a test fails that is not registered, a
registered failure passes (so its entry must go), an entry names no collected test (stale), or
spindle passes fewer tests than stock asyncio did in the same run, not counting the registered
deliberate differences; and when a failure that is
registered as happening on stock asyncio too passes there.  A failure on stock asyncio that is
not registered is reported but does not fail the run: asyncio is the reference, not the
subject.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers import expected as expectations
from tests.peers import sources, venvs
from tests.peers.outcomes import Expectation, Kind, Outcome, Target, Verdict, combine, judge
from tests.peers.suites import SUITES, Suite

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = Path(__file__).resolve().parent / "plugin"
# More unexpected failures than this are not a flaky test or two: they are not run again.
RERUN_LIMIT = 40


@dataclass
class Run:
    """One suite on one loop."""

    target: Target
    outcomes: dict[str, Outcome]
    loops: dict[str, int]
    policy_replaced: int
    seconds: float
    logs: list[Path]
    verdict: Verdict
    passed_on_rerun: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def cache_dir() -> Path:
    configured = os.environ.get("SPINDLE_PEERS_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "spindle-peers"


def shard(selection: list[str], source_dir: Path, shards: int) -> list[list[str]]:
    """Split a pytest selection into ``shards`` selections of whole test files, same options.

    Directories are expanded to their ``test_*.py`` files (less those under an ``--ignore``),
    dealt out in turn, so each shard gets a like mix; node ids and files stay as given.
    """
    options = [arg for arg in selection if not _is_test_path(arg, source_dir)]
    ignored = [
        (source_dir / arg.split("=", 1)[1]).resolve()
        for arg in options
        if arg.startswith("--ignore=")
    ]
    files: list[str] = []
    for arg in selection:
        if not _is_test_path(arg, source_dir):
            continue
        path = source_dir / arg
        if not path.is_dir():
            files.append(arg)
            continue
        for found in sorted(path.rglob("test_*.py")):
            if not any(found.resolve().is_relative_to(skip) for skip in ignored):
                files.append(str(found.relative_to(source_dir)))
    if shards <= 1 or len(files) < 2:
        return [selection]
    return [[*files[i::shards], *options] for i in range(shards) if files[i::shards]]


def _is_test_path(arg: str, source_dir: Path) -> bool:
    """A node id, or a file or directory of the suite (anything else is a pytest option)."""
    return not arg.startswith("-") and ("::" in arg or (source_dir / arg).exists())


@dataclass
class Running:
    """One pytest process of a run, its files, and when it must be stopped."""

    process: subprocess.Popen[bytes]
    out: Path
    log: Path
    deadline: float


def start_pytest(
    suite: Suite,
    target: Target,
    python: Path,
    source_dir: Path,
    work: Path,
    selection: list[str],
    not_run: dict[str, str],
    label: str,
) -> Running:
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"{suite.name}-{target.value}-{label}.json"
    log = work / f"{suite.name}-{target.value}-{label}.log"
    config = work / f"{suite.name}-{target.value}-{label}.config.json"
    out.unlink(missing_ok=True)
    out.with_name(out.name + ".lines").unlink(missing_ok=True)
    config.write_text(
        json.dumps({"select": suite.select, "not_run": not_run, "out": str(out)}),
        encoding="utf-8",
    )
    env = dict(os.environ)
    env.update(suite.env)
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(PLUGIN_DIR)]),
        PYTEST_PLUGINS="spindle_peers",
        SPINDLE_PEERS_TARGET=target.value,
        SPINDLE_PEERS_CONFIG=str(config),
    )
    env.pop("PYTEST_ADDOPTS", None)
    ini = [option for setting in suite.ini for option in ("-o", setting)]
    if suite.needs_config:
        own = work / f"{suite.name}.ini"
        own.write_text("[pytest]\n", encoding="utf-8")
        ini += ["-c", str(own), "--rootdir", str(source_dir)]
    # -P: the unpacked source's directory is not put first on sys.path, so the installed
    # release (with its compiled extensions) is the one imported, not the source tree.
    command = [
        str(python), "-P", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE",
        *ini, *selection,
    ]  # fmt: skip
    with log.open("w", encoding="utf-8") as file:
        file.write(" ".join(command) + "\n\n")
    process = subprocess.Popen(
        command, cwd=source_dir, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    return Running(process, out, log, time.monotonic() + suite.time_limit)


def finish(running: Running) -> tuple[dict[str, Outcome], dict[str, Any], Path]:
    """Wait for one pytest; each test's outcome, the plugin's other records, the log.

    A pytest past its deadline is interrupted (SIGINT), so that it still writes what it has
    recorded, then killed if it does not end.
    """
    process = running.process
    try:
        process.wait(timeout=max(0.0, running.deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with running.log.open("a", encoding="utf-8") as file:
            file.write("\n\nstopped: the suite's time limit was reached\n")
        stopped = True
    else:
        stopped = False
    lines = running.out.with_name(running.out.name + ".lines")
    if running.out.exists():
        results = json.loads(running.out.read_text(encoding="utf-8"))
    elif lines.exists():
        # Stopped before the end: what ran is in the plugin's running record.
        phases: dict[str, list[str | None]] = {}
        for line in lines.read_text(encoding="utf-8").splitlines():
            nodeid, phase = json.loads(line)
            phases.setdefault(nodeid, []).append(phase)
        results = {"phases": phases, "crashed": not stopped}
    else:
        return {}, {"crashed": True, "stopped": stopped}, running.log
    results["stopped"] = stopped
    outcomes = {}
    for nodeid, phases in results.pop("phases").items():
        outcome = combine(None if phase is None else Outcome(phase) for phase in phases)
        if outcome is not None:
            outcomes[nodeid] = outcome
    return outcomes, results, running.log


def pytest_run(
    suite: Suite,
    target: Target,
    python: Path,
    source_dir: Path,
    work: Path,
    selection: list[str],
    not_run: dict[str, str],
    label: str,
) -> tuple[dict[str, Outcome], dict[str, Any], list[Path]]:
    """Run the selection, in ``suite.shards`` pytest processes at once; merge what they found."""
    parts = shard(selection, source_dir, suite.shards)
    labels = [label] if len(parts) == 1 else [f"{label}-{i + 1}" for i in range(len(parts))]
    running = [
        start_pytest(suite, target, python, source_dir, work, part, not_run, name)
        for part, name in zip(parts, labels, strict=True)
    ]
    outcomes: dict[str, Outcome] = {}
    records: dict[str, Any] = {"loops": {}, "policy_replaced": 0}
    logs = []
    for one in running:
        found, more, log = finish(one)
        outcomes.update(found)
        logs.append(log)
        for flag in ("crashed", "stopped"):
            if more.get(flag):
                records[flag] = True
        for kind, number in more.get("loops", {}).items():
            records["loops"][kind] = records["loops"].get(kind, 0) + number
        records["policy_replaced"] += more.get("policy_replaced", 0)
    return outcomes, records, logs


def run_target(
    suite: Suite,
    target: Target,
    python: Path,
    source_dir: Path,
    work: Path,
    expected: dict[str, Expectation],
    extra: list[str],
) -> Run:
    not_run = {nodeid: e.reason for nodeid, e in expected.items() if e.kind is Kind.NOT_RUN}
    started = time.monotonic()
    # Test paths among the extra arguments replace the suite's own; options add to them.
    paths = [arg for arg in extra if _is_test_path(arg, source_dir)]
    selection = [*extra] if paths else [*suite.args, *extra]
    outcomes, records, logs = pytest_run(
        suite, target, python, source_dir, work, selection, not_run, "some" if extra else "all"
    )
    problems = []
    where = ", ".join(str(log) for log in logs)
    if records.get("stopped"):
        problems.append(f"stopped at the time limit of {suite.time_limit} s (see {where})")
    if records.get("crashed"):
        problems.append(f"pytest ended without writing results (see {where})")
    elif not outcomes:
        problems.append(f"no test ran (see {where})")
    verdict = judge(target, outcomes, expected)
    passed_again: list[str] = []
    if 0 < len(verdict.unexpected_failures) <= RERUN_LIMIT:
        again, _, _ = pytest_run(
            suite, target, python, source_dir, work,
            verdict.unexpected_failures, not_run, "some-again" if extra else "again",
        )  # fmt: skip
        passed_again = [n for n in verdict.unexpected_failures if again.get(n) is Outcome.PASSED]
        for nodeid in passed_again:
            outcomes[nodeid] = Outcome.PASSED
        verdict = judge(target, outcomes, expected)
    if extra or problems:  # a partial run: entries for tests it did not run are not stale
        verdict = Verdict(verdict.counts, verdict.unexpected_failures, verdict.unexpected_passes)
    loops = dict(records.get("loops", {}))
    if target is Target.SPINDLE and outcomes and not any("spindle" in k for k in loops):
        problems.append("no spindle loop was made: the suite did not run on spindle")
    if target is Target.SPINDLE and any("spindle" not in k for k in loops):
        problems.append(f"the policy made loops other than spindle's: {loops}")
    return Run(
        target=target,
        outcomes=outcomes,
        loops=loops,
        policy_replaced=int(records.get("policy_replaced", 0)),
        seconds=time.monotonic() - started,
        logs=logs,
        verdict=verdict,
        passed_on_rerun=passed_again,
        problems=problems,
    )


def failures(
    suite: Suite, runs: dict[Target, Run], expected: dict[str, Expectation]
) -> list[str]:
    """What makes this suite's result a failure of the whole run (empty: it passed)."""
    found = []
    spindle = runs.get(Target.SPINDLE)
    reference = runs.get(Target.ASYNCIO)
    if spindle is not None:
        v = spindle.verdict
        found += [f"fails on spindle, not registered: {n}" for n in v.unexpected_failures]
        found += [f"registered failure passes on spindle: {n}" for n in v.unexpected_passes]
        found += [f"registered test not collected: {n}" for n in v.stale]
        found += spindle.problems
    if reference is not None:
        found += [
            f"registered as failing on asyncio too, passes there: {n}"
            for n in reference.verdict.unexpected_passes
        ]
        found += reference.problems
    if spindle is not None and reference is not None:
        ours, theirs = spindle.verdict.counts.passed, reference.verdict.counts.passed
        # The deliberate differences fail on spindle by definition; any other shortfall counts.
        on_purpose = sum(
            1
            for nodeid, expectation in expected.items()
            if expectation.kind is Kind.SPINDLE
            and spindle.outcomes.get(nodeid) is Outcome.FAILED
            and reference.outcomes.get(nodeid) is Outcome.PASSED
        )
        if ours + on_purpose < theirs:
            found.append(
                f"spindle passed {ours} tests ({on_purpose} more fail on purpose), "
                f"stock asyncio {theirs}"
            )
    return found


def describe(suite: Suite, run: Run, expected: dict[str, Expectation]) -> str:
    registered = sum(
        1
        for nodeid, outcome in run.outcomes.items()
        if outcome is Outcome.FAILED and nodeid in expected
    )
    notes = [f"{registered} registered failures"] if registered else []
    if run.passed_on_rerun:
        notes.append(f"{len(run.passed_on_rerun)} passed on a second run")
    if run.policy_replaced:
        notes.append(f"policy put back {run.policy_replaced} times")
    loops = sum(run.loops.values())
    notes.append(f"{loops} loops")
    return (
        f"  {suite.name} on {run.target.value:<8} {run.verdict.counts.line():<40}"
        f"{run.seconds:6.0f} s  ({'; '.join(notes)})"
    )


def main(argv: list[str] | None = None) -> int:
    # A shell starts a background job with SIGINT ignored, and an ignored signal stays ignored
    # in every process started after: the suites' own children would then never see the
    # Ctrl-C their tests send (uvloop's signal tests).  Python's usual handler is put back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # Likewise SIGHUP under `nohup`: uvloop's test_send_signal sends it to a child, on any loop.
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(
        prog="python -m tests.peers", description="Run other projects' suites on spindle."
    )
    defaults = [name for name, suite in SUITES.items() if suite.by_default]
    parser.add_argument("suites", nargs="*", help=f"default: {', '.join(defaults)}")
    parser.add_argument(
        "--targets", default="spindle,asyncio", help="comma-separated: spindle, asyncio"
    )
    parser.add_argument("--python", default=sys.executable, help="the Python to run suites on")
    args = parser.parse_args(own)
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        parser.error(f"unknown suites {unknown}; known: {', '.join(SUITES)}")
    names = args.suites or defaults
    targets = [Target(name) for name in args.targets.split(",") if name]
    cache = cache_dir()
    work = ROOT / "build" / "peers"
    summary: list[tuple[Suite, dict[Target, Run]]] = []
    failed: list[str] = []
    for name in names:
        suite = SUITES[name]
        print(f"== {suite.name} {suite.source.release} ({suite.source.origin.value})", flush=True)
        try:
            archive = sources.fetch(suite.source, cache)
            source_dir = sources.unpack(suite.source, archive, work / "src")
            python = venvs.ensure(suite, cache, args.python)
        except (sources.SourceError, venvs.VenvError) as error:
            print(f"  cannot run {suite.name}: {error}", flush=True)
            failed.append(f"{suite.name}: cannot run: {error}")
            continue
        expected = expectations.load(suite.name)
        runs = {}
        for target in targets:
            run = run_target(suite, target, python, source_dir, work, expected, extra)
            runs[target] = run
            print(describe(suite, run, expected), flush=True)
        summary.append((suite, runs))
        problems = failures(suite, runs, expected)
        failed += [f"{suite.name}: {problem}" for problem in problems]
        notes = []
        reference = runs.get(Target.ASYNCIO)
        if reference is not None:
            notes = [
                f"note: fails on stock asyncio, not registered: {nodeid}"
                for nodeid in reference.verdict.unexpected_failures
            ]
        for line in shorten([f"FAIL {p}" for p in problems] + notes):
            print(f"  {line}", flush=True)
    print(table(summary))
    if failed:
        print(f"peers: {len(failed)} problems (above); logs in {work}")
        return 1
    return 0


def shorten(lines: list[str], most: int = 40) -> list[str]:
    """At most ``most`` lines; the logs have the rest."""
    if len(lines) <= most:
        return lines
    return [*lines[:most], f"... and {len(lines) - most} more (see the logs)"]


def table(summary: list[tuple[Suite, dict[Target, Run]]]) -> str:
    """The per-suite table, spindle beside stock asyncio, as the README shows it."""
    lines = [
        "| suite | release | spindle | stock asyncio (same run) |",
        "|:--|:--|:--|:--|",
    ]
    for suite, runs in summary:
        cells = []
        for target in (Target.SPINDLE, Target.ASYNCIO):
            run = runs.get(target)
            cells.append(run.verdict.counts.line() if run is not None else "not run")
        lines.append(f"| {suite.name} | {suite.source.release} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)
