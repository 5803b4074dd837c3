"""The report in a real headless Chromium (Debian's `chromium` and `chromium-driver`, via Selenium).

The page is loaded from file://, as a user opens it; it must render (the screenshot is not
blank), every image must load, and the console must stay free of errors. The same checks
are run on a broken copy (a PNG deleted) and on an empty page, to show they can fail.
`make test` installs Chromium when it is missing (scripts/ensure_chromium.sh).
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# The report's charts plus a browser start: 15-28 s for the module on a loaded 2-core machine.
pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def browser(headless_chromium) -> Iterator[object]:
    with headless_chromium("1280,1600") as driver:
        yield driver


def load(driver, page: Path) -> list[str]:
    """Open `page`; returns what is wrong with it: images that did not load, console errors."""
    driver.get_log("browser")  # drop entries of an earlier page
    driver.get(page.as_uri())
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);")
    problems = [f"image {src} did not load" for src, complete, width in images if not (complete and width > 0)]
    problems += [f"console: {entry['message']}" for entry in driver.get_log("browser")
                 if entry["level"] == "SEVERE"]
    return problems


def screenshot(driver, out: Path) -> np.ndarray:
    """A PNG of the viewport saved to `out`; returned as an RGB array."""
    png = driver.get_screenshot_as_png()
    out.write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)


def not_blank(pixels: np.ndarray) -> bool:
    """Text and charts make many pixels differ from the background; a blank page has none."""
    background = np.median(pixels.reshape(-1, 3), axis=0)
    differing = np.abs(pixels - background).sum(axis=2) > 60
    return pixels.std() > 10 and differing.mean() > 0.02


def test_report_renders_in_chromium(browser, report: Path, tmp_path: Path) -> None:
    assert load(browser, report) == []
    n_images = browser.execute_script("return document.images.length;")
    assert n_images == len(list(report.parent.glob("*.png"))) > 5
    shot = screenshot(browser, tmp_path / "report-screenshot.png")
    assert not_blank(shot), f"blank screenshot: {tmp_path / 'report-screenshot.png'}"
    title = browser.execute_script("return document.querySelector('h1').textContent;")
    assert title == "STaR run demo"
    # Model output is shown as text: the stored <script> neither ran nor became an element.
    assert browser.execute_script("return document.scripts.length;") == 0
    assert "<script>alert('pwned')</script>" in browser.execute_script("return document.body.innerText;")


def test_the_checks_catch_a_broken_and_a_blank_page(browser, report: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(report.parent, broken)
    victim = sorted(broken.glob("*.png"))[0]
    victim.unlink()
    problems = load(browser, broken / "index.html")
    assert any(victim.name in p and "did not load" in p for p in problems), problems
    assert any(p.startswith("console:") for p in problems), problems
    empty = tmp_path / "empty.html"
    empty.write_text("<!DOCTYPE html><html><head><link rel=\"icon\" href=\"data:,\"></head><body></body></html>")
    assert load(browser, empty) == []
    assert not not_blank(screenshot(browser, tmp_path / "empty.png"))
