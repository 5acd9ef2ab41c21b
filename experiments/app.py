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
`solara run experiments/app.py --host 127.0.0.1`) with solara's front-end files, ECharts
included, taken from a local folder (`experiments/app_assets.py`), so it works without internet.
The plots are ECharts options drawn by the browser: a month's update sends numbers, not images.

Apart: the runs (`Exploration`, plain Mesa models of `sim`), the plots (pure functions from an
Exploration to an ECharts option), and the page (`Page`). `ExplorerModel` and `MODEL_PARAMS` are
the one-seed form Mesa's own `SolaraViz` takes (a notebook may use them).
"""

from __future__ import annotations

import functools
import html
import math
import threading
import time

import networkx as nx
import numpy as np
import pandas as pd
import reacton.ipyvue as ipyvue
import solara
import traitlets
from solara.components.echarts import EchartsWidget

from experiments.figures import BASELINE_COLOUR, PALETTE, department_graph
from experiments.outputs import csv_bytes
from experiments.study import LEVERS, POINTS, one_thread, posterior_of, with_behaviour
from experiments.tables import department_name, practice_name, pretty
from sim import BehaviorConfig, ExchangeModel, ModelConfig, ProgramConfig, build_city
from sim.config import with_settings
from sim.errors import UserError
from sim.model import fresh_seed
from sim.organisation import DOMAINS
from sim.pairing import CHANNELS, COUNTERFACTUALS, counterfactual, decompose, no_exchange
from sim.resources import ResourceError, available_bytes, estimate, size
from sim.settings import declared, plausible_ranges

#: The explorer's scale when the page opens: all of Jakarta's 60,000 staff (a month of one run
#: takes about 10 ms at full scale); smaller scales start faster on a slow machine.
DEFAULT_SCALE = 1.0
#: Scales offered (share of the full headcount simulated).
SCALES = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0]
DEFAULT_SEED = "1"
#: Seconds between sending a month to the browser and running the next one ahead: a run ahead
#: started at once took the cores and the interpreter while the month was being sent and drawn
#: (click to drawn 0.15-0.29 s against 0.13-0.20 s after a pause; benchmarks/explorer.py).
RUN_AHEAD_AFTER_S = 0.15
#: Seeds run side by side when the page opens, and the most offered.
DEFAULT_SEEDS, MAX_SEEDS = 5, 10
PROGRAM = ProgramConfig()
HORIZON = ModelConfig().horizon
#: The designs the page can compare; B starts switched off.
DESIGNS = ("A", "B")
#: How B differs from A when it is first switched on (a larger, more frequent program).
B_STARTS = {"cohort_size": 30, "months_between_cohorts": 6}

# --- the controls: levers and behaviour ------------------------------------------------------

#: The explorer's words for each lever it offers; ranges and choices are the levers' own
#: (experiments.study.LEVERS).
LEVER_LABELS = {
    "cohort_size": "Cohort size (Jakarta staff, real people)",
    "months_between_cohorts": "Months between cohorts",
    "duration": "Months in Tokyo (duration)",
    "selection": "Who goes (selection policy)",
    "experts_per_visit": "Tokyo experts per visit",
    "months_between_expert_visits": "Months between expert visits",
}


def lever_range(name: str) -> tuple[int, int, int]:
    """(low, high, step) of an integer lever, in its unit (real staff, months)."""
    lever = LEVERS[name]
    return int(lever.low), int(lever.high), int(lever.step)


def lever_choices(name: str) -> list[str]:
    """The values a categorical lever offers."""
    return list(LEVERS[name].choices)


def design_defaults(name: str) -> dict:
    """The levers' starting values of design `name`: the model's defaults (sim.ProgramConfig),
    B with `B_STARTS` over them."""
    levers = {k: getattr(PROGRAM, k) for k in LEVER_LABELS}
    return {**levers, **B_STARTS} if name == "B" else levers


#: The behaviour the staff have, as offered on the page -> what it means.
BEHAVIOURS = {
    "posterior": "Calibrated: packaged posterior draws (seed k takes draw k, as the sweeps do)",
    "assumed": "Assumed defaults (posterior=none)",
    "by_hand": "Set by hand (within each parameter's plausible range)",
}


@functools.cache
def packaged_posterior():
    """The packaged behaviour draws (`posterior=packaged`, checked as run.py checks them)."""
    return posterior_of({"posterior": "packaged", "replicates": None})


def behaviour_ranges() -> dict[str, tuple[float, float, float]]:
    """name -> (low, high, default) of each uncertain behaviour parameter (sim/config.py)."""
    defaults = BehaviorConfig()
    return {
        k: (lo, hi, getattr(defaults, k))
        for k, (lo, hi) in plausible_ranges(BehaviorConfig).items()
    }


def behaviour_label(name: str) -> str:
    """A behaviour parameter's slider label: its name and unit (sim/config.py)."""
    unit = dict(declared(BehaviorConfig))[name].unit
    return f"{name} ({unit})" if unit else name


def behaviour_of(choice: str, replicate: int, by_hand: dict[str, float]) -> dict[str, float]:
    """The behaviour settings replicate `replicate` runs with ({}: the configured defaults)."""
    if choice == "posterior":
        return packaged_posterior().behaviour(replicate)
    if choice == "by_hand":
        return dict(by_hand)
    return {}


def parse_seed(text) -> tuple[int | None, str]:
    """The seed typed in the Seed box, and a note for the page: empty gives None (the model
    draws a fresh seed, Mesa's convention), a non-negative whole number is used as it is;
    anything else also draws a fresh seed and the note says so in one line."""
    raw = "" if text is None else str(text).strip()
    if raw.isdigit():
        return int(raw), ""
    if raw:
        return None, f"Seed {raw!r} is not a non-negative whole number: a fresh seed was drawn."
    return None, ""


def default_settings() -> dict:
    """What the controls show when the page opens (and what Reset builds from)."""
    return {
        "designs": {name: design_defaults(name) for name in DESIGNS},
        "compare": False,
        "behaviour": "posterior",
        "by_hand": {k: v for k, (_, _, v) in behaviour_ranges().items()},
        "seeds": DEFAULT_SEEDS,
        "seed": DEFAULT_SEED,
        "scale": DEFAULT_SCALE,
        "channels": False,
        "horizon": HORIZON,
    }


# --- the runs --------------------------------------------------------------------------------


class Exploration:
    """Designs run on `seeds` consecutive seeds, each beside the no-exchange run of the same seed
    and city, all stepped a month at a time together. Seed k (the first seed + k) takes draw k
    of the posterior, as a sweep's replicate k does; with `channels`, each design also runs
    with colleagues' and standard procedures' channels off (`sim.pairing.COUNTERFACTUALS`) to
    split its gain. Counts are real Jakarta staff and costs IDR million at every scale."""

    def __init__(
        self,
        designs: dict[str, dict],
        scale: float = DEFAULT_SCALE,
        seed: int | str | None = DEFAULT_SEED,
        seeds: int = DEFAULT_SEEDS,
        behaviour: str = "posterior",
        by_hand: dict[str, float] | None = None,
        channels: bool = True,
        horizon: int = HORIZON,
    ) -> None:
        first, self.note = parse_seed(seed)
        self.first_seed = fresh_seed() if first is None else first
        self.seeds = [self.first_seed + k for k in range(int(seeds))]
        self.behaviour, self.channels = behaviour, channels
        base = with_settings(ModelConfig(), {"scale": float(scale), "horizon": int(horizon)})
        self.designs = {name: dict(levers) for name, levers in designs.items()}
        self.configs = {n: with_settings(base, v) for n, v in self.designs.items()}
        variants = ("design", *COUNTERFACTUALS) if channels else ("design",)
        self.baselines: list[ExchangeModel] = []
        self.runs: dict[str, list[dict[str, ExchangeModel]]] = {n: [] for n in self.designs}
        for k, s in enumerate(self.seeds):
            drawn = behaviour_of(behaviour, k, by_hand or {})
            first_config = with_behaviour(next(iter(self.configs.values())), drawn)
            city = build_city(first_config, s)
            if k == 0:
                check_memory(first_config, city, len(self.seeds), 1 + len(designs) * len(variants))
            self.baselines.append(ExchangeModel(no_exchange(first_config), seed=s, city=city))
            for name, config in self.configs.items():
                config = with_behaviour(config, drawn)
                self.runs[name].append(
                    {
                        v: ExchangeModel(
                            config if v == "design" else counterfactual(config, v),
                            seed=s,
                            city=city,
                        )
                        for v in variants
                    }
                )
        self.structure = self.baselines[0].structure
        first = self.baselines[0]
        self.layout = network_layout(first.department_ties(), first.organisation.department_ids)
        self._shown = 0  # the month the page shows; the runs may be one month ahead (`prepare`)

    @property
    def models(self) -> list[ExchangeModel]:
        return self.baselines + [m for runs in self.runs.values() for r in runs for m in r.values()]

    @property
    def month(self) -> int:
        """The month shown: every curve, table and plot ends here."""
        return self._shown

    @property
    def computed(self) -> int:
        """The month the runs have reached: the month shown, or one more (`prepare`)."""
        return self.baselines[0].month

    @property
    def horizon(self) -> int:
        return self.baselines[0].config.horizon

    @property
    def running(self) -> bool:
        return self.month < self.horizon

    def step(self) -> None:
        """Show one month more: the month `prepare` ran ahead, else a month of every run now (a
        finished exploration refuses, as a model does)."""
        if self.computed == self._shown:
            self._advance()
        self._shown += 1

    def prepare(self) -> None:
        """Run every run's next month ahead of the page (while the user looks at this one), so
        that the next Step only shows it; what is shown does not change. Nothing at the
        horizon or when the next month is already run."""
        if self.computed == self._shown < self.horizon:
            with one_thread():  # the other core draws the page
                self._advance()

    def _advance(self) -> None:
        for model in self.models:
            model.step()

    def release(self) -> None:
        """Let Python free the runs (Mesa 3.3.1 keeps every model alive otherwise)."""
        for model in self.models:
            model.release()

    def curve(self, name: str, column: str, variant: str = "design") -> np.ndarray:
        """float (seeds, months so far + 1): a city column of design `name` ("none": the
        no-exchange runs), one row per seed."""
        models = self.baselines if name == "none" else [r[variant] for r in self.runs[name]]
        return np.array([m.recorder.scalars[column][: self.month + 1] for m in models])

    def gain(self, name: str) -> np.ndarray:
        """(seeds, months): design `name`'s service index minus its no-exchange run's (points)."""
        base = self.curve("none", "service_index")
        return (self.curve(name, "service_index") - base) * POINTS

    def channels_of(self, name: str) -> dict[str, np.ndarray]:
        """`sim.pairing.CHANNELS` -> (seeds, months) part of the gain (points); they add up to
        `gain`. Empty without `channels`."""
        if not self.channels:
            return {}
        index = {v: self.curve(name, "service_index", v) for v in ("design", *COUNTERFACTUALS)}
        parts = decompose(
            index.pop("design"), **index, baseline=self.curve("none", "service_index")
        )
        return {k: v * POINTS for k, v in parts.items()}

    def table(self) -> pd.DataFrame:
        """What the page shows, month by month for each design and seed: the service index with
        and without the exchange, the gain and its parts (points), staff sent, staff-months in
        Tokyo, expert visits and the cost so far (IDR billion): Download CSV's rows."""
        frames = []
        months = np.arange(self.month + 1)
        for name in self.designs:
            cols = {
                "service_index": self.curve(name, "service_index"),
                "no_exchange_index": self.curve("none", "service_index"),
                "gain_points": self.gain(name),
                **{f"{k}_points": v for k, v in self.channels_of(name).items()},
                "staff_sent": self.curve(name, "departures"),
                "staff_months_in_tokyo": self.curve(name, "staff_months_abroad"),
                "expert_visits": self.curve(name, "expert_visits"),
                "cost_idr_billion": self.curve(name, "cost") / 1000,
            }
            for k, seed in enumerate(self.seeds):
                frame = pd.DataFrame({"design": name, "seed": seed, "draw": k, "month": months})
                if self.behaviour != "posterior":
                    frame["draw"] = pd.NA
                for column, values in cols.items():
                    frame[column] = values[k]
                frames.append(frame)
        return pd.concat(frames, ignore_index=True)


def check_memory(config: ModelConfig, city, seeds: int, runs_per_seed: int) -> None:
    """Refuse (one ResourceError line) runs that would not fit the memory available now."""
    need = estimate(config, city.structure.n_staff, city.structure.catalogue.n)
    total = seeds * (runs_per_seed * need.run_bytes + need.city_bytes)
    available = available_bytes()
    if total > available:
        raise ResourceError(
            f"{seeds} seeds x {runs_per_seed} runs at scale {config.scenario.scale:g} need about "
            f"{size(total)} of memory and this machine has {size(available)} available: fewer "
            "seeds, one design, the gain not split by channel, or a smaller scale"
        )


def network_layout(ties: pd.DataFrame, ids: list[str]) -> tuple[nx.Graph, dict]:
    """Departments as nodes, cross-department ties as weighted edges, and fixed positions."""
    graph = department_graph(ties, ids)
    return graph, nx.spring_layout(graph, seed=20251128, weight="weight")


class ExplorerModel(ExchangeModel):
    """One seed of one design beside its no-exchange run (`self.baseline`, same seed and city),
    its levers as keywords: the form Mesa's SolaraViz rebuilds on Reset as
    `ExplorerModel(**MODEL_PARAMS values)`. Named parameters (not `**levers`): SolaraViz checks
    every control against the signature."""

    def __init__(
        self,
        cohort_size: int = PROGRAM.cohort_size,
        months_between_cohorts: int = PROGRAM.months_between_cohorts,
        duration: int = PROGRAM.duration,
        selection: str = PROGRAM.selection,
        experts_per_visit: int = PROGRAM.experts_per_visit,
        months_between_expert_visits: int = PROGRAM.months_between_expert_visits,
        scale: float = DEFAULT_SCALE,
        horizon: int = HORIZON,
        seed: int | str | None = DEFAULT_SEED,
    ) -> None:
        seed_value, self.note = parse_seed(seed)
        levers = {
            "cohort_size": int(cohort_size),
            "months_between_cohorts": int(months_between_cohorts),
            "duration": int(duration),
            "selection": str(selection),
            "experts_per_visit": int(experts_per_visit),
            "months_between_expert_visits": int(months_between_expert_visits),
            "scale": float(scale),
            "horizon": int(horizon),
        }
        super().__init__(seed=seed_value, **levers)
        city = build_city(self.config, self.seed)
        self.baseline = ExchangeModel(no_exchange(self.config), seed=self.seed, city=city)

    def step(self) -> None:
        """A month of the design and of its no-exchange twin (a finished run refuses)."""
        super().step()
        self.baseline.step()


def lever_param(name: str) -> dict:
    """A lever as Mesa's model_params declare a control."""
    if name == "selection":
        return {
            "type": "Select",
            "value": PROGRAM.selection,
            "values": lever_choices(name),
            "label": LEVER_LABELS[name],
        }
    low, high, step = lever_range(name)
    return {
        "type": "SliderInt",
        "value": getattr(PROGRAM, name),
        "min": low,
        "max": high,
        "step": step,
        "label": LEVER_LABELS[name],
    }


#: ExplorerModel's controls in Mesa's form, for `SolaraViz(ExplorerModel(), model_params=...)`.
MODEL_PARAMS = {
    **{name: lever_param(name) for name in LEVER_LABELS},
    "scale": {
        "type": "Select",
        "value": DEFAULT_SCALE,
        "values": SCALES,
        "label": "Scale (share of the 60,000 staff simulated)",
    },
    "seed": {
        "type": "InputText",
        "value": DEFAULT_SEED,
        "label": "Seed (empty: a new one at each Reset)",
    },
    "horizon": HORIZON,
}


def default_parameters() -> dict:
    """The values MODEL_PARAMS's controls start with (and the fixed parameters)."""
    return {k: v["value"] if isinstance(v, dict) else v for k, v in MODEL_PARAMS.items()}


# --- the plots: ECharts options, pure functions of an Exploration --------------------------------

#: Colours of designs A and B (the figures' palette) and of the no-exchange run.
COLOURS = {"A": PALETTE[0], "B": PALETTE[1], "none": BASELINE_COLOUR}
#: Colours of the gain's parts, in `sim.pairing.CHANNELS` order.
CHANNEL_COLOURS = dict(zip(CHANNELS, (PALETTE[0], PALETTE[2], PALETTE[3]), strict=True))
CHANNEL_WORDS = {
    "gain_travellers": "Staff sent",
    "gain_colleagues": "Colleagues",
    "gain_sops": "SOPs",
}
#: Light (no one proficient) to dark (the most proficient department now).
NETWORK_COLOURS = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"]


def _r(values, digits: int = 4) -> list:
    """Plain rounded floats for the browser (JSON; fewer digits, smaller messages)."""
    return np.round(np.asarray(values, dtype=float), digits).tolist()


def _months_axis(ex: Exploration) -> dict:
    return {
        "type": "category",
        "data": list(range(ex.horizon + 1)),
        "boundaryGap": False,
        "name": "Month (12 = one year)",
        "nameLocation": "middle",
        "nameGap": 28,
        "axisLabel": {"interval": 11},
    }


def _base(title: str, subtitle: str = "", **extra) -> dict:
    """An option's frame: a short title (units in it) and a subtitle, tooltip, legend at the
    bottom, no animation (a month redraws)."""
    return {
        "animation": False,
        "title": {
            "text": title,
            "subtext": subtitle,
            "left": "center",
            "itemGap": 4,
            "textStyle": {"fontSize": 13},
            "subtextStyle": {"fontSize": 11},
        },
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0, "type": "scroll"},
        "grid": {"left": 12, "right": 18, "top": 52, "bottom": 56, "containLabel": True},
        **extra,
    }


def band_series(label: str, low: np.ndarray, high: np.ndarray, colour: str) -> list[dict]:
    """A filled band from `low` to `high`: an invisible line at `low` and the width stacked on
    it (stackStrategy "all": values of either sign add, so a band may cross zero)."""
    common = {
        "type": "line",
        "stack": f"{label} band",
        "stackStrategy": "all",
        "symbol": "none",
        "silent": True,
        "lineStyle": {"opacity": 0},
        "tooltip": {"show": False},
    }
    return [
        {**common, "name": f"{label} band base", "data": _r(low)},
        {
            **common,
            "name": label,
            "data": _r(high - low),
            "areaStyle": {"color": colour, "opacity": 0.18},
            "itemStyle": {"color": colour},
        },
    ]


def _mean_line(label: str, values: np.ndarray, colour: str, dashed: bool = False) -> dict:
    return {
        "type": "line",
        "name": label,
        "data": _r(values),
        "symbol": "none",
        "lineStyle": {"color": colour, "width": 2, "type": "dashed" if dashed else "solid"},
        "itemStyle": {"color": colour},
    }


def seeds_words(ex: Exploration) -> str:
    n = len(ex.seeds)
    return "one seed" if n == 1 else f"mean of {n} seeds, band: lowest to highest"


def index_option(ex: Exploration) -> dict:
    """The city service index (0-1) of each design and of no exchange: mean and band."""
    series, names = [], []
    for name in (*ex.designs, "none"):
        values = ex.curve(name, "service_index")
        label = "No exchange" if name == "none" else f"Design {name}"
        if len(ex.seeds) > 1:
            series += band_series(label, values.min(0), values.max(0), COLOURS[name])
        series.append(_mean_line(label, values.mean(0), COLOURS[name], dashed=name == "none"))
        names.append(label)
    return _base(
        "City service index (0-1)",
        seeds_words(ex),
        xAxis=_months_axis(ex),
        yAxis={"type": "value", "scale": True},
        legend={"bottom": 0, "data": names},
        series=series,
    )


def gain_option(ex: Exploration) -> dict:
    """Each design's gain over no exchange on the same seeds (points): mean and band."""
    series, names = [], []
    for name in ex.designs:
        gain = ex.gain(name)
        label = f"Design {name}"
        if len(ex.seeds) > 1:
            series += band_series(label, gain.min(0), gain.max(0), COLOURS[name])
        series.append(_mean_line(label, gain.mean(0), COLOURS[name]))
        names.append(label)
    series[-1]["markLine"] = {
        "silent": True,
        "symbol": "none",
        "label": {"show": False},
        "lineStyle": {"color": "#333333", "type": "solid", "width": 1},
        "data": [{"yAxis": 0}],
    }
    return _base(
        "Gain over no exchange (index points)",
        seeds_words(ex),
        xAxis=_months_axis(ex),
        yAxis={"type": "value"},
        legend={"bottom": 0, "data": names},
        series=series,
    )


def channels_option(ex: Exploration, name: str) -> dict:
    """Where design `name`'s gain comes from, month by month (points, mean of the seeds): the
    staff sent, the colleagues they taught, standard procedures (stacked), and the gain."""
    parts = ex.channels_of(name)
    series = [
        {
            "type": "line",
            "name": CHANNEL_WORDS[k],
            "stack": "parts",
            "symbol": "none",
            "data": _r(v.mean(0)),
            "areaStyle": {"opacity": 0.55},
            "lineStyle": {"width": 0.5},
            "itemStyle": {"color": CHANNEL_COLOURS[k]},
        }
        for k, v in parts.items()
    ]
    series.append(_mean_line("Gain", ex.gain(name).mean(0), "#222222"))
    return _base(
        f"Where design {name}'s gain comes from (points)",
        "mean of the seeds; the line: the gain",
        xAxis=_months_axis(ex),
        yAxis={"type": "value"},
        series=series,
    )


def adoption_option(ex: Exploration) -> dict:
    """Real Jakarta staff proficient in each practice now, each design and no exchange (mean
    of the seeds)."""
    ids = ex.structure.catalogue.ids
    names = [practice_name(p) for p in ids]
    series = []
    for name in (*ex.designs, "none"):
        models = ex.baselines if name == "none" else [r["design"] for r in ex.runs[name]]
        t = ex.month
        staff = np.array([m.recorder.adoption[t] * m.recorder.scalars["staff"][t] for m in models])
        label = "No exchange" if name == "none" else f"Design {name}"
        series.append(
            {
                "type": "bar",
                "name": label,
                "data": _r(staff.mean(0), 0),
                "itemStyle": {"color": COLOURS[name]},
            }
        )
    return _base(
        "Staff proficient in each Tokyo practice",
        f"month {ex.month}, mean of the seeds",
        tooltip={"trigger": "axis", "axisPointer": {"type": "shadow"}},
        grid={"left": 8, "right": 18, "top": 40, "bottom": 56, "containLabel": True},
        xAxis={
            "type": "value",
            "name": "Jakarta staff proficient (people)",
            "nameLocation": "middle",
            "nameGap": 26,
        },
        yAxis={
            "type": "category",
            "data": names,
            "inverse": True,
            "axisLabel": {"width": 150, "overflow": "truncate", "fontSize": 10},
        },
        series=series,
    )


def departments_option(ex: Exploration) -> dict:
    """Each department's service quality gain over no exchange now (points, mean of the seeds),
    by domain, for each design; dot area: staff."""
    t = ex.month
    rec = ex.baselines[0].recorder
    domains = [d for d in DOMAINS if d in rec.department_domains]
    where = np.array([domains.index(d) for d in rec.department_domains])
    staff = ex.structure.full_headcount
    size = np.sqrt(staff / staff.max()) * 22 + 4
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, where.size)
    base = np.mean([m.recorder.dept_quality[t] for m in ex.baselines], axis=0)
    ids = ex.structure.organisation.department_ids
    series = []
    for name in ex.designs:
        quality = np.mean([r["design"].recorder.dept_quality[t] for r in ex.runs[name]], axis=0)
        change = (quality - base) * POINTS
        shift = (
            -0.15 if (len(ex.designs) > 1 and name == "A") else (0.15 if len(ex.designs) > 1 else 0)
        )
        data = [
            {
                "value": [
                    round(float(where[i] + jitter[i] / 2 + shift), 3),
                    round(float(change[i]), 4),
                ],
                "name": department_name(ids[i]),
                "symbolSize": round(float(size[i]), 1),
            }
            for i in range(where.size)
        ]
        series.append(
            {
                "type": "scatter",
                "name": f"Design {name}",
                "data": data,
                "itemStyle": {
                    "color": COLOURS[name],
                    "opacity": 0.7,
                    "borderColor": "#333333",
                    "borderWidth": 0.5,
                },
            }
        )
    return _base(
        "Departments' quality gain (points)",
        f"over no exchange, by domain, month {ex.month}",
        tooltip={"trigger": "item"},
        # the domains' names on a category axis; the dots on a value axis over the same slots
        xAxis=[
            {
                "type": "category",
                "data": [pretty(d) for d in domains],
                "axisLabel": {"interval": 0, "rotate": 30, "fontSize": 9},
            },
            {"type": "value", "min": -0.5, "max": len(domains) - 0.5, "show": False},
        ],
        yAxis={"type": "value"},
        series=[{**one, "xAxisIndex": 1} for one in series],
    )


def share_scale(shares: np.ndarray) -> float:
    """The top of the network's colour scale (% of staff proficient): the largest share now,
    rounded up to 1, 2 or 5 times a power of ten (at least 0.1%), so the most proficient
    department is dark and the others spread between it and white."""
    top = max(float(np.max(shares)) if shares.size else 0.0, 0.1)
    power = 10 ** math.floor(math.log10(top))
    return next(k * power for k in (1, 2, 5, 10) if k * power >= top - 1e-12)


def network_option(ex: Exploration, name: str = "A") -> dict:
    """Departments (circle area: staff) joined by their strongest work ties, coloured by the
    share of their staff proficient in the department's practices now (design `name`, mean of
    the seeds)."""
    graph, pos = ex.layout
    t = ex.month
    share = np.mean([r["design"].recorder.dept_proficient[t] for r in ex.runs[name]], axis=0) * 100
    staff = ex.structure.full_headcount
    ids = ex.structure.organisation.department_ids
    nodes = [
        {
            "id": str(i),
            "name": department_name(ids[i]),
            "x": round(float(pos[i][0]), 4),
            "y": round(float(-pos[i][1]), 4),
            "value": round(float(share[i]), 3),
            "symbolSize": round(float(np.sqrt(staff[i] / staff.max()) * 34 + 5), 1),
        }
        for i in range(len(ids))
    ]
    weights = (
        np.array([w for *_, w in graph.edges(data="weight")])
        if graph.number_of_edges()
        else np.ones(1)
    )
    edges = [
        {
            "source": str(i),
            "target": str(j),
            "lineStyle": {"width": round(0.3 + 2.2 * w / weights.max(), 2)},
        }
        for i, j, w in strongest_ties(graph)
    ]
    top = share_scale(share)
    return _base(
        f"Department network, design {name}",
        f"month {ex.month}, mean of the seeds",
        tooltip={"trigger": "item", "formatter": "{b}: {c}% proficient"},
        legend={"show": False},
        visualMap={
            "type": "continuous",
            "min": 0,
            "max": top,
            "dimension": 0,
            "seriesIndex": 0,
            "inRange": {"color": NETWORK_COLOURS},
            "text": [f"{top:g}% proficient", "0%"],
            "calculable": False,
            "orient": "horizontal",
            "left": "center",
            "bottom": 4,
            "itemHeight": 120,
        },
        series=[
            {
                "type": "graph",
                "layout": "none",
                "data": nodes,
                "links": edges,
                "roam": False,
                "label": {"show": False},
                "itemStyle": {"borderColor": "#333333", "borderWidth": 0.6},
                "lineStyle": {"color": "#9a9a9a", "opacity": 0.35},
                "top": 52,
                "bottom": 56,
                "left": 12,
                "right": 12,
            }
        ],
    )


@functools.lru_cache(maxsize=8)  # an exploration's graph never changes: once, not every month
def strongest_ties(graph: nx.Graph, per_node: int = 3) -> list[tuple[int, int, float]]:
    """Each department's `per_node` strongest ties to other departments (a tie once)."""
    keep = set()
    for node in graph.nodes:
        ranked = sorted(graph[node].items(), key=lambda kv: -kv[1]["weight"])[:per_node]
        keep.update(tuple(sorted((node, other))) for other, _ in ranked)
    return [(i, j, graph[i][j]["weight"]) for i, j in sorted(keep)]


# --- what the page says ----------------------------------------------------------------------


def design_words(levers: dict) -> str:
    """'10 staff per cohort, a cohort every 12 months, 6 months in Tokyo, random selection;
    ...' (real staff): the levers' own labels."""

    def said(name: str) -> str:
        value = levers[name]
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        return LEVERS[name].labelled(value, shown)

    words = ", ".join(said(n) for n in ("cohort_size", "months_between_cohorts", "duration",
                                         "selection"))  # fmt: skip
    if levers["experts_per_visit"]:
        words += "; " + ", ".join(said(n) for n in ("experts_per_visit",
                                                    "months_between_expert_visits"))  # fmt: skip
    return words


def _spread(values: np.ndarray, fmt: str) -> str:
    """'+0.12 (lowest +0.05, highest +0.20)' for several seeds, the value alone for one."""
    text = format(float(values.mean()), fmt)
    if values.size > 1:
        low, high = format(float(values.min()), fmt), format(float(values.max()), fmt)
        text += f" (lowest {low}, highest {high})"
    return text


def summary_html(ex: Exploration) -> str:
    """What the page says about the runs now (HTML paragraphs; every value escaped)."""
    base = ex.baselines[0]
    seeds = f"seed {ex.seeds[0]}" if len(ex.seeds) == 1 else f"seeds {ex.seeds[0]}-{ex.seeds[-1]}"
    behaviour = {
        "posterior": f"the packaged posterior (draws 0-{len(ex.seeds) - 1}, one per seed)",
        "assumed": "the assumed defaults",
        "by_hand": "set by hand",
    }[ex.behaviour]
    lines = [
        (
            "Month",
            f"{ex.month} of {ex.horizon} (year {ex.month / 12:.1f}) · {seeds} · scale "
            f"{base.config.scenario.scale:g}: {base.n_staff:,} simulated people stand for "
            f"{base.structure.real_staff:,.0f} staff · behaviour: {behaviour}",
        ),
    ]
    for name, levers in ex.designs.items():
        now = {
            c: ex.curve(name, c)[:, -1]
            for c in ("departures", "staff_months_abroad", "expert_visits", "cost")
        }
        lines.append((f"Design {name}:", design_words(levers)))
        lines.append(
            (
                "So far:",
                f"{now['departures'].mean():,.0f} staff sent, "
                f"{now['staff_months_abroad'].mean():,.0f} staff-months in Tokyo, "
                f"{now['expert_visits'].mean():,.0f} expert visits, cost IDR "
                f"{now['cost'].mean() / 1000:,.1f} billion; gain now "
                f"{_spread(ex.gain(name)[:, -1], '+.3f')} points",
            )
        )
    if ex.note:
        lines.append(("Note:", ex.note))
    paragraphs = [f"<p><b>{html.escape(h)}</b> {html.escape(t)}</p>" for h, t in lines]
    return f'<div class="explorer-summary">{"".join(paragraphs)}</div>'


# --- the page --------------------------------------------------------------------------------

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
    """An ECharts option handed to the chart unopened: solara's renderer walks every list and
    dict in an element's arguments, looking for elements and comparing them with the last
    render's, which for the page's options (thousands of numbers) took about half of a Step's
    render. A new Drawing is a new plot (compared by identity); `Chart` sends its option."""

    __slots__ = ("option",)

    def __init__(self, option: dict) -> None:
        self.option = option


def _option_json(value, _widget) -> dict:
    return value.option if isinstance(value, Drawing) else value


class Chart(EchartsWidget):
    """solara's ECharts widget (its template and front end), its option given as a Drawing."""

    option = traitlets.Any({}).tag(sync=True, to_json=_option_json)


@solara.component
def Plot(name: str, drawing: Drawing, caption: str = "", height: int = 340):
    """A plot drawn by the browser, in a card of class `explorer-<name>` (tests find it so)."""
    with solara.Card(classes=["explorer-plot", f"explorer-{name}"], margin=0):
        Chart.element(
            option=drawing,
            attributes={"style": f"height: {height}px; width: 100%"},
            responsive=True,
        )
        if caption:
            solara.Text(caption, style={"font-size": "12px", "color": "#555"})


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
    which the controls show and Reset reads, so Reset builds exactly what the page shows."""
    settings = solara.use_reactive(solara.use_memo(default_settings, []))
    tick = solara.use_reactive(0)  # bumped after every step: the plots read the runs again
    playing = solara.use_reactive(False)
    error = solara.use_reactive("")
    lock = solara.use_memo(threading.Lock, [])

    def build():
        return exploration_of(settings.value)

    exploration = solara.use_reactive(solara.use_memo(build, []))
    ex = exploration.value
    tick.get()  # read, so that a step (which bumps it) draws the page again

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

    solara.Title("Jakarta-Tokyo staff exchange: explorer")
    solara.Style(CSS)
    s = settings.value
    with solara.Div(classes=["explorer"]):
        with solara.Column(classes=["explorer-controls"], gap="12px"):
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
                if error.value:
                    solara.Error(error.value)
            SettingsPanel(s, change)
        with solara.Column(gap="12px", style={"min-width": "0"}):
            # HTML, not solara.Markdown: that loads mermaid and katex from the CDN
            solara.HTML(tag="div", unsafe_innerHTML=summary_html(ex))
            with solara.Div(classes=["explorer-plots"]):
                for name, option in plots(ex).items():
                    Plot(
                        name,
                        Drawing(option),
                        CAPTIONS.get(name.split("-")[0], ""),
                        HEIGHTS.get(name, 340),
                    )
                    if name == "gain" and not ex.channels:
                        with solara.Card(
                            margin=0, classes=["explorer-plot", "explorer-channels-off"]
                        ):
                            solara.Text(
                                "Where each design's gain comes from (the staff sent, the "
                                "colleagues they taught, standard procedures): switch on 'Split "
                                "the gain by channel' and press Reset (two more runs per design "
                                "and seed)."
                            )


def _key(mapping: dict, value) -> str:
    """The key whose value is `value`."""
    return next(k for k, v in mapping.items() if v == value)


def _step(low: float, high: float) -> float:
    """A slider step giving about 100 positions between low and high, rounded to 1, 2 or 5."""
    raw = (high - low) / 100
    power = 10 ** math.floor(math.log10(raw))
    return next(k * power for k in (1, 2, 5, 10) if k * power >= raw)
