"""A tiny sweep through the real Hydra entry point, on the basic and the joblib launcher."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from .conftest import ROOT, run_script

GRID = ["program.cohort_size=0,8", "program.months_between_cohorts=3,12"]
COMMON = ["scenario=small", "replicates=3", "horizon=18", "progress=false", "program.min_tenure=0"]


def hydra_run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return run_script("run.py", *args, cwd=cwd, check=False)


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for launcher, extra in (
        ("basic", ["hydra/launcher=basic"]),
        ("joblib", ["hydra.launcher.n_jobs=2", "report=false"]),
    ):
        sweep = tmp_path_factory.mktemp(launcher) / "sweep"
        proc = hydra_run("-m", *GRID, *COMMON, *extra, f"hydra.sweep.dir={sweep}")
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[launcher] = sweep
    return out


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_every_job_writes_its_files(sweeps, launcher):
    jobs = sorted(p for p in sweeps[launcher].iterdir() if p.name.isdigit())
    assert len(jobs) == 4
    for job in jobs:
        for name in (
            "timeseries.parquet",
            "timeseries.csv",
            "summary.parquet",
            "summary.csv",
            "departments.parquet",
            "department_ties.csv",
            "config.yaml",
            "provenance.json",
        ):
            assert (job / name).stat().st_size > 0, (job, name)
        ts = pd.read_parquet(job / "timeseries.parquet")
        assert len(ts) == 3 * 19 and set(ts.replicate) == {0, 1, 2}
        assert pd.read_csv(job / "timeseries.csv").shape == ts.shape
        prov = json.loads((job / "provenance.json").read_text())
        assert prov["seeds"] == [0, 1, 2] and prov["package_version"]
        assert not list(job.glob("*.tmp"))


def test_aggregate_equals_the_jobs_and_ci_is_a_t_interval(sweeps):
    sweep = sweeps["basic"]
    agg = sweep / "aggregate"
    summary = pd.read_parquet(agg / "summary.parquet")
    jobs = pd.concat(
        [pd.read_parquet(p) for p in sorted(sweep.glob("[0-9]*/summary.parquet"))],
        ignore_index=True,
    )
    key = ["scenario", "replicate"]
    pd.testing.assert_frame_equal(
        summary.sort_values(key).reset_index(drop=True),
        jobs.sort_values(key).reset_index(drop=True),
    )
    ts = pd.read_parquet(agg / "timeseries.parquet")
    assert len(ts) == 4 * 3 * 19
    scen = pd.read_csv(agg / "scenarios.csv")
    assert len(scen) == 4 and set(scen["rank"]) <= {1, 2, 3, 4}
    for _, row in scen.iterrows():
        g = summary[summary.scenario == row.scenario].gain.to_numpy()
        half = stats.t.ppf(0.975, len(g) - 1) * g.std(ddof=1) / np.sqrt(len(g))
        assert row.gain_mean == pytest.approx(g.mean())
        assert row.gain_ci_low == pytest.approx(g.mean() - half)
        assert row.gain_ci_high == pytest.approx(g.mean() + half)
    # cohort size 0 is the no-exchange run itself: zero gain in every replicate
    none = summary[summary.cohort_size == 0]
    assert (none.gain == 0).all() and (none.cost == 0).all()


def test_figures_and_report_are_written(sweeps):
    agg = sweeps["basic"] / "aggregate"
    pngs = list((agg / "figures").glob("*.png"))
    assert {p.stem for p in pngs} >= {"index_curves", "gain_heatmap", "gain_vs_cost", "adoption"}
    for p in pngs:
        assert p.stat().st_size > 1000 and p.with_suffix(".svg").stat().st_size > 1000
    html = (agg / "report.html").read_text()
    for label in pd.read_csv(agg / "scenarios.csv").scenario:
        assert label in html


def test_launchers_give_identical_results(sweeps):
    def tables(sweep):
        frames = [pd.read_parquet(p) for p in sweep.glob("[0-9]*/timeseries.parquet")]
        df = pd.concat(frames).sort_values(["scenario", "replicate", "month"])
        return df.reset_index(drop=True)

    pd.testing.assert_frame_equal(tables(sweeps["basic"]), tables(sweeps["joblib"]))


def test_aggregate_script_on_demand(sweeps, tmp_path):
    run_script("aggregate.py", str(sweeps["joblib"]))
    assert (sweeps["joblib"] / "aggregate" / "report.html").exists()


def test_bad_setting_is_one_line_and_exits_non_zero(tmp_path):
    proc = hydra_run("program.cohort_size=-3", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode != 0
    assert "program.cohort_size = -3: must be a non-negative integer" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_design_run_twice_counts_once(sweeps, tmp_path):
    """An optimising sweeper can repeat a design: its replicates are not counted twice."""
    import shutil

    from experiments.aggregate import aggregate

    sweep = tmp_path / "sweep"
    shutil.copytree(sweeps["basic"], sweep)
    shutil.copytree(sweep / "0", sweep / "9")  # job 9 repeats job 0
    aggregate(sweep, figures=False)
    scen = pd.read_csv(sweep / "aggregate" / "scenarios.csv")
    assert len(scen) == 4 and (scen.n == 3).all()
    summary = pd.read_parquet(sweep / "aggregate" / "summary.parquet")
    assert len(summary) == 4 * 3
