"""The screening's figure (Morris mu* and sigma, Sobol S1 and ST) and its terminal summary."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from experiments.jobs.outputs import save_figure
from experiments.screening.stages import OUTCOME_LABELS
from experiments.study.outcomes import POINTS

COLOURS = {"mu_star": "#0072B2", "sigma": "#D55E00", "S1": "#009E73", "ST": "#0072B2"}


STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "x",
    "grid.alpha": 0.3,
    "svg.hashsalt": "sensitivity",
}


def _morris_panel(ax, df: pd.DataFrame, title: str) -> None:
    """Bars of mu_star (with its bootstrap interval) and diamonds of sigma, index points."""
    df = df.sort_values("mu_star", kind="stable")
    y = np.arange(len(df))
    ax.barh(
        y,
        df.mu_star * POINTS,
        xerr=df.mu_star_conf * POINTS,
        color=COLOURS["mu_star"],
        ecolor="#333333",
        capsize=2,
        label="\u03bc* (mean |effect|), 95% bootstrap",
    )
    ax.plot(df.sigma * POINTS, y, "D", color=COLOURS["sigma"], ms=5, label="\u03c3 (spread)")
    ax.set_yticks(y, df.parameter)
    ax.set_xlim(left=0)
    ax.set_xlabel("change over the parameter's range (index points)")
    ax.set_title(title, loc="left")
    ax.legend(loc="lower right", fontsize=8, frameon=False)


def _sobol_panel(ax, df: pd.DataFrame, title: str) -> None:
    """Paired bars of S1 and ST with their bootstrap intervals (shares of variance)."""
    df = df.sort_values("ST", kind="stable")
    y = np.arange(len(df))
    h = 0.38
    for shift, key in ((h / 2, "ST"), (-h / 2, "S1")):
        ax.barh(
            y + shift,
            df[key].fillna(0),
            height=h,
            xerr=df[f"{key}_conf"].fillna(0),
            color=COLOURS[key],
            ecolor="#333333",
            capsize=2,
            label={"S1": "S1 (first order)", "ST": "ST (total, with interactions)"}[key],
        )
    ax.set_yticks(y, df.parameter)
    ax.axvline(0, color="#333333", lw=0.8)  # small samples can give slightly negative S1
    ax.set_xlabel("share of the outcome's variance")
    ax.set_title(title, loc="left")
    ax.legend(loc="lower right", fontsize=8, frameon=False)


def draw_figure(
    morris: pd.DataFrame | None,
    sobol: pd.DataFrame | None,
    outcomes: list[str],
    heading: str,
    stem: Path,
) -> list[Path]:
    """sensitivity.png/.svg: a row per method (Morris, Sobol), a column per outcome."""
    rows = [(name, df) for name, df in (("morris", morris), ("sobol", sobol)) if df is not None]
    heights = [0.32 * df.parameter.nunique() + 1.5 for _, df in rows]
    paths = []
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(5.2 * len(outcomes), sum(heights) + 0.7), layout="constrained")
        axes = fig.subplots(
            len(rows), len(outcomes), squeeze=False, gridspec_kw={"height_ratios": heights}
        )
        for i, (method, df) in enumerate(rows):
            for j, outcome in enumerate(outcomes):
                part = df[df.outcome == outcome]
                label = OUTCOME_LABELS[outcome]
                if method == "morris":
                    _morris_panel(axes[i, j], part, f"Morris screening: {label}")
                else:
                    _sobol_panel(axes[i, j], part, f"Sobol indices: {label}")
        fig.suptitle(heading)
        png = save_figure(fig, stem.with_suffix(".png"))
        paths += [png, png.with_suffix(".svg")]
    return paths


def _top_line(df: pd.DataFrame, value: str, n: int = 5, scale: float = 1.0) -> str:
    best = df.sort_values(value, ascending=False, kind="stable").head(n)
    return ", ".join(f"{r.parameter} {getattr(r, value) * scale:.3g}" for r in best.itertuples())


def summary_lines(
    morris: pd.DataFrame | None,
    sobol: pd.DataFrame | None,
    ranking: pd.DataFrame | None,
    labels: tuple[str, str | None],
) -> list[str]:
    """Top parameters by mu_star (index points) and ST per outcome; how often A beats B."""
    lines = []
    for name, df, value, scale, unit in (
        ("mu_star", morris, "mu_star", POINTS, "index points over the range"),
        ("total Sobol index ST", sobol, "ST", 1.0, "share of variance"),
    ):
        if df is None:
            continue
        lines.append(f"Top parameters by {name} ({unit}):")
        for outcome, part in df.groupby("outcome", sort=False):
            lines.append(f"  {OUTCOME_LABELS[outcome]}: {_top_line(part, value, scale=scale)}")
    if ranking is not None:
        r = ranking.iloc[0]
        lines.append(
            f"Design A beats design B in {100 * r.share_a_beats_b:.0f}% of the "
            f"{r.parameter_sets} sampled parameter sets ({r.stage} sample; A: {labels[0]}; "
            f"B: {labels[1]}); difference A \u2212 B {POINTS * r.difference_mean:+.3f} index "
            f"points on average, 95% of sets in [{POINTS * r.difference_p2_5:+.3f}, "
            f"{POINTS * r.difference_p97_5:+.3f}]"
        )
    return lines
