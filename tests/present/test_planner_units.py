"""Gains in units Jakarta reports (sim/trend.py, docs/model.md §7.17) and the measured distortion
of gains at reduced scales (experiments/scale_gains.py)."""

from __future__ import annotations

import dataclasses
import html

import numpy as np
import pandas as pd
import pytest

import sim
from experiments.analysis.tables import combine
from experiments.jobs.job import run_job
from experiments.present.report import banners, meaning
from experiments.present.scale import PATH, caveat, load
from experiments.present.terminal import headline_line, print_ranking
from experiments.scale_gains import SCALES
from sim import rules, trend
from sim.errors import ConfigError, DataError


def test_the_mapping_and_the_months_on_hand_checked_cases():
    # 2017 -> 2021: the gap to 100 went from 14.6 to 11.27 in four years
    assert rules.gap_closed_per_year(85.4, 88.73, 4) == pytest.approx(1 - (11.27 / 14.6) ** 0.25)
    # 88.73 stands for an index of 0.4989: 11.27 score points of gap for 50.11 index points
    assert rules.score_points_per_index_point(88.73, 0.4989) == pytest.approx(11.27 / 50.11)
    # closing 1% of the gap a month at index 0.5 adds 0.5 index points a month: 1 point = 2 months
    yearly = 1 - 0.99**12
    assert rules.own_points_per_month(0.5, yearly) == pytest.approx(0.5)
    assert rules.months_of_improvement(0.01, 0.5, yearly) == pytest.approx(2.0)


def test_the_packaged_series_gives_the_documented_rates():
    t = trend.packaged_trend()
    assert t.anchor_score == 88.73 and t.anchor_year == 2021
    assert t.yearly_share == pytest.approx(0.0627, abs=1e-4)  # 2017-2021, the recent window
    assert t.yearly_range[1] == pytest.approx(0.3866, abs=1e-4)  # 2015-2017, the upper end
    assert 0.1 < t.yearly_sd < 0.3  # from the consecutive years 2015-2016-2017
    # the best design of make demo (4.49 index points) is about 16.6 months of own improvement
    assert trend.own_months(0.0449, 0.4989, t) == pytest.approx(16.7, abs=0.2)
    assert trend.ombudsman_points(0.0449, 0.4989, t) == pytest.approx(1.01, abs=0.01)


def test_same_seed_same_trend_and_different_seeds_differ():
    t, months = trend.packaged_trend(), np.arange(121)
    a = trend.own_improvement(3, months, 0.5, t)
    assert np.array_equal(a, trend.own_improvement(3, months, 0.5, t))
    assert not np.allclose(a, trend.own_improvement(4, months, 0.5, t))
    assert a[0] == 0 and np.all(np.diff(a) > 0) and a[-1] < 0.5  # rises, never past 1


@pytest.fixture(scope="module")
def small():
    """One design at 1% scale, two seeds: its job's tables and the aggregated tables."""
    cfg = sim.ModelConfig(
        scenario=sim.ScenarioConfig(scale=0.01),
        program=sim.ProgramConfig(cohort_size=400, min_tenure=0),
        horizon=24,
    )
    job = run_job(cfg, 2, 0, 0.001, "a design", progress=False, channels=False)
    meta = {"horizon_months": 24, "replicates": 2, "scale": 0.01, "target_gain": 0.001}
    return job, combine([job], meta, reference=None)


def test_the_trend_leaves_the_index_and_the_gain_unchanged(small):
    job, tables = small
    ts, base = tables.timeseries, tables.baseline
    pd.testing.assert_series_equal(ts.service_index, job["timeseries"].service_index)
    both = ts.merge(base, on=["seed", "month"], suffixes=("", "_base"))
    gain_with_trend = both.service_index_with_trend - both.service_index_with_trend_base
    np.testing.assert_allclose(gain_with_trend, both.gain, atol=1e-12)
    assert (base[base.month == 24].own_improvement > 0.05).all()  # two years of own improvement
    row = tables.designs.iloc[0]
    index = float(tables.summary.baseline_final_index.mean())
    expected = trend.ombudsman_points(row.gain_mean, index, trend.packaged_trend())
    assert row.gain_ombudsman_mean == pytest.approx(expected)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ombudsman_compliance,2018,abc,100,x", ":3: not a number"),
        ("ombudsman_compliance,2018,120,100,x", ":3: value 120 not in [0, top)"),
        ("ombudsman_compliance,2018,90,100, ", ":3: every value needs a source"),
        ("ombudsman_compliance,2015,62,100,x", ":3: ombudsman_compliance 2015 given twice"),
        ("ombudsman_compliance,2018,90", ":3: 3 fields, expected 5"),
    ],
)
def test_a_bad_line_of_the_series_is_one_error_naming_file_and_line(tmp_path, line, message):
    good = trend.TREND_FILE.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "trend.csv"
    path.write_text("\n".join([good[0], good[1], line, *good[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        trend.load_series(path)
    assert f"{path}{message}" in str(err.value) and "\n" not in str(err.value)


def test_the_packaged_scale_measurement_is_well_formed():
    table = load()
    for _, rows in table.groupby(["cohort_size", "months_between_cohorts"]):
        assert sorted(rows.scale) == sorted(SCALES)
        full = rows[rows.scale == 1.0].iloc[0]
        assert full.ratio == 1.0 and full.ratio_low < 1 < full.ratio_high
        assert (rows.seeds >= 10).all() and (rows.ratio_low <= rows.ratio_high).all()
    assert table.command.str.startswith("experiments/scale_gains.py").all()


def test_the_scale_caveat_is_given_below_full_scale_only():
    assert caveat(1.0) is None
    line = caveat(0.05)
    assert line.startswith("Reduced scale: at scale 0.05 gains were")
    assert "30 staff every 12 months" in line and "those at full scale" in line
    assert "\n" not in line
    assert "scale 0.05 (nearest measured to 0.01)" in caveat(0.01)


def test_a_bad_line_of_the_scale_measurement_names_file_and_line(tmp_path):
    lines = PATH.read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(",")
    cells[6] = "9"  # a ratio outside its own interval
    path = tmp_path / "scale.csv"
    path.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"scale\.csv:2: ratio must lie within"):
        load(path)


def test_the_report_and_terminal_give_the_gain_in_planner_units(small, capsys):
    _, tables = small
    text = html.unescape(meaning(tables))
    assert "In units Jakarta reports" in text and "Ombudsman compliance points" in text
    assert "months of Jakarta's own recent improvement" in text and "assum" in text
    print_ranking(tables.designs)
    assert "Ombudsman compliance points" in capsys.readouterr().out
    assert "months of Jakarta's own recent improvement" in headline_line(tables.designs)


def test_the_report_warns_with_the_measured_ratio_below_full_scale_only(small):
    _, tables = small
    assert "nearest measured to 0.01) gains were" in banners(tables)
    full = dataclasses.replace(tables, meta={**tables.meta, "scale": 1.0})
    assert "gains were" not in banners(full)
