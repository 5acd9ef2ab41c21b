"""The interactive explorer (`make app`): designs of the exchange, run month by month in a browser.

Set design A (and, to compare, design B) with the levers (cohort size in real Jakarta staff,
months between cohorts, months in Tokyo, who goes, Tokyo experts), the behaviour of the staff
(the packaged calibration's posterior draws, the assumed defaults, or set by hand within each
parameter's plausible range), how many seeds and the scale, press Reset, then Step or play month
by month. Every design runs on each seed beside the no-exchange run of the same seed and city
(the sweeps' pairing), so the page shows the city service index and the gain of each design as
the mean of the seeds with a band from the lowest to the highest seed, where each design's gain
comes from (the staff sent, the colleagues they taught, standard procedures: `sim.pairing`),
staff proficient in each practice, departments' quality by domain and the department network.
Download CSV gives the monthly numbers behind the plots.

Served by solara on this machine only (`make app` runs
`solara run experiments.explorer.page --host 127.0.0.1`) with solara's front-end files, ECharts
included, taken from a local folder (`experiments/fetch_assets.py`), so it works without internet.
The plots are ECharts options drawn by the browser: a month's update sends only the numbers
that changed (merged into the chart's first drawing), not images.

Apart: the runs (`Exploration`, plain Mesa models of `sim`), the plots (pure functions from an
Exploration to an ECharts option), and the page (`Page`). `ExplorerModel` and `MODEL_PARAMS` are
the one-seed form Mesa's own `SolaraViz` takes (a notebook may use them).
"""

from __future__ import annotations

import math
import threading
import time

import ipyvuetify
import reacton.ipyvue as ipyvue
import solara
import solara.settings
import traitlets

from experiments.explorer.charts import (
    adoption_option,
    channels_option,
    departments_option,
    gain_option,
    index_option,
    merge_patch,
    network_option,
    summary_html,
)
from experiments.explorer.controls import (
    BEHAVIOURS,
    DESIGNS,
    LEVER_LABELS,
    MAX_SEEDS,
    RUN_AHEAD_AFTER_S,
    SCALES,
    behaviour_label,
    behaviour_ranges,
    default_settings,
    lever_choices,
    lever_range,
)
from experiments.explorer.runs import Exploration
from experiments.jobs.outputs import csv_bytes
from sim.errors import UserError

#: Seeds run side by side when the page opens, and the most offered.


#: Controls in a column beside the plots on wide screens, above them on phones; sliders as wide
#: as their column, with their label above and their value always shown.
CSS = """
.explorer { display: grid; grid-template-columns: minmax(300px, 360px) minmax(0, 1fr);
  gap: 16px; align-items: start; }
@media (max-width: 900px) { .explorer { grid-template-columns: minmax(0, 1fr); } }
.explorer-plots { display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 420px), 1fr)); }
.explorer-plot { min-width: 0; }
.explorer-controls .v-input__slider .v-input__slot { flex-wrap: wrap; }
.explorer-controls .v-input__slider .v-label { flex: 1 0 100%; margin-bottom: 34px;
  white-space: normal; height: auto; line-height: 1.3; }
.explorer-controls .v-card__text { padding-top: 4px; }
.explorer-summary p { margin-bottom: 4px; }
"""


def exploration_of(settings: dict) -> Exploration:
    """The runs the controls' values ask for (what Reset builds)."""
    s = settings
    designs = {n: s["designs"][n] for n in DESIGNS if n == "A" or s["compare"]}
    return Exploration(
        designs,
        s["scale"],
        s["seed"],
        s["seeds"],
        s["behaviour"],
        s["by_hand"],
        s["channels"],
        s["horizon"],
    )


def plots(ex: Exploration) -> dict[str, dict]:
    """Every plot's option, in the page's order: what the server computes after each month."""
    out = {"index": index_option(ex), "gain": gain_option(ex)}
    if ex.channels:
        out.update({f"channels-{n}": channels_option(ex, n) for n in ex.designs})
    out.update(
        {
            "adoption": adoption_option(ex),
            "departments": departments_option(ex),
            "network": network_option(ex),
        }
    )
    return out


#: Plots taller than the others (px).
HEIGHTS = {"adoption": 400, "network": 400}


#: What each plot shows, under it.
CAPTIONS = {
    "index": "Each design beside the same city without the exchange, on the same seeds.",
    "channels": "Stacked: what the staff sent, the colleagues they taught and standard "
    "procedures added; the line is the gain, their sum.",
    "gain": "A design's service index minus that of no exchange on the same seed. Dips are "
    "months when a cohort is away from its department.",
    "adoption": "Real Jakarta staff proficient in each practice now, mean of the seeds.",
    "departments": "One dot per department (area: staff), mean of the seeds.",
    "network": "Departments (area: staff) joined by their three strongest ties; white: no one "
    "proficient, dark: the most proficient department now.",
}


class Drawing:
    """ECharts options (the plots' cards, their patches) handed to the widget unopened: solara's
    renderer walks every list and dict in an element's arguments, looking for elements and
    comparing them with the last render's, which for the page's options (thousands of numbers)
    took about half of a Step's render. A new Drawing is new content (compared by identity);
    `Plots` sends what it holds."""

    __slots__ = ("option",)

    def __init__(self, option: dict) -> None:
        self.option = option


def _option_json(value, _widget) -> dict:
    return value.option if isinstance(value, Drawing) else value


class Plots(ipyvuetify.VuetifyTemplate):
    """The summary and the plots (experiments/explorer/plots.vue): each plot a card of class
    `explorer-<name>` (tests find it so) with an ECharts chart drawn whole with its option,
    then merging its patch (what changed since, `charts.merge_patch`). One widget, so a Step
    (a new summary and patches) reaches the browser as one message and is drawn in one go.
    `plots`: the cards, each {name, caption, height, option, drawings} (drawings: how many
    times it was drawn whole) or {name, text}; `patches`: name -> patch; both Drawings."""

    template_file = (__file__, "plots.vue")
    summary = traitlets.Unicode("").tag(sync=True)
    plots = traitlets.Any([]).tag(sync=True, to_json=_option_json)
    patches = traitlets.Any({}).tag(sync=True, to_json=_option_json)
    cdn = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    @traitlets.default("cdn")
    def _cdn(self):  # as solara's ECharts widget: its CDN unless the server proxies it
        if not solara.settings.assets.proxy:
            return solara.settings.assets.cdn


#: The card in the plots' place when the gain is not split by channel.
CHANNELS_OFF = (
    "Where each design's gain comes from (the staff sent, the colleagues they taught, standard "
    "procedures): switch on 'Split the gain by channel' and press Reset (two more runs per "
    "design and seed)."
)


def drawn_now(drawn: dict, run: int, options: dict[str, dict]) -> tuple[list, dict]:
    """The cards and patches that show `options` (name -> option, in the page's order) of runs
    `run` (their id), given `drawn` (name -> (run, option drawn whole, whole drawings so far),
    updated here; a plot no longer shown keeps its count): each plot keeps the option it was
    last drawn whole with and gets only what changed since (a patch), until that cannot be
    merged or the runs are new; then it is drawn whole again (its drawings counted: the
    browser redraws when the count changes, and a name and count name one whole option)."""
    cards, patches = [], {}
    for name, option in options.items():
        last = drawn.get(name)
        patch = None if last is None or last[0] != run else merge_patch(last[1], option)
        if patch is None:
            drawn[name] = (run, option, 1 if last is None else last[2] + 1)
            patch = {}
        _, whole, drawings = drawn[name]
        caption = CAPTIONS.get(name.split("-")[0], "")
        cards.append({"name": name, "caption": caption, "height": HEIGHTS.get(name, 340),
                      "option": whole, "drawings": drawings})  # fmt: skip
        patches[name] = patch
    return cards, patches


def _reported_at_once(element, on_value, cast, event: str = "change") -> None:
    """Send the control's value to the server with each Vue `event`. Events leave the browser at
    once, in order with Reset's click; the widget's own value updates wait while an earlier
    one is unanswered (ipywidgets sends one at a time), so on a busy server Reset would build
    with values older than those shown."""
    ipyvue.use_event(element, event, lambda _widget, _event, data: on_value(cast(data)))


@solara.component
def Slider(label: str, value, low, high, step, on_value, cast=int):
    """A slider as wide as its column, its value always shown."""
    slider = solara.v.Slider(v_model=value, label=label, min=low, max=high, step=step,
                             thumb_label="always", hide_details=True)  # fmt: skip
    _reported_at_once(slider, on_value, cast)
    return slider


@solara.component
def Choice(label: str, value, values: list, on_value):
    """A drop-down list."""
    select = solara.v.Select(v_model=value, label=label, items=values, hide_details=True)
    _reported_at_once(select, on_value, lambda v: v)
    return select


@solara.component
def Toggle(label: str, value: bool, on_value):
    """A switch."""
    switch = solara.v.Switch(v_model=value, label=label, hide_details=True)
    _reported_at_once(switch, on_value, bool)
    return switch


@solara.component
def Text(label: str, value: str, on_value):
    """A text box; every keystroke is reported."""
    field = solara.v.TextField(v_model=value, label=label, hide_details=True)
    _reported_at_once(field, on_value, lambda v: "" if v is None else str(v), event="input")
    return field


@solara.component
def LeverControls(name: str, levers: dict, on_lever):
    """Design `name`'s levers, each showing the value Reset will use."""
    for key, label in LEVER_LABELS.items():
        if key == "selection":
            Choice(label, levers[key], lever_choices(key), lambda v, k=key: on_lever(name, k, v))
        else:
            low, high, step = lever_range(key)
            Slider(label, levers[key], low, high, step, lambda v, k=key: on_lever(name, k, v))


def _download_name(ex: Exploration) -> str:
    return f"explorer_month{ex.month}_seeds{ex.seeds[0]}-{ex.seeds[-1]}.csv"


def setter_of(settings):
    """A function setting one control's value (a path into the reactive settings dict)."""

    def change(path: tuple, value) -> None:
        new = dict(settings.value)
        node = new
        for key in path[:-1]:
            node[key] = dict(node[key])
            node = node[key]
        node[path[-1]] = value
        settings.value = new

    return change


@solara.component
def SettingsPanel(s: dict, change):
    """The designs' levers, then behaviour, seeds and scale. Its arguments stay equal from one
    month to the next, so a Step does not draw it again (only the plots and the text)."""
    for name in DESIGNS:
        if name == "B":
            Toggle(
                "Compare with a second design (B)",
                s["compare"],
                lambda v: change(("compare",), v),
            )
            if not s["compare"]:
                continue
        with solara.Card(f"Design {name}", margin=0, classes=[f"explorer-design-{name}"]):
            LeverControls(name, s["designs"][name], lambda n, k, v: change(("designs", n, k), v))
    with solara.Card("Behaviour, seeds and scale", margin=0):
        Choice(
            "Behaviour of the staff",
            BEHAVIOURS[s["behaviour"]],
            list(BEHAVIOURS.values()),
            lambda v: change(("behaviour",), _key(BEHAVIOURS, v)),
        )
        if s["behaviour"] == "by_hand":
            for key, (low, high, _) in behaviour_ranges().items():
                Slider(
                    behaviour_label(key),
                    s["by_hand"][key],
                    low,
                    high,
                    _step(low, high),
                    lambda v, k=key: change(("by_hand", k), v),
                    cast=float,
                )
        Slider(
            "Seeds (paired runs; the band spans them)",
            s["seeds"],
            1,
            MAX_SEEDS,
            1,
            lambda v: change(("seeds",), v),
        )
        Text(
            "First seed (empty: a new one at each Reset)",
            s["seed"],
            lambda v: change(("seed",), v),
        )
        Choice(
            "Scale (share of the 60,000 staff simulated)",
            s["scale"],
            SCALES,
            lambda v: change(("scale",), float(v)),
        )
        Toggle(
            "Split the gain by channel (2 more runs per design and seed)",
            s["channels"],
            lambda v: change(("channels",), v),
        )


@solara.component
def Page():
    """One exploration per browser session; the controls' values live in one reactive dict,
    which the controls show and Reset reads, so Reset builds exactly what the page shows. A
    Step draws again only what reads `tick` (RunCard and Results), not the controls."""
    settings = solara.use_reactive(solara.use_memo(default_settings, []))
    tick = solara.use_reactive(0)  # bumped after every step: the plots read the runs again
    playing = solara.use_reactive(False)
    error = solara.use_reactive("")
    lock = solara.use_memo(threading.Lock, [])

    def build():
        return exploration_of(settings.value)

    exploration = solara.use_reactive(solara.use_memo(build, []))
    change = solara.use_memo(lambda: setter_of(settings), [])

    def reset() -> None:
        playing.value = False
        with lock:
            try:
                new = build()
            except UserError as err:
                error.value = str(err)
                return
            error.value = ""
            old, exploration.value = exploration.value, new
            old.release()
            tick.value += 1

    def step() -> None:
        with lock:
            current = exploration.value
            if current.running:
                current.step()
        tick.value += 1

    def play() -> None:
        while playing.value and exploration.value.running:
            step()
            time.sleep(0.02)
        playing.value = False

    solara.lab.use_task(play, dependencies=[playing.value], prefer_threaded=True)

    solara.Title("Jakarta-Tokyo staff exchange: explorer")
    solara.Style(CSS)
    with solara.Div(classes=["explorer"]):
        with solara.Column(classes=["explorer-controls"], gap="12px"):
            RunCard(exploration, tick, playing, error.value, reset, step)
            SettingsPanel(settings.value, change)
        with solara.Column(gap="12px", style={"min-width": "0"}):
            Results(exploration, tick, lock)


@solara.component
def RunCard(exploration, tick, playing, error: str, reset, step):
    """Reset, play, Step and Download CSV, drawn again after every step (Step is disabled at
    the horizon, the CSV's name says the month)."""
    tick.get()  # read, so that a step (which bumps it) draws the card again
    ex = exploration.value
    with solara.Card("Run", margin=0):
        with solara.Row(gap="8px", style={"flex-wrap": "wrap"}):
            solara.Button("Reset", color="primary", on_click=reset)
            solara.Button(
                "❚❚" if playing.value else "▶",
                color="primary",
                on_click=lambda: playing.set(not playing.value),
                disabled=not ex.running,
            )
            solara.Button(
                "Step",
                color="primary",
                on_click=step,
                disabled=playing.value or not ex.running,
            )
            solara.FileDownload(
                lambda: csv_bytes(exploration.value.table()),
                filename=_download_name(ex),
                label="Download CSV",
            )
        solara.Text(
            "Move a control, then press Reset to start new runs with it; Step "
            "adds a month, ▶ plays to the horizon.",
            style={"font-size": "12px"},
        )
        if error:
            solara.Error(error)


@solara.component
def Results(exploration, tick, lock):
    """The summary and the plots of the month shown, drawn again after every step; then the
    next month is run ahead."""
    tick.get()  # read, so that a step (which bumps it) draws the results again
    ex = exploration.value

    def run_ahead() -> None:
        """Once the browser has drawn this month, run the next one in the background: a Step
        then only has to show it (it waits for the lock if the month is still being run)."""
        current = exploration.value

        def work() -> None:
            time.sleep(RUN_AHEAD_AFTER_S)
            with lock:
                if exploration.value is current:  # not replaced by a Reset meanwhile
                    current.prepare()

        threading.Thread(target=work, name="explorer-run-ahead", daemon=True).start()

    solara.use_effect(run_ahead, [tick.value])

    drawn = solara.use_ref(None)  # name -> (run, option drawn whole, whole drawings so far)
    last = solara.use_ref(None)  # (cards' names, their Drawing, patches, their Drawing) shown
    if drawn.current is None:
        drawn.current = {}
    cards, patches = drawn_now(drawn.current, id(ex), plots(ex))
    if not ex.channels:  # where the channels' plots would be: after the gain
        after_gain = [c["name"] for c in cards].index("gain") + 1
        cards.insert(after_gain, {"name": "channels-off", "text": CHANNELS_OFF})
    before = last.current
    seen = [(c["name"], c.get("drawings")) for c in cards]  # they name the cards
    shown_cards = before[1] if before and before[0] == seen else Drawing(cards)
    shown_patches = before[3] if before and before[2] == patches else Drawing(patches)
    last.current = (seen, shown_cards, patches, shown_patches)
    # the summary as HTML, not solara.Markdown: that loads mermaid and katex from the CDN
    Plots.element(summary=summary_html(ex), plots=shown_cards, patches=shown_patches)


def _key(mapping: dict, value) -> str:
    """The key whose value is `value`."""
    return next(k for k, v in mapping.items() if v == value)


def _step(low: float, high: float) -> float:
    """A slider step giving about 100 positions between low and high, rounded to 1, 2 or 5."""
    raw = (high - low) / 100
    power = 10 ** math.floor(math.log10(raw))
    return next(k * power for k in (1, 2, 5, 10) if k * power >= raw)
