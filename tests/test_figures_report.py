"""Figures and HTML report of a sweep, on small real runs (1% scale, 24 months, 3 seeds)."""

from __future__ import annotations

import dataclasses
import html
import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from experiments.figures import (
    SweepTables,
    efficient_frontier,
    make_figures,
    plot_gain_heatmap,
    shown_scenarios,
)
from experiments.report import write_report

LEVERS = ["cohort_size", "frequency"]
DESIGNS = [dict(zip(LEVERS, v, strict=True)) for v in itertools.product((5, 20), (6, 12))]
SEEDS = (1, 2, 3)
TARGET_GAIN = 0.001


def mean_t_ci(values: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, sd and t-based 95% CI across replicates."""
    n, mean, sd = len(values), float(np.mean(values)), float(np.std(values, ddof=1))
    half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
    return mean, sd, mean - half, mean + half


def build_tables(
    designs: list[dict], seeds=SEEDS, scale: float = 0.01, horizon: int = 24
) -> SweepTables:
    """Run every design and seed (plus the paired no-exchange runs) into a SweepTables."""
    levers = list(designs[0])
    base_cfg = sim.ModelConfig(scenario=sim.ScenarioConfig(scale=scale), horizon=horizon)
    no_exchange = dataclasses.replace(base_cfg, program=sim.ProgramConfig(cohort_size=0))
    baseline = {s: sim.run(no_exchange, s).service_index.to_numpy() for s in seeds}
    series, summary, departments, ties = [], [], [], None
    for design in designs:
        label = ", ".join(f"{k}={v}" for k, v in design.items())
        cfg = dataclasses.replace(base_cfg, program=sim.ProgramConfig(**design))
        for rep, seed in enumerate(seeds):
            r = sim.run_detailed(cfg, seed)
            tag = {"scenario": label, **design, "replicate": rep, "seed": seed}
            ts = r.months.assign(baseline_index=baseline[seed])
            ts["gain"] = ts.service_index - ts.baseline_index
            series.append(ts.assign(**tag))
            departments.append(r.departments.assign(**tag).drop(columns="seed"))
            if ties is None:
                ids = list(r.departments.department.unique())
                ties = pd.DataFrame(r.department_ties, index=ids, columns=ids)
            last, hit = ts.iloc[-1], np.flatnonzero(ts.gain.to_numpy() >= TARGET_GAIN)
            summary.append(
                {
                    **tag,
                    "final_index": last.service_index,
                    "baseline_final_index": last.baseline_index,
                    "gain": last.gain,
                    "mean_gain": ts.gain.mean(),
                    "months_to_target": float(hit[0]) if hit.size else np.nan,
                    "staff_months_abroad": last.staff_months_abroad,
                    "expert_visits": last.expert_visits,
                    "cost": last.cost,
                    "cost_per_point": last.cost / (100 * last.gain) if last.gain > 0 else np.nan,
                }
            )
    summary = pd.DataFrame(summary)
    rows = []
    for label, g in summary.groupby("scenario", sort=False):
        mean, sd, low, high = mean_t_ci(g.gain.to_numpy())
        cost = g.cost.mean()
        rows.append(
            {
                "scenario": label,
                **{k: g[k].iloc[0] for k in levers},
                "n": len(g),
                "gain_mean": mean,
                "gain_sd": sd,
                "gain_ci_low": low,
                "gain_ci_high": high,
                "final_index_mean": g.final_index.mean(),
                "cost_mean": cost,
                "staff_months_abroad_mean": g.staff_months_abroad.mean(),
                "cost_per_point": cost / (100 * mean) if mean > 0 else np.nan,
                "months_to_target_median": g.months_to_target.median(),
            }
        )
    scenarios = pd.DataFrame(rows)
    scenarios["rank"] = scenarios.gain_mean.rank(ascending=False, method="min").astype(int)
    return SweepTables(
        timeseries=pd.concat(series, ignore_index=True),
        summary=summary,
        scenarios=scenarios,
        departments=pd.concat(departments, ignore_index=True),
        department_ties=ties,
        levers=levers,
        meta={
            "horizon_months": horizon,
            "replicates": len(seeds),
            "scale": scale,
            "seeds": ", ".join(map(str, seeds)),
            "target_gain": TARGET_GAIN,
            "command": "pytest tests/test_figures_report.py",
        },
    )


@pytest.fixture(scope="module")
def tables() -> SweepTables:
    return build_tables(DESIGNS)


@pytest.fixture(scope="module")
def rendered(tables, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    figures = make_figures(tables, out / "figures")
    report = write_report(tables, figures, out / "report.html", "Test sweep <&>")
    return figures, report


def test_every_figure_is_written_as_png_and_svg(rendered):
    figures, _ = rendered
    expected = {"index_curves", "gain_heatmap", "gain_vs_cost", "adoption"}
    assert set(figures) == expected | {"departments_end", "network"}
    for png in figures.values():
        assert png.suffix == ".png" and png.stat().st_size > 1000
        assert png.read_bytes().startswith(b"\x89PNG")
        svg = png.with_suffix(".svg")
        assert svg.stat().st_size > 1000 and b"<svg" in svg.read_bytes()[:2000]


def test_report_has_every_design_in_rank_order_and_every_figure(tables, rendered):
    figures, report = rendered
    text = report.read_text(encoding="utf-8")
    assert "<script" not in text and "http" not in text
    assert "Test sweep &lt;&amp;&gt;" in text  # the title is escaped
    for heading in ("What was run", "Headline", "Caveats"):
        assert heading in text
    rows = text[text.index("<tbody>") : text.index("</tbody>")].split("<tr")[1:]
    assert len(rows) == len(tables.scenarios)
    order = tables.scenarios.sort_values(["rank", "cost_mean"])
    for row, (_, sc) in zip(rows, order.iterrows(), strict=True):
        assert f"<td>{sc['rank']}</td>" in row
        assert html.escape(sc["scenario"]) in row
        assert f"{sc['gain_mean'] * 100:.2f}" in row
    for name, png in figures.items():
        assert f'src="figures/{png.name}"' in text, name
    assert not list(report.parent.glob("*.tmp"))


def test_headline_names_the_best_design(tables, rendered):
    _, report = rendered
    text = report.read_text(encoding="utf-8")
    headline = text[text.index("Headline") : text.index("</section>", text.index("Headline"))]
    best = tables.scenarios.sort_values("rank").iloc[0]
    assert html.escape(best["scenario"]) in headline


def test_heatmap_needs_both_cohort_size_and_frequency(tables):
    assert plot_gain_heatmap(dataclasses.replace(tables, levers=["cohort_size"])) is None
    assert plot_gain_heatmap(tables) is not None


def test_efficient_frontier_on_four_designs():
    d = pd.DataFrame(
        {
            "scenario": ["cheap", "dominated", "middle", "dear"],
            "cost_mean": [100.0, 300.0, 250.0, 400.0],
            "gain_mean": [0.010, 0.015, 0.020, 0.030],
        }
    )
    front = efficient_frontier(d)
    assert list(front.scenario) == ["cheap", "middle", "dear"]
    tie = pd.concat([d, d.iloc[[2]].assign(scenario="same cost, less gain", gain_mean=0.018)])
    assert list(efficient_frontier(tie).scenario) == ["cheap", "middle", "dear"]


def test_many_designs_show_top_five_and_lowest():
    d = pd.DataFrame({"scenario": list("abcdefghij"), "rank": range(10, 0, -1), "cost_mean": 1.0})
    assert shown_scenarios(d) == ["j", "i", "h", "g", "f", "a"]
    assert shown_scenarios(d.head(8)) == list("hgfedcba")
