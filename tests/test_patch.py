"""``spindle.patch``: install() routes asyncio's entry points to spindle through the policy."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import spindle
from spindle import events, patch
from tests.children import user_environment

SRC = Path(__file__).resolve().parents[1] / "src"
PYENV = Path("/root/.pyenv/versions")


@pytest.fixture(autouse=True)
def _restore_policy() -> Iterator[None]:
    policy = asyncio.get_event_loop_policy()
    yield
    if patch.is_installed():
        asyncio.set_event_loop(None)
    patch.uninstall()
    asyncio.set_event_loop_policy(policy)


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_asyncio_run_uses_a_spindle_loop_after_install() -> None:
    patch.install()
    assert isinstance(asyncio.run(_running_loop()), spindle.EventLoop)


def test_asyncio_runner_uses_a_spindle_loop_after_install() -> None:
    patch.install()
    with asyncio.Runner() as runner:
        assert isinstance(runner.get_loop(), spindle.EventLoop)
        assert runner.run(_running_loop()) is runner.get_loop()


def test_asyncio_new_event_loop_returns_a_spindle_loop_after_install() -> None:
    patch.install()
    loop = asyncio.new_event_loop()
    try:
        assert isinstance(loop, spindle.EventLoop)
        # ... which also tells spindle's diagnostics what asyncio's runner does with it.
        assert type(loop) is patch.RunnerAwareEventLoop
    finally:
        loop.close()


def test_asyncio_and_spindle_share_the_current_loop_after_install() -> None:
    patch.install()
    loop = spindle.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        assert events.get_event_loop() is loop
        events.set_event_loop(None)
        other = spindle.new_event_loop()
        events.set_event_loop(other)
        assert asyncio.get_event_loop() is other
        other.close()
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_asyncio_get_event_loop_in_another_thread_without_a_loop_raises() -> None:
    patch.install()
    errors: list[BaseException] = []

    def probe() -> None:
        try:
            asyncio.get_event_loop()
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    assert len(errors) == 1


def test_install_twice_keeps_the_same_policy_and_uninstall_restores_the_original() -> None:
    original = asyncio.get_event_loop_policy()
    first = patch.install()
    assert patch.install() is first
    assert asyncio.get_event_loop_policy() is first
    patch.uninstall()
    assert asyncio.get_event_loop_policy() is original
    assert not patch.is_installed()


def test_uninstall_without_install_changes_nothing() -> None:
    original = asyncio.get_event_loop_policy()
    patch.uninstall()
    patch.uninstall()
    assert asyncio.get_event_loop_policy() is original


def test_uninstall_leaves_a_policy_set_after_install_in_place() -> None:
    patch.install()
    theirs = asyncio.DefaultEventLoopPolicy()
    asyncio.set_event_loop_policy(theirs)
    patch.uninstall()
    assert asyncio.get_event_loop_policy() is theirs


def test_install_after_the_policy_was_replaced_installs_again() -> None:
    first = patch.install()
    theirs = asyncio.DefaultEventLoopPolicy()
    asyncio.set_event_loop_policy(theirs)
    second = patch.install()
    assert second is not first
    assert asyncio.get_event_loop_policy() is second
    patch.uninstall()
    assert asyncio.get_event_loop_policy() is theirs


def test_asyncio_loops_are_asyncio_again_after_uninstall() -> None:
    patch.install()
    patch.uninstall()
    loop = asyncio.new_event_loop()
    try:
        assert not isinstance(loop, spindle.EventLoop)
    finally:
        loop.close()


# Run in a fresh interpreter of each version: every asyncio entry point, after install().
PROBE = """
import asyncio, json, warnings
import spindle
from spindle import patch

def is_spindle(loop):
    return isinstance(loop, spindle.EventLoop)

async def running():
    return asyncio.get_running_loop()

patch.install()
# First: get_event_loop() creates a loop only until set_event_loop() has been called in the
# thread, which asyncio.run() and Runner do.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: "no current event loop"
    loop = asyncio.get_event_loop()
seen = {"get_event_loop": is_spindle(loop)}
asyncio.set_event_loop(None)
loop.close()
seen["run"] = is_spindle(asyncio.run(running()))
with asyncio.Runner() as runner:
    seen["Runner"] = is_spindle(runner.get_loop())
loop = asyncio.new_event_loop()
seen["new_event_loop"] = is_spindle(loop)
loop.close()
patch.uninstall()
loop = asyncio.new_event_loop()
seen["uninstalled"] = not is_spindle(loop)
loop.close()
print(json.dumps(seen))
"""


def _interpreters() -> list[str]:
    found = sorted(PYENV.glob("3.1[1-9].*/bin/python3"))
    return [str(path) for path in found] or [sys.executable]


@pytest.fixture(scope="module")
def pure_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """spindle's sources without the compiled build's extension modules, for PYTHONPATH.

    The source tree holds a compiled build per Python that ``scripts/setup.sh`` made, and a
    Python whose build is older than the sources (its environment not set up again since)
    would import the stale one: these tests are about the policy, so each Python runs the
    sources as they are.
    """
    root = tmp_path_factory.mktemp("pure-sources")
    shutil.copytree(
        SRC / "spindle", root / "spindle", ignore=shutil.ignore_patterns("*.so", "__pycache__")
    )
    return root


@pytest.mark.parametrize("python", _interpreters(), ids=lambda p: Path(p).parents[1].name)
def test_every_asyncio_entry_point_follows_the_policy_on_each_python(
    python: str, pure_sources: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(pure_sources)}
    result = subprocess.run(
        [python, "-c", PROBE], capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen == dict.fromkeys(
        ["run", "Runner", "new_event_loop", "get_event_loop", "uninstalled"], True
    )


# Run in a fresh interpreter of each version: asyncio.run() after install() explains itself.
EXPLAINED = """\
import asyncio, time
import spindle
spindle.install()

async def tick():
    await asyncio.sleep(5)

async def main():
    asyncio.create_task(tick())
    time.sleep(0.3)

asyncio.run(main())
print("done")
"""


@pytest.mark.parametrize("python", _interpreters(), ids=lambda p: Path(p).parents[1].name)
def test_asyncio_run_after_install_explains_itself_on_each_python(
    python: str, tmp_path: Path, pure_sources: Path
) -> None:
    (tmp_path / "program.py").write_text(EXPLAINED)
    result = subprocess.run(
        [python, "program.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=user_environment(PYTHONPATH=str(pure_sources)),
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "done\n"), result.stderr
    all_lines = result.stderr.splitlines()
    assert all_lines[0].startswith("spindle: main() has been blocking the event loop for ")
    [end] = [i for i, line in enumerate(all_lines) if " blocked the event loop for " in line]
    lines = all_lines[end:]
    assert re.fullmatch(
        r"spindle: main\(\) blocked the event loop for 0\.\d s at program\.py:10: "
        r"time\.sleep\(0\.3\)",
        lines[0],
    )
    assert lines[1:3] == [
        "spindle: main() returned while 1 task was still pending; it was cancelled:",
        "  Task-2 tick(): created at program.py:9 in main(), "
        "waiting at program.py:6: await asyncio.sleep(5)",
    ]


# Python 3.14 is not installed here: these tests give asyncio's policy functions the
# deprecation warnings 3.14 gives them, and tell spindle it runs where they are deprecated.
@pytest.fixture
def deprecated_policy_api(monkeypatch: pytest.MonkeyPatch) -> None:
    def deprecated(name: str) -> object:
        function = getattr(asyncio, name)

        def warn_then_call(*args: object) -> object:
            message = f"'asyncio.{name}' is deprecated and slated for removal in Python 3.16"
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            return function(*args)

        return warn_then_call

    for name in ("get_event_loop_policy", "set_event_loop_policy"):
        monkeypatch.setattr(asyncio, name, deprecated(name))
    monkeypatch.setattr(patch, "POLICY_DEPRECATED", True)


@pytest.mark.usefixtures("deprecated_policy_api")
def test_install_where_policies_are_deprecated_warns_once_at_the_callers_line() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patch.install()
        assert isinstance(asyncio.run(_running_loop()), spindle.EventLoop)
    # spindle's warning, which names the lasting ways; none of asyncio's from inside spindle.
    assert [(w.category, str(w.message), w.filename) for w in caught] == [
        (DeprecationWarning, patch.INSTALL_DEPRECATED, __file__)
    ]
    assert "loop_factory=spindle.new_event_loop" in patch.INSTALL_DEPRECATED


@pytest.mark.usefixtures("deprecated_policy_api")
def test_the_policy_path_of_python_m_spindle_stays_silent_where_policies_are_deprecated() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patch.install_policy()
        assert patch.is_installed()
        assert isinstance(asyncio.run(_running_loop()), spindle.EventLoop)
        patch.uninstall()
        assert not patch.is_installed()
    assert caught == []


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="asyncio deprecates policies from 3.14")
def test_install_does_not_warn_before_python_3_14() -> None:
    assert not patch.POLICY_DEPRECATED
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        patch.install()
