"""The explorer (`make app`) and a sweep's report, looked at in a real browser.

Tests marked `browser` (`make test-browser`, run by .ci/run) drive Debian's `chromium`, launched
by path (no browser download), with Playwright for Python. The explorer is served by solara on
a free port of 127.0.0.1, with its front-end files from the local asset folder
(`experiments/app_assets.py`); the browser may reach nothing but 127.0.0.1 and local files, so
a page that needs the internet fails here. Each test opens its own page (its own session and
model) and fails on any error in the browser console, a failed request or a request that tried
to leave the machine. The server is stopped after the tests whatever happens.

Chromium is installed with apt when it is missing and the tests run as root; without it (or
without playwright or npm) the browser tests are skipped with one line saying why, and with
EXCHANGE_REQUIRE_BROWSER=1 (set by .ci/run) that is a failure instead.

The tests without the marker are part of `make test`: the explorer's model, plots and seed box
and the asset script, without a browser.
"""

from __future__ import annotations

import inspect
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from mesa.visualization.solara_viz import _check_model_params

import sim
from experiments import app, app_assets
from sim.errors import FinishedError
from sim.pairing import no_exchange

from .conftest import ROOT, run_script

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
FIRST_RENDER = 120_000  # ms: a fresh clone compiles the model's kernels on the first page
UPDATE = 30_000  # ms: one step or reset, drawn


# --- without a browser (make test) ------------------------------------------------------------


def small(**levers) -> dict:
    return {"scale": 0.01, "horizon": 12, "seed": "3", **levers}


def test_the_explorer_runs_the_design_beside_its_no_exchange_run():
    """The explorer's two curves are exactly sim.run of the design and of the same city without
    the exchange, with the same seed; the run stops at the horizon."""
    model = app.ExplorerModel(**small(cohort_size=400, months_between_cohorts=3))
    while model.running:
        model.step()
    config = sim.ModelConfig(
        scenario=sim.ScenarioConfig(scale=0.01),
        program=sim.ProgramConfig(cohort_size=400, months_between_cohorts=3),
        horizon=12,
    )
    pd.testing.assert_frame_equal(model.results(), sim.run(config, seed=3))
    pd.testing.assert_frame_equal(model.baseline.results(), sim.run(no_exchange(config), seed=3))
    assert model.month == 12 and model.baseline.month == 12
    assert model.results()["departures"].iloc[-1] >= 400  # the design did send people
    with pytest.raises(FinishedError):
        model.step()


def test_every_control_reaches_the_model():
    """SolaraViz accepts the controls (it checks them against the signature) and each one
    changes the model's configuration (a control that did nothing would pass unseen)."""
    _check_model_params(app.ExplorerModel.__init__, app.MODEL_PARAMS)
    defaults = app.default_parameters()
    assert set(defaults) <= set(inspect.signature(app.ExplorerModel.__init__).parameters)
    base = app.ExplorerModel(**{**defaults, "scale": 0.01}).config
    changed = {
        "cohort_size": 55,
        "months_between_cohorts": 7,
        "duration": 3,
        "selection": "managers",
        "experts_per_visit": 4,
        "months_between_expert_visits": 5,
        "scale": 0.05,
    }
    for name, value in changed.items():
        controls = {**defaults, "scale": 0.01, name: value}
        config = app.ExplorerModel(**controls).config
        assert sim.config_to_dict(config) != sim.config_to_dict(base), name
        section = "scenario" if name == "scale" else "program"
        assert getattr(getattr(config, section), name) == value
    for selection in app.MODEL_PARAMS["selection"]["values"]:  # every offered policy builds
        app.ExplorerModel(**small(selection=selection, cohort_size=100)).step()


def test_the_seed_box():
    assert app.parse_seed(" 12 ") == (12, "")
    assert app.parse_seed("") == (None, "")
    seed, note = app.parse_seed("-3")
    assert seed is None and note.count("\n") == 0 and "'-3'" in note
    # empty: a fresh seed at each reset; a number: the same run again
    fresh = {app.ExplorerModel(**small(seed="")).seed for _ in range(3)}
    assert len(fresh) == 3
    again = [app.ExplorerModel(**small(seed="5")) for _ in range(2)]
    for m in again:
        m.step()
    pd.testing.assert_frame_equal(again[0].results(), again[1].results())
    # what was typed is shown escaped
    odd = app.ExplorerModel(**small(seed="<b>x</b>"))
    text = app.summary_html(odd)
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "<b>x</b>" not in text
    assert f"seed {odd.seed}" in text


def test_every_plot_draws_at_the_start_and_later():
    model = app.ExplorerModel(**small(cohort_size=400, experts_per_visit=2))
    for month in (0, 3):
        while model.month < month:
            model.step()
        for draw in (
            app.index_figure,
            app.adoption_figure,
            app.departments_figure,
            app.network_figure,
        ):
            fig = draw(model)
            assert f"month {month}" in fig.axes[0].get_title()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png")
            assert buffer.getvalue()[:4] == b"\x89PNG"
    summary = app.summary_html(model)
    assert "Month</b> 3 of 12" in summary and "400 staff every 12 months" in summary


def test_the_asset_script_matches_solara_and_is_idempotent(tmp_path, monkeypatch, capsys):
    app_assets.check_versions()  # the installed solara asks for nothing else
    for package in app_assets.PACKAGES:  # already there: nothing fetched, npm not needed
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "package.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(app_assets.shutil, "which", lambda name: None)
    assert app_assets.fill(tmp_path) == []
    assert app_assets.main([str(tmp_path)]) == 0
    assert "already" in capsys.readouterr().out
    # one missing and no npm: one line, exit code 1
    shutil.rmtree(tmp_path / app_assets.PACKAGES[-1])
    assert app_assets.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: npm is not installed") and err.count("\n") == 1
    # a solara that asks for another version stops with one line naming it
    monkeypatch.setattr(app_assets, "PACKAGES", ("requirejs@2.3.6",))
    with pytest.raises(app_assets.AssetError, match="@widgetti/solara-vuetify-app@10.1.1"):
        app_assets.check_versions()


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


# --- the explorer ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    """The explorer served as `make app` serves it, on a free port; stopped afterwards."""
    try:
        folder = app_assets.DEFAULT_FOLDER
        app_assets.fill(folder)
    except app_assets.AssetError as err:
        cannot(str(err))
    port = free_port()
    log = tmp_path_factory.mktemp("explorer") / "solara.log"
    env = {
        **os.environ,
        "SOLARA_ASSETS_PROXY_CACHE_DIR": str(folder),
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    }
    solara = str(Path(sys.executable).with_name("solara"))
    command = [solara, "run", "experiments/app.py", "--host", "127.0.0.1", "--port", str(port),
               "--production", "--no-open"]  # fmt: skip
    with open(log, "w", encoding="utf-8") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the explorer did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)


def open_explorer(watched, url: str) -> Watched:
    w = watched()
    w.page.goto(url)
    w.page.get_by_text("Month 0 of 120").wait_for(timeout=FIRST_RENDER)
    return w


def step_to(page, month: int) -> None:
    """Press Step and wait until the page shows `month`."""
    page.get_by_role("button", name="Step", exact=True).click()
    page.get_by_text(f"Month {month} of 120").wait_for(timeout=UPDATE)


def month_shown(page) -> int:
    text = page.locator(".explorer-summary").inner_text()
    return int(re.search(r"Month (\d+) of", text).group(1))


def screenshot(locator) -> bytes:
    """The element's screenshot; solara replaces a plot's image element when it redraws, so an
    element that leaves the page (or is not yet shown) while being shot is found again and shot
    again, up to ten times."""
    from playwright.sync_api import Error

    redrawn = ("not attached", "not visible", "not stable")
    for _ in range(10):
        try:
            return locator.screenshot()
        except Error as err:
            if not any(words in str(err) for words in redrawn):
                raise
            time.sleep(0.3)
    return locator.screenshot()


def stable_shot(locator) -> bytes:
    """A screenshot of the element once two in a row agree (solara may redraw a plot right
    after an update)."""
    shot = screenshot(locator)
    for _ in range(20):
        time.sleep(0.3)
        again = screenshot(locator)
        if again == shot:
            return shot
        shot = again
    return shot


LEVER_LABELS = (
    "Cohort size (Jakarta staff, real people)",
    "Months between cohorts",
    "Months in Tokyo (duration)",
    "Tokyo experts per visit",
    "Months between expert visits",
)


@pytest.mark.browser
def test_the_explorer_shows_its_controls_and_plots(explorer, watched):
    w = open_explorer(watched, explorer)
    page = w.page
    for name in ("Reset", "▶", "Step"):
        assert page.get_by_role("button", name=name, exact=True).is_enabled()
    for label in LEVER_LABELS:
        slider = page.locator(".v-input", has_text=label).get_by_role("slider")
        assert slider.count() == 1, label
    assert page.locator(".v-input", has_text="Who goes (selection policy)").is_visible()
    assert page.locator(".v-input", has_text="Scale (share of the 60,000").is_visible()
    assert page.locator(".v-input", has_text="Seed").locator("input").input_value() == "1"
    for plot in ("index", "adoption", "departments", "network"):
        image = page.locator(f".explorer-{plot} img")
        image.wait_for(timeout=UPDATE)
        size = image.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
        assert size[0] and size[1] > 300 and size[2] > 200, plot
        assert image.is_visible()
    summary = page.locator(".explorer-summary").inner_text()
    assert f"scale {app.DEFAULT_SCALE:g}" in summary and "seed 1" in summary
    w.assert_clean()


@pytest.mark.browser
def test_step_advances_the_month_and_changes_the_index_plot(explorer, watched):
    w = open_explorer(watched, explorer)
    page = w.page
    index = page.locator(".explorer-index img")
    before = stable_shot(index)
    for month in (1, 2):
        step_to(page, month)
    assert page.get_by_text("Step: 2").is_visible()  # Mesa's own step counter agrees
    after = stable_shot(index)
    assert after != before
    w.assert_clean()


@pytest.mark.browser
def test_a_control_change_then_reset_changes_the_model(explorer, watched):
    w = open_explorer(watched, explorer)
    page = w.page
    step_to(page, 1)
    # cohort size: 10 -> 60 with the keyboard (a press is one step of the lever), as a user may
    cohort = page.locator(".v-input", has_text=LEVER_LABELS[0]).get_by_role("slider")
    cohort.focus()
    for _ in range(50 // app.LEVERS["cohort_size"].step):
        cohort.press("ArrowRight")
    assert cohort.get_attribute("aria-valuenow") == "60"
    # scale: 0.05 from the select
    page.locator(".v-input", has_text="Scale (share of the 60,000").locator(
        ".v-select__slot"
    ).click()
    page.locator(".menuable__content__active .v-list-item", has_text=re.compile(r"^0\.05$")).click()
    # nothing changes until Reset
    summary = page.locator(".explorer-summary")
    assert "10 staff every 12 months" in summary.inner_text()
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_text("Month 0 of 120").wait_for(timeout=UPDATE)
    text = summary.inner_text()
    assert "60 staff every 12 months" in text
    assert "scale 0.05: 3,000 simulated people" in text
    step_to(page, 1)
    assert "60 staff sent" in summary.inner_text()  # the new cohort left in month 1
    w.assert_clean()


@pytest.mark.browser
def test_play_runs_month_after_month_until_paused(explorer, watched):
    w = open_explorer(watched, explorer)
    page = w.page
    page.get_by_role("button", name="▶", exact=True).click()
    page.get_by_text(re.compile(r"Month ([3-9]|\d\d+) of 120")).wait_for(timeout=60_000)
    page.get_by_role("button", name="❚❚", exact=True).click()
    expect(page.get_by_role("button", name="Step", exact=True)).to_be_enabled(timeout=UPDATE)
    # a month already under way when ❚❚ was pressed may still be drawn: wait for it
    paused = month_shown(page)
    for _ in range(20):
        time.sleep(1)
        if month_shown(page) == paused:
            break
        paused = month_shown(page)
    time.sleep(2)
    assert month_shown(page) == paused >= 3
    w.assert_clean()


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
