"""Figures and HTML report of a sweep, on small real runs (1% scale, 24 months, 3 seeds), and the
statistics the report's words rest on."""

from __future__ import annotations

import dataclasses
import html
import itertools
import math

import numpy as np
import pandas as pd
import pytest

import sim
from experiments.figures import make_figures, plot_gain_heatmap, shown_designs
from experiments.report import headline, write_report
from experiments.study import design_label, run_job
from experiments.tables import (
    SweepTables,
    censored_median,
    combine,
    design_labels,
    judge,
    paired_comparisons,
    t_interval,
)

LEVERS = ["cohort_size", "months_between_cohorts"]
DESIGNS = [dict(zip(LEVERS, v, strict=True)) for v in itertools.product((100, 400), (6, 12))]
SEEDS = 3
TARGET_GAIN = 0.001


def build_tables(designs: list[dict], tmp_path, scale: float = 0.01, horizon: int = 24):
    """Run every design with the real job code (paired no-exchange runs cached) and combine."""
    base = sim.ModelConfig(scenario=sim.ScenarioConfig(scale=scale), horizon=horizon)
    jobs = []
    for design in designs:
        cfg = dataclasses.replace(base, program=sim.ProgramConfig(**design))
        label = design_label({f"program.{k}": str(v) for k, v in design.items()})
        jobs.append(run_job(cfg, SEEDS, 1, TARGET_GAIN, label, progress=False, cache_dir=tmp_path))
    meta = {
        "horizon_months": horizon,
        "replicates": SEEDS,
        "scale": scale,
        "scenario": "jakarta_small",
        "seeds": "1..3",
        "target_gain": TARGET_GAIN,
        "real_staff": 60_000,
        "simulated_staff": int(jobs[0]["timeseries"].simulated_staff.iloc[0]),
        "experiment": "test",
        "cost_per_staff_month": 80.0,
        "provenance": {"command": "pytest tests/test_figures_report.py", "code_digest": "x"},
    }
    return combine(jobs, meta, reference=None)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    return build_tables(DESIGNS, tmp_path_factory.mktemp("cache"))


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
    for heading in ("What was run", "Headline", "What the gain means", "Caveats", "Provenance"):
        assert heading in text
    assert "Smoke run at reduced scale" in text  # 1% scale says so
    body = text[text.index("Designs ranked by gain") :]
    rows = body[body.index("<tbody>") : body.index("</tbody>")].split("<tr")[1:]
    assert len(rows) == len(tables.designs)
    labels = design_labels(tables)
    order = tables.designs.sort_values(["rank", "cost_mean"])
    for row, (_, d) in zip(rows, order.iterrows(), strict=True):
        assert f"<td>{d['rank']}</td>" in row
        assert html.escape(labels[d["design_id"]]) in row
        assert f"{d['gain_mean'] * 100:.2f}" in row
        assert f"{d['cost_mean'] / 1000:,.1f}"[:3] in row  # real money, IDR billion
    for name, png in figures.items():
        assert f'src="figures/{png.name}"' in text, name
    assert not list(report.parent.glob("*.tmp"))


def test_costs_and_staff_are_real_at_reduced_scale(tables):
    """A cohort of 100 staff every 6 months for 24 months: 4 cohorts of 100 real people, each 6
    months in Tokyo, at IDR 80 million a staff-month, whatever the scale."""
    d = tables.designs.set_index(["cohort_size", "months_between_cohorts"])
    row = d.loc[(100, 6)]
    assert row.staff_sent_mean == 400 and row.staff_months_abroad_mean == 400 * 6
    assert row.cost_mean == pytest.approx(400 * 6 * 80.0)


def test_headline_names_the_best_design_only_as_strongly_as_the_intervals_allow(tables, rendered):
    _, report = rendered
    text = report.read_text(encoding="utf-8")
    headline = text[text.index("Headline") : text.index("</section>", text.index("Headline"))]
    best = tables.designs.sort_values("rank").iloc[0]
    assert html.escape(design_labels(tables)[best["design_id"]]) in headline
    if not best.gain_clear:
        assert "told apart from zero" in headline
    elif tables.designs.tied_with_best.any():
        assert "cannot be told apart" in headline
    else:
        assert "clearly larger than every other design" in headline


def test_heatmap_needs_both_cohort_size_and_months_between_cohorts(tables):
    assert plot_gain_heatmap(dataclasses.replace(tables, levers=["cohort_size"])) is None
    assert plot_gain_heatmap(tables) is not None


def _summary(gains: dict[str, list[float]], cost: dict[str, float]) -> pd.DataFrame:
    rows = [
        {"design_id": d, "seed": s, "gain": g, "cost": cost[d]}
        for d, values in gains.items()
        for s, g in enumerate(values)
    ]
    return pd.DataFrame(rows)


def hand_designs(gains: dict[str, list[float]], cost: dict[str, float]) -> SweepTables:
    """SweepTables of hand-made designs: per-seed gains (index units) and costs."""
    summary = _summary(gains, cost)
    rows = []
    for d, g in summary.groupby("design_id", sort=False):
        mean, low, high = t_interval(g.gain)
        rows.append(
            {
                "design_id": d,
                "design": d,
                "gain_mean": mean,
                "gain_ci_low": low,
                "gain_ci_high": high,
                "cost_mean": cost[d],
                "staff_sent_mean": 10.0,
            }  # fmt: skip
        )
    designs = pd.DataFrame(rows)
    designs["rank"] = designs.gain_mean.rank(ascending=False, method="min").astype(int)
    designs = judge(designs, paired_comparisons(summary))
    months = pd.DataFrame({"month": [0, 120]})
    return SweepTables(months, None, summary, designs, None, None, None, None, [], {})


#: 'dear' costs most and gains a little more than 'middle' on average, but not on every seed
#: (the paired interval includes zero); 'noisy' is cheapest with no clear gain; 'cheap' beats it
#: on every seed.
GAINS = {
    "noisy": [0.001, -0.001, 0.002, -0.002, 0.0],
    "cheap": [0.010, 0.011, 0.012, 0.009, 0.010],
    "middle": [0.020, 0.022, 0.021, 0.019, 0.020],
    "dear": [0.030, 0.015, 0.028, 0.012, 0.025],
}
COST = {"noisy": 50.0, "cheap": 100.0, "middle": 200.0, "dear": 400.0}


def test_efficient_means_a_clear_gain_over_every_cheaper_design():
    judged = hand_designs(GAINS, COST).designs.set_index("design_id")
    assert list(judged.gain_clear) == [False, True, True, True]
    assert list(judged.efficient) == [False, True, True, False]
    assert list(judged.no_clear_gain_over) == ["", "", "", "middle"]
    # 'dear' has the largest mean but 'middle' cannot be told apart from it
    assert judged.loc["dear", "rank"] == 1 and judged.loc["middle", "tied_with_best"]
    assert not judged.loc["cheap", "tied_with_best"]


def test_a_cheaper_design_that_cannot_be_told_apart_is_not_dominated():
    """'cheap' is not clearly better than a cheaper design with a noisy gain: not efficient."""
    gains = {**GAINS, "noisy": [0.02, -0.02, 0.01, -0.01, 0.0]}
    judged = hand_designs(gains, COST).designs.set_index("design_id")
    assert not judged.loc["cheap", "efficient"] and not judged.loc["noisy", "efficient"]


def test_headline_words_follow_the_intervals():
    text = headline(hand_designs(GAINS, COST))
    assert "dear had the largest mean gain" in text and "cannot be told apart" in text
    assert "The cheapest of these is middle" in text
    assert "cheap; middle" in text  # the efficient designs, cheapest first
    clear_best = {k: v for k, v in GAINS.items() if k != "dear"}
    text = headline(hand_designs(clear_best, COST))
    assert "middle gained the most" in text and "clearly larger than every other" in text
    noise = {"a": [0.01, -0.01, 0.0], "b": [0.02, -0.02, 0.01]}
    text = headline(hand_designs(noise, {"a": 1.0, "b": 2.0}))
    assert "No design&#x27;s gain can be told apart from zero" in text
    assert "No design is efficient" in text


def test_months_to_target_is_a_censored_median():
    never = np.nan
    assert censored_median([10, 12, 14, never, never]) == 14  # 3 of 5 reached: median reached
    assert math.isnan(censored_median([10, never, never, 12]))  # half never: not reached
    assert math.isnan(censored_median([37, never, never, never, never, never]))
    assert censored_median([5, 7, 9, 11]) == 8


def test_close_designs_keep_their_own_labels_and_rows(tmp_path):
    """Two designs whose costs agree to three significant digits are two designs."""
    summary = _summary({"a": [0.01, 0.02], "b": [0.01, 0.03]}, {"a": 80.0001, "b": 80.0002})
    summary["design"] = summary.design_id.map({"a": "x=80.0001", "b": "x=80.0002"})
    summary["x"] = summary.design_id.map({"a": 80.0001, "b": 80.0002})
    designs = pd.DataFrame(
        {"design_id": ["a", "b"], "design": ["x=80.0001", "x=80.0002"], "x": [80.0001, 80.0002]}
    )
    fake = type("T", (), {"designs": designs, "levers": ["x"]})
    labels = design_labels(fake)
    assert len(set(labels.values())) == 2 and labels["a"] == "x=80.0001"


def test_many_designs_show_top_five_and_lowest():
    d = pd.DataFrame(
        {
            "design_id": list("abcdefghij"),
            "design": list("abcdefghij"),
            "rank": range(10, 0, -1),
            "cost_mean": 1.0,
        }  # fmt: skip
    )
    assert shown_designs(d) == ["j", "i", "h", "g", "f", "a"]
    assert shown_designs(d.head(8)) == list("hgfedcba")
