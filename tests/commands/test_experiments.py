"""Sweeps through the real Hydra entry point (basic and joblib launchers): files, aggregate,
intervals, reports, one-design runs, exit codes, and results recomputed whenever anything that
determines them changed."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.conftest import ROOT, run_script, write_departments

# real staff at 1% scale: 400 people are about 4 simulated ones
GRID = ["program.cohort_size=0,400", "program.months_between_cohorts=3,12"]
COMMON = ["scenario=small", "replicates=3", "horizon=18", "progress=false", "program.min_tenure=0"]
#: Sweeps whose tests are not about the gain's channels skip its decomposition (channels=false:
#: a third of the runs); tests/model/test_pairing.py and the report tests check the channels.
SMALL = ["scenario=small", "replicates=2", "horizon=12", "progress=false", "report=false",
         "channels=false"]  # fmt: skip


def hydra_run(*args: str, cwd: Path = ROOT, env=None) -> subprocess.CompletedProcess:
    return run_script("run.py", *args, cwd=cwd, env=env, check=False)


def jobs_of(sweep: Path) -> list[Path]:
    return sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


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
    jobs = jobs_of(sweeps[launcher])
    assert len(jobs) == 4
    for job in jobs:
        for name in (
            "timeseries.parquet",
            "timeseries.csv",
            "summary.parquet",
            "summary.csv",
            "baseline.parquet",
            "effects.parquet",
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
        assert prov["seeds"] == [0, 1, 2] and prov["code_digest"] and prov["packages"]["numpy"]
        assert not list(job.glob("*.tmp"))


def test_aggregate_equals_the_jobs_and_ci_is_a_t_interval(sweeps):
    sweep = sweeps["basic"]
    agg = sweep / "aggregate"
    summary = pd.read_parquet(agg / "summary.parquet")
    jobs = pd.concat(
        [pd.read_parquet(p / "summary.parquet") for p in jobs_of(sweep)], ignore_index=True
    )
    key = ["design_id", "replicate"]
    pd.testing.assert_frame_equal(
        summary.sort_values(key).reset_index(drop=True),
        jobs.sort_values(key).reset_index(drop=True),
    )
    assert len(pd.read_parquet(agg / "timeseries.parquet")) == 4 * 3 * 19
    designs = pd.read_csv(agg / "designs.csv")
    assert len(designs) == 4 and set(designs["rank"]) <= {1, 2, 3, 4}
    for _, row in designs.iterrows():
        g = summary[summary.design_id == row.design_id].gain.to_numpy()
        half = stats.t.ppf(0.975, len(g) - 1) * g.std(ddof=1) / np.sqrt(len(g))
        assert row.gain_mean == pytest.approx(g.mean())
        assert row.gain_ci_low == pytest.approx(g.mean() - half)
        assert row.gain_ci_high == pytest.approx(g.mean() + half)
    # cohort size 0 is the no-exchange run itself: zero gain and cost in every replicate
    none = summary[summary.cohort_size == 0]
    assert (none.gain == 0).all() and (none.cost == 0).all() and (none.staff_sent == 0).all()
    # real staff: 400 every 3 months in 18 months is 6 cohorts of 400 (2,400 people)
    sent = summary[(summary.cohort_size == 400) & (summary.months_between_cohorts == 3)]
    assert (sent.staff_sent == 2400).all()


def test_figures_report_and_provenance_are_written(sweeps):
    agg = sweeps["basic"] / "aggregate"
    pngs = list((agg / "figures").glob("*.png"))
    assert {p.stem for p in pngs} >= {"index_curves", "gain_heatmap", "gain_vs_cost", "adoption"}
    for p in pngs:
        assert p.stat().st_size > 1000 and p.with_suffix(".svg").stat().st_size > 1000
    html = (agg / "report.html").read_text()
    for label in pd.read_csv(agg / "designs.csv").label:
        assert label in html
    prov = json.loads((agg / "provenance.json").read_text())
    assert (
        "experiments/run.py" in prov["command"] and "program.cohort_size=0,400" in prov["command"]
    )
    assert prov["code_digest"] in html and prov["packages"]["numba"] in html
    assert len(prov["jobs"]) == 4


def test_outputs_are_readable_by_others_on_a_shared_folder(sweeps):
    """Files follow the umask (usually 022): never 0600 tables or reports."""
    umask = os.umask(0)
    os.umask(umask)
    if umask & 0o044:
        pytest.skip(f"the tests run with umask {umask:03o}: others may not read")
    for path in [*sweeps["basic"].rglob("*.parquet"), *sweeps["basic"].rglob("*.html")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044, path


def test_launchers_give_identical_results(sweeps):
    def tables(sweep):
        frames = [pd.read_parquet(p / "timeseries.parquet") for p in jobs_of(sweep)]
        df = pd.concat(frames).sort_values(["design_id", "replicate", "month"])
        return df.reset_index(drop=True)

    pd.testing.assert_frame_equal(tables(sweeps["basic"]), tables(sweeps["joblib"]))


def test_aggregate_script_on_demand(sweeps):
    run_script("aggregate.py", str(sweeps["joblib"]))
    assert (sweeps["joblib"] / "aggregate" / "report.html").exists()


def test_a_failed_aggregation_exits_1_and_leaves_no_report(sweeps, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(sweeps["basic"], sweep)
    assert (sweep / "aggregate" / "report.html").exists()
    (sweep / "2" / "timeseries.parquet").write_bytes(b"PAR1 truncated")
    proc = run_script("aggregate.py", str(sweep), check=False)
    assert proc.returncode == 1
    assert "aggregation failed" in proc.stderr and "2/timeseries.parquet" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (sweep / "aggregate").exists() and not list(sweep.glob(".aggregate*"))


def test_a_single_run_prints_its_gain_and_writes_a_one_design_report(tmp_path):
    with_report = [a for a in SMALL if a not in ("report=false", "channels=false")]
    proc = hydra_run("program.cohort_size=400", *with_report, f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "gain over no exchange in the final year:" in proc.stdout
    assert "from colleagues who learnt from them" in proc.stdout  # where it came from
    assert "95% CI" in proc.stdout and "IDR" in proc.stdout and "staff sent" in proc.stdout
    assert "Ombudsman compliance points" in proc.stdout  # the gain in units Jakarta reports
    assert "Reduced scale: at scale 0.05 (nearest measured to 0.01) gains were" in proc.stdout
    report = (tmp_path / "aggregate" / "report.html").read_text()
    assert "one design" in report and "Headline" in report


def test_a_failed_single_run_exits_1(tmp_path):
    proc = hydra_run(
        "program.cohort_size=400",
        *SMALL,
        f"hydra.run.dir={tmp_path}",
        env={"EXCHANGE_FAULT_INJECTION": "cohort_size=400"},
    )
    assert proc.returncode == 1
    assert "error: the run failed: RuntimeError: fault injected" in proc.stderr
    assert (tmp_path / "error.json").exists() and not (tmp_path / "summary.parquet").exists()


def test_designs_that_agree_to_three_digits_stay_two_designs(tmp_path):
    proc = hydra_run(
        "-m",
        "program.cohort_size=400",
        "program.cost_per_staff_month=80.0001,80.0002",
        *SMALL,
        "hydra/launcher=basic",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    designs = pd.read_parquet(tmp_path / "aggregate" / "designs.parquet")
    assert len(designs) == 2 and designs.n.tolist() == [2, 2]
    assert designs.design_id.nunique() == 2 and designs.label.nunique() == 2
    assert sorted(designs["program.cost_per_staff_month"].astype(float)) == [80.0001, 80.0002]
    assert "repeated" not in (tmp_path / "aggregate" / "provenance.json").read_text()


def test_jobs_of_an_earlier_sweep_definition_are_moved_aside(tmp_path):
    sweep = ["hydra/launcher=basic", f"hydra.sweep.dir={tmp_path}", *SMALL]
    first = hydra_run("-m", "program.cohort_size=100,200,400", *sweep)
    assert first.returncode == 0, first.stderr[-2000:]
    # the same folder with another list: 400 stays (now job 0), 100 and 200 leave the sweep
    second = hydra_run("-m", "program.cohort_size=400,800", *sweep)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.count("already done, skipped") == 1
    designs = pd.read_parquet(tmp_path / "aggregate" / "designs.parquet")
    assert sorted(designs.cohort_size) == [400, 800]
    summary = pd.read_parquet(tmp_path / "aggregate" / "summary.parquet")
    assert sorted(summary.cohort_size.unique()) == [400, 800]
    assert [p.name for p in jobs_of(tmp_path)] == ["0", "1"]
    aside = list((tmp_path / "superseded").rglob("summary.parquet"))
    assert len(aside) == 2  # 100 and 200, kept, not ranked


def test_a_failed_job_makes_the_sweep_exit_1_and_says_how_to_retry(tmp_path):
    args = ["-m", "program.cohort_size=0,400", *SMALL, "hydra/launcher=basic",
            f"hydra.sweep.dir={tmp_path}"]  # fmt: skip
    proc = hydra_run(*args, env={"EXCHANGE_FAULT_INJECTION": "cohort_size=400"})
    assert proc.returncode == 1
    assert "1 job(s) of the sweep did not succeed" in proc.stderr
    assert "run the same command again" in proc.stderr
    assert (tmp_path / "aggregate" / "designs.parquet").exists()  # the rest is aggregated
    again = hydra_run(*args)
    assert again.returncode == 0 and again.stdout.count("already done, skipped") == 1


def test_editing_an_input_file_recomputes_jobs_and_baselines(tmp_path):
    packaged = ROOT / "sim" / "data" / "departments.csv"
    deps = pd.read_csv(packaged, dtype=str, keep_default_na=False).to_dict("records")
    data = write_departments(tmp_path / "departments.csv", deps)
    sweep = f"hydra.sweep.dir={tmp_path / 'sweep'}"
    args = ["-m", "program.cohort_size=400", *SMALL, "hydra/launcher=basic",
            f"scenario.departments_file={data}", sweep]  # fmt: skip
    first = hydra_run(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "already done" in hydra_run(*args).stdout  # unchanged: reused
    before = pd.read_parquet(tmp_path / "sweep" / "0" / "timeseries.parquet")
    deps[0]["baseline_quality"] = 0.9  # the same path, other contents
    write_departments(data, deps)
    third = hydra_run(*args)
    assert third.returncode == 0 and "already done" not in third.stdout
    after = pd.read_parquet(tmp_path / "sweep" / "0" / "timeseries.parquet")
    assert (after.baseline_index > before.baseline_index).all()  # the baseline is new too
    assert len(list((tmp_path / "sweep" / ".baselines").glob("*.city.parquet"))) == 4


def test_editing_model_code_or_packaged_data_recomputes(tmp_path):
    """A copy of the project run from its own folder: an edit of the model's code, then of its
    packaged data, each makes the same command recompute instead of reusing results."""
    copy = tmp_path / "project"
    for part in ("sim", "experiments", "configs"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(copy)}
    args = [sys.executable, str(copy / "experiments" / "run.py"), "-m", "program.cohort_size=400",
            *SMALL, "hydra/launcher=basic", f"hydra.sweep.dir={tmp_path / 'sweep'}"]  # fmt: skip

    def run() -> str:
        proc = subprocess.run(args, cwd=copy, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    run()
    assert "already done" in run()
    with open(copy / "sim" / "rules.py", "a", encoding="utf-8") as fh:
        fh.write("\n# an uncommitted edit\n")
    assert "already done" not in run()
    assert "already done" in run()
    data = copy / "sim" / "data" / "departments.csv"
    data.write_text(data.read_text().replace(",0.55,", ",0.56,", 1))
    assert "already done" not in run()
