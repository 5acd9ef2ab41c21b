"""Equal-budget designs, paired comparisons, Optuna search and the submitit launcher."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf

from experiments.study.settings import (
    RunConfig,
    budget_staff_months,
    check_settings,
    cohort_for_budget,
    to_model_config,
)
from sim import UserError
from tests.conftest import run_script

SMALL = ["scenario=small", "horizon=24", "replicates=2", "progress=false", "report=false",
         "channels=false"]  # fmt: skip


def hydra(*args: str) -> subprocess.CompletedProcess:
    return run_script("run.py", *args)


@pytest.mark.parametrize(
    ("months", "months_between", "duration", "cohort"),
    [(60, 12, 6, 10), (60, 6, 3, 10), (60, 24, 12, 10), (60, 12, 1, 60), (24, 6, 6, 2)],
)
def test_cohort_spends_the_budget(months, months_between, duration, cohort):
    assert cohort_for_budget(months, months_between, duration) == cohort
    # cohort x duration x departures per year = staff-months per year
    assert cohort * duration * 12 / months_between == pytest.approx(months)


def test_budget_in_money_and_share():
    assert budget_staff_months({"money_per_year": 4800}, 80.0) == pytest.approx(60)
    assert budget_staff_months({"staff_months_per_year": 60, "share": 0.5}, 80.0) == 30
    assert budget_staff_months({}, 80.0) is None
    with pytest.raises(UserError, match="not both"):
        budget_staff_months({"money_per_year": 1, "staff_months_per_year": 1}, 80.0)
    with pytest.raises(UserError, match="needs a positive program.cost_per_staff_month"):
        budget_staff_months({"money_per_year": 4800}, 0.0)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("budget.share", 0.0, r"budget.share = 0.0: must be a number in \(0, 1\]"),
        ("budget.staff_months_per_year", -1.0, "budget.staff_months_per_year = -1.0: must be"),
        ("replicates", 0, r"replicates = 0: must be an integer in \[1, 10\^4\]"),
        ("reference", "", "reference = '': must be a non-empty string"),
    ],
)
def test_run_level_settings_are_checked_from_their_declarations(key, value, message):
    cfg = OmegaConf.structured(RunConfig)
    OmegaConf.update(cfg, key, value)
    with pytest.raises(UserError, match=message):
        check_settings(cfg)


def test_budget_overrides_the_cohort_size():
    cfg = OmegaConf.structured(RunConfig)
    cfg.budget.staff_months_per_year = 60
    cfg.program.months_between_cohorts, cfg.program.duration, cfg.program.cohort_size = 6, 3, 99
    assert to_model_config(cfg).program.cohort_size == 10


def test_equal_budget_sweep_spends_the_same_and_pairs_with_the_reference(tmp_path):
    hydra(
        "-m",
        "program.duration=3,6",
        "program.months_between_cohorts=6,12",
        "budget.staff_months_per_year=2400",
        "reference='duration=6,months_between_cohorts=12'",
        "program.min_tenure=0",
        *SMALL,
        "hydra/launcher=basic",
        f"hydra.sweep.dir={tmp_path}",
    )
    summary = pd.read_parquet(tmp_path / "aggregate" / "summary.parquet")
    # 2 years x 2,400 real staff-months a year, whatever the design (at 1% scale)
    assert (summary.staff_months_abroad == 4800).all()
    assert sorted(summary.cohort_size.unique()) == [200, 400, 800]
    scen = pd.read_parquet(tmp_path / "aggregate" / "designs.parquet")
    ref = (
        summary[(summary.duration == 6) & (summary.months_between_cohorts == 12)]
        .set_index("seed")
        .gain
    )
    for _, row in scen.iterrows():
        g = summary[summary.design_id == row.design_id].set_index("seed").gain
        diff = (g - ref).to_numpy()
        assert row.diff_vs_reference == pytest.approx(diff.mean())
        assert row.better_than_reference_share == pytest.approx((diff > 0).mean())
    reference_row = scen[(scen.duration == 6) & (scen.months_between_cohorts == 12)].iloc[0]
    assert reference_row.diff_vs_reference == 0


def test_optuna_search_returns_the_best_design(tmp_path):
    hydra(
        "-m",
        "+experiment=optimise",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.n_jobs=1",
        *SMALL,
        f"hydra.sweep.dir={tmp_path}",
    )
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    jobs = [pd.read_parquet(p) for p in tmp_path.glob("[0-9]*/summary.parquet")]
    assert len(jobs) == 3
    values = [j.gain.mean() for j in jobs]
    assert best["best_value"] == pytest.approx(100 * max(values))  # index points, as the tables
    assert set(best["best_params"]) == {
        "program.months_between_cohorts",
        "program.duration",
        "program.selection",
        "budget.share",
    }
    # every cohort spends at most the budget of 300 staff-months a year for the months until the
    # next one, up to the rounding of the cohort to whole people (half a person's stay)
    for j in jobs:
        departures = -(-24 // j.months_between_cohorts)
        per_cohort = 300 * j.months_between_cohorts / 12 + 0.5 * j.duration
        assert (j.staff_months_abroad <= per_cohort * departures).all()


def test_an_ad_hoc_optuna_sweep_maximises_the_gain(tmp_path):
    """Optuna's own default is to minimise; the objective is the gain, so a sweep that does not
    say otherwise maximises it (sampler seed 0 tries both values)."""
    hydra(
        "-m",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.seed=0",
        "program.cohort_size=choice(400,1600)",
        *SMALL,
        f"hydra.sweep.dir={tmp_path}",
    )
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    gains = [pd.read_parquet(p).gain.mean() for p in tmp_path.glob("[0-9]*/summary.parquet")]
    assert len(set(gains)) == 2
    assert best["best_value"] == pytest.approx(100 * max(gains))  # index points


def test_submitit_local_launcher_gives_the_same_results(tmp_path):
    args = ["-m", "program.cohort_size=0,400", "program.min_tenure=0", *SMALL]
    hydra(*args, "hydra/launcher=local_processes", f"hydra.sweep.dir={tmp_path / 'submitit'}")
    hydra(*args, "hydra/launcher=basic", f"hydra.sweep.dir={tmp_path / 'basic'}")

    def tables(sweep):
        frames = [pd.read_parquet(p) for p in sorted(sweep.glob("[0-9]*/timeseries.parquet"))]
        return pd.concat(frames).sort_values(["design_id", "replicate", "month"])

    a, b = tables(tmp_path / "submitit"), tables(tmp_path / "basic")
    assert len(a) == 2 * 2 * 25
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    assert (tmp_path / "submitit" / "aggregate" / "designs.csv").exists()
    assert np.isfinite(
        pd.read_csv(tmp_path / "submitit" / "aggregate" / "designs.csv").gain_mean
    ).all()


def test_the_discount_rate_changes_the_report_not_the_jobs(tmp_path):
    """discount_rate only re-aggregates: the same command with another rate reuses every job
    (the jobs' keys do not hold it) and the present value of costs follows the new rate; at 0
    it is the undiscounted cost, and a positive rate makes it smaller."""
    command = ["-m", "program.cohort_size=400,800", *SMALL, f"hydra.sweep.dir={tmp_path}"]
    hydra(*command, "discount_rate=0")
    designs = pd.read_parquet(tmp_path / "aggregate" / "designs.parquet")
    assert np.allclose(designs.cost_present_value, designs.cost_mean)
    again = hydra(*command, "discount_rate=0.1")
    assert again.stdout.count("already done, skipped") == 2
    designs = pd.read_parquet(tmp_path / "aggregate" / "designs.parquet")
    assert (designs.cost_present_value < designs.cost_mean).all()
    assert (designs.cost_present_value > designs.cost_mean / 1.1**2).all()  # two years' costs
