"""Figures of a program-design sweep, saved as PNG and SVG for the report.

Units: the service index is in [0, 1]; gains are in index points (1 point = 0.01 of the index);
costs are in IDR billion (the tables carry IDR million); time is in years (months / 12). Figures
are drawn on `matplotlib.figure.Figure` objects made directly (rendered by Agg), so no pyplot
state is touched and every figure is freed after saving.
"""

from __future__ import annotations

import functools
import itertools
import math
import multiprocessing
import sys
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import networkx as nx
import numpy as np
import pandas as pd
from adjustText import adjust_text
from matplotlib import colors, font_manager, patheffects
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from experiments.analysis.intervals import mean_ci
from experiments.analysis.tables import SweepTables, best_design, has_channels, horizon_months
from experiments.jobs.outputs import save_figure
from experiments.jobs.signals import forked_pool
from experiments.present.labels import department_name, design_labels, practice_name, pretty
from experiments.study.levers import LEVERS, format_value, short_value
from experiments.study.outcomes import POINTS
from sim.pairing import CHANNELS, FINAL_YEAR

#: Okabe-Ito colours (colour-blind safe; yellow replaced by Tol's wine for thin lines).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#882255")
#: Colours of the seven service domains (Okabe-Ito, yellow kept: bars have dark edges).
DOMAIN_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442")
BASELINE_COLOUR = "#6E6E6E"
FRONTIER_COLOUR = "#D55E00"
#: More designs than this: the index curves show the top 5 and the lowest-ranked only.
MAX_CURVES = 8
#: Departments the department gain figure draws one bar each at most: half with the lowest
#: gains, half with the highest, the others counted between them.
MAX_DEPARTMENT_BARS = 60
#: Departments the network figure draws at most, the largest by ties inside: more would be a
#: blur of circles whose layout takes minutes.
MAX_NETWORK_DEPARTMENTS = 150
#: More designs than this: the channel bars show the top MAX_BARS - 1 and the lowest-ranked.
MAX_BARS = 30
#: Colours of the gain's channels, in `sim.pairing.CHANNELS` order (Okabe-Ito).
CHANNEL_COLOURS = ("#E69F00", "#56B4E9", "#009E73")
#: Short legend names of the channels, in the same order.
CHANNEL_NAMES = (
    "Staff trained by the program themselves",
    "Colleagues who learnt from them",
    "Standard procedures (SOPs) adopted",
)
STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "figures",
}


def _years(months) -> np.ndarray:
    return np.asarray(months, dtype=float) / 12.0


def _fmt_years(months: int) -> str:
    return f"{months / 12:g} years" if months % 12 == 0 else f"{months} months"


def _halo(width: float = 3.0) -> list:
    """White outline that keeps text readable over lines and markers."""
    return [patheffects.withStroke(linewidth=width, foreground="white")]


def _repel(fig: Figure, labels: list, pad: float = 1.5, rounds: int = 100) -> None:
    """Move annotations (offsets in points) apart vertically until their texts do not overlap."""
    if len(labels) < 2:
        return
    fig.draw_without_rendering()
    to_points = 72.0 / fig.dpi
    boxes = [Text.get_window_extent(t).padded(pad) for t in labels]
    for _ in range(rounds):
        moved = False
        for i, j in itertools.combinations(range(len(labels)), 2):
            a, b = boxes[i], boxes[j]
            if not a.overlaps(b):
                continue
            half = (min(a.y1, b.y1) - max(a.y0, b.y0)) / 2 + 0.5
            up, down = (i, j) if a.y0 + a.y1 >= b.y0 + b.y1 else (j, i)
            for k, dy in ((up, half), (down, -half)):
                x, y = labels[k].xyann
                labels[k].xyann = (x, y + dy * to_points)
                boxes[k] = boxes[k].translated(0, dy)
            moved = True
        if not moved:
            return


def leading(tables: SweepTables) -> str:
    """How figures name the design with the largest mean gain: 'Largest mean gain', with
    '(the dearest design)' when it also costs the most."""
    d = tables.designs
    best = d.loc[d.design_id == best_design(tables)].iloc[0]
    dearest = len(d) > 1 and math.isclose(best.cost_mean, d.cost_mean.max())
    return "Largest mean gain" + (" (the dearest design)" if dearest else "")


def full_grid(designs: pd.DataFrame, levers: list[str]) -> bool:
    """Whether the designs hold every combination of the values of `levers` (a grid sweep
    rather than a search or a partial grid)."""
    if not levers:
        return False
    combos = designs[levers].astype(str).drop_duplicates()
    return len(combos) == math.prod(designs[k].astype(str).nunique() for k in levers)


def _inside(ax, texts: list, pad: float = 2.0) -> None:
    """Move texts (placed in data coordinates) that stick out of the axes back inside by the
    amount they stick out (display pixels; adjustText keeps them inside only roughly)."""
    ax.figure.draw_without_rendering()
    frame = ax.get_window_extent()
    for t in texts:
        box = t.get_window_extent()
        dx = max(0.0, frame.x0 + pad - box.x0) - max(0.0, box.x1 - frame.x1 + pad)
        dy = max(0.0, frame.y0 + pad - box.y0) - max(0.0, box.y1 - frame.y1 + pad)
        if dx or dy:
            x, y = ax.transData.transform(t.get_position())
            t.set_position(ax.transData.inverted().transform((x + dx, y + dy)))


# ---------------------------------------------------------------------------------------------
# the figures: each returns a new Figure (or None when it does not apply)


def shown_designs(designs: pd.DataFrame, limit: int = MAX_CURVES, top: int = 5) -> list[str]:
    """design_ids by rank; with more than `limit`, the `top` best and the lowest-ranked."""
    order = designs.sort_values(["rank", "cost_mean", "design"])["design_id"].tolist()
    return order if len(order) <= limit else order[:top] + order[-1:]


def _baseline_rows(tables: SweepTables, did: str) -> pd.DataFrame:
    """The no-exchange runs paired with design `did`: monthly means over its replicates."""
    designs = tables.designs.set_index("design_id")
    seeds = tables.summary.loc[tables.summary["design_id"] == did, "seed"].unique()
    base = tables.baseline
    base = base[(base["baseline_id"] == designs.loc[did, "baseline_id"]) & base["seed"].isin(seeds)]
    return base.groupby("month").mean(numeric_only=True)


def plot_index_curves(tables: SweepTables) -> Figure:
    """Service index (0-1) and gain over no exchange (index points) per design over the years."""
    ts, labels = tables.timeseries, design_labels(tables)
    rank = tables.designs.set_index("design_id")["rank"]
    shown = shown_designs(tables.designs)
    trend = "service_index_with_trend" in tables.baseline
    fig = Figure(figsize=(11, 10 if trend else 7.5), layout="constrained")
    axes = fig.subplots(3 if trend else 2, 1, sharex=True, height_ratios=[3, 2, 2][: 2 + trend])
    top, bottom = axes[0], axes[1]
    base = _baseline_rows(tables, shown[0])["service_index"]
    several = tables.designs["baseline_id"].nunique() > 1
    name = "No exchange (settings of the top design)" if several else "No exchange"
    dashed = dict(ls="--", lw=2, color=BASELINE_COLOUR, zorder=5)
    top.plot(_years(base.index), base.to_numpy(), label=name, **dashed)
    bottom.axhline(0, **dashed)
    for colour, did in zip(PALETTE, shown, strict=False):
        d = ts[ts["design_id"] == did]
        for ax, column, k in ((top, "service_index", 1.0), (bottom, "gain", POINTS)):
            s = mean_ci(d, "month", column)
            x = _years(s["month"])
            label = f"{rank[did]}. {labels[did]}" if ax is top else None
            ax.plot(x, s["mean"] * k, color=colour, lw=1.8, label=label)
            ax.fill_between(x, s["low"] * k, s["high"] * k, color=colour, alpha=0.15, lw=0)
    if trend:
        own_trend_panel(axes[2], tables, shown[0], dashed)
    top.set_ylabel("City service index (0–1)")
    bottom.set_ylabel("Gain over no exchange\n(index points; 1 point = 0.01)")
    axes[-1].set_xlabel("Years since the start of the program")
    axes[-1].set_xlim(0, _years(horizon_months(tables)))
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_title("Service index: mean of replicates, band = 95% CI", loc="left")
    bottom.set_title("Gain over the no-exchange run with the same seeds", loc="left")
    n = len(tables.designs)
    which = f"top 5 of {n} designs and the lowest-ranked" if len(shown) < n else f"{n} designs"
    which = "one design" if n == 1 else which
    fig.suptitle(f"City service index over time, {which}")
    pairs = [pair for ax in axes for pair in zip(*ax.get_legend_handles_labels(), strict=True)]
    handles = [h for h, _ in pairs]
    wrapped = [textwrap.fill(name, 60) for _, name in pairs]
    fig.legend(handles, wrapped, loc="outside lower center", ncols=2, title="Rank. design",
               frameon=False)  # fmt: skip
    return fig


def own_trend_panel(ax, tables: SweepTables, did: str, dashed: dict) -> None:
    """The no-exchange city as the model runs it and with Jakarta's own documented improvement
    added (sim.trend; an assumed extrapolation): mean over the seeds with a 95% band."""
    designs = tables.designs.set_index("design_id")
    seeds = tables.summary.loc[tables.summary["design_id"] == did, "seed"].unique()
    base = tables.baseline
    base = base[(base["baseline_id"] == designs.loc[did, "baseline_id"]) & base["seed"].isin(seeds)]
    s = mean_ci(base, "month", "service_index_with_trend")
    x = _years(s["month"])
    plain = base.groupby("month").service_index.mean()
    ax.plot(_years(plain.index), plain.to_numpy(), **dashed)
    label = "No exchange with Jakarta's own trend (assumed; docs/model.md §7.17)"
    ax.plot(x, s["mean"], ls=":", lw=2.2, color=BASELINE_COLOUR, label=label)
    ax.fill_between(x, s["low"], s["high"], color=BASELINE_COLOUR, alpha=0.15, lw=0)
    ax.set_ylabel("City service index (0–1)")
    ax.set_title("No exchange, and with Jakarta's own improvement (band: 95% CI of the mean)",
                 loc="left")  # fmt: skip


def plot_gain_heatmap(tables: SweepTables) -> Figure | None:
    """Mean final gain (index points) by cohort size x months between cohorts; None unless the
    designs hold every combination of both (a search leaves most cells empty: `plot_gain_by_lever`
    suits it)."""
    grid_levers = ["cohort_size", "months_between_cohorts"]
    if not set(grid_levers) <= set(tables.levers) or not full_grid(tables.designs, grid_levers):
        return None
    grid = tables.designs.pivot_table(
        index="cohort_size", columns="months_between_cohorts", values="gain_mean", aggfunc="mean"
    )
    clear = tables.designs.pivot_table(
        index="cohort_size", columns="months_between_cohorts", values="gain_clear", aggfunc="all"
    )
    grid = grid.sort_index().sort_index(axis=1) * POINTS
    clear = clear.reindex_like(grid)
    values = grid.to_numpy(float)
    nrows, ncols = values.shape
    size = (max(6.5, 1.4 * ncols + 4), max(4.0, 0.8 * nrows + 2.2))
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    ax.grid(False)
    im = ax.imshow(values, cmap="viridis", aspect="auto", origin="lower")
    lo, hi = np.nanmin(values), np.nanmax(values)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            dark = hi > lo and (v - lo) / (hi - lo) < 0.6
            text = f"{v:.2f}" if bool(clear.iloc[i, j]) else f"({v:.2f})"
            ax.text(j, i, text, ha="center", va="center", color="white" if dark else "black")
    ax.set_xticks(range(ncols), [format_value(v) for v in grid.columns])
    ax.set_yticks(range(nrows), [format_value(v) for v in grid.index])
    ax.set_xlabel("Months between cohorts (12 = one cohort a year)")
    ax.set_ylabel("Cohort size (Jakarta staff per cohort)")
    fig.colorbar(im, ax=ax, label="Gain in the final year (index points)")
    title = "Mean gain in the final year by cohort size and months between cohorts"
    others = [k for k in tables.levers if k not in ("cohort_size", "months_between_cohorts")]
    if others:
        title += "\n(averaged over " + ", ".join(pretty(k).lower() for k in others) + ")"
    if not clear.to_numpy(bool).all():
        title += "\nin brackets: the 95% interval includes zero (no clear gain)"
    ax.set_title(title)
    return fig


def plot_gain_vs_cost(tables: SweepTables) -> Figure:
    """Mean final gain (index points, 95% CI) against mean cost (IDR billion); efficient designs
    (a clear gain that beats every cheaper design's, paired) joined by a line."""
    sc, labels = tables.designs, design_labels(tables)
    front = sc[sc["efficient"]].sort_values("cost_mean")
    fig = Figure(figsize=(10, 6.5), layout="constrained")
    ax = fig.subplots()
    for is_clear, style in ((True, {}), (False, {"mfc": "white"})):
        part = sc[sc["gain_clear"] == is_clear]
        if part.empty:
            continue
        x, y = part["cost_mean"] / 1000, part["gain_mean"] * POINTS
        err = np.vstack([y - part["gain_ci_low"] * POINTS, part["gain_ci_high"] * POINTS - y])
        ax.errorbar(
            x,
            y,
            yerr=np.nan_to_num(err),
            fmt="o",
            ms=6,
            color=PALETTE[0],
            ecolor="#8FB3D9",
            elinewidth=1.5,
            capsize=3,
            label="Design, clear gain (mean, 95% CI)"
            if is_clear
            else "Design whose interval includes zero",
            zorder=3,
            **style,
        )
    if len(front):
        fx, fy = front["cost_mean"] / 1000, front["gain_mean"] * POINTS
        ax.plot(fx, fy, color=FRONTIER_COLOUR, lw=1.5, zorder=2)
        ax.plot(
            fx,
            fy,
            "D",
            ms=10,
            mfc="none",
            mec=FRONTIER_COLOUR,
            mew=2,
            zorder=4,
            label="Efficient: clearly more gain than every cheaper design",
        )
    ax.axhline(0, color=BASELINE_COLOUR, ls="--", lw=1)
    ax.margins(x=0.08, y=0.12)
    x = sc["cost_mean"] / 1000
    log = bool((x > 0).all() and x.max() > 20 * x.min())
    if log:  # costs over orders of magnitude: equal ratios at equal distances
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
    # one label per distinct point (designs with the same cost and gain share it): every design
    # of a small sweep, else the efficient ones; adjustText moves them off the points and each
    # other, inside the axes
    shown = sc if len(sc) <= MAX_COST_LABELS else sc[sc["efficient"]].head(MAX_COST_LABELS)
    groups = shown.groupby([shown["cost_mean"].round(6), shown["gain_mean"].round(9)])
    texts = [
        ax.text(cost / 1000, gain * POINTS,
                "\n".join(textwrap.fill(labels[s], 30) for s in g["design_id"]),
                fontsize=8.5, ha="center", va="center", path_effects=_halo(), zorder=6)
        for (cost, gain), g in groups
    ]  # fmt: skip
    if texts:
        fig.draw_without_rendering()
        adjust_text(
            texts,
            x=(sc["cost_mean"] / 1000).to_numpy(),
            y=(sc["gain_mean"] * POINTS).to_numpy(),
            ax=ax,
            ensure_inside_axes=True,
            expand_axes=False,
            iter_lim=LABEL_ROUNDS,  # not its default time limit: the same figure on any machine
            expand=(1.15, 1.4),  # room around each label, so that keeping it inside the axes
            # afterwards (a few pixels) does not make it touch its neighbour
            arrowprops=dict(arrowstyle="-", color="#555555", lw=0.6),
        )
        _inside(ax, texts)
    ax.set_xlabel(
        "Cost over the whole horizon (IDR billion, real staff, mean of replicates"
        + ("; log scale)" if log else ")")
    )
    ax.set_ylabel("Gain in the final year (index points; 1 point = 0.01)")
    ax.set_title(
        f"Gain after {_fmt_years(horizon_months(tables))} against cost: "
        f"{len(front)} of {len(sc)} designs are efficient"
    )
    fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return fig


#: Rounds adjustText may move labels (it stops earlier once none overlaps).
LABEL_ROUNDS = 1000
#: At most this many designs are named in the gain-against-cost figure (else the efficient ones).
MAX_COST_LABELS = 15


def plot_gain_by_lever(tables: SweepTables) -> Figure | None:
    """For a search or a partial grid (not every combination of the levers' values): each
    design's gain (index points, 95% CI) against the value of each varying lever, one panel a
    lever (what Optuna calls a slice plot); None for a full grid or without levers."""
    levers = tables.levers[:6]
    sc = tables.designs
    if not levers or full_grid(sc, tables.levers) or len(sc) < 3:
        return None
    ncols = min(3, len(levers))
    nrows = math.ceil(len(levers) / ncols)
    fig = Figure(figsize=(4.2 * ncols + 0.8, 3.4 * nrows + 1.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
    y = sc["gain_mean"].to_numpy(float) * POINTS
    err = np.nan_to_num(
        np.vstack([y - sc["gain_ci_low"] * POINTS, sc["gain_ci_high"] * POINTS - y])
    )
    for ax, k in zip(axes, levers, strict=False):
        values = sc[k]
        number = pd.to_numeric(values, errors="coerce")  # an override's text may be a number
        numeric = bool(number.notna().all())
        if numeric:
            x = number.to_numpy(float)
        else:
            order = sorted(values.astype(str).unique())
            x = values.astype(str).map({v: i for i, v in enumerate(order)}).to_numpy(float)
            ax.set_xticks(range(len(order)), order, rotation=30, ha="right")
        for clear_gain, style in ((True, {}), (False, {"mfc": "white"})):
            m = sc["gain_clear"].to_numpy(bool) == clear_gain
            if m.any():
                ax.errorbar(x[m], y[m], yerr=err[:, m], fmt="o", ms=5, color=PALETTE[0],
                            ecolor="#8FB3D9", capsize=2, **style)  # fmt: skip
        if numeric:
            ax.xaxis.set_major_formatter(lambda v, _: short_value(float(v)))
        ax.axhline(0, color=BASELINE_COLOUR, ls="--", lw=1)
        words = LEVERS[k].words if k in LEVERS else pretty(k.rsplit(".", 1)[-1]).lower()
        ax.set_xlabel(textwrap.fill(words, 40))
    for ax in axes[len(levers) :]:
        ax.set_axis_off()
    for ax in axes[::ncols]:
        ax.set_ylabel("Gain in the final year\n(index points, 95% CI)")
    fig.suptitle(
        f"Gain by the value of each lever, {len(sc)} designs\n"
        "hollow: the 95% interval includes zero; dashed: no gain"
    )
    return fig


def plot_adoption(tables: SweepTables) -> Figure:
    """Jakarta staff proficient in each practice (thousands) over the years: the best design
    against the no-exchange run with the same seeds."""
    ts, labels = tables.timeseries, design_labels(tables)
    practices = [c.removeprefix("adoption_") for c in ts.columns if c.startswith("adoption_")]
    best = best_design(tables)
    design = ts[ts["design_id"] == best].groupby("month").mean(numeric_only=True)
    base = _baseline_rows(tables, best)
    ncols = 4
    nrows = max(1, math.ceil(len(practices) / ncols))
    fig = Figure(figsize=(12, 2.4 * nrows + 1.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    for k, (ax, pid) in enumerate(zip(axes, practices, strict=False)):
        col = f"adoption_{pid}"
        ax.plot(
            _years(base.index), base[col] * base["staff"], color=BASELINE_COLOUR, ls="--", lw=1.8
        )
        ax.plot(_years(design.index), design[col] * design["staff"], color=PALETTE[0], lw=1.8)
        ax.set_title("\n".join(textwrap.wrap(practice_name(pid), 30)), fontsize=10)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
        ax.set_ylim(bottom=0)
        if k + ncols >= len(practices):  # nothing drawn below: show the years here
            ax.xaxis.set_tick_params(labelbottom=True)
    handles = [
        Line2D(
            [],
            [],
            color=PALETTE[0],
            lw=2,
            label=f"{leading(tables)}:\n" + textwrap.fill(labels[best], 32),
        ),
        Line2D([], [], color=BASELINE_COLOUR, ls="--", lw=2, label="No exchange (same seeds)"),
    ]
    spare = axes[len(practices) :]
    for ax in spare:
        ax.set_axis_off()
    if len(spare):  # in the empty panels, outside the layout (it may reach into the next one)
        spare[0].legend(handles=handles, loc="upper left", frameon=False).set_in_layout(False)
    else:
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    fig.supxlabel("Years since the start of the program")
    fig.supylabel("Jakarta staff proficient in the practice (people)")
    fig.suptitle(
        "Staff proficient in each Tokyo practice (mean of replicates; each panel its own scale)"
    )
    return fig


def plot_departments_end(tables: SweepTables) -> Figure:
    """Each department's quality gain over no exchange in the final year (index points), best
    design, mean of replicates."""
    best, labels = best_design(tables), design_labels(tables)
    dep = tables.departments[tables.departments["design_id"] == best]
    last = dep[dep["month"] > dep["month"].max() - FINAL_YEAR]
    change = (
        ((last["quality"] - last["baseline_quality"]) * POINTS)
        .groupby([last["department"], last["domain"]])
        .mean()
        .reset_index(name="change")
        .sort_values("change")
    )
    domains = sorted(change["domain"].unique())
    colour = dict(zip(domains, itertools.cycle(DOMAIN_COLOURS)))
    half = MAX_DEPARTMENT_BARS // 2
    middle = change.iloc[half:-half] if len(change) > MAX_DEPARTMENT_BARS else change.iloc[:0]
    shown = change.drop(middle.index)
    # with many departments, the lowest and highest gains, the others counted in a gap row
    ypos = np.arange(len(shown)) + (np.arange(len(shown)) >= half) * (len(middle) > 0)
    fig = Figure(figsize=(10, 0.24 * (ypos.max() + 1) + 2.0), layout="constrained")
    ax = fig.subplots()
    ax.barh(
        ypos,
        shown["change"],
        color=[colour[d] for d in shown["domain"]],
        edgecolor="#333333",
        linewidth=0.4,
    )
    ticks = [department_name(d) for d in shown["department"]]
    if len(middle):
        low, high = middle["change"].min(), middle["change"].max()
        ticks.insert(half, f"… {len(middle):,} other departments: {low:+.2f} to {high:+.2f}")
        ypos = np.insert(ypos, half, half)
    ax.set_yticks(ypos, ticks, fontsize=9)
    ax.set_ylim(-0.7, ypos.max() + 0.7)
    ax.grid(axis="y", visible=False)
    ax.axvline(0, color="#333333", lw=0.8)
    ax.set_xlabel("Service quality gain over no exchange, final year (index points)")
    fig.suptitle(
        f"Department quality gain under the design with the {leading(tables).lower()}:\n"
        f"{textwrap.fill(labels[best], 80)}\n"
        "(mean of the final 12 months and of the replicates; below zero = worse than\n"
        "without the exchange, e.g. staff away in Tokyo)"
    )
    handles = [Patch(color=colour[d], label=pretty(d)) for d in domains]
    fig.legend(
        handles=handles, title="Service domain", loc="outside lower center", ncols=4, frameon=False
    )
    return fig


def department_graph(ties: pd.DataFrame, ids: list[str]) -> nx.Graph:
    """Departments as nodes 0..D-1 in the order of `ids` (attribute `inside`: the ties inside
    each), joined by their cross-department ties (attribute `weight`: log(1 + ties))."""
    index = {d: i for i, d in enumerate(ids)}
    graph = nx.Graph()
    graph.add_nodes_from(range(len(ids)), inside=0)
    for a, b, n in ties[["department", "other_department", "ties"]].itertuples(index=False):
        i, j = index[a], index[b]
        if i == j:
            graph.nodes[i]["inside"] = int(n)
        else:
            graph.add_edge(i, j, weight=float(np.log1p(n)))
    return graph


def plot_network(tables: SweepTables) -> Figure:
    """Department tie network at four moments, coloured by proficient share (%), best design;
    with more than MAX_NETWORK_DEPARTMENTS departments, the largest of them."""
    best, labels = best_design(tables), design_labels(tables)
    all_ids = [str(d) for d in tables.departments["department"].unique()]
    graph = department_graph(tables.department_ties, all_ids)
    inside_all = np.array([graph.nodes[i]["inside"] for i in graph.nodes], dtype=float)
    kept = np.sort(np.argsort(-inside_all, kind="stable")[:MAX_NETWORK_DEPARTMENTS])
    ids = [all_ids[k] for k in kept]
    graph = nx.relabel_nodes(graph.subgraph(kept.tolist()), {int(k): all_ids[k] for k in kept})
    pos = nx.spring_layout(graph, seed=20251128, weight="weight")
    logw = np.array([w for *_, w in graph.edges(data="weight")])
    widths = 0.2 + 2.8 * logw / logw.max() if logw.size else 1.0
    inside = inside_all[kept]
    largest_circle = 1100 * min(1.0, 45 / len(ids))  # points²: about Jakarta's 45 fit
    node_size = 40 + largest_circle * inside / max(inside.max(), 1)
    radius = dict(zip(ids, np.sqrt(node_size) / 2, strict=True))  # points
    largest = [ids[k] for k in np.argsort(-inside, kind="stable")[:10]]
    shown = "circle area"
    if len(ids) < len(all_ids):
        shown = f"the {len(ids):,} largest of {len(all_ids):,} departments; circle area"

    dep = tables.departments
    dep = dep[dep["design_id"] == best]
    dep = dep[dep["replicate"] == dep["replicate"].min()]
    share = dep.pivot_table(index="month", columns="department", values="proficient_share") * 100
    share.columns = share.columns.astype(str)
    h = horizon_months(tables)
    available = share.index.to_numpy()
    moments = [int(available[np.abs(available - m).argmin()]) for m in (0, h / 3, 2 * h / 3, h)]
    norm = colors.PowerNorm(0.5, vmin=0, vmax=max(float(share.loc[moments].to_numpy().max()), 1))

    fig = Figure(figsize=(12, 10.5), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    texts = []
    for ax, month in zip(axes, moments, strict=True):
        nx.draw_networkx_edges(graph, pos, ax=ax, width=widths, edge_color="#9A9A9A", alpha=0.25)
        nodes = nx.draw_networkx_nodes(
            graph,
            pos,
            ax=ax,
            node_size=node_size,
            cmap="viridis",
            node_color=share.loc[month, ids].to_numpy(),
            edgecolors="#333333",
            linewidths=0.5,
        )
        nodes.set_norm(norm)
        for dep_id in largest:
            texts.append(
                ax.annotate(
                    department_name(dep_id),
                    pos[dep_id],
                    xytext=(0, radius[dep_id] + 3),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=8.5,
                    path_effects=_halo(2.5),
                    arrowprops=dict(
                        arrowstyle="-",
                        color="#333333",
                        lw=0.5,
                        shrinkA=0,
                        shrinkB=radius[dep_id],
                    ),
                )
            )
        ax.set_title(f"Month {month} (year {month / 12:.1f})")
        ax.set_axis_off()
    fig.colorbar(
        nodes,
        ax=axes.tolist(),
        shrink=0.6,
        label="Staff proficient in their department's practices (%, square-root scale)",
    )
    fig.suptitle(
        f"Department network under the design with the {leading(tables).lower()}, first "
        f"replicate:\n{textwrap.fill(labels[best], 60)}\n"
        f"{shown}: department size (ties inside it); line width: cross-department ties (log)"
    )
    _repel(fig, texts, pad=4.0)
    return fig


def _stack(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left ends of horizontal stacked bars (designs x parts): positive parts stack rightwards
    from zero, negative parts leftwards, each in the order given; NaN parts take no room."""
    parts = np.nan_to_num(parts)
    pos, neg = np.clip(parts, 0, None), np.clip(parts, None, 0)
    right = np.cumsum(pos, axis=1) - pos
    left = np.cumsum(neg, axis=1)
    return np.where(parts >= 0, right, left), np.abs(parts)


def plot_gain_channels(tables: SweepTables) -> Figure | None:
    """Where the gain comes from: for each design (by rank, best at the top), the mean of the
    gain's parts (`sim.pairing.CHANNELS`, index points, final year) as a stacked bar, negative
    parts left of zero, and the gain's mean with its 95% interval. None when the gain was not
    decomposed (channels=false)."""
    sc = tables.designs
    if not has_channels(sc):
        return None
    labels = design_labels(tables)
    shown = shown_designs(sc, limit=MAX_BARS, top=MAX_BARS - 1)
    rows = sc.set_index("design_id").loc[shown]
    ranks = rows["rank"].astype(int)
    names = [textwrap.fill(f"{r}. {labels[d]}", 52) for d, r in zip(shown, ranks, strict=True)]
    lines = max(n.count("\n") + 1 for n in names)
    row = 0.16 * lines + 0.2  # inches per design: room for its label's lines
    fig = Figure(figsize=(11, row * len(shown) + 2.6), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(shown))[::-1]  # rank 1 at the top
    parts = rows[[f"{name}_mean" for name in CHANNELS]].to_numpy(float) * POINTS
    lefts, widths = _stack(parts)
    for k, (colour, name) in enumerate(zip(CHANNEL_COLOURS, CHANNEL_NAMES, strict=True)):
        ax.barh(y, widths[:, k], left=lefts[:, k], height=0.62, color=colour, label=name,
                edgecolor="white", linewidth=0.6, zorder=2)  # fmt: skip
    mean = rows["gain_mean"].to_numpy(float) * POINTS
    err = np.vstack([mean - rows["gain_ci_low"] * POINTS, rows["gain_ci_high"] * POINTS - mean])
    ax.errorbar(mean, y, xerr=np.nan_to_num(err), fmt="D", ms=5, color="#000000",
                ecolor="#000000", elinewidth=1.2, capsize=3, zorder=4,
                label="Total gain: mean and 95% CI")  # fmt: skip
    ax.axvline(0, color="#333333", lw=0.8, zorder=3)
    if len(shown) < len(sc):  # designs left out between the top ones and the lowest-ranked
        ax.axhline(0.5, color=BASELINE_COLOUR, ls=":", lw=1)
    ax.set_yticks(y, names, fontsize=9.5)
    ax.set_ylim(-0.6, len(shown) - 0.4)
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.05)
    ax.set_xlabel(
        f"Gain over no exchange, mean of the final {FINAL_YEAR} months (index points; "
        "1 point = 0.01)"
    )
    n = len(sc)
    which = f"top {len(shown) - 1} of {n} designs and the lowest-ranked" if len(shown) < n else ""
    fig.suptitle(
        "Where the gain comes from" + (f" ({which})" if which else "") + "\n"
        "parts added in causal order, mean of the replicates; left of zero = a loss"
    )
    fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return fig


def plot_ranked_designs(tables: SweepTables) -> Figure | None:
    """Each design's gain (index points, 95% CI), ranked; with a reference design, the paired
    difference from it on the same seeds. Drawn for sweeps with a reference design."""
    sc = tables.designs
    if "diff_vs_reference" not in sc:
        return None
    labels = design_labels(tables)
    order = sc.sort_values("diff_vs_reference").reset_index(drop=True)
    fig = Figure(figsize=(13, 0.35 * len(order) + 2.6), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(order))
    for ax, (mean, low, high), title in (
        (left, ("gain_mean", "gain_ci_low", "gain_ci_high"), "Gain over no exchange"),
        (right, ("diff_vs_reference", "diff_ci_low", "diff_ci_high"), "Minus the reference"),
    ):
        m = order[mean] * POINTS
        err = np.vstack([m - order[low] * POINTS, order[high] * POINTS - m])
        ax.errorbar(m, y, xerr=np.nan_to_num(err), fmt="o", color=PALETTE[0], capsize=3)
        ax.axvline(0, color="grey", lw=1, ls="--")
        ax.set_title(title)
        ax.set_xlabel("Index points, final year (95% CI)")
    left.set_yticks(y, [labels[s_] for s_ in order.design_id])
    budget = tables.meta.get("budget")
    fig.suptitle(
        "Designs ranked"
        + (f" at an equal budget of {budget}" if budget else "")
        + f"\nreference: {labels[tables.meta['reference']]} (paired on the same seeds)"
    )
    return fig


def plot_duration_tradeoff(tables: SweepTables) -> Figure | None:
    """Gain against months per stay (many short stays vs few long ones), one line per
    combination of the other levers. Drawn when duration is a lever of a full grid."""
    sc = tables.designs
    if "duration" not in tables.levers or not full_grid(sc, tables.levers):
        return None  # a search has no lines to draw: `plot_gain_by_lever` suits it
    others = [k for k in tables.levers if k not in ("duration", "cohort_size")]
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = fig.subplots()
    groups = sc.groupby(others, sort=True) if others else [((), sc)]
    for i, (key, g) in enumerate(groups):
        g = g.sort_values("duration")
        key = key if isinstance(key, tuple) else (key,)
        name = (
            ", ".join(f"{pretty(k)} {short_value(v)}" for k, v in zip(others, key, strict=True))
            or "gain"
        )
        colour = PALETTE[i % len(PALETTE)]
        ax.plot(g.duration, g.gain_mean * POINTS, "o-", color=colour, label=name)
        ax.fill_between(
            g.duration, g.gain_ci_low * POINTS, g.gain_ci_high * POINTS, color=colour, alpha=0.15
        )
    ax.set_xlabel("Months per stay in Tokyo (the cohort shrinks as stays get longer)")
    ax.set_ylabel("Gain in the final year (index points), 95% CI")
    ax.axhline(0, color="grey", lw=1, ls="--")
    budget = tables.meta.get("budget")
    ax.set_title(
        "Many short stays or few long ones?" + (f" Equal budget: {budget}" if budget else "")
    )
    ax.legend(frameon=False, fontsize="small")
    return fig


def plot_posterior_ranks(tables: SweepTables) -> Figure | None:
    """Under posterior draws: for each design, the share of draws at each rank (left) and the
    90% posterior interval of its gain with its mean (right), designs by P(best). Drawn only
    when replicates drew their behaviour from a posterior."""
    if not tables.under_posterior:
        return None
    labels = design_labels(tables)
    order = tables.designs.sort_values(["p_best", "gain_mean"], ascending=False)
    order = order.head(12).iloc[::-1].reset_index(drop=True)  # best at the top
    n_ranks = len(tables.designs)
    share = tables.ranks.pivot(index="design_id", columns="rank", values="share")
    names = [
        textwrap.fill(labels[d], 44) + f"\nP(best) {p:.0%}"
        for d, p in zip(order.design_id, order.p_best, strict=True)
    ]
    lines = max(n.count("\n") + 1 for n in names)
    fig = Figure(figsize=(13, (0.17 * lines + 0.25) * len(order) + 2.6), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=(3, 2))
    y = np.arange(len(order))
    shown = min(n_ranks, 5)  # ranks 1..4 apart, the rest together
    cmap = matplotlib.colormaps["viridis"]
    start = np.zeros(len(order))
    for k in range(1, shown + 1):
        cols = [c for c in share.columns if (c == k if k < shown else c >= k)]
        width = share.loc[order.design_id, cols].sum(axis=1).to_numpy()
        name = f"rank {k}" if k < shown or n_ranks == shown else f"rank {k}+"
        left.barh(y, width * 100, left=start * 100, color=cmap((k - 1) / max(shown - 1, 1)),
                  label=name, edgecolor="white", lw=0.5)  # fmt: skip
        start += width
    left.set_xlim(0, 100)
    left.set_xlabel("Share of posterior draws (%)")
    left.set_title("Rank of each design across posterior draws")
    left.set_yticks(y, names, fontsize=9.5)
    right.hlines(y, order.gain_p05 * POINTS, order.gain_p95 * POINTS, color=PALETTE[0], lw=5,
                 alpha=0.35, label="90% of draws")  # fmt: skip
    right.plot(order.gain_mean * POINTS, y, "o", color=PALETTE[0], label="mean")
    right.axvline(0, color="grey", lw=1, ls="--")
    right.set_xlabel("Gain in the final year (index points)")
    right.set_title("Gain under the posterior")
    pairs = [pair for ax in (left, right) for pair in zip(*ax.get_legend_handles_labels(),
                                                           strict=True)]  # fmt: skip
    fig.legend(*zip(*pairs, strict=True), loc="outside lower center", ncols=min(len(pairs), 4),
               frameon=False)  # fmt: skip
    draws = int(order.paired_replicates.iloc[0])
    fig.suptitle(f"Designs under calibrated uncertainty ({draws} posterior draws, each with its "
                 "own seed, the same for every design)")  # fmt: skip
    return fig


#: Figure name -> function, in report order.
@dataclass(frozen=True)
class Plot:
    """A figure of the report: its name (file name), how it is drawn (None when it does not
    apply to the tables), its heading and its "how to read this" caption."""

    name: str
    draw: Callable[[SweepTables], Figure | None]
    heading: str
    caption: str


#: Figure name -> (heading, "how to read this" caption).
_WORDS = {
    "gain_channels": (
        "Where the gain comes from",
        "Each bar is one design, the best at the top as in the ranked table: its gain over no "
        f"exchange (mean of the final {FINAL_YEAR} months and of the replicates, index points) "
        "split by where it came from. Orange: the staff trained by the program themselves, in "
        "Tokyo or by visiting experts (often slightly below zero: their work is missed while "
        "they are away or training); blue: what colleagues who learnt from them add (coaching, "
        "conversation, and those colleagues' colleagues); green: what standard procedures "
        "(SOPs) adopted by departments add on top. The parts are added in that order, each on "
        "top of those it needs, and add up to the gain; a part below zero extends left of the "
        "zero line. The black diamond and its bar are the total gain's mean and 95% confidence "
        "interval: a bar crossing zero means the gain cannot be told apart from none.",
    ),
    "posterior_ranks": (
        "Designs under calibrated uncertainty",
        "Each replicate drew the behavioural parameters from one posterior draw of the "
        "calibration, the same draw for every design and its no-exchange run. Left: on what "
        "share of draws each design ranked first, second, and so on (the label gives the share "
        "on which it was best). Right: the range in which its gain fell on 90% of draws, with "
        "the mean; a range crossing the dashed zero line means that under some plausible "
        "parameters the design does not help.",
    ),
    "ranked_designs": (
        "Designs ranked against a reference",
        "Left: each design's gain over no exchange in the final year, with its 95% confidence "
        "interval. Right: how much more (or less) it gains than the reference design on the "
        "same random seeds; an interval that does not cross the dashed zero line means the "
        "difference is clear with this many replicates.",
    ),
    "duration_tradeoff": (
        "Many short stays or few long ones",
        "Each line keeps the other levers fixed and varies how long each person stays in Tokyo; "
        "with a fixed budget, longer stays mean fewer people. The shaded band is the 95% "
        "confidence interval.",
    ),
    "index_curves": (
        "City service index over time",
        "The top panel shows the city service index (0 to 1) under each design, averaged over "
        "the replicates; the shaded band is the 95% confidence interval and the dashed grey line "
        "is the same city without any exchange. The bottom panel shows the difference from that "
        "no-exchange run in index points: above zero means the exchange helped. Dips are months "
        "when a cohort is away from its desk. The third panel shows the no-exchange city as the "
        "model runs it (dashed) and with Jakarta's own documented improvement added (dotted, an "
        "assumed extrapolation of the Ombudsman score 2017–2021, the same for every design, so "
        "it leaves the gains unchanged; 'In units Jakarta reports').",
    ),
    "gain_heatmap": (
        "Gain by cohort size and months between cohorts",
        "Each cell is one combination of how many Jakarta staff leave per cohort (rows) and how "
        "many months pass from one cohort to the next (columns; 12 is one cohort a year); the "
        "number is the mean gain over the final year in index points, and brighter cells mean "
        "larger gains. A number in brackets has a 95% interval that includes zero.",
    ),
    "gain_vs_cost": (
        "Gain against cost",
        "Each point is one design: its total cost (IDR billion for real staff; further right is "
        "dearer) against its gain in the final year (higher is better), with a bar for the 95% "
        "confidence interval; hollow points have an interval that includes zero. Designs ringed "
        "by a diamond and joined by the line are efficient: their gain is clear and clearly "
        "larger, on the same seeds, than that of every cheaper design. A design off that line "
        "costs more without a gain that can be told apart from a cheaper one's. With more "
        "than 15 designs only the efficient ones are named.",
    ),
    "gain_by_lever": (
        "Gain by the value of each lever",
        "For a search (such as Optuna's) or a sweep that does not try every combination: each "
        "panel is one lever that the designs vary, and each point one design, placed at its "
        "value of that lever (the other levers differ from point to point), with its gain in "
        "the final year and the 95% interval; hollow points have an interval that includes "
        "zero. A lever whose high values all sit high matters; a cloud without a slope means "
        "the other levers decide.",
    ),
    "adoption": (
        "Staff proficient in each Tokyo practice",
        "Each small panel is one practice learnt in Tokyo and shows how many of Jakarta's staff "
        "are proficient in it over time: the solid line under the design ranked first (the "
        "largest mean gain), the dashed line "
        "in the same city without the exchange. The gap between them is what the exchange "
        "added; each panel has its own scale.",
    ),
    "departments_end": (
        "Which departments improved",
        "Each bar is one department: how much higher its service quality was in the final year "
        "under the design ranked first than without the exchange (index points, same seeds, "
        "mean of "
        "the replicates). Colours show the service domain; bars near zero mark departments the "
        "exchange hardly reached, bars below zero departments that were worse off, usually "
        "because some of their staff were away in Tokyo. With more than "
        f"{MAX_DEPARTMENT_BARS} departments, the {MAX_DEPARTMENT_BARS // 2} lowest and "
        f"{MAX_DEPARTMENT_BARS // 2} highest gains have a bar each and the others are counted "
        "between them.",
    ),
    "network": (
        "How knowledge moves between departments",
        "Each circle is a department, sized by its staff; lines join departments whose staff "
        "work together, wider for more ties. The colour shows the share of staff proficient in "
        "the practices that matter to that department, at four moments of one run of the "
        "design ranked first, so you can follow the practices spreading from department to "
        f"department. With more than {MAX_NETWORK_DEPARTMENTS} departments, the "
        f"{MAX_NETWORK_DEPARTMENTS} largest are drawn.",
    ),
}

#: The report's figures, in its order.
FIGURES: tuple[Plot, ...] = tuple(
    Plot(name, draw, *_WORDS[name])
    for name, draw in (
        ("index_curves", plot_index_curves),
        ("gain_channels", plot_gain_channels),
        ("posterior_ranks", plot_posterior_ranks),
        ("ranked_designs", plot_ranked_designs),
        ("duration_tradeoff", plot_duration_tradeoff),
        ("gain_heatmap", plot_gain_heatmap),
        ("gain_by_lever", plot_gain_by_lever),
        ("gain_vs_cost", plot_gain_vs_cost),
        ("adoption", plot_adoption),
        ("departments_end", plot_departments_end),
        ("network", plot_network),
    )
)
#: The figures by name.
PLOTS = {plot.name: plot for plot in FIGURES}


@functools.cache
def _characters(path: str) -> frozenset[int]:
    """The characters (code points) a font file has."""
    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError):
        return frozenset()


@functools.cache
def _font_having(code: int) -> str | None:
    """The family name of an installed upright, regular font that has character `code`, or
    None (the one matplotlib draws when given that family). Not "Last Resort": it has every
    character as a sign of its script, not the character itself."""
    regular = [
        entry
        for entry in font_manager.fontManager.ttflist
        if entry.style == "normal"
        and entry.weight in (400, "normal", "regular")
        and not entry.name.startswith("Last Resort")
    ]
    for entry in sorted(regular, key=lambda e: (e.name, e.fname)):
        if code in _characters(entry.fname):
            return entry.name
    return None


def fit_fonts(fig: Figure) -> set[str]:
    """Give each text of `fig` with characters the style's font lacks (a Japanese or Thai
    department name, say) the installed fonts that have them, as fallbacks after the style's
    font; returns the characters no installed font has (drawn as boxes)."""
    default = font_manager.findfont(FontProperties(family=matplotlib.rcParams["font.family"]))
    have = _characters(default)
    texts = [t for t in fig.findobj(Text) if any(ord(c) not in have for c in t.get_text())]
    lacking = {c for t in texts for c in t.get_text() if ord(c) not in have and c.isprintable()}
    found = {c: _font_having(ord(c)) for c in sorted(lacking)}
    fallbacks = list(dict.fromkeys(f for f in found.values() if f is not None))
    for t in texts:
        t.set_fontfamily([*matplotlib.rcParams["font.family"], *fallbacks])
    return {c for c, font in found.items() if font is None}


def no_font_note(lacking: set[str]) -> str:
    """One line on characters no installed font has, and what to do."""
    shown = " ".join(sorted(lacking)[:12]) + (" ..." if len(lacking) > 12 else "")
    return (
        f"warning: no installed font has {len(lacking)} character(s) of the names in the "
        f"figures ({shown}): they are drawn as boxes (the report's text shows them); install "
        "a font that has them (e.g. Noto Sans CJK for Chinese, Japanese, Korean) and run "
        "experiments/aggregate.py on the folder again"
    )


def _draw(name: str, tables: SweepTables, out_dir: Path) -> tuple[Path | None, set[str]]:
    """`draw`, and the characters no installed font has."""
    plot = PLOTS[name].draw
    with matplotlib.rc_context(STYLE), warnings.catch_warnings():
        # a missing glyph is said once for all figures (`no_font_note`), not once per drawing
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig = plot(tables)
        if fig is None:
            return None, set()
        try:
            lacking = fit_fonts(fig)
            png = save_figure(fig, Path(out_dir) / f"{name}.png")
        finally:
            fig.clear()
    return png, lacking


def draw(name: str, tables: SweepTables, out_dir: Path) -> Path | None:
    """Draw one figure into `out_dir` as <name>.png (150 dpi) and <name>.svg; None when it
    does not apply to these tables."""
    png, lacking = _draw(name, tables, out_dir)
    if lacking:
        print(no_font_note(lacking), file=sys.stderr)
    return png


#: The tables a forked drawing process reads (set just before the processes start, so that
#: they inherit it instead of receiving a pickled copy).
_SHARED: dict[str, SweepTables] = {}


def _draw_shared(name: str, out_dir: Path) -> tuple[Path | None, set[str]]:
    return _draw(name, _SHARED["tables"], out_dir)


def make_figures(
    tables: SweepTables,
    out_dir: Path,
    workers: int = 2,
    meanwhile: Callable[[], None] | None = None,
) -> dict[str, Path]:
    """Draw every applicable figure into `out_dir` (see `draw`), in report order; returns
    figure name -> PNG path. With `workers` > 1 (and where processes can be forked) the figures
    are drawn by that many processes at once, the slowest first, while this process runs
    `meanwhile`; the files are the same."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [plot.name for plot in FIGURES]
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        _SHARED["tables"] = tables
        try:
            with forked_pool(workers) as pool:
                slowest_first = sorted(names, key=lambda n: n not in ("network", "adoption"))
                futures = {n: pool.submit(_draw_shared, n, out_dir) for n in slowest_first}
                if meanwhile is not None:
                    meanwhile()
                drawn = {n: futures[n].result() for n in names}
        finally:
            _SHARED.clear()
    else:
        if meanwhile is not None:
            meanwhile()
        drawn = {n: _draw(n, tables, out_dir) for n in names}
    lacking = set().union(*(chars for _, chars in drawn.values()))
    if lacking:
        print(no_font_note(lacking), file=sys.stderr)
    return {name: png for name, (png, _) in drawn.items() if png is not None}
