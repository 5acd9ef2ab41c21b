"""The same sweep on a real SLURM cluster (`make test-cluster`): a one-node cluster on this
machine (tests/slurm.py), the sweep through `hydra/launcher=cluster_slurm`, and its tables
identical to the joblib run of the same sweep.

Not part of `make test` (marker `cluster`). Where SLURM cannot be started (no root) the test is
skipped with one line saying why; with EXCHANGE_REQUIRE_SLURM=1 (set by .ci/run) it fails
instead, so CI cannot pass without running it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.calibration.sampling import calibrate, predictive_check, slurm_client
from experiments.calibration.targets import LEARNT, Prior, Target
from tests import slurm
from tests.calibration.test_calibration import returnee_city
from tests.conftest import ONE_THREAD, ROOT, run_script
from tests.slurm import CannotStart, OneNodeCluster

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


# --- a calibration on the SLURM cluster (dask-jobqueue) -----------------------------------------

TARGETS = """\
targets:
  - name: a
    statistic: returnees_applying
    lag: 2
    observed: 0.05
    sd: 0.1
    source: a test
"""
#: A calibration of the command line small enough for a test (about 15 s on one core).
CALIBRATION = ["scenario=small", "horizon=14", "program.cohort_size=400", "program.duration=2",
               "program.months_between_cohorts=2", "--parameters", "forgetting_rate",
               "--population", "20", "--generations", "2", "--predictive", "10", "--draws", "20",
               "--seed", "3", "--city-runs", "12"]  # fmt: skip


def queued(ids: list[str], within: float = 0) -> list[str]:
    """Those of the SLURM jobs `ids` still in the queue (pending, running or completing), after
    waiting up to `within` seconds for them to leave it."""
    deadline = time.monotonic() + within
    while True:
        proc = slurm._run("squeue", "--noheader", "--format=%i", "--jobs", ",".join(ids))
        if not proc.stdout.split() or time.monotonic() >= deadline:
            return proc.stdout.split()
        time.sleep(0.5)


def job_ids(logs: Path) -> list[str]:
    """The SLURM job ids whose dask worker wrote a log in `logs` (dask-worker-<id>.err)."""
    return sorted(p.stem.rsplit("-", 1)[1] for p in logs.glob("dask-worker-*.err"))


@pytest.mark.cluster
def test_a_calibration_on_slurm_gives_the_posterior_of_one_local_worker(cluster, tmp_path):
    """calibrate() with a client on two SLURM jobs (slurm_client): the posterior and the
    predictive check are those of one local worker with the same seed; the jobs are gone after."""
    config = returnee_city(tmp_path)
    config.horizon = 14
    targets = [Target("lag2", LEARNT, 0.5, 0.1, "s", lag=2)]
    priors = [Prior("forgetting_rate", 0.0, 0.1)]
    local = calibrate(config, targets, priors, 20, 2, 7, 1, tmp_path / "local")
    local_check = predictive_check(config, targets, local.draws, 12, 7)
    logs = tmp_path / "logs"
    with slurm_client(2, memory="1GB", walltime="10", queue=cluster.partition, logs=logs) as client:
        assert client.scheduler_info()["workers"]  # a SLURM job's worker is connected
        on_slurm = calibrate(
            config, targets, priors, 20, 2, 7, 1, tmp_path / "slurm", client=client, cores=2
        )
        slurm_check = predictive_check(config, targets, on_slurm.draws, 12, 7, client=client)
        ids = job_ids(logs)
        assert len(ids) == 2 and len(queued(ids)) == 2  # both jobs ran, and still run
    pd.testing.assert_frame_equal(on_slurm.posterior, local.posterior, check_exact=True)
    pd.testing.assert_frame_equal(on_slurm.draws, local.draws, check_exact=True)
    pd.testing.assert_frame_equal(slurm_check, local_check, check_exact=True)
    assert queued(ids, within=30) == []  # cancelled on leaving: no orphaned job


@pytest.mark.cluster
def test_the_calibration_command_on_slurm_writes_the_local_posterior(cluster, tmp_path):
    """`experiments/calibrate.py ... --cluster slurm --cluster-jobs 2` against the same command
    on one local worker: the same posterior, draws and predictive check."""
    targets = tmp_path / "targets.yaml"
    targets.write_text(TARGETS, encoding="utf-8")
    common = [*CALIBRATION, "--targets", str(targets)]
    slurm_out, local_out = tmp_path / "slurm", tmp_path / "local"
    proc = run_script(
        "calibrate.py", *common, "--out", str(slurm_out), "--cluster", "slurm",
        "--cluster-jobs", "2", "--cluster-memory", "1GB", "--cluster-walltime", "00:10:00",
        "--cluster-queue", cluster.partition,
    )  # fmt: skip
    assert "2 SLURM job(s) of 1 core(s)" in proc.stderr
    run_script("calibrate.py", *common, "--out", str(local_out))
    generations = pd.read_parquet(slurm_out / "generations.parquet")
    assert generations.method.iloc[-1] == "importance sampling"  # the city's runs on SLURM too
    for name in ("posterior", "posterior_draws", "predictive"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(slurm_out / f"{name}.parquet"),
            pd.read_parquet(local_out / f"{name}.parquet"),
            check_exact=True,
        )
    ids = job_ids(slurm_out / "slurm")
    assert len(ids) == 2 and queued(ids, within=30) == []
    settings = json.loads((slurm_out / "settings.json").read_text(encoding="utf-8"))
    assert settings["cluster"]["jobs"] == 2 and settings["workers"] == 2


@pytest.mark.cluster
def test_ctrl_c_and_a_refused_job_cancel_everything_and_say_so(cluster, tmp_path):
    targets = tmp_path / "targets.yaml"
    targets.write_text(TARGETS, encoding="utf-8")
    common = [*CALIBRATION, "--targets", str(targets), "--cluster", "slurm",
              "--cluster-memory", "1GB", "--cluster-jobs", "2"]  # fmt: skip
    # a partition that does not exist: sbatch refuses it, in one line, and nothing is written
    out = tmp_path / "refused"
    proc = run_script("calibrate.py", *common, "--out", str(out), "--cluster-queue", "nope",
                      check=False)  # fmt: skip
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr[-2000:]
    assert "sbatch refuses the job (invalid partition specified: nope)" in errors[0]
    assert "--cluster-queue" in errors[0] and not out.exists()
    # Ctrl-C while the jobs run: exit 130, one line, the jobs cancelled
    out = tmp_path / "interrupted"
    command = [sys.executable, str(ROOT / "experiments" / "calibrate.py"), *common,
               "--population", "2000", "--out", str(out)]  # fmt: skip
    log = tmp_path / "interrupted.log"
    with open(log, "w", encoding="utf-8") as err:
        child = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, text=True,
            env={**os.environ, **ONE_THREAD},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while len(job_ids(out / "slurm")) < 2 or not (out / "history.db").exists():
            assert child.poll() is None, log.read_text(encoding="utf-8")[-2000:]
            assert time.monotonic() < deadline, "the SLURM jobs did not start within 300 s"
            time.sleep(0.5)
        ids = job_ids(out / "slurm")
        assert len(queued(ids)) == 2
        child.send_signal(signal.SIGINT)
        child.wait(timeout=120)
    finally:
        if child.poll() is None:  # the test failed: leave no job behind
            child.kill()
            if ids := job_ids(out / "slurm"):
                slurm._run("scancel", *ids)
    lines = log.read_text(encoding="utf-8").strip().splitlines()
    assert child.returncode == 130, lines[-20:]
    assert lines[-1] == (
        "stopped (Ctrl-C): the calibration did not finish and nothing of it was kept; its SLURM "
        "jobs were cancelled; run the same command again to start it anew"
    )
    assert queued(ids, within=30) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cluster", "pbs"], "argument --cluster: invalid choice: 'pbs' (choose from 'slurm')"),
        (["--cluster-jobs", "3"], "--cluster-jobs: only with --cluster slurm"),
        (
            ["--cluster", "slurm", "--cluster-jobs", "0"],
            "--cluster-jobs 0: must be an integer >= 1",
        ),
        (["--cluster", "slurm", "--workers", "2"], "--workers 2: with --cluster the SLURM jobs"),
        (["--cluster", "slurm", "--cluster-memory", "4XB"], "--cluster-memory '4XB': must be an"),
        (["--cluster", "slurm", "--cluster-walltime", "2h"], "--cluster-walltime '2h': must be a"),
        (["--cluster", "slurm", "--cluster-wait", "0"], "--cluster-wait 0: must be a number"),
        (["--cluster", "slurm", "--cluster-option", "account"], "'account': must be KEY=VALUE"),
        (["--cluster", "slurm", "--cluster-option", "cores=2"], "use --cluster-cores for cores"),
        (
            ["--cluster", "slurm", "--cluster-option", "colour=red"],
            "unknown key 'colour'; allowed:",
        ),
    ],
)
def test_bad_cluster_options_are_one_line_and_write_nothing(tmp_path, capsys, args, message):
    """(Part of make test.) Checked before the model runs or anything is written."""
    from experiments import calibrate as cli

    out = tmp_path / "out"
    try:
        code = cli.main([*args, "--out", str(out)])
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not out.exists()


def test_without_sbatch_the_cluster_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    """(Part of make test.) No SLURM here: one line that says where to run it instead."""
    from experiments import calibrate as cli

    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    assert cli.main(["--cluster", "slurm", "--out", str(tmp_path / "out")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "error: --cluster slurm: sbatch is not on PATH here; run the command where SLURM jobs "
        "are submitted (a login node) or leave out --cluster"
    )
    assert not (tmp_path / "out").exists()


# --- a sweep SLURM refuses ------------------------------------------------------------------------


@pytest.mark.cluster
@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ("hydra.launcher.partition=nope", "sbatch refuses the job (invalid partition specified: "
                                          "nope)"),
        ("hydra.launcher.cpus_per_task=64", "sbatch refuses the job (allocation failure: "
                                            "Requested node configuration is not available)"),
    ],
)  # fmt: skip
def test_a_sweep_sbatch_refuses_is_one_line_and_writes_nothing(cluster, tmp_path, setting,
                                                              reason):  # fmt: skip
    folder = tmp_path / "refused"
    proc = run_script(
        "run.py", *SWEEP, "hydra/launcher=cluster_slurm", f"hydra.launcher.partition="
        f"{cluster.partition}", setting, f"hydra.sweep.dir={folder}", check=False,
    )  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("error: hydra/launcher: ") and reason in lines[0]
    assert "hydra.launcher.partition" in lines[0] and not folder.exists()


def test_a_slurm_sweep_without_sbatch_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    """(Part of make test.) Checked before anything is written."""
    from experiments.jobs import cluster as submission
    from experiments.run import cli

    monkeypatch.setattr(submission.shutil, "which", lambda name: None)
    folder = tmp_path / "s"
    assert cli([*SWEEP, "hydra/launcher=cluster_slurm", f"hydra.sweep.dir={folder}"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "error: hydra/launcher: a SLURM launcher needs sbatch and srun, and sbatch is not on "
        "PATH here; run the command where SLURM jobs are submitted (a login node), or use "
        "hydra/launcher=local_processes on this machine"
    )
    assert not folder.exists()


def test_an_sbatch_that_fails_at_submission_is_one_line(tmp_path):
    """(Part of make test.) sbatch passes the jobs (--test-only) but fails when they are
    submitted (a limit that changed meanwhile): the sweep ends with one line naming sbatch's
    reason and a non-zero exit, no traceback and no sbatch lines of its own. Fake sbatch and
    srun on PATH stand for the cluster."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    reason = "Batch job submission failed: Job violates accounting/QOS policy"
    scripts = {
        "sbatch": '#!/bin/sh\ncase "$*" in *--test-only*) echo "sbatch: Job 1 to start" >&2; '
        f'exit 0;; esac\necho "sbatch: error: {reason}" >&2\nexit 1\n',
        "srun": "#!/bin/sh\nexit 1\n",
    }
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    folder = tmp_path / "sweep"
    proc = run_script(
        "run.py", *SWEEP, "hydra/launcher=cluster_slurm", "hydra.launcher.partition=main",
        f"hydra.sweep.dir={folder}", check=False,
        env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("error: hydra/launcher: sbatch did not submit the jobs (")
    assert reason in lines[0] and "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.skipif(shutil.which("srun") is None, reason="submitit renders scripts with srun")
def test_the_checked_script_is_the_one_the_launcher_submits():
    """(Part of make test where SLURM is installed.) The launcher's settings reach the script
    that sbatch --test-only checks, as submitit writes them."""
    from hydra import compose, initialize_config_dir

    from experiments import CONFIGS
    from experiments.jobs.cluster import sbatch_script

    overrides = ["hydra/launcher=cluster_slurm", "hydra.launcher.partition=nope",
                 "hydra.launcher.mem_gb=3", "hydra.launcher.timeout_min=7"]  # fmt: skip
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        launcher = compose("config", overrides=overrides, return_hydra_config=True).hydra.launcher
    script = sbatch_script(launcher).splitlines()
    for line in ("#SBATCH --partition=nope", "#SBATCH --mem=3GB", "#SBATCH --time=7",
                 "#SBATCH --cpus-per-task=1"):  # fmt: skip
        assert line in script
    assert "export OMP_NUM_THREADS=1" in script  # the launcher's setup lines
