"""Same seed, same result on every launcher and order; rerun from saved files; sweeps that
survive failing jobs and SIGKILL and resume without redoing finished jobs."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim import ModelConfig, ScenarioConfig, run
from tests.conftest import ROOT, run_script

COMMON = [
    "scenario=small",
    "replicates=2",
    "horizon=24",
    "progress=false",
    "report=false",
    "program.min_tenure=0",
    "channels=false",  # resuming is the same with the decomposition (a third of the runs)
]


def hydra(*args: str, env: dict | None = None, check: bool = True):
    return run_script("run.py", *args, env=env, check=check)


def by_design(sweep: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for path in sorted(sweep.glob("[0-9]*/timeseries.parquet")):
        df = pd.read_parquet(path)
        out[df.design_id.iloc[0]] = df.drop(columns="design").reset_index(drop=True)
    return out


def test_same_results_alone_in_any_order_and_any_number_of_workers(tmp_path):
    hydra("-m", "program.cohort_size=0,400", *COMMON, "hydra/launcher=basic",
          f"hydra.sweep.dir={tmp_path / 'basic'}")  # fmt: skip
    hydra("-m", "program.cohort_size=400,0", *COMMON, "hydra.launcher.n_jobs=2",
          f"hydra.sweep.dir={tmp_path / 'reversed'}")  # fmt: skip
    hydra("-m", "program.cohort_size=400,0", *COMMON, "hydra.launcher.n_jobs=1",
          f"hydra.sweep.dir={tmp_path / 'one_worker'}")  # fmt: skip
    hydra("program.cohort_size=400", *COMMON, f"hydra.run.dir={tmp_path / 'alone'}")
    basic = by_design(tmp_path / "basic")
    for other in ("reversed", "one_worker"):
        again = by_design(tmp_path / other)
        assert basic.keys() == again.keys()
        for label in basic:
            pd.testing.assert_frame_equal(basic[label], again[label], check_exact=True)
    alone = pd.read_parquet(tmp_path / "alone" / "timeseries.parquet").drop(columns="design")
    pd.testing.assert_frame_equal(basic[alone.design_id.iloc[0]], alone, check_exact=True)


def test_rerun_reproduces_a_job_exactly(tmp_path):
    hydra("program.cohort_size=400", *COMMON, f"hydra.run.dir={tmp_path / 'job'}")
    proc = run_script("rerun.py", str(tmp_path / "job"))
    assert proc.stdout.startswith("identical: "), proc.stdout
    # a tampered result is caught
    ts = pd.read_parquet(tmp_path / "job" / "timeseries.parquet")
    ts.loc[5, "service_index"] += 1e-12
    ts.to_parquet(tmp_path / "job" / "timeseries.parquet", index=False)
    proc = run_script("rerun.py", str(tmp_path / "job"), check=False)
    assert proc.returncode == 1 and "DIFFERENT: column service_index, row 5" in proc.stdout


def test_rerun_reproduces_a_posterior_job_and_refuses_when_its_draws_changed(tmp_path):
    """The default job draws its behaviour (packaged draws; here a user's file, which the test
    may change): rerun uses the same draws, and says so when they changed since."""
    draws = tmp_path / "posterior_draws.parquet"
    pd.DataFrame({"draw": [0, 1], "forgetting_rate": [0.05, 0.08]}).to_parquet(draws)
    hydra("program.cohort_size=400", *COMMON, f"posterior={draws}",
          f"hydra.run.dir={tmp_path / 'job'}")  # fmt: skip
    proc = run_script("rerun.py", str(tmp_path / "job"))
    assert proc.stdout.startswith("identical: "), proc.stdout
    pd.DataFrame({"draw": [0, 1], "forgetting_rate": [0.05, 0.09]}).to_parquet(draws)
    proc = run_script("rerun.py", str(tmp_path / "job"), check=False)
    assert proc.returncode == 2 and "whose draws have changed" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_failed_job_is_recorded_and_the_sweep_goes_on_then_resumes(tmp_path):
    args = ["-m", "program.cohort_size=0,200,400", *COMMON, "hydra/launcher=basic",
            f"hydra.sweep.dir={tmp_path}"]  # fmt: skip
    first = hydra(*args, env={"EXCHANGE_FAULT_INJECTION": "cohort_size=200,"}, check=False)
    assert first.returncode == 1
    jobs = sorted(p for p in tmp_path.iterdir() if p.name.isdigit())
    assert len(jobs) == 3
    failed = [j for j in jobs if (j / "error.json").exists()]
    assert len(failed) == 1 and not (failed[0] / "summary.parquet").exists()
    assert "fault injected" in json.loads((failed[0] / "error.json").read_text())["error"]
    assert "error: cohort_size=200" in first.stderr
    listed = pd.read_csv(tmp_path / "aggregate" / "failed_jobs.csv")
    assert list(listed.job.astype(str)) == [failed[0].name]
    stamps = {j: (j / "summary.parquet").stat().st_mtime_ns for j in jobs if j not in failed}
    second = hydra(*args)  # the same command again, without the fault
    assert second.stdout.count("already done, skipped") == 2
    assert not (failed[0] / "error.json").exists() and (failed[0] / "summary.parquet").exists()
    for job, stamp in stamps.items():
        assert (job / "summary.parquet").stat().st_mtime_ns == stamp  # not rewritten
    assert pd.read_csv(tmp_path / "aggregate" / "failed_jobs.csv").empty


def test_results_of_another_configuration_are_moved_aside_not_mixed(tmp_path):
    args = ["-m", "program.cohort_size=0,400", *COMMON, "hydra/launcher=basic",
            f"hydra.sweep.dir={tmp_path}"]  # fmt: skip
    hydra(*args)
    proc = hydra(*args[:-1], "seed=7", args[-1])  # same folder, different configuration
    assert "moved to" in proc.stderr
    for job in ("0", "1"):
        assert pd.read_parquet(tmp_path / job / "summary.parquet").seed.min() == 7
    assert len(list((tmp_path / "superseded").rglob("summary.parquet"))) == 2


def test_sweep_killed_part_way_resumes_to_the_uninterrupted_result(tmp_path):
    grid = ["-m", "program.cohort_size=0,300,600,900,1200,1500", "scenario=small", "replicates=4",
            "horizon=96", "progress=false", "report=false", "hydra/launcher=basic",
            "channels=false"]  # fmt: skip
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "experiments" / "run.py"), *grid, f"hydra.sweep.dir={killed}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = len(list(killed.glob("[0-9]*/summary.parquet")))
        if done >= 2 or proc.poll() is not None:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(killed.glob("[0-9]*/summary.parquet")))
    if done == 6:
        pytest.skip("the sweep finished before it could be killed")
    assert 1 <= done < 6
    resumed = hydra(*grid, f"hydra.sweep.dir={killed}")
    assert resumed.stdout.count("already done, skipped") == done
    hydra(*grid, f"hydra.sweep.dir={tmp_path / 'clean'}")
    clean, again = by_design(tmp_path / "clean"), by_design(killed)
    assert clean.keys() == again.keys() and len(clean) == 6
    for label in clean:
        pd.testing.assert_frame_equal(clean[label], again[label], check_exact=True)
    summary = pd.read_parquet(killed / "aggregate" / "summary.parquet")
    assert not summary.duplicated(["design_id", "replicate"]).any() and len(summary) == 6 * 4
    assert not list(killed.rglob("*.tmp*"))


def test_repeated_runs_do_not_accumulate_objects():
    cfg = ModelConfig(scenario=ScenarioConfig(scale=0.01), horizon=12)
    for seed in range(5):
        run(cfg, seed)
    gc.collect()
    before = len(gc.get_objects())
    for seed in range(5, 25):
        run(cfg, seed)
    gc.collect()
    assert len(gc.get_objects()) - before < 50
