"""The test command's two lanes (``in_lanes`` in scripts/test.sh), run with stand-in steps.

The functions are taken from the script itself and run by bash under the script's own
``set -euo pipefail``, with steps that print, wait a little, or fail half-way.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "test.sh"
FUNCTIONS = ("timed", "minutes", "in_lanes", "run_lane")

STEPS = """
ok_step() { echo "== ok $1"; sleep "$1"; echo "done $1"; }
count_step() { echo "== count"; echo "$# arguments, the last: $2"; }
bad_step() { echo "== bad"; false; echo "after the failing command"; }
"""


def lanes(
    *runs: str, after: str = 'echo "-- all done"', pytest_args: str = "", shell: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run ``in_lanes RUNS...`` then ``after`` in bash, with the script's functions, the
    command's arguments ``pytest_args`` (bash words) and ``shell`` (bash, defined last)."""
    text = SCRIPT.read_text()
    functions = []
    for name in FUNCTIONS:
        found = re.search(rf"^{name}\(\) {{\n.*?^}}\n", text, re.M | re.S)
        assert found, f"{name}() not found in {SCRIPT}"
        functions.append(found.group(0))
    quoted = " ".join(f"'{run}'" for run in runs)
    program = "\n".join(
        [
            "set -euo pipefail",
            *functions,
            STEPS,
            shell,
            f"pytest_args=({pytest_args})",
            f"in_lanes {quoted}",
            after,
        ]
    )
    return subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, timeout=60, check=False
    )


def blocks(output: str) -> list[list[str]]:
    """The output cut into steps: each starts at its ``==`` line and ends at its ``--`` line."""
    found: list[list[str]] = []
    for line in output.splitlines():
        if line.startswith("== "):
            found.append([line])
        elif found and not found[-1][-1].startswith("-- "):
            found[-1].append(line)
    return found


def test_every_step_runs_once_and_its_output_stays_whole() -> None:
    result = lanes("a|ok_step 0.6", "b|ok_step 0.1", "c|ok_step 0.1", "d|ok_step 0.1")
    assert result.returncode == 0, result.stderr
    steps = blocks(result.stdout)
    assert sorted(step[0] for step in steps) == ["== ok 0.1"] * 3 + ["== ok 0.6"]
    for step in steps:
        seconds = step[0].split()[-1]
        assert step[1] == f"done {seconds}"
        assert re.fullmatch(r"-- [a-d]: 0m0\ds", step[2])
    assert result.stdout.splitlines()[-1] == "-- all done"


def test_a_lane_takes_the_next_step_when_its_own_ends() -> None:
    # One long step: the other lane runs the three short ones meanwhile, so they are all
    # printed before the long one ends.
    result = lanes("long|ok_step 1.5", "b|ok_step 0.1", "c|ok_step 0.1", "d|ok_step 0.1")
    assert result.returncode == 0, result.stderr
    labels = [line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("--")]
    assert labels == ["-- b", "-- c", "-- d", "-- long", "-- all done"]


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_a_step_that_fails_half_way_fails_the_command(failing: int) -> None:
    runs = ["a|ok_step 0.1", "b|ok_step 0.1", "c|ok_step 0.1"]
    runs[failing] = "bad|bad_step"
    result = lanes(*runs, after='echo "not reached"')
    assert result.returncode == 1
    assert "after the failing command" not in result.stdout  # set -e holds inside the step
    assert "-- bad: FAILED" in result.stdout
    assert result.stdout.count("done 0.1") == 2  # the other steps still ran
    assert "not reached" not in result.stdout


def test_the_commands_arguments_reach_each_step_as_they_were_given() -> None:
    result = lanes("a|count_step", pytest_args="'-k' 'spaced and quoted'")
    assert result.returncode == 0, result.stderr
    assert "2 arguments, the last: spaced and quoted" in result.stdout


# Every `wait` comes late: the lanes have ended (and bash has tidied them out of its job table)
# before the shell waits for them.
LATE_WAITS = 'wait() { sleep 0.3; builtin wait "$@"; }'


def test_lanes_that_ended_before_they_were_waited_for_still_tell_their_status() -> None:
    # Waited for by number, an ended lane still gives its status (`wait -n` gave 127 then,
    # and failed the command: seen once, with two quick lanes on a loaded machine).
    result = lanes("a|ok_step 0", "b|ok_step 0", shell=LATE_WAITS)
    assert result.returncode == 0, result.stdout
    # Each lane's status line once, whatever its time: bash's $SECONDS counts whole seconds,
    # and a lane that starts just before one ticks over takes "0m01s" (seen in CI).
    for lane in ("a", "b"):
        assert len(re.findall(rf"^-- {lane}: 0m0\ds$", result.stdout, re.MULTILINE)) == 1
    failing = lanes("a|ok_step 0", "bad|bad_step", shell=LATE_WAITS, after='echo "not reached"')
    assert failing.returncode == 1
    assert "-- bad: FAILED" in failing.stdout
    assert "not reached" not in failing.stdout
