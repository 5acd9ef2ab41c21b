"""The explorer's plots as ECharts options and its summary, pure functions of an
Exploration.
"""

from __future__ import annotations

import functools
import html
import math

import networkx as nx
import numpy as np

from experiments.explorer.runs import Exploration
from experiments.present.figures import BASELINE_COLOUR, PALETTE
from experiments.present.labels import department_name, practice_name, pretty
from experiments.study.levers import LEVERS
from experiments.study.outcomes import POINTS
from sim.organisation import DOMAINS
from sim.pairing import CHANNELS

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


def merge_patch(base: dict, new: dict) -> dict | None:
    """What ECharts must merge (setOption, notMerge false) into a chart drawn whole with
    option `base` to show option `new`: the values that differ, a dict key by key (ECharts
    merges dicts), anything else whole (ECharts replaces a list: a series' data, an axis's
    labels), and a top-level list (components: series, axes) item by item, {} for an item
    unchanged (ECharts matches components by position when they have no id or name). None
    when merging cannot give `new`: a key dropped, a component list of another length, or a
    component of another type, id or name (draw it whole)."""
    if base.keys() - new.keys():
        return None
    patch = {}
    for key, value in new.items():
        old = base.get(key)
        if isinstance(value, list) or isinstance(old, list):
            if not (isinstance(value, list) and isinstance(old, list) and len(value) == len(old)):
                return None
            items = [_component_patch(a, b) for a, b in zip(old, value, strict=True)]
            if any(item is None for item in items):
                return None
            if any(items):
                patch[key] = items
        elif isinstance(value, dict):
            item = _component_patch(old, value)
            if item is None:
                return None
            if item:
                patch[key] = item
        elif key not in base or not _same(old, value):
            patch[key] = value
    return patch


def _component_patch(old, new) -> dict | None:
    """A component's changes (`merge_patch`); None when it cannot be merged."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return None
    if any(not _same(old.get(k), new.get(k)) for k in ("type", "id", "name")):
        return None
    return _dict_patch(old, new)


def _dict_patch(old: dict, new: dict) -> dict | None:
    if old.keys() - new.keys():
        return None
    patch = {}
    for key, value in new.items():
        if key in old and isinstance(value, dict) and isinstance(old[key], dict):
            inner = _dict_patch(old[key], value)
            if inner is None:
                return None
            if inner:
                patch[key] = inner
        elif key not in old or not _same(old[key], value):
            patch[key] = value
    return patch


def _same(a, b) -> bool:
    """Equal as the browser sees them (JSON): True is not 1 there, nor a list a dict."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


@functools.lru_cache(maxsize=8)  # an exploration's graph never changes: once, not every month
def strongest_ties(graph: nx.Graph, per_node: int = 3) -> list[tuple[int, int, float]]:
    """Each department's `per_node` strongest ties to other departments (a tie once)."""
    keep = set()
    for node in graph.nodes:
        ranked = sorted(graph[node].items(), key=lambda kv: -kv[1]["weight"])[:per_node]
        keep.update(tuple(sorted((node, other))) for other, _ in ranked)
    return [(i, j, graph[i][j]["weight"]) for i, j in sorted(keep)]


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
