"""Figures and HTML report of a sweep, on small real runs (1% scale, 24 months, 3 seeds), and the
statistics the report's words rest on."""

from __future__ import annotations

import dataclasses
import html
import itertools
import math
import re
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

import sim
from experiments.analysis.intervals import censored_median, interval_side, t_interval
from experiments.analysis.tables import (
    POSTERIOR_COLUMNS,
    SweepTables,
    budget_choices,
    cheapest_reaching,
    combine,
    judge,
    paired_comparisons,
    present_costs,
    replicate_ranking,
)
from experiments.jobs.job import run_job
from experiments.present.advice import efficient_table, recommendation
from experiments.present.figures import (
    STYLE,
    draw,
    make_figures,
    plot_gain_by_lever,
    plot_gain_channels,
    plot_gain_heatmap,
    plot_gain_vs_cost,
    plot_network,
    shown_designs,
)
from experiments.present.labels import design_labels
from experiments.present.publish import write_tables
from experiments.present.report import all_outcomes, behaviour_sentence, headline, write_report
from experiments.study.levers import design_label, short_value
from sim.pairing import CHANNELS

LEVERS = ["cohort_size", "months_between_cohorts"]
DESIGNS = [dict(zip(LEVERS, v, strict=True)) for v in itertools.product((100, 400), (6, 12))]
SEEDS = 3
TARGET_GAIN = 0.001


def build_tables(
    designs: list[dict], tmp_path, scale: float = 0.01, horizon: int = 24, channels: bool = True
):
    """Run every design with the real job code (paired no-exchange runs cached) and combine."""
    base = sim.ModelConfig(scenario=sim.ScenarioConfig(scale=scale), horizon=horizon)
    jobs = []
    for design in designs:
        cfg = dataclasses.replace(base, program=sim.ProgramConfig(**design))
        label = design_label({f"program.{k}": str(v) for k, v in design.items()})
        jobs.append(run_job(cfg, SEEDS, 1, TARGET_GAIN, label, progress=False, cache_dir=tmp_path,
                            channels=channels))  # fmt: skip
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
        "provenance": {
            "command": "pytest tests/present/test_figures_report.py",
            "code_digest": "x",
        },
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
    expected = {"index_curves", "gain_channels", "gain_heatmap", "gain_vs_cost", "adoption"}
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
    verb = {1: "raised", 0: "changed", -1: "lowered"}[
        interval_side(best.gain_ci_low, best.gain_ci_high)
    ]
    assert f"it {verb} the city service index by" in headline
    if not tables.designs.gain_clear.any():
        assert "No design clearly raised the city service index" in headline
    if tables.designs.tied_with_best.any():
        assert "Not resolved: " in headline
    else:
        assert "Resolved: better than every other design" in headline
    # P(best) and P(gain > 0) beside the interval, over the seeds every design ran
    assert f"P(best) {best.p_best:.0%}, P(gain &gt; 0) {best.p_gain_positive:.0%}" in headline
    assert f"shares of the {SEEDS} paired replicates" in headline


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


def hand_designs(
    gains: dict[str, list[float]], cost: dict[str, float], drawn: bool = False
) -> SweepTables:
    """SweepTables of hand-made designs: per-seed gains (index units) and costs; with `drawn`,
    replicate r as posterior draw r."""
    summary = _summary(gains, cost)
    if drawn:
        summary["draw"] = summary.seed
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
    shares, _ = replicate_ranking(summary)
    if "draw" not in summary:
        shares = shares.drop(columns=list(POSTERIOR_COLUMNS))
    designs = designs.merge(shares, on="design_id")
    designs["label"] = designs.design
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
    text = html.unescape(headline(hand_designs(GAINS, COST)))
    assert "dear had the largest mean gain" in text and "it raised the city service" in text
    # dear against each other design, paired: middle's interval includes zero
    assert "Resolved: better than cheap; noisy (paired 95% intervals exclude zero). " in text
    assert "Not resolved: middle." in text
    assert "The cheapest design not resolved from it is middle" in text
    assert "1 design(s) had a gain that cannot be told apart from zero" in text
    assert "dear had the largest mean gain and is the dearest design" in text
    efficient = _table_after(efficient_table(hand_designs(GAINS, COST)), "<table")
    assert [row[0] for row in efficient] == ["cheap", "middle"]  # cheapest first
    clear_best = {k: v for k, v in GAINS.items() if k != "dear"}
    text = headline(hand_designs(clear_best, COST))
    assert "middle had the largest mean gain" in text
    assert "Resolved: better than every other design (all 2 paired 95% intervals" in text
    assert "Not resolved" not in text
    noise = {"a": [0.01, -0.01, 0.0], "b": [0.02, -0.02, 0.01]}
    text = headline(hand_designs(noise, {"a": 1.0, "b": 2.0}))
    assert "No design clearly raised the city service index" in text
    assert "b had the largest mean gain" in text and "cannot be told apart from no gain" in text
    assert "Not resolved: it cannot be told apart from any of the 1 other" in text
    assert "No design is efficient" in efficient_table(hand_designs(noise, {"a": 1.0, "b": 2.0}))


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
    assert labels == {"a": "x 80.0001", "b": "x 80.0002"}  # as many digits as tell them apart


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


# --- where the gain comes from, and how close departments are to standard procedures -----------

PARTS = [f"{name}_mean" for name in CHANNELS]


def _section(text: str, heading: str) -> str:
    """The report's text from `heading` to the end of its section."""
    start = text.index(heading)
    return text[start : text.index("</section>", start)]


def _table_after(text: str, heading: str) -> list[list[str]]:
    """Cells (tags removed, unescaped) of each body row of the first table after `heading`."""
    start = text.index(heading)
    body = text[text.index("<tbody>", start) : text.index("</tbody>", start)]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row)
        ]
        for row in body.split("<tr")[1:]
    ]


def _number(cell: str) -> float:
    return float(cell.split()[0].replace(",", ""))


def test_the_gains_parts_add_up_to_the_gain_in_tables_and_report(tables, rendered):
    """Per replicate the parts add up to the gain exactly; the report's tables show the designs
    table's means, and their parts add up to the gain within rounding."""
    s = tables.summary
    assert np.allclose(s[list(CHANNELS)].sum(axis=1), s.gain, atol=1e-12)
    text = rendered[1].read_text(encoding="utf-8")
    meaning = _section(text, "What the gain means")
    rows = _table_after(meaning, "Every design")
    designs = tables.designs.set_index("design_id")
    labels = design_labels(tables)
    assert len(rows) == len(designs)
    for row, did in zip(
        rows, tables.designs.sort_values(["rank", "cost_mean"]).design_id, strict=True
    ):
        d = designs.loc[did]
        assert row[1] == labels[did]
        gain, *parts = (_number(c) for c in row[2:6])
        assert gain == pytest.approx(100 * d.gain_mean, abs=0.0051)
        for value, column in zip(parts, PARTS, strict=True):
            assert value == pytest.approx(100 * d[column], abs=0.0051)
        assert sum(parts) == pytest.approx(gain, abs=0.016)
        assert _number(row[6]) == pytest.approx(d.colleagues_proficient_mean, abs=0.51)
        assert _number(row[7]) == pytest.approx(d.departments_with_sop_mean, abs=0.051)
    # the leading design's own table: gain, its three parts with intervals, then the counts
    best = tables.designs.sort_values("rank").design_id.iloc[0]
    own = _table_after(meaning, html.escape(labels[best]) + " (rank 1)")
    assert [r[0].split(" (")[0] for r in own[:4]] == ["Gain over no exchange"] + [
        "… through " + w.split(" (")[0] for w in CHANNELS.values()
    ]
    for r, column in zip(own, ["gain", *CHANNELS], strict=False):
        assert _number(r[1]) == pytest.approx(100 * designs.loc[best, f"{column}_mean"], abs=0.0051)
        low, high = designs.loc[best, [f"{column}_ci_low", f"{column}_ci_high"]]
        assert r[2].startswith(f"{100 * low:,.2f} to {100 * high:,.2f}")
    assert sum(_number(r[1]) for r in own[1:4]) == pytest.approx(_number(own[0][1]), abs=0.016)
    assert "without standard procedures" in own[5][0]
    assert "Staff trained by the program, still proficient" in own[6][0]


def without_channels(tables: SweepTables, absent: bool = True) -> SweepTables:
    """`tables` as a sweep with channels=false gives them: the parts' columns NaN, or absent."""
    columns = [c for c in tables.designs if c.startswith(tuple(CHANNELS))]
    designs = (
        tables.designs.drop(columns=columns)
        if absent
        else tables.designs.assign(**dict.fromkeys(columns, float("nan")))
    )
    return dataclasses.replace(tables, designs=designs)


def test_channel_figure_is_drawn_with_channels_and_skipped_without(tables, rendered, tmp_path):
    assert rendered[0]["gain_channels"].exists()
    for absent in (True, False):
        plain = without_channels(tables, absent)
        assert plot_gain_channels(plain) is None
        assert draw("gain_channels", plain, tmp_path) is None
    assert not list(tmp_path.iterdir())


def test_report_says_the_gain_was_not_decomposed_without_channels(tmp_path_factory):
    """A real run with channels=false: no parts, one sentence on how to get them; the counts
    of proficient staff and departments with an SOP are still there."""
    cache = tmp_path_factory.mktemp("plain")
    plain = build_tables(DESIGNS[:1], cache, horizon=12, channels=False)
    assert plain.summary[list(CHANNELS)].isna().all().all()
    for variant in (plain, without_channels(plain)):
        out = write_report(variant, {}, cache / "report.html", "No channels")
        text = out.read_text(encoding="utf-8")
        assert "ran with channels=false" in text and "channels=true" in text
        meaning = _section(text, "What the gain means")
        assert "… through" not in meaning and "Staff never trained by the program" in meaning
    assert plot_gain_channels(plain) is None


def test_sop_readiness_has_one_row_per_design_and_department(tables, tmp_path):
    ready = tables.readiness
    deps = tables.departments
    assert len(ready) == len(tables.designs) * deps.department.nunique()
    assert not ready.duplicated(["design_id", "department"]).any()
    assert ready.sop_share.between(0, 1).all() and (ready.sop_readiness_mean >= 0).all()
    assert (ready.replicates == SEEDS).all()
    # against the departments table itself, for every row: the final month's values
    last = deps[deps.month == deps.month.max()]
    by = last.groupby(["design_id", "department"])
    expected = pd.DataFrame({"r": by.sop_readiness.mean(), "s": by.sops.mean(),
                             "share": by.sops.apply(lambda x: (x >= 1).mean())})  # fmt: skip
    got = ready.set_index(["design_id", "department"]).loc[expected.index]
    assert np.allclose(got.sop_readiness_mean, expected.r)
    assert np.allclose(got.sops_mean, expected.s) and np.allclose(got.sop_share, expected.share)
    # written like every other aggregate table: Parquet and spreadsheet-safe CSV
    write_tables(tables, pd.DataFrame(columns=["job", "design", "error"]), tmp_path)
    back = pd.read_parquet(tmp_path / "sop_readiness.parquet")
    pd.testing.assert_frame_equal(back, ready.reset_index(drop=True), check_dtype=False)
    assert len(pd.read_csv(tmp_path / "sop_readiness.csv")) == len(ready)


def test_report_lists_the_departments_closest_to_sops(tables, rendered):
    text = rendered[1].read_text(encoding="utf-8")
    part = _section(text, "What the gain means")
    best = tables.designs.sort_values("rank").design_id.iloc[0]
    ready = tables.readiness[tables.readiness.design_id == best]
    started = ready[(ready.sop_readiness_mean > 0) | (ready.sops_mean > 0)]
    assert "Departments closest to standard procedures" in part
    if started.empty:
        assert "no department had a pilot" in part
        return
    rows = _table_after(part, "Departments closest to standard procedures")
    assert len(rows) == min(10, len(started))
    shown = [_number(r[2]) for r in rows]
    assert shown == sorted(shown, reverse=True)
    assert shown[0] == pytest.approx(started.sop_readiness_mean.max(), abs=0.0051)
    assert all(r[2].endswith("× threshold") and r[4].endswith("%") for r in rows)


def test_the_report_says_under_what_behaviour(tables, rendered):
    text = _section(rendered[1].read_text(encoding="utf-8"), "Headline")
    defaults = "Behaviour: assumed defaults (posterior=none). The behavioural parameters are "
    assert defaults + "the configured settings, each an assumption" in text
    command = {"provenance": {"command": "run.py -m behavior.forgetting_rate=0.1"}}
    changed = dataclasses.replace(tables, meta={**tables.meta, **command})
    given = "settings, with behavior.forgetting_rate=0.1 from the command line, each an"
    assert given in behaviour_sentence(changed)
    post = {"posterior": {"parameters": ["learning_rate", "forgetting_rate"], "path": "p",
                          "draws": 5, "sha256": "0" * 64}}  # fmt: skip
    drawn = behaviour_sentence(dataclasses.replace(tables, meta={**tables.meta, **post}))
    assert drawn.startswith("Behaviour: drawn from the posterior file p (5 draws). Each ")
    assert "parameters (learning_rate and forgetting_rate) from one draw" in drawn
    assert "assumed defaults" not in drawn


def _many(tables: SweepTables, n: int, long: bool) -> SweepTables:
    """`n` designs made from the fixture's (gains scaled so that they differ), with long
    labels if asked."""
    rows = pd.concat([tables.designs] * math.ceil(n / len(tables.designs)), ignore_index=True)
    rows = rows.head(n).copy()
    scale = 1 + 0.05 * np.arange(n)
    for c in ["gain_mean", "gain_ci_low", "gain_ci_high", *PARTS]:
        rows[c] = rows[c] * scale
    rows["design_id"] = [f"d{k:03d}" for k in range(n)]
    rows["design"] = rows["design_id"]
    words = "a selection policy with an unusually long name that goes on" if long else "rule"
    rows["selection"] = [f"{words} {k}" for k in range(n)]
    rows["rank"] = rows.gain_mean.rank(ascending=False, method="first").astype(int)
    return dataclasses.replace(tables, designs=rows, levers=["cohort_size", "selection"])


@pytest.mark.parametrize("n", [1, 3, 12, 30, 31])
def test_channel_figure_labels_never_overlap_or_leave_the_canvas(tables, n):
    for long in (False, True):
        with matplotlib.rc_context(STYLE):
            fig = plot_gain_channels(_many(tables, n, long))
            fig.draw_without_rendering()
            drawn, canvas = fig.get_tightbbox(), fig.bbox_inches  # inches: all that is drawn
            assert drawn.x0 >= canvas.x0 - 0.01 and drawn.x1 <= canvas.x1 + 0.01
            assert drawn.y0 >= canvas.y0 - 0.01 and drawn.y1 <= canvas.y1 + 0.01
            ticks = [t.get_window_extent() for t in fig.axes[0].get_yticklabels()]
            assert len(ticks) == min(n, 30)
            for a, b in itertools.combinations(ticks, 2):
                assert not a.overlaps(b)
            fig.clear()


# --- what to do: budgets, the target, present values, units --------------------------------------


def _with_comparisons(tables: SweepTables) -> SweepTables:
    return dataclasses.replace(tables, comparisons=paired_comparisons(tables.summary))


def test_the_choice_for_each_budget_is_the_largest_mean_gain_it_affords():
    """Yearly costs 5, 10, 20 and 40 (IDR million over 10 years / 10): each dearer design has a
    larger mean gain, so each budget level changes the choice; P(best within the budget) is
    over the designs the budget affords: 'dear' beats 'middle' on 3 of 5 seeds."""
    tables = _with_comparisons(hand_designs(GAINS, COST))
    choices = budget_choices(tables)
    assert list(choices.design_id) == ["noisy", "cheap", "middle", "dear"]
    assert list(choices.cost_per_year) == [5.0, 10.0, 20.0, 40.0]
    assert list(choices.p_best_within) == [1.0, 1.0, 1.0, 0.6]
    assert list(choices.previous_id) == ["", "noisy", "cheap", "middle"]
    dear = choices.iloc[-1]
    diff = np.array(GAINS["dear"]) - np.array(GAINS["middle"])
    assert dear.diff_vs_previous_mean == pytest.approx(diff.mean())
    assert dear.diff_vs_previous_ci_low < 0 < dear.diff_vs_previous_ci_high  # not clear
    # a dearer design with a smaller mean gain is never a budget's choice
    worse = {**GAINS, "dear": [0.0] * 5}
    assert list(budget_choices(_with_comparisons(hand_designs(worse, COST))).design_id) == [
        "noisy", "cheap", "middle"
    ]  # fmt: skip


def test_the_recommendation_names_the_dearest_and_the_cheapest_reaching_the_target():
    tables = _with_comparisons(hand_designs(GAINS, COST))
    text = html.unescape(recommendation(tables))
    lead = text[text.index('id="recommendation">') : text.index("</p>")]
    assert "choose dear (IDR 0.04 billion a year, the dearest design of the sweep)" in lead
    assert "+2.20 index points (95% CI" in lead and "P(best) 60%" in lead
    # apart from the lead: the extra money over the choice for a smaller budget buys nothing clear
    assert "cannot be told apart from that of middle, the choice from IDR 0.02 billion" in text
    # target 0.5 points (the default): 'cheap' (1.04, interval above 0.5) is the cheapest
    assert "cheapest design that clearly reaches the target of 0.50 index points is cheap" in lead
    rows = _table_after(text, "The design to choose for each budget")
    assert [r[1].removesuffix("not clear") for r in rows] == ["noisy", "cheap", "middle", "dear"]
    assert [r[0] for r in rows] == ["0.01", "0.01", "0.02", "0.04"]  # IDR billion a year
    assert rows[0][4] == "—" and rows[3][4].endswith("not clear")
    # with no clear gain anywhere it says so first
    noise = {"a": [0.01, -0.01, 0.0], "b": [0.02, -0.02, 0.01]}
    text = recommendation(_with_comparisons(hand_designs(noise, {"a": 1.0, "b": 2.0})))
    assert "No design clearly raised the city service index" in text


def test_the_cheapest_design_reaching_a_target():
    designs = hand_designs(GAINS, COST).designs
    row, clearly = cheapest_reaching(designs, 0.015)  # middle's interval is above 1.5 points
    assert row.design_id == "middle" and clearly
    row, clearly = cheapest_reaching(designs, 0.021)  # only dear's mean (2.2) reaches 2.1
    assert row.design_id == "dear" and not clearly
    assert cheapest_reaching(designs, 0.05) == (None, False)


def test_present_value_of_costs_by_hand():
    """120 a month for 24 months: undiscounted 2,880; at 6% a year each month t counts
    1.06 ** (-t / 12); two replicates average; month 0 costs nothing."""
    months = np.arange(0, 25)
    rows = [
        {"design_id": "a", "replicate": r, "month": m, "cost": 120.0 * m * (1 + r)}
        for r in (0, 1)
        for m in months
    ]
    ts = pd.DataFrame(rows).sample(frac=1, random_state=1)  # order does not matter
    assert present_costs(ts, 0.0)["a"] == pytest.approx(120 * 24 * 1.5)
    expected = 1.5 * sum(120 * 1.06 ** (-m / 12) for m in range(1, 25))
    assert present_costs(ts, 0.06)["a"] == pytest.approx(expected)


def test_the_present_value_in_the_tables_follows_the_rate(tables):
    undiscounted = present_costs(tables.timeseries, 0.0)
    designs = tables.designs.set_index("design_id")
    assert np.allclose(undiscounted[designs.index], designs.cost_mean)
    assert (designs.cost_present_value < designs.cost_mean).all()  # 6% a year by default


def test_lever_values_are_rounded_in_labels():
    assert short_value(0.5777739653495061) == "0.58"
    assert short_value(0.0623) == "0.062" and short_value(12.5) == "12"
    assert short_value(125.3) == "125" and short_value(3.0) == "3" and short_value("x") == "x"
    # a swept setting that is not a lever is tabulated as its override's text
    designs = pd.DataFrame({"design_id": ["a", "b", "c"], "design": ["a", "b", "c"],
                            "budget.share": ["0.5777739653495061", "0.5812", "0.9"]})  # fmt: skip
    fake = type("T", (), {"designs": designs, "levers": ["budget.share"]})
    assert design_labels(fake) == {"a": "share 0.578", "b": "share 0.581", "c": "share 0.9"}


def test_every_amount_of_money_is_in_idr_billion_and_counts_are_whole(tables, rendered):
    text = html.unescape(rendered[1].read_text(encoding="utf-8"))
    assert "IDR million" not in text
    best = tables.designs.sort_values("rank").design_id.iloc[0]
    rows = {r[0]: r for r in _table_after(all_outcomes(tables, best), "<tbody>")}
    assert (
        rows["program cost (IDR billion)"][1]
        == f"{tables.designs.set_index('design_id').loc[best, 'cost_mean'] / 1000:,.1f}"
    )
    for name in ("Tokyo experts' visits (experts x visits)", "Jakarta staff sent to Tokyo"):
        assert re.fullmatch(r"[\d,]+", html.unescape(rows[name][1])), rows[name]
    assert "0.000" not in rows["Tokyo experts' visits (experts x visits)"][1]


def test_the_recommendation_comes_first(rendered):
    text = rendered[1].read_text(encoding="utf-8")
    first = text.index("<section>")
    assert text.index("What should we do?") < text.index("<h2>", first + 10) + 10
    assert text.index('id="recommendation"') < text.index("What was run")


def _grid_gaps(tables: SweepTables) -> SweepTables:
    """The fixture's 2 x 2 grid without one cell: no longer a full grid."""
    return dataclasses.replace(tables, designs=tables.designs.iloc[:3].reset_index(drop=True))


def test_a_search_gets_gain_by_lever_and_a_full_grid_the_heatmap(tables):
    assert plot_gain_heatmap(tables) is not None and plot_gain_by_lever(tables) is None
    gaps = _grid_gaps(tables)
    assert plot_gain_heatmap(gaps) is None  # a mostly empty grid is not drawn
    fig = plot_gain_by_lever(gaps)
    assert len([ax for ax in fig.axes if ax.axison]) == len(tables.levers)


def _optuna_like(tables: SweepTables, n: int) -> SweepTables:
    """`n` designs with a float lever of many digits and spread costs, as a search makes."""
    many = _many(tables, n, long=False)
    rows = many.designs.copy()
    rng = np.random.default_rng(n)
    rows["share"] = rng.uniform(0.25, 1.0, n)
    rows["cost_mean"] = rows.cost_mean * rows.share * (1 + np.arange(n) / n)
    rows["efficient"] = rows.gain_mean.rank(ascending=False) <= 6
    levers = ["cohort_size", "months_between_cohorts", "selection", "share"]
    return dataclasses.replace(many, designs=rows, levers=levers)


def _texts_fit(fig) -> list:
    """The figure's texts (drawn), after checking that everything drawn is on the canvas."""
    fig.draw_without_rendering()
    drawn, canvas = fig.get_tightbbox(), fig.bbox_inches
    assert drawn.x0 >= canvas.x0 - 0.01 and drawn.x1 <= canvas.x1 + 0.01
    assert drawn.y0 >= canvas.y0 - 0.01 and drawn.y1 <= canvas.y1 + 0.01
    return [t for ax in fig.axes for t in ax.texts if t.get_visible() and t.get_text()]


@pytest.mark.parametrize("n", [3, 12, 24, 40])
def test_gain_vs_cost_labels_never_overlap_or_leave_the_canvas(tables, n):
    with matplotlib.rc_context(STYLE):
        fig = plot_gain_vs_cost(_optuna_like(tables, n))
        texts = _texts_fit(fig)
        assert 1 <= len(texts) <= 15
        boxes = [t.get_window_extent() for t in texts]
        inside = fig.axes[0].get_window_extent()
        for box in boxes:
            assert inside.x0 - 1 <= box.x0 and box.x1 <= inside.x1 + 1
            assert inside.y0 - 1 <= box.y0 and box.y1 <= inside.y1 + 1
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b)
        for t in texts:  # lever values rounded: no float with many digits
            assert not re.search(r"\d\.\d{4,}", t.get_text()), t.get_text()
        fig.clear()


def test_network_labels_never_overlap_or_leave_the_canvas(tables):
    with matplotlib.rc_context(STYLE):
        fig = plot_network(tables)
        texts = _texts_fit(fig)
        assert len(texts) == 4 * 10  # the ten largest departments in each of four panels
        for ax in fig.axes:
            boxes = [Text.get_window_extent(t) for t in ax.texts]  # the words, not the lines
            for a, b in itertools.combinations(boxes, 2):
                assert not a.overlaps(b)
        fig.clear()


def _many_departments(tables: SweepTables, copies: int) -> SweepTables:
    """The fixture's city with each department repeated `copies` times (ids d~k), tied in a
    sparse ring: as a city of thousands of departments looks to the figures."""
    dep = tables.departments
    ids = list(dep["department"].unique())
    frames = [dep.assign(department=dep["department"] + f"~{k}") for k in range(copies)]
    many = pd.concat(frames, ignore_index=True)
    names = [f"{d}~{k}" for k in range(copies) for d in ids]
    rng = np.random.default_rng(1)
    ring = pd.DataFrame({
        "department": names, "other_department": names[1:] + names[:1],
        "ties": rng.integers(1, 50, len(names)),
    })  # fmt: skip
    inside = pd.DataFrame({"department": names, "other_department": names,
                           "ties": rng.integers(10, 5000, len(names))})  # fmt: skip
    ties = pd.concat([inside, ring], ignore_index=True)
    return dataclasses.replace(tables, departments=many, department_ties=ties)


def test_thousands_of_departments_are_drawn_as_the_largest_and_a_count(tables):
    from experiments.present.figures import (
        MAX_DEPARTMENT_BARS,
        MAX_NETWORK_DEPARTMENTS,
        plot_departments_end,
    )

    many = _many_departments(tables, math.ceil(2000 / tables.departments.department.nunique()))
    total = many.departments.department.nunique()
    assert total >= 2000
    with matplotlib.rc_context(STYLE):
        fig = plot_departments_end(many)
        ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert len(ticks) == MAX_DEPARTMENT_BARS + 1
        gap = ticks[MAX_DEPARTMENT_BARS // 2]
        assert gap.startswith(f"… {total - MAX_DEPARTMENT_BARS:,} other departments")
        bars = [p.get_width() for p in fig.axes[0].patches]
        assert len(bars) == MAX_DEPARTMENT_BARS and bars == sorted(bars)
        fig.clear()
        fig = plot_network(many)
        nodes = fig.axes[0].collections[-1]  # the circles of the first panel
        assert len(nodes.get_offsets()) == MAX_NETWORK_DEPARTMENTS
        assert f"the {MAX_NETWORK_DEPARTMENTS} largest of {total:,} departments" in (
            fig._suptitle.get_text()
        )
        fig.clear()


def test_names_in_other_scripts_use_an_installed_font_that_has_them():
    from experiments.present.figures import _font_having, fit_fonts

    other = "\u2a3f"  # a sign DejaVu Sans lacks and matplotlib's STIX fonts have
    assert _font_having(ord(other)) is not None
    fig = matplotlib.figure.Figure()
    fig.suptitle(f"Biro {other} umum")
    with matplotlib.rc_context(STYLE):
        assert fit_fonts(fig) == set()
        assert _font_having(ord(other)) in fig._suptitle.get_fontfamily()


def test_a_name_no_installed_font_has_is_one_warning_for_all_figures(tables, tmp_path, capfd):
    from experiments.present.figures import _font_having

    javanese = "ꦗꦏꦂꦠ"  # Jakarta in Javanese script
    if any(_font_having(ord(c)) for c in javanese):
        pytest.skip("this machine has a font for the Javanese script")
    renamed = tables.departments.assign(department=tables.departments["department"] + javanese)
    ties = tables.department_ties.assign(
        department=tables.department_ties["department"] + javanese,
        other_department=tables.department_ties["other_department"] + javanese,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawn = make_figures(
            dataclasses.replace(tables, departments=renamed, department_ties=ties), tmp_path,
            workers=1,
        )  # fmt: skip
    assert {"departments_end", "network"} <= set(drawn)
    assert not [w for w in caught if "Glyph" in str(w.message)]
    err = capfd.readouterr().err
    assert err.count("warning: no installed font has") == 1, err
    assert "Glyph" not in err
