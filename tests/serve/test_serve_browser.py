"""The web view in a real headless Chromium (Debian's `chromium` and `chromium-driver`, via Selenium).

Each page is loaded from the running server: it renders (the screenshot is not blank), shows its
data, every image loads, the console has no error (a blocked script or a CSP violation would be
one), no script element exists and no alert ever opens, even on pages full of stored `<script>`
and `onerror=`. Screenshots go to $STAR_SCREENSHOT_DIR (docs/ keeps a set) or a temp folder.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
from PIL import Image

# A browser start and matplotlib charts: tens of seconds on a loaded 2-core machine.
pytestmark = pytest.mark.slow

HOSTILE_RUN = "<script>alert('run')</script>"


@pytest.fixture(scope="module")
def browser(headless_chromium) -> Iterator[object]:
    with headless_chromium("1280,1000") as driver:
        yield driver


def visit(driver, url: str) -> list[str]:
    """Open `url`; returns what is wrong: images that did not load, console errors, scripts, alerts."""
    from selenium.common.exceptions import NoAlertPresentException

    driver.get_log("browser")
    driver.get(url)
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);")
    problems = [f"image {src} did not load" for src, complete, width in images if not (complete and width > 0)]
    problems += [f"console: {e['message']}" for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    if driver.execute_script("return document.scripts.length;"):
        problems.append("a script element exists")
    try:
        problems.append(f"an alert opened: {driver.switch_to.alert.text}")
    except NoAlertPresentException:
        pass
    return problems


def shoot(driver, out: Path) -> bool:
    """Save the viewport as `out`; True when it is not blank."""
    png = driver.get_screenshot_as_png()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)
    background = np.median(pixels.reshape(-1, 3), axis=0)
    return (np.abs(pixels - background).sum(axis=2) > 60).mean() > 0.003  # text covers ~1% of a short page


def page(server, path: str, **params: str) -> str:
    return f"{server.url}{path}?{urlencode(params)}" if params else server.url + path


def text_of(driver, selector: str) -> list[str]:
    return driver.execute_script(
        f"return Array.from(document.querySelectorAll({selector!r})).map(e => e.innerText);")


def test_main_pages_render_with_their_data(browser, server, screenshot_dir: Path) -> None:
    checks = {
        "serve-runs.png": (page(server, "/"), "td a", lambda t: "demo" in t and HOSTILE_RUN in t),
        "serve-run.png": (page(server, "/run", run="demo"), "#rounds tbody tr", lambda t: len(t) == 4),
        "serve-problem.png": (page(server, "/problem", run="demo", id="p1"), "section.round h2",
                              lambda t: t == ["Round 1: unsolved", "Round 2: hint-only", "Round 3: solved"]),
        "serve-flips.png": (page(server, "/flips", run="demo"), "#listed td a", lambda t: t == ["p1", "p3"]),
        "serve-search.png": (page(server, "/search", run="demo", q="quokka"), "li.result pre",
                             lambda t: t == [" the quokka carries the one. Answer: 7"]),
        "serve-two-rounds.png": (page(server, "/problem/rounds", run="demo", id="p1", a="1", b="3"), ".pair h2",
                                 lambda t: t == ["Round 1: unsolved", "Round 3: solved"]),
    }
    for shot, (url, selector, expect) in checks.items():
        assert visit(browser, url) == [], url
        found = text_of(browser, selector)
        assert expect(found), (url, found)
        assert shoot(browser, screenshot_dir / shot), f"blank page: {screenshot_dir / shot}"
    assert browser.execute_script("return document.images.length;") == 0
    visit(browser, page(server, "/run", run="demo"))
    assert browser.execute_script("return document.images.length;") == 3  # the plots, all loaded (visit checks)


def test_stored_markup_never_runs(browser, server) -> None:
    urls = [page(server, "/"), page(server, "/run", run=HOSTILE_RUN),
            page(server, "/search", run=HOSTILE_RUN, q="quokka"),
            page(server, "/problem", run=HOSTILE_RUN, id='<img src=x onerror="alert(1)">/1')]
    for url in urls:
        assert visit(browser, url) == [], url
    body = browser.execute_script("return document.body.innerText;")
    assert "<script>alert('completion')</script>" in body and 'onerror="alert(1)"' in body
