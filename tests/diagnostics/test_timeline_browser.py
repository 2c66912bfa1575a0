"""The HTML timeline in a real browser: headless Chromium loads the page that a real program
run wrote, and the test checks what it renders (rows, names, the summary, the zoom).

Chromium is Debian's package, installed by ``scripts/install-browser.sh`` (which
``scripts/test.sh`` runs); without it these tests skip.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.diagnostics.browser import Browser, chromium_path
from tests.diagnostics.conftest import ROOT, run_program

pytestmark = [
    pytest.mark.skipif(chromium_path() is None, reason="no chromium (scripts/install-browser.sh)"),
    pytest.mark.timeout(120),
]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Browser, dict[str, Any]]]:
    """The example pipeline's timeline, open in Chromium, with the data the page was made of."""
    directory = tmp_path_factory.mktemp("timeline")
    path = directory / "timeline.html"
    result = run_program(
        (ROOT / "examples" / "timeline.py").read_text(), cwd=directory, SPINDLE_TIMELINE=str(path)
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    html = path.read_text()
    raw = re.search(
        r'<script id="timeline-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert raw is not None
    data = json.loads(raw.group(1).replace("<\\/", "</"))
    with Browser(path.as_uri()) as browser:
        browser.wait_for("document.body && document.body.dataset.rendered === 'yes'")
        yield browser, data


def test_the_page_shows_a_row_per_task_with_its_name(page: tuple[Browser, dict[str, Any]]) -> None:
    browser, data = page
    labels = browser.evaluate(
        "[...document.querySelectorAll('#rows .row .label')].map(e => e.textContent)"
    )
    assert labels == [f"{task['name']} {task['call']}" for task in data["tasks"]]
    assert {"fetcher-0 fetcher()", "writer-1 store()"} <= set(labels)


def test_running_and_waiting_are_drawn_in_their_colours(
    page: tuple[Browser, dict[str, Any]],
) -> None:
    browser, data = page
    drawn = browser.evaluate(
        "[...document.querySelectorAll('#rows rect')]"
        ".map(r => [r.dataset.kind, r.getAttribute('fill')])"
    )
    colours = dict(map(tuple, drawn))
    assert colours["run"] == data["colours"]["run"]
    assert colours["I/O"] == data["colours"]["I/O"]
    assert colours["queue"] != colours["run"]
    # Every stretch of every task is there while the whole run is shown.
    assert len(drawn) == sum(len(task["segments"]) for task in data["tasks"])
    legend = browser.evaluate("document.getElementById('legend').textContent")
    assert "running" in legend and "waiting: lock" in legend


def test_the_summary_shows_the_figures(page: tuple[Browser, dict[str, Any]]) -> None:
    browser, data = page
    assert browser.evaluate("document.getElementById('task-count').textContent") == str(
        len(data["tasks"])
    )
    by_name = browser.evaluate(
        "[...document.querySelectorAll('#run-by-name tbody tr')].map(r => r.cells[0].textContent)"
    )
    assert "fetcher-#" in by_name and "writer-#" in by_name
    waits = browser.evaluate(
        "[...document.querySelectorAll('#longest-waits tbody tr')].map(r => r.cells[2].textContent)"
    )
    assert len(waits) == 10
    assert any(text.startswith(("queue: ", "I/O: ", "lock: ")) for text in waits)
    steps = browser.evaluate("document.querySelectorAll('#longest-steps tbody tr').length")
    assert steps == 10


def test_the_zoom_narrows_and_restores_the_window(page: tuple[Browser, dict[str, Any]]) -> None:
    browser, _ = page
    whole = browser.evaluate("document.getElementById('window').textContent")
    browser.evaluate("document.getElementById('zoom-in').click()")
    narrowed = browser.evaluate("document.getElementById('window').textContent")
    assert narrowed != whole
    shown = browser.evaluate("document.querySelectorAll('#rows rect').length")
    browser.evaluate("document.getElementById('zoom-reset').click()")
    assert browser.evaluate("document.getElementById('window').textContent") == whole
    assert browser.evaluate("document.querySelectorAll('#rows rect').length") >= shown


def test_hovering_a_stretch_says_what_it_was(page: tuple[Browser, dict[str, Any]]) -> None:
    browser, _ = page
    text = browser.evaluate(
        """(() => {
            const rect = [...document.querySelectorAll('#rows rect.wait')]
                .find(r => r.dataset.kind === 'queue');
            const box = rect.getBoundingClientRect();
            rect.dispatchEvent(new MouseEvent('mousemove', {bubbles: true,
                clientX: box.left + 1, clientY: box.top + 1}));
            return document.getElementById('tooltip').textContent;
        })()"""
    )
    assert re.match(r"\S+: waiting on queue \(Queue\.(get|put|join)\)\n", text), text
