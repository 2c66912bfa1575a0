"""Make docs/timeline.png, the README's picture of spindle's timeline page.

    .venv/bin/python scripts/timeline_screenshot.py

Runs examples/timeline.py with SPINDLE_TIMELINE=<tmp>/timeline.html, opens the page in headless
Chromium (tests/diagnostics/browser.py) and saves a screenshot of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.diagnostics.browser import Browser  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        page = Path(directory) / "timeline.html"
        subprocess.run(
            [sys.executable, str(ROOT / "examples" / "timeline.py")],
            cwd=ROOT,
            env={**os.environ, "SPINDLE_TIMELINE": str(page)},
            check=True,
        )
        with Browser(page.as_uri()) as browser:
            browser.wait_for("document.body && document.body.dataset.rendered === 'yes'")
            browser.screenshot(ROOT / "docs" / "timeline.png", 1280, 800)
    print("wrote docs/timeline.png")


if __name__ == "__main__":
    main()
