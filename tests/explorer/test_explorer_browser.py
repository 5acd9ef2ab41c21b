"""The explorer (`make app`): its runs and plots without a browser, and its page in chromium.

The tests without the marker are part of `make test`: the runs are exactly the sweeps' paired
runs, the band spans the seeds, the gain's parts add up, the CSV holds what is shown, every
plot's option is plain JSON. Tests marked `browser` (`make test-browser`) serve the explorer as
`make app` does and drive Debian's chromium (fixtures `browser` and `watched` of
tests/present/test_browser.py: a page may reach nothing but 127.0.0.1, and any console error or
failed request fails the test).
"""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import reacton.core
from mesa.visualization.solara_viz import _check_model_params

import sim
from experiments.explorer import assets
from experiments.explorer.charts import (
    CHANNEL_WORDS,
    adoption_option,
    band_series,
    channels_option,
    departments_option,
    design_words,
    gain_option,
    index_option,
    merge_patch,
    network_option,
    share_scale,
    summary_html,
)
from experiments.explorer.controls import (
    DESIGNS,
    LEVER_LABELS,
    behaviour_label,
    behaviour_ranges,
    default_settings,
    design_defaults,
    lever_choices,
    lever_range,
    parse_seed,
)
from experiments.explorer.page import Drawing, Plots, _step, drawn_now, exploration_of, plots
from experiments.explorer.runs import MODEL_PARAMS, Exploration, ExplorerModel, default_parameters
from experiments.jobs.outputs import csv_bytes
from experiments.study.levers import LEVERS
from experiments.study.posterior import PACKAGED_DRAWS, posterior_of, with_behaviour
from sim.errors import FinishedError
from sim.pairing import CHANNELS, no_exchange, paired_run
from tests.conftest import ROOT
from tests.present.test_browser import browser, cannot, free_port, watched  # noqa: F401 (fixtures)

try:
    from playwright.sync_api import expect
except ImportError:  # the browser tests skip themselves (fixture `browser`)
    expect = None

FIRST_RENDER = 180_000  # ms: a fresh clone compiles the model's kernels on the first page
UPDATE = 60_000  # ms: one step or reset of all runs, drawn


def small(**levers) -> dict:
    return {"scale": 0.01, "horizon": 12, "seed": "3", **levers}


def tiny(designs: dict | None = None, **kw) -> Exploration:
    """An exploration at 1% scale over 12 months."""
    designs = designs or {"A": design_defaults("A")}
    return Exploration(designs, **{"scale": 0.01, "horizon": 12, "seed": "3", **kw})


# --- without a browser (make test) ------------------------------------------------------------


def test_each_seed_is_the_sweeps_paired_run_with_its_posterior_draw():
    """Seed k of the explorer is sim.pairing.paired_run of the design with draw k of the packaged
    posterior and seed first + k (what a sweep's replicate k runs): the same service index,
    no-exchange index, gain and parts of the gain, month by month; design B shares the
    no-exchange runs of A."""
    b = {**design_defaults("A"), "cohort_size": 300, "months_between_cohorts": 3}
    ex = tiny({"A": {**design_defaults("A"), "cohort_size": 200}, "B": b}, seeds=3)
    while ex.running:
        ex.step()
    draws = posterior_of({"posterior": "packaged", "replicates": 3})
    table = ex.table()
    for name, levers in ex.designs.items():
        config = sim.config.with_settings(
            sim.ModelConfig(), {**levers, "scale": 0.01, "horizon": 12}
        )
        for k, seed in enumerate(ex.seeds):
            months = paired_run(with_behaviour(config, draws.behaviour(k)), seed).months
            assert seed == 3 + k
            np.testing.assert_array_equal(ex.curve(name, "service_index")[k], months.service_index)
            np.testing.assert_array_equal(
                ex.curve("none", "service_index")[k], months.baseline_index
            )
            np.testing.assert_allclose(ex.gain(name)[k], months.gain * 100, atol=1e-12)
            for part in CHANNELS:
                np.testing.assert_allclose(
                    ex.channels_of(name)[part][k], months[part] * 100, atol=1e-12
                )
            rows = table[(table.design == name) & (table.seed == seed)]
            np.testing.assert_allclose(rows.gain_points, months.gain * 100, atol=1e-12)
            assert list(rows.draw) == [k] * 13
    assert ex.curve("B", "departures")[0, -1] > ex.curve("A", "departures")[0, -1]
    with pytest.raises(FinishedError):
        ex.step()


def test_running_ahead_changes_nothing_shown():
    """`prepare` runs the next month while the page shows this one: what is shown (curves,
    summary, plots, CSV) stays at the shown month, and the next Step shows exactly what a run
    without running ahead shows; at the horizon it does nothing and Step refuses."""
    designs = {"A": {**design_defaults("A"), "cohort_size": 300}}
    ahead, plain = tiny(designs, seeds=2), tiny(designs, seeds=2)
    while plain.running:
        before = plots(ahead), summary_html(ahead), ahead.table()
        ahead.prepare()
        assert ahead.computed == ahead.month + 1
        assert (plots(ahead), summary_html(ahead)) == before[:2]
        pd.testing.assert_frame_equal(ahead.table(), before[2])
        ahead.prepare()  # once is enough: the month is already run
        assert ahead.computed == ahead.month + 1
        ahead.step()
        plain.step()
        assert ahead.computed == ahead.month == plain.month
        assert plots(ahead) == plots(plain)
        pd.testing.assert_frame_equal(ahead.table(), plain.table())
    ahead.prepare()
    assert ahead.computed == ahead.month == 12
    with pytest.raises(FinishedError):
        ahead.step()


def test_the_plots_send_their_drawings_and_the_renderer_never_opens_them():
    """The page hands the plots' cards and patches to its Plots widget as Drawings: the widget's
    state (what the browser receives) is the cards and patches themselves, while solara's
    renderer, which walks lists and dicts in an element's arguments, finds nothing to walk."""
    ex = tiny()
    cards, patches = drawn_now({}, id(ex), plots(ex))
    widget = Plots(plots=Drawing(cards), patches=Drawing(patches))
    assert widget.get_state()["plots"] == cards and widget.get_state()["patches"] == patches
    json.dumps(widget.get_state()["plots"], allow_nan=False)
    element = Plots.element(plots=Drawing(cards), patches=Drawing(patches))
    assert reacton.core.find_elements(element.kwargs) == set()
    assert not isinstance(element.kwargs["plots"], dict | list | tuple)


def test_each_plot_is_drawn_whole_once_per_runs_then_patched():
    """drawn_now: a plot keeps the option it was drawn whole with while the runs step (its
    patch grows), and is drawn whole again (counted) for new runs, even with an equal option."""
    ex = tiny({"A": {**design_defaults("A"), "cohort_size": 300}})
    drawn = {}
    first, patches = drawn_now(drawn, id(ex), plots(ex))
    assert [c["name"] for c in first] == list(plots(ex))
    assert {c["drawings"] for c in first} == {1} and all(p == {} for p in patches.values())
    for _ in range(3):
        ex.step()
        cards, patches = drawn_now(drawn, id(ex), plots(ex))
        assert cards == first  # nothing drawn whole again
        assert patches["index"]["series"][0]["data"] == plots(ex)["index"]["series"][0]["data"]
    again, patches = drawn_now(drawn, id(ex) + 1, plots(tiny()))  # new runs at month 0
    assert {c["drawings"] for c in again} == {2} and all(p == {} for p in patches.values())
    assert again[0]["option"] == first[0]["option"]  # equal, yet drawn whole again


def echarts_merge(option: dict, patch: dict) -> dict:
    """What ECharts's setOption(patch, notMerge false) makes of a chart drawn with `option`
    (for options without ids or names changed): components (the top level's values) merged,
    a top-level list item by item, dicts key by key, any other value replaced."""

    def merge(old, new):
        if isinstance(old, dict) and isinstance(new, dict):
            return {**old, **{k: merge(old[k], v) if k in old else v for k, v in new.items()}}
        return new

    out = dict(option)
    for key, value in patch.items():
        old = option.get(key)
        if isinstance(value, list) and isinstance(old, list):
            out[key] = [merge(a, b) for a, b in zip(old, value, strict=True)]
        else:
            out[key] = merge(old, value)
    return out


def test_a_step_sends_only_what_changed_and_merging_it_gives_the_month():
    """Each plot's option of a later month is the first month's with a patch merged in the way
    ECharts merges (charts.merge_patch); the patch leaves out what does not change (axes,
    titles, legends, the network's edges), and what cannot be merged is drawn whole (None)."""
    designs = {"A": {**design_defaults("A"), "cohort_size": 300}, "B": design_defaults("B")}
    ex = tiny(designs, seeds=2, channels=True)
    first = plots(ex)
    for _ in range(8):
        ex.step()
        now = plots(ex)
        assert now.keys() == first.keys()
        for name, option in now.items():
            patch = merge_patch(first[name], option)
            assert patch is not None, name
            assert echarts_merge(first[name], patch) == option, name
            assert {"xAxis", "yAxis", "legend", "grid", "tooltip"}.isdisjoint(patch), name
            json.dumps(patch, allow_nan=False)
    network = merge_patch(first["network"], now["network"])
    assert "links" not in network["series"][0] and "data" in network["series"][0]
    assert set(network["title"]) == {"subtext"}
    gain = merge_patch(first["gain"], now["gain"])
    assert all(set(s) <= {"data"} for s in gain["series"])  # the zero line (markLine) stays
    # unchanged: nothing; dropped, renamed or a component more: drawn whole
    assert merge_patch(now["index"], now["index"]) == {}
    option = now["index"]
    assert merge_patch(option, {k: v for k, v in option.items() if k != "legend"}) is None
    renamed = [{**option["series"][0], "name": "other"}, *option["series"][1:]]
    assert merge_patch(option, {**option, "series": renamed}) is None
    assert merge_patch(option, {**option, "series": option["series"][:-1]}) is None
    # JSON's view of equality: true is not 1
    assert merge_patch({"animation": 1}, {"animation": True}) == {"animation": True}
    assert merge_patch({"grid": {"top": 1}}, {"grid": {"top": 1.0}}) == {}


def test_the_plots_template_loads_the_echarts_the_assets_hold():
    """plots.vue (the explorer's own ECharts component) loads the ECharts version that
    experiments/fetch_assets.py fetches for offline use."""
    template = (ROOT / "experiments/explorer/plots.vue").read_text(encoding="utf-8")
    versions = re.findall(r'const version = "([\w.-]+)"', template)
    assert versions and all(f"echarts@{v}" in assets.PACKAGES for v in versions)


def test_the_band_spans_the_seeds_and_the_parts_add_up_to_the_gain():
    ex = tiny({"A": {**design_defaults("A"), "cohort_size": 300}}, seeds=4)
    for _ in range(6):
        ex.step()
    gain = ex.gain("A")
    assert gain.shape == (4, 7)
    option = gain_option(ex)
    # the band is the lowest to the highest seed, month by month: the filled widths above and
    # below zero add up to max - min
    base = next(s for s in option["series"] if s["name"] == "Design A band base")
    width = np.array(
        next(s for s in option["series"] if s["name"] == "Design A" and "areaStyle" in s)["data"]
    )
    np.testing.assert_allclose(base["data"], gain.min(0), atol=1e-4)
    np.testing.assert_allclose(width, gain.max(0) - gain.min(0), atol=2e-4)
    assert width[-1] > 0  # the seeds differ
    mean = next(
        s
        for s in option["series"]
        if s["name"] == "Design A" and "areaStyle" not in s and "stack" not in s
    )
    np.testing.assert_allclose(mean["data"], gain.mean(0), atol=1e-4)
    parts = ex.channels_of("A")
    np.testing.assert_allclose(sum(parts.values()), gain, atol=1e-9)


def test_a_band_is_a_base_and_a_width_stacked_on_it():
    """The band from -1 to 2 is an invisible base at -1 and a filled width of 3 stacked on it;
    ECharts adds values of either sign (stackStrategy "all"), so a band may cross zero."""
    low, high = np.array([-1.0, 1.0, -3.0]), np.array([2.0, 3.0, -1.0])
    base, fill = band_series("x", low, high, "#000")
    assert base["data"] == [-1, 1, -3] and fill["data"] == [3, 2, 2]
    assert base["stack"] == fill["stack"] and fill["stackStrategy"] == "all"
    assert "areaStyle" in fill and "areaStyle" not in base


def test_behaviour_settings_reach_every_run():
    by_hand = {**default_settings()["by_hand"], "transfer_rate": 0.77, "coaching_rate": 0.21}
    ex = tiny(seeds=2, behaviour="by_hand", by_hand=by_hand)
    for model in ex.models:
        assert model.config.behavior.transfer_rate == 0.77
        assert model.config.behavior.coaching_rate == 0.21
    assumed = tiny(seeds=1, behaviour="assumed")
    assert assumed.models[0].config.behavior == sim.BehaviorConfig()
    posterior = tiny(seeds=2, behaviour="posterior")
    draws = posterior_of({"posterior": "packaged", "replicates": 2})
    for k in range(2):
        behaviour = posterior.runs["A"][k]["design"].config.behavior
        for name, value in draws.behaviour(k).items():
            assert getattr(behaviour, name) == value
    # every slider stays inside the parameter's plausible range and starts at its default
    for name, (low, high, default) in behaviour_ranges().items():
        assert low <= default <= high, name
        assert _step(low, high) <= (high - low) / 50
    assert PACKAGED_DRAWS.is_file()


def test_the_levers_read_their_declared_ranges():
    """Each slider's range and step, and the selection list, are the lever's own
    (experiments.study.levers.LEVERS); the starting values of A and B lie on the sliders."""
    assert lever_choices("selection") == list(LEVERS["selection"].choices)
    for name in LEVER_LABELS:
        if name == "selection":
            continue
        lever = LEVERS[name]
        low, high, step = lever_range(name)
        assert (low, high, step) == (lever.low, lever.high, lever.step)
        for design in DESIGNS:
            assert design_defaults(design)[name] in lever.values(), (design, name)


def test_the_csv_holds_what_is_shown():
    ex = tiny({"A": design_defaults("A"), "B": design_defaults("B")}, seeds=2)
    for _ in range(3):
        ex.step()
    rows = list(csv.DictReader(io.StringIO(csv_bytes(ex.table()).decode("utf-8"))))
    assert len(rows) == 2 * 2 * 4  # designs x seeds x months 0..3
    last = [r for r in rows if r["month"] == "3"]
    for name in ("A", "B"):
        shown = np.mean([float(r["gain_points"]) for r in last if r["design"] == name])
        assert shown == pytest.approx(ex.gain(name)[:, -1].mean())
        assert f"gain now {ex.gain(name)[:, -1].mean():+.3f}" in summary_html(ex)
    parts = sum(float(last[0][f"{k}_points"]) for k in CHANNELS)
    assert parts == pytest.approx(float(last[0]["gain_points"]))
    cost = ex.curve("A", "cost")[0, -1] / 1000
    assert float(rows[3]["cost_idr_billion"]) == pytest.approx(cost)


def test_every_plot_is_plain_json_at_the_start_and_later():
    ex = tiny(
        {"A": {**design_defaults("A"), "cohort_size": 300}, "B": design_defaults("B")},
        seeds=2,
    )
    for month in (0, 4):
        while ex.month < month:
            ex.step()
        options = [
            index_option(ex),
            gain_option(ex),
            adoption_option(ex),
            departments_option(ex),
            network_option(ex),
            *(channels_option(ex, n) for n in ex.designs),
        ]
        for option in options:
            json.dumps(option, allow_nan=False)  # what the browser receives
            for series in option["series"]:
                if series["type"] == "line":
                    assert len(series["data"]) == month + 1
        assert f"month {month}," in adoption_option(ex)["title"]["subtext"]
    summary = summary_html(ex)
    assert "Month</b> 4 of 12" in summary and "Design B:" in summary


def test_the_network_colour_scale_spans_the_departments():
    """The darkest colour is the most proficient department now: the scale's top is the largest
    share rounded up to 1, 2 or 5 times a power of ten, never more than 2.5 times it."""
    assert share_scale(np.array([0.03, 2.4])) == 5
    assert share_scale(np.array([0.0, 0.0])) == 0.1
    assert share_scale(np.array([10.0])) == 10
    assert share_scale(np.array([37.0, 1.0])) == 50
    ex = tiny({"A": {**design_defaults("A"), "cohort_size": 300}})
    for _ in range(8):
        ex.step()
    option = network_option(ex)
    shares = [n["value"] for n in option["series"][0]["data"]]
    assert max(shares) > 0
    assert max(shares) <= option["visualMap"]["max"] <= 2.5 * max(shares)
    assert option["visualMap"]["inRange"]["color"][0] == "#f7fbff"  # no one proficient: white


def test_the_one_seed_mesa_model_runs_the_design_beside_its_no_exchange_run():
    """ExplorerModel (Mesa's SolaraViz form) is exactly sim.run of the design and of the same
    city without the exchange, with the same seed; the run stops at the horizon."""
    model = ExplorerModel(**small(cohort_size=400, months_between_cohorts=3))
    while model.running:
        model.step()
    config = sim.ModelConfig(
        scenario=sim.ScenarioConfig(scale=0.01),
        program=sim.ProgramConfig(cohort_size=400, months_between_cohorts=3),
        horizon=12,
    )
    pd.testing.assert_frame_equal(model.results(), sim.run(config, seed=3))
    pd.testing.assert_frame_equal(model.baseline.results(), sim.run(no_exchange(config), seed=3))
    _check_model_params(ExplorerModel.__init__, MODEL_PARAMS)
    assert set(default_parameters()) <= set(MODEL_PARAMS)


def test_the_seed_box():
    assert parse_seed(" 12 ") == (12, "")
    assert parse_seed("") == (None, "")
    seed, note = parse_seed("-3")
    assert seed is None and note.count("\n") == 0 and "'-3'" in note
    # empty: fresh seeds at each reset; a number: the same runs again
    assert len({tiny(seed="").first_seed for _ in range(3)}) == 3
    again = [tiny(seed="5", seeds=2) for _ in range(2)]
    for ex in again:
        ex.step()
    pd.testing.assert_frame_equal(again[0].table(), again[1].table())
    odd = tiny(seed="<b>x</b>")
    text = summary_html(odd)
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "<b>x</b>" not in text
    assert f"seeds {odd.first_seed}-{odd.first_seed + 4}" in text


# --- the browser ------------------------------------------------------------------------------


def serving(port: int, log) -> subprocess.Popen:
    """The explorer as `make app` serves it (experiments/explore.py), in a session of its own
    (so that a signal to it reaches it alone), once it answers; fails with its log if not."""
    try:
        assets.fill(assets.DEFAULT_FOLDER)
    except assets.AssetError as err:
        cannot(str(err))
    command = [sys.executable, "experiments/explore.py", "--port", str(port)]
    server = subprocess.Popen(
        command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, text=True
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            log.seek(0)
            pytest.fail(f"the explorer did not start:\n{log.read()[-3000:]}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    """The explorer served as `make app` serves it, on a free port; stopped afterwards."""
    port = free_port()
    log = tmp_path_factory.mktemp("explorer") / "solara.log"
    with open(log, "w+", encoding="utf-8") as out:
        server = serving(port, out)
        try:
            yield f"http://127.0.0.1:{port}/"
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=20)


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.browser
@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name
)
def test_a_signal_ends_the_explorer_in_one_line_leaving_no_process(sig, tmp_path):
    with open(tmp_path / "explorer.log", "w+", encoding="utf-8") as log:
        wrapper = serving(free_port(), log)
        servers = _children(wrapper.pid)
        assert servers  # solara, started by experiments/explore.py
        wrapper.send_signal(sig)
        wrapper.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_running(pid) for pid in servers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in servers if _running(pid)]  # no orphaned server
        log.seek(0)
        said = log.read()
    assert "Traceback" not in said
    if sig == signal.SIGKILL:  # nothing can speak, but the server ends with it
        return
    assert wrapper.returncode == 128 + sig
    how = "Ctrl-C" if sig == signal.SIGINT else "SIGTERM"
    assert said.strip().splitlines()[-1] == f"stopped ({how}): the explorer ended"
    assert "samesite" not in said


def open_explorer(watched, url: str, width: int = 1280, height: int = 900):  # noqa: F811
    w = watched(width, height)
    w.page.goto(url)
    w.page.get_by_text("Month 0 of 120").wait_for(timeout=FIRST_RENDER)
    return w


def month_shown(page) -> int:
    text = page.locator(".explorer-summary").inner_text()
    return int(re.search(r"Month (\d+) of", text).group(1))


def step_to(page, month: int) -> None:
    """Press Step and wait until the page shows `month`."""
    page.get_by_role("button", name="Step", exact=True).click()
    page.get_by_text(f"Month {month} of 120").wait_for(timeout=UPDATE)


def reset(page, *texts: str) -> None:
    """Press Reset and wait until the summary says the new runs' month 0 and `texts`."""
    page.get_by_role("button", name="Reset", exact=True).click()
    summary = page.locator(".explorer-summary")
    for text in ("Month 0 of 120", *texts):
        expect(summary).to_contain_text(text, timeout=UPDATE)


#: The option an ECharts plot holds in the browser (solara's component keeps its chart on the
#: Vue instance of the plot's element).
OPTION = """el => {
  const chart = el.__vue__ && el.__vue__.chart;
  return chart ? JSON.parse(JSON.stringify(chart.getOption())) : null;
}"""


def chart_option(page, name: str, wait_month: int | None = None) -> dict:
    """The option of plot `name` as drawn, once it exists (and shows `wait_month`: its lines end
    there, its subtitle names it)."""
    element = page.locator(f".explorer-{name} .solara-echarts")
    deadline = time.monotonic() + UPDATE / 1000
    while True:
        option = element.evaluate(OPTION)
        if option is not None:
            lines = [s for s in option["series"] if s["type"] == "line"]
            said = re.findall(r"month (\d+)", option["title"][0].get("subtext", ""))
            if wait_month is None or (
                all(len(s["data"]) == wait_month + 1 for s in lines)
                and all(int(m) == wait_month for m in said)
            ):
                return option
        assert time.monotonic() < deadline, f"plot {name} was not drawn"
        time.sleep(0.2)


def slider(page, label: str):
    return page.locator(".v-input", has_text=label).get_by_role("slider")


def press(control, key: str, times: int) -> None:
    control.focus()
    for _ in range(times):
        control.press(key)


def choose(page, label: str, option: str) -> None:
    page.locator(".v-input", has_text=label).locator(".v-select__slot").click()
    page.locator(".menuable__content__active .v-list-item", has_text=option).first.click()


PLOTS = ("index", "gain", "adoption", "departments", "network")
MESA_CONTROLS = ("Play Interval", "Render Interval", "Use Threads", "Page 0", "PAGE 0")


@pytest.mark.browser
@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])
def test_the_project_controls_come_first_and_every_plot_draws(explorer, watched, width, height):  # noqa: F811
    w = open_explorer(watched, explorer, width, height)
    page = w.page
    for name in ("Reset", "▶", "Step", "Download CSV"):
        assert page.get_by_role("button", name=name, exact=True).is_enabled(), name
    text = page.locator("body").inner_text()
    for words in MESA_CONTROLS:
        assert words not in text
    # the first card is the run's buttons, then design A's levers; sliders are wide
    cards = page.locator(".explorer-controls .v-card__title").all_inner_texts()
    assert cards[:2] == ["Run", "Design A"]
    controls = page.locator(".explorer-controls").bounding_box()
    for label in LEVER_LABELS.values():
        if label.startswith("Who goes"):
            assert page.locator(".v-input", has_text=label).is_visible()
            continue
        box = slider(page, label).locator("xpath=ancestor::div[contains(@class,'v-slider')][1]")
        width_px = box.bounding_box()["width"]
        assert width_px >= 0.75 * controls["width"] - 40 and width_px >= 240, (label, width_px)
    for plot in PLOTS:
        option = chart_option(page, plot)
        canvas = page.locator(f".explorer-{plot} canvas").first
        size = canvas.bounding_box()
        assert size["width"] >= 280 and size["height"] >= 250, (plot, size)
        assert option["series"], plot
    layout = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert layout[0] <= layout[1], layout
    summary = page.locator(".explorer-summary").inner_text()
    assert "seeds 1-5" in summary and "packaged posterior" in summary
    w.assert_clean()


@pytest.mark.browser
def test_step_draws_the_next_month_with_a_band_and_the_gains_parts(explorer, watched):  # noqa: F811
    w = open_explorer(watched, explorer)
    page = w.page
    assert "Split the gain by channel" in page.locator(".explorer-channels-off").inner_text()
    page.locator("label", has_text="Split the gain by channel").click()
    reset(page)
    page.locator(".explorer-channels-A").wait_for(timeout=UPDATE)
    for month in (1, 2, 3):
        step_to(page, month)
    option = chart_option(page, "index", wait_month=3)
    names = {s["name"] for s in option["series"]}
    assert {"Design A", "No exchange"} <= names
    # the band is the lowest to the highest of the five seeds, month by month, and the line their
    # mean: as the downloaded numbers say
    with page.expect_download(timeout=UPDATE) as download:
        page.get_by_role("button", name="Download CSV", exact=True).click()
    table = pd.read_csv(download.value.path())
    index = table[table.design == "A"].pivot(index="month", columns="seed", values="service_index")
    assert index.shape == (4, 5)
    series = {(s["name"], "areaStyle" in s, "stack" in s): s["data"] for s in option["series"]}
    low, high = index.min(axis=1), index.max(axis=1)
    np.testing.assert_allclose(series["Design A band base", False, True], low, atol=1e-4)
    np.testing.assert_allclose(series["Design A", True, True], high - low, atol=2e-4)
    np.testing.assert_allclose(series["Design A", False, False], index.mean(axis=1), atol=1e-4)
    parts = chart_option(page, "channels-A", wait_month=3)
    stacked = [s["name"] for s in parts["series"] if s.get("stack") == "parts"]
    assert stacked == list(CHANNEL_WORDS.values())
    w.assert_clean()


#: In the page: plot `name`'s chart as the Steps left it (its first drawing with patches merged),
#: then drawn again whole with `option` (as the page drew every month before patches): its
#: option as ECharts holds it and its picture, each time; and the sizes of the first drawing's
#: line series and the patch's keys (the Steps did merge).
SAME_AS_WHOLE = """([name, option]) => {
  const el = document.querySelector(`.explorer-${name} .solara-echarts`);
  const chart = el.__vue__.chart;
  const seen = () => ({option: JSON.stringify(chart.getOption()),
                       picture: chart.getDataURL({type: 'png'})});
  const out = {merged: seen(), first: el.__vue__.option.series.map(s => s.data.length),
               patch: Object.keys(el.__vue__.patch)};
  chart.setOption(option, true);
  out.whole = seen();
  return out;
}"""


@pytest.mark.browser
def test_steps_merged_into_the_first_drawing_show_what_a_whole_drawing_shows(explorer, watched):  # noqa: F811
    """A Step sends each plot only what changed since Reset (charts.merge_patch) and the browser
    merges it: after three steps every plot (both designs, the gain split by channel) holds
    exactly the option and draws exactly the picture it has when drawn again whole with that
    month's option, computed here from the same settings; and a Reset draws them whole again."""
    w = open_explorer(watched, explorer)
    page = w.page
    page.locator("label", has_text="Compare with a second design (B)").click()
    page.locator(".explorer-design-B").wait_for(timeout=UPDATE)
    page.locator("label", has_text="Split the gain by channel").click()
    expect(page.get_by_role("switch", name="Split the gain by channel")).to_be_checked()
    choose(page, "Scale (share of the 60,000", "0.05")
    reset(page, "scale 0.05: 3,000 simulated people", "Design B:")
    page.locator(".explorer-channels-B").wait_for(timeout=UPDATE)
    for month in (1, 2, 3):
        step_to(page, month)
    ex = exploration_of({**default_settings(), "compare": True, "channels": True, "scale": 0.05})
    for _ in range(3):
        ex.step()
    expected = plots(ex)
    assert set(expected) == {"index", "gain", "channels-A", "channels-B", "adoption",
                             "departments", "network"}  # fmt: skip
    for name, option in expected.items():
        chart_option(page, name, wait_month=3)
        seen = page.evaluate(SAME_AS_WHOLE, [name, option])
        assert "series" in seen["patch"] and set(seen["patch"]) <= {"series", "title", "visualMap"}
        if name in ("index", "gain") or name.startswith("channels"):
            assert set(seen["first"]) == {1}, name  # drawn whole at month 0 only
        assert json.loads(seen["merged"]["option"]) == json.loads(seen["whole"]["option"]), name
        assert seen["merged"]["picture"] == seen["whole"]["picture"], name
    ex.release()
    # Reset with the same settings: every plot is drawn whole at month 0 again, also those
    # whose month-0 option equals the one they were first drawn with (the browser sees no new
    # option there, only a new drawing)
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_text("Month 0 of 120").wait_for(timeout=UPDATE)
    for name in expected:
        chart_option(page, name, wait_month=0)
    w.assert_clean()


@pytest.mark.browser
def test_two_designs_side_by_side_each_against_no_exchange(explorer, watched):  # noqa: F811
    w = open_explorer(watched, explorer)
    page = w.page
    page.locator("label", has_text="Compare with a second design (B)").click()
    b = page.locator(".explorer-design-B")
    b.wait_for(timeout=UPDATE)
    cohort_b = b.locator(".v-input", has_text=LEVER_LABELS["cohort_size"]).get_by_role("slider")
    assert cohort_b.get_attribute("aria-valuenow") == str(design_defaults("B")["cohort_size"])
    b_words = design_words(design_defaults("B"))
    reset(page, "Design A: 10 staff per cohort, a cohort every 12 months", f"Design B: {b_words}")
    step_to(page, 1)
    gain = chart_option(page, "gain", wait_month=1)
    assert {"Design A", "Design B"} <= {s["name"] for s in gain["series"]}
    text = page.locator(".explorer-summary").inner_text()
    assert re.search(r"Design B:[^\n]*\n+So far: 30 staff sent", text), text
    w.assert_clean()


@pytest.mark.browser
def test_behaviour_set_by_hand_and_seeds(explorer, watched):  # noqa: F811
    w = open_explorer(watched, explorer)
    page = w.page
    choose(page, "Behaviour of the staff", "Set by hand")
    labels = [behaviour_label(k) for k in behaviour_ranges()]
    page.locator(".v-input", has_text=labels[-1]).wait_for(timeout=UPDATE)
    first = slider(page, labels[0])
    assert page.locator(".explorer-controls .v-slider").count() >= len(labels) + 6
    press(first, "End", 1)
    assert (
        float(first.get_attribute("aria-valuenow"))
        == behaviour_ranges()[next(iter(behaviour_ranges()))][1]
    )
    press(slider(page, "Seeds (paired runs"), "ArrowLeft", 3)
    choose(page, "Scale (share of the 60,000", "0.05")
    reset(page, "seeds 1-2", "behaviour: set by hand", "scale 0.05: 3,000 simulated people")
    w.assert_clean()


@pytest.mark.browser
def test_download_csv_gives_the_numbers_shown(explorer, watched):  # noqa: F811
    w = open_explorer(watched, explorer)
    page = w.page
    for month in (1, 2):
        step_to(page, month)
    with page.expect_download(timeout=UPDATE) as download:
        page.get_by_role("button", name="Download CSV", exact=True).click()
    table = pd.read_csv(download.value.path())
    assert len(table) == 5 * 3  # design A, five seeds, months 0-2
    assert sorted(table.seed.unique()) == [1, 2, 3, 4, 5]
    now = table[table.month == 2]
    summary = page.locator(".explorer-summary").inner_text()
    assert f"gain now {now.gain_points.mean():+.3f}" in summary
    gain = chart_option(page, "gain", wait_month=2)
    mean = next(s for s in gain["series"] if s["name"] == "Design A" and "stack" not in s)
    assert mean["data"][-1] == pytest.approx(now.gain_points.mean(), abs=1e-4)
    w.assert_clean()


@pytest.fixture
def busy():
    """Two processes that keep both cores busy for the test (a loaded machine)."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    yield
    for proc in burners:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)


@pytest.mark.browser
def test_reset_builds_what_the_sliders_show_even_under_load(explorer, watched, busy):  # noqa: F811
    """Keys pressed on two sliders while a Step is under way on a busy machine, then Reset at
    once: the runs have exactly the values the sliders show."""
    w = open_explorer(watched, explorer)
    page = w.page
    cohort = slider(page, LEVER_LABELS["cohort_size"])
    between = slider(page, LEVER_LABELS["months_between_cohorts"])
    page.get_by_role("button", name="Step", exact=True).click()  # a month under way
    press(cohort, "ArrowRight", 9)
    press(between, "ArrowLeft", 6)
    page.get_by_role("button", name="Reset", exact=True).click()
    expect(page.get_by_text("Month 0 of 120")).to_be_visible(timeout=UPDATE)
    shown = int(cohort.get_attribute("aria-valuenow")), int(between.get_attribute("aria-valuenow"))
    low, _, step = lever_range("cohort_size")
    # the keys moved both sliders (under load the browser may drop some presses: what matters
    # here is that the runs are built from what the sliders show, whatever they show)
    assert 10 < shown[0] <= 10 + 9 * step and 6 <= shown[1] < 12
    expect(page.locator(".explorer-summary")).to_contain_text(
        f"Design A: {shown[0]} staff per cohort, a cohort every {shown[1]} months", timeout=UPDATE
    )
    step_to(page, 1)
    assert f"So far: {shown[0]} staff sent" in page.locator(".explorer-summary").inner_text()
    w.assert_clean()


@pytest.mark.browser
def test_play_runs_month_after_month_until_paused(explorer, watched):  # noqa: F811
    w = open_explorer(watched, explorer)
    page = w.page
    page.get_by_role("button", name="▶", exact=True).click()
    page.get_by_text(re.compile(r"Month ([3-9]|\d\d+) of 120")).wait_for(timeout=UPDATE)
    page.get_by_role("button", name="❚❚", exact=True).click()
    expect(page.get_by_role("button", name="Step", exact=True)).to_be_enabled(timeout=UPDATE)
    paused = month_shown(page)
    for _ in range(20):  # a month under way when ❚❚ was pressed may still be drawn
        time.sleep(1)
        if month_shown(page) == paused:
            break
        paused = month_shown(page)
    time.sleep(2)
    assert month_shown(page) == paused >= 3
    w.assert_clean()
