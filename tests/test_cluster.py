"""The same sweep on a real SLURM cluster (`make test-cluster`): a one-node cluster on this
machine (tests/slurm.py), the sweep through `hydra/launcher=cluster_slurm`, and its tables
identical to the joblib run of the same sweep.

Not part of `make test` (marker `cluster`). Where SLURM cannot be started (no root) the test is
skipped with one line saying why; with EXCHANGE_REQUIRE_SLURM=1 (set by .ci/run) it fails
instead, so CI cannot pass without running it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from . import slurm
from .conftest import run_script
from .slurm import CannotStart, OneNodeCluster

SWEEP = ["-m", "program.cohort_size=0,400,1200", "scenario=small", "replicates=2", "horizon=12",
         "progress=false"]  # fmt: skip


@pytest.fixture(scope="module")
def cluster():
    one_node = OneNodeCluster()
    try:
        one_node.start()
    except CannotStart as err:
        if os.environ.get("EXCHANGE_REQUIRE_SLURM") == "1":
            pytest.fail(f"SLURM is required here but could not be started: {err}")
        pytest.skip(f"no SLURM cluster: {err}")
    yield one_node
    one_node.stop()


def job_tables(sweep: Path, name: str) -> pd.DataFrame:
    frames = [pd.read_parquet(p) for p in sorted(sweep.glob(f"[0-9]*/{name}.parquet"))]
    return pd.concat(frames).sort_values(["design_id", "replicate"]).reset_index(drop=True)


@pytest.mark.cluster
def test_a_sweep_on_slurm_equals_the_joblib_sweep(cluster, tmp_path):
    slurm, joblib = tmp_path / "slurm", tmp_path / "joblib"
    proc = run_script(
        "run.py",
        *SWEEP,
        "hydra/launcher=cluster_slurm",
        f"hydra.launcher.partition={cluster.partition}",
        "hydra.launcher.mem_gb=1",
        "hydra.launcher.timeout_min=10",
        f"hydra.sweep.dir={slurm}",
    )
    run_script("run.py", *SWEEP, "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={joblib}")
    # the jobs really went through SLURM: submitit keeps each job's SLURM log
    logs = list((slurm / ".submitit").rglob("*_log.out"))
    assert len(logs) >= 3, proc.stdout[-2000:]
    for name in ("timeseries", "summary", "effects", "baseline"):
        pd.testing.assert_frame_equal(
            job_tables(slurm, name), job_tables(joblib, name), check_exact=True
        )
    # and the submitting process aggregated the sweep as on a laptop
    designs = pd.read_parquet(slurm / "aggregate" / "designs.parquet")
    assert len(designs) == 3 and (slurm / "aggregate" / "report.html").exists()


def test_without_root_starting_slurm_is_refused_in_one_line(monkeypatch):
    """(Part of make test.) No cluster running and no root: nothing is started, and the reason
    is one line."""
    monkeypatch.setattr(slurm, "node_state", lambda: None)
    monkeypatch.setattr(slurm.os, "geteuid", lambda: 1000)
    with pytest.raises(CannotStart) as err:
        OneNodeCluster().start()
    assert str(err.value) == "SLURM is not running and starting one needs root (apt, daemons)"
