"""report.html in a real browser (Debian's `chromium`, headless): it renders the verdict, the
loss chart and the answers, with every network request blocked. Opt-in (`browser` marker,
a few seconds once chromium is installed):

    SWIFTKIT_BROWSER_TEST=1 python -m pytest -m browser tests/test_report_browser.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_outside import html_report

from swiftkit.verify import html

OPT_IN_ENV = "SWIFTKIT_BROWSER_TEST"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.environ.get(OPT_IN_ENV), reason=f"opt-in: {OPT_IN_ENV}=1 (needs chromium)"
    ),
]
# matplotlib's first line colour (the loss curve) and the pass banner's background
CURVE, PASS_BANNER = (0x1F, 0x77, 0xB4), (0xD9, 0xF2, 0xDD)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    pytest.fail("no chromium on PATH: apt-get install -y chromium")


def headless(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Chromium on a file: URL with every host unresolvable and a dead proxy: nothing the
    page asked for from the network could load."""
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=127.0.0.1:9",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def count_near(pixels, colour: tuple[int, int, int], tolerance: int) -> int:
    """How many pixels are within `tolerance` of `colour` in every channel."""
    import numpy as np

    return int((np.abs(pixels.astype(int) - np.array(colour)) <= tolerance).all(axis=-1).sum())


def test_report_html_renders_verdict_chart_and_answers_in_chromium(tmp_path):
    import numpy as np
    from PIL import Image  # matplotlib's own dependencies, both

    page = html_report(tmp_path) / html.REPORT_HTML
    dom = headless(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    assert "identity: PASS" in dom.stdout
    assert 'id="loss"' in dom.stdout and "data:image/svg+xml;base64," in dom.stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom.stdout  # shown, not run

    shot = tmp_path / "report.png"
    proc = headless(page, f"--screenshot={shot}", "--window-size=1280,2200")
    shutil.copy(shot, Path(os.environ.get("SWIFTKIT_BROWSER_SHOT", tmp_path / "kept.png")))
    assert shot.is_file(), proc.stderr
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.std(axis=(0, 1)).max() > 20, "the screenshot is blank"
    assert count_near(pixels, PASS_BANNER, 12) > 5000, "no pass banner in the screenshot"
    assert count_near(pixels, CURVE, 40) > 300, "no loss curve in the screenshot"
