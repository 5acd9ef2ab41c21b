"""A sweep's report looked at in a real browser, and the browser fixtures the explorer's tests
(tests/explorer/test_explorer_browser.py) share.

Tests marked `browser` (`make test-browser`, run by .ci/run) drive Debian's `chromium`, launched
by path (no browser download), with Playwright for Python; the browser may reach nothing but
127.0.0.1 and local files, so a page that needs the internet fails here. Each test opens its own
page and fails on any error in the browser console, a failed request or a request that tried
to leave the machine.

Chromium is installed with apt when it is missing and the tests run as root; without it (or
without playwright or npm) the browser tests are skipped with one line saying why, and with
EXCHANGE_REQUIRE_BROWSER=1 (set by .ci/run) that is a failure instead.

The test without the marker is part of `make test`: the explorer's asset script, without a
browser.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from experiments.explorer import assets
from tests.conftest import run_script

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the `browser` extra is not installed: the browser tests say so
    expect = sync_playwright = None

REQUIRE = os.environ.get("EXCHANGE_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in CI
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",  # no calls home on a machine without internet
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


# --- without a browser (make test) ------------------------------------------------------------


def test_the_asset_script_matches_solara_and_is_idempotent(tmp_path, monkeypatch, capsys):
    assets.check_versions()  # the installed solara asks for nothing else
    for package in assets.PACKAGES:  # already there: nothing fetched, npm not needed
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "package.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(assets.shutil, "which", lambda name: None)
    assert assets.fill(tmp_path) == []
    assert assets.main([str(tmp_path)]) == 0
    assert "already" in capsys.readouterr().out
    # one missing and no npm: one line, exit code 1
    shutil.rmtree(tmp_path / assets.PACKAGES[-1])
    assert assets.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: npm is not installed") and err.count("\n") == 1
    # a solara that asks for another version stops with one line naming it
    monkeypatch.setattr(assets, "PACKAGES", ("requirejs@2.3.6",))
    with pytest.raises(assets.AssetError, match="@widgetti/solara-vuetify-app@10.1.1"):
        assets.check_versions()


# --- the browser ------------------------------------------------------------------------------


class CannotTest(Exception):
    """The browser tests cannot run here; the message says why in one line."""


def cannot(reason: str):
    if REQUIRE:
        pytest.fail(f"the browser tests are required here but cannot run: {reason}")
    pytest.skip(f"no browser tests: {reason}")


def _run(*cmd: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def find_chromium() -> str:
    """Debian's chromium, installed with apt when missing and running as root."""
    path = shutil.which("chromium")
    if path:
        return path
    if os.name != "posix" or os.geteuid() != 0:
        raise CannotTest("Debian's chromium is not installed and installing it needs root")
    if shutil.which("apt-get") is None:
        raise CannotTest("chromium is not installed and there is no apt-get to install it")
    install = ("apt-get", "install", "-y", "--no-install-recommends", "chromium")
    proc = _run(*install)
    if proc.returncode != 0:
        _run("apt-get", "update")
        proc = _run(*install)
    path = shutil.which("chromium")
    if proc.returncode != 0 or path is None:
        lines = [x for x in proc.stderr.splitlines() if x.strip()]
        raise CannotTest(f"apt-get could not install chromium: {lines[-1] if lines else '?'}")
    return path


@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        cannot("playwright is not installed (pip install -e '.[browser]')")
    try:
        path = find_chromium()
    except CannotTest as err:
        cannot(str(err))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page and what went wrong in it: console errors, uncaught exceptions, failed requests
    and requests that tried to leave the machine (blocked)."""

    def __init__(self, context) -> None:
        self.problems: list[str] = []
        self.outside: list[str] = []
        context.route(re.compile(r"^(?!(https?://127\.0\.0\.1[:/]|file:|data:|blob:)).*"),
                      self._block)  # fmt: skip
        self.page = context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("response", self._response)

    def _block(self, route) -> None:
        self.outside.append(route.request.url)
        route.abort()

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def assert_clean(self) -> None:
        assert self.outside == [], "the page tried to reach outside the machine"
        assert self.problems == []


@pytest.fixture
def watched(browser):
    def open_page(width: int = 1280, height: int = 900) -> Watched:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        return Watched(context)

    contexts: list = []
    yield open_page
    for context in contexts:
        context.close()


# --- shared with tests/explorer/test_explorer_browser.py ------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- a sweep's report -------------------------------------------------------------------------

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  const clipped = (el) => {  // inside a box that scrolls sideways (a wide table): allowed
    for (let p = el.parentElement; p; p = p.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return true;
    }
    return false;
  };
  for (const el of document.querySelectorAll('body *')) {
    if (clipped(el)) continue;
    const box = el.getBoundingClientRect();
    if (box.width > 0 && (box.right > width + 0.5 || box.left < -0.5)) {
      wide.push(`${el.tagName.toLowerCase()} ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 10)};
}"""


#: Text boxes (each line of each shown text node) that overlap another text node's: none allowed.
TEXT_OVERLAPS = """() => {
  const boxes = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(), k = 0; node; node = walker.nextNode(), k++) {
    if (!node.textContent.trim()) continue;
    // text not shown (a closed <details>) takes no room on the page
    if (!node.parentElement.checkVisibility({visibilityProperty: true})) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.width > 0.5 && r.height > 0.5) boxes.push([r.left, r.top, r.right, r.bottom, k,
        node.textContent.trim().slice(0, 30)]);
    }
  }
  boxes.sort((a, b) => a[1] - b[1]);
  const hits = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length && boxes[j][1] < boxes[i][3] - 1; j++) {
      const [a, b] = [boxes[i], boxes[j]];
      if (a[4] === b[4]) continue;
      const x = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
      const y = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
      if (x > 1 && y > 1) hits.push(`${a[5]} / ${b[5]}`);
    }
  }
  return hits.slice(0, 10);
}"""

#: Small sweeps whose reports the browser opens: a grid of the demo's shape (the cohort_frequency
#: preset) and an Optuna search under the packaged posterior (float levers, a search's figures).
REPORT_SWEEPS = {
    "grid": ("+experiment=cohort_frequency", "posterior=none"),
    "optuna": ("+experiment=optimise", "hydra.sweeper.n_trials=6", "hydra.sweeper.n_jobs=2"),
}
#: Phone, tablet and desktop windows (CSS px).
WINDOWS = [(390, 844), (700, 900), (1280, 720)]


@pytest.fixture(scope="module", params=list(REPORT_SWEEPS))
def report(request, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp(f"sweep_{request.param}")
    run_script("run.py", "-m", *REPORT_SWEEPS[request.param], "scenario=small", "horizon=24",
               "replicates=2", "channels=false", "progress=false",
               f"hydra.sweep.dir={folder}")  # fmt: skip
    return folder / "aggregate" / "report.html"


@pytest.mark.browser
@pytest.mark.parametrize("width,height", WINDOWS)
def test_the_report_loads_every_image_fits_the_window_and_shows_the_recommendation(
    report, watched, width, height
):
    """At phone, tablet and desktop widths: every image loads, nothing is wider than the window
    (a wide table scrolls inside its own box), no two lines of text overlap, and what to do is
    in view without scrolling."""
    w = watched(width, height)
    page = w.page
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    images = page.evaluate(
        "() => Array.from(document.images, i => [i.getAttribute('src'), i.complete,"
        " i.naturalWidth])"
    )
    assert len(images) >= 4
    assert [src for src, done, natural in images if not (done and natural > 0)] == []
    scroll = page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
    assert scroll[0] <= scroll[1], scroll
    layout = page.evaluate(OVERFLOW)
    assert layout["scrollWidth"] <= layout["width"], layout
    assert layout["wide"] == []
    assert page.evaluate(TEXT_OVERLAPS) == []
    advice = page.locator("#recommendation")
    assert advice.is_visible() and "index points" in advice.inner_text()
    box = advice.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, box
    w.assert_clean()
