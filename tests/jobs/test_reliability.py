"""Reliability, round two: resource guards, finite outputs, launcher settings, arguments checked
before work. (What the report and run.log say about an own organisation:
tests/commands/test_own_organisation.py; input files:
tests/model/test_inputs_safety.py; storage faults: tests/jobs/test_storage_faults.py; fuzzing:
tests/commands/test_fuzz.py.)"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import sim
from experiments import calibrate, sensitivity
from experiments.jobs.signals import stop_on_signals
from experiments.run import cli
from sim import ModelConfig, ScenarioConfig
from sim import resources as res
from sim.errors import NonFiniteError
from sim.inputs.loading import check
from tests.conftest import ONE_THREAD, ROOT, run_script

CITY = ROOT / "examples" / "fictional_city"


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# --- resources ----------------------------------------------------------------------------------


def test_the_estimate_grows_with_each_driver_of_memory():
    base = ModelConfig()
    need = check(base)
    assert need.staff == 60_000 and need.practices == 13
    assert need.staff_months == 60_000 * base.horizon
    # measured on this project at full scale: a run adds about 45 MB, a kept city about 21 MB;
    # the estimate is above both and within a factor of two
    assert 45e6 < need.run_bytes < 90e6 and 21e6 < need.city_bytes < 42e6
    for section, key, value in (
        ("network", "team_neighbours", 64),
        ("behavior", "contacts_per_month", 200),
        ("network", "cross_ties_per_manager", 50.0),
        (None, "record_staff_every", 1),
        (None, "engine", "reference"),
    ):
        config = ModelConfig()
        setattr(getattr(config, section) if section else config, key, value)
        assert res.estimate(config, 60_000, 13).run_bytes > need.run_bytes, key
    half = ModelConfig(scenario=ScenarioConfig(scale=0.5))
    assert check(half).staff == pytest.approx(30_000, rel=0.01)


def test_kept_cities_are_bounded_so_a_job_fits_whatever_the_replicates():
    need = check(ModelConfig())
    assert need.cities_kept(3) == 4
    kept = need.cities_kept(10_000)
    assert kept * need.city_bytes <= res.CITY_CACHE_BYTES < (kept + 1) * need.city_bytes
    assert need.job_bytes(10_000) == need.job_bytes(kept)


def test_a_run_that_cannot_fit_is_refused_before_anything_is_built(monkeypatch):
    monkeypatch.setattr(res, "available_bytes", lambda: 20 * res.MiB)
    with pytest.raises(res.ResourceError) as err:
        sim.ExchangeModel(ModelConfig(), seed=1)
    message = one_line(str(err.value))
    assert "60,000 simulated staff needs about" in message and "20 MiB available" in message
    assert "lower scenario.scale" in message
    # a small city still runs on the same machine
    sim.run(ModelConfig(scenario=ScenarioConfig(scale=0.01), horizon=8), seed=1)


def test_a_sweep_whose_concurrent_jobs_cannot_fit_is_refused_with_a_worker_count(
    tmp_path, monkeypatch, capsys
):
    need = check(ModelConfig())
    monkeypatch.setattr(res, "available_bytes", lambda: int(1.5 * need.job_bytes(10)))
    monkeypatch.setattr("experiments.jobs.plan.available_bytes", res.available_bytes)
    code = cli(["-m", "program.cohort_size=10,20", "hydra.launcher.n_jobs=2",
                f"hydra.sweep.dir={tmp_path / 's'}"])  # fmt: skip
    message = one_line(capsys.readouterr().err)
    assert code == 2 and "runs 2 jobs at once" in message
    assert "hydra.launcher.n_jobs=1" in message
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["hydra.launcher.n_jobs=0"], "hydra.launcher.n_jobs = 0: must be a positive number"),
        (["hydra.launcher.n_jobs=-99"], "hydra.launcher.n_jobs = -99: must be"),
        (["hydra/launcher=local_processes", "hydra.launcher.timeout_min=0"],
         "hydra.launcher.timeout_min = 0: must be a whole number >= 1"),
        (["hydra/launcher=cluster_slurm", "hydra.launcher.mem_gb=0"],
         "hydra.launcher.mem_gb = 0: must be a positive number of GB"),
        (["hydra/launcher=cluster_slurm", "hydra.launcher.mem_gb=1", "scenario.scale=1.0",
          "network.team_neighbours=400"],
         "hydra.launcher.mem_gb = 1: a job of this sweep needs about"),
    ],
)  # fmt: skip
def test_launcher_settings_are_checked_before_any_job(tmp_path, capsys, overrides, message):
    code = cli(["-m", "scenario=small", "program.cohort_size=10,20", *overrides,
                f"hydra.sweep.dir={tmp_path / 's'}"])  # fmt: skip
    assert code == 2
    assert message in one_line(capsys.readouterr().err)
    assert not (tmp_path / "s").exists()


def test_a_program_starting_after_the_horizon_is_refused(tmp_path, capsys):
    code = cli(["scenario=small", "horizon=24", "program.start=30",
                f"hydra.run.dir={tmp_path / 'r'}"])  # fmt: skip
    assert code == 2
    assert "program.start = 30: after horizon = 24" in one_line(capsys.readouterr().err)
    # without anyone sent there is nothing to refuse
    sim.run(ModelConfig(scenario=ScenarioConfig(scale=0.01), horizon=12,
                        program=sim.ProgramConfig(cohort_size=0, start=30)), seed=1)  # fmt: skip


# --- finite in, finite out ----------------------------------------------------------------------


def test_a_non_finite_result_fails_the_run_naming_column_and_month(monkeypatch):
    original = sim.ExchangeModel.results

    def poisoned(self):
        table = original(self)
        table.loc[table["month"] == 3, "service_index"] = np.nan
        return table

    monkeypatch.setattr(sim.ExchangeModel, "results", poisoned)
    with pytest.raises(NonFiniteError) as err:
        sim.run(ModelConfig(scenario=ScenarioConfig(scale=0.01), horizon=8), seed=4)
    message = one_line(str(err.value))
    assert "seed 4" in message and "'service_index' at month 3" in message and "nan" in message


def test_a_non_finite_result_fails_the_job_and_the_command(tmp_path):
    """The same through the command line: the job is recorded as failed, exit code 1."""
    hook = tmp_path / "sitecustomize.py"  # poisons cost in every process of the run
    hook.write_text(
        "import sim.model as m\n"
        "original = m.ExchangeModel.results\n"
        "def results(self):\n"
        "    t = original(self)\n"
        "    t['cost'] = t['cost'] * float('inf')\n"
        "    return t\n"
        "m.ExchangeModel.results = results\n",
        encoding="utf-8",
    )
    proc = run_script("run.py", "scenario=small", "horizon=12", "replicates=1",
                      "program.cohort_size=100", "progress=false",
                      f"hydra.run.dir={tmp_path / 'r'}", check=False,
                      env={"PYTHONPATH": f"{tmp_path}:{ROOT}"})  # fmt: skip
    assert proc.returncode == 1
    assert "NonFiniteError" in proc.stderr and "'cost'" in proc.stderr
    assert not (tmp_path / "r" / "summary.parquet").exists()


# --- every entry point checks its arguments before work ------------------------------------------


@pytest.mark.parametrize("script", [sensitivity, calibrate])
def test_an_output_folder_that_cannot_be_written_is_refused_before_the_work(
    tmp_path, capsys, monkeypatch, script
):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    monkeypatch.setattr(sensitivity, "analyse", lambda *a, **k: pytest.fail("ran the analysis"))
    monkeypatch.setattr(calibrate, "calibrate", lambda *a, **k: pytest.fail("calibrated"))
    assert script.main(["--out", str(blocker / "out")]) == 2
    message = one_line(capsys.readouterr().err)
    assert "Not a directory" in message and "--out FOLDER" in message


# --- whose folder a sweep writes into -------------------------------------------------------------

OWNED_SWEEP = ["-m", "scenario=small", "program.cohort_size=10,20", "horizon=12", "replicates=1"]


def test_a_sweep_never_takes_over_a_folder_that_is_not_a_sweeps(tmp_path, capsys, monkeypatch):
    """A folder holding the user's files (numbered folders and an `aggregate` among them, which
    a sweep would move aside or delete), an old single run's folder, the project's source and
    an empty hydra.sweep.dir are refused in one line before any work; nothing in them moves."""
    mine = tmp_path / "mine"
    for name in ("0", "1", "aggregate"):
        (mine / name).mkdir(parents=True)
        (mine / name / "notes.txt").write_text("the user's")
    single = tmp_path / "single"
    (single / ".hydra").mkdir(parents=True)
    (single / "summary.parquet").write_bytes(b"an old single run")
    cases = [
        (mine, "the folder holds 0, 1, aggregate and no sweep.json, so it is not a sweep's"),
        (single, "the folder holds .hydra, summary.parquet and no sweep.json"),
        (ROOT, "that is the project's source"),
        (ROOT / "sim" / "sweeps", "that is the project's source"),
    ]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for folder, message in cases:
        assert cli([*OWNED_SWEEP, f"hydra.sweep.dir={folder}"]) == 1
        line = one_line(capsys.readouterr().err)
        assert line.startswith(f"error: hydra.sweep.dir={folder}: ") and message in line
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (mine / "aggregate" / "notes.txt").read_text() == "the user's"
    assert not (ROOT / "sim" / "sweeps").exists()
    monkeypatch.chdir(mine)
    assert cli([*OWNED_SWEEP, "hydra.sweep.dir="]) == 1
    assert "hydra.sweep.dir is empty" in one_line(capsys.readouterr().err)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_a_sweep_writes_into_a_new_or_empty_folder_or_its_own(tmp_path):
    """What a sweep may write into: a new folder, an empty one, and its own when run again."""
    from experiments.jobs.store import MANIFEST, check_owned

    empty = tmp_path / "empty"
    empty.mkdir()
    own = tmp_path / "own"
    own.mkdir()
    (own / MANIFEST).write_text("{}")
    (own / "0").mkdir()
    for folder in (tmp_path / "new" / "deeper", empty, own):
        check_owned(folder)  # no refusal
    with pytest.raises(sim.UserError, match="a file, not a folder"):
        (tmp_path / "file").write_text("x")
        check_owned(tmp_path / "file")


def test_one_writer_at_a_time_in_a_sweep_folder(tmp_path, capsys):
    """While a command writes in a sweep folder, a sweep or an aggregation started on it is
    refused in one line naming the holder, and changes nothing; once the holder ends (the lock
    goes with it, however it ends), the same command runs."""
    from experiments import aggregate
    from experiments.jobs import store

    folder = tmp_path / "s"
    run_script("run.py", *OWNED_SWEEP, f"hydra.sweep.dir={folder}", "report=false")
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.name != store.LOCK}
    with store.writing(folder, "a test standing for a running sweep"):
        assert cli([*OWNED_SWEEP, "program.cohort_size=10,30", f"hydra.sweep.dir={folder}"]) == 1
        line = one_line(capsys.readouterr().err)
        assert line.startswith(f"error: {folder}: process ") and "running sweep" in line
        assert aggregate.main([str(folder)]) == 1
        assert "a test standing for a running sweep" in one_line(capsys.readouterr().err)
        after = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.name != store.LOCK}
        assert after == before
    assert aggregate.main([str(folder)]) == 0


def test_a_single_run_never_writes_into_a_folder_of_other_things(tmp_path, capsys):
    """hydra.run.dir naming a folder that holds the user's files (no `.hydra`: not a run's), the
    project's source, or nothing, is refused in one line before the run; a run's own folder and
    a new one are accepted."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("the user's")
    run = ["scenario=small", "horizon=12", "replicates=1"]
    for folder, message in ((mine, "holds thesis.docx and no .hydra, so it is not a run's"),
                            (ROOT / "configs", "that is the project's source")):  # fmt: skip
        assert cli([*run, f"hydra.run.dir={folder}"]) == 1
        line = one_line(capsys.readouterr().err)
        assert line.startswith(f"error: hydra.run.dir={folder}: ") and message in line
    assert cli([*run, "hydra.run.dir="]) == 1
    assert "hydra.run.dir is empty" in one_line(capsys.readouterr().err)
    assert [p.name for p in mine.iterdir()] == ["thesis.docx"]
    from experiments.jobs.store import check_owned

    (tmp_path / "old_run" / ".hydra").mkdir(parents=True)
    for folder in (tmp_path / "old_run", tmp_path / "new"):
        check_owned(folder, "hydra.run.dir", ".hydra")


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (
            "cohort_size=999",
            "reference = 'cohort_size=999': matches 0 designs of this sweep, not one",
        ),
        ("colour=red", "reference = 'colour=red': 'colour' is not a lever of this sweep"),
        ("horizon=12", "reference = 'horizon=12': matches 2 designs of this sweep, not one"),
    ],
)
def test_a_reference_naming_no_single_design_is_refused(tmp_path, capsys, reference, message):
    folder = tmp_path / "s"
    assert cli([*OWNED_SWEEP, f"reference='{reference}'", f"hydra.sweep.dir={folder}"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: ") and message in line
    assert not folder.exists()


def test_a_reference_naming_one_design_is_accepted():
    from experiments.jobs.plan import plan_command

    plan = plan_command([*OWNED_SWEEP, "reference='cohort_size=20'", "hydra.sweep.dir=/tmp/x"])
    assert plan.settings["reference"] == "cohort_size=20" and len(plan.jobs) == 2


# --- stopping ----------------------------------------------------------------------------------


def _group_alive(pgid: int) -> list[str]:
    """Command lines of the processes still in process group `pgid` (from /proc)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                alive.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue
    return alive


@pytest.mark.parametrize(("signum", "code", "how"), [(signal.SIGTERM, 143, "SIGTERM"),
                                                      (signal.SIGINT, 130, "Ctrl-C")])  # fmt: skip
def test_a_signal_stops_a_sweep_in_one_line_leaving_nothing_and_it_resumes(
    tmp_path, signum, code, how
):
    """SIGTERM or Ctrl-C while the jobs run: the sweep ends within seconds with one line, the
    shell's exit code, no process of it left (the job processes included), no temporary
    aggregate; the same command then finishes the sweep."""
    folder = tmp_path / "s"
    command = [sys.executable, str(ROOT / "experiments" / "run.py"), "-m",
               "program.cohort_size=10,20,30", "scenario=laptop", "replicates=4", "horizon=60",
               f"hydra.sweep.dir={folder}"]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env={**os.environ, **ONE_THREAD},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (folder / "0").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the jobs are running
    assert proc.poll() is None, "the sweep ended before the signal"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err[-2000:]
    (line,) = err.strip().splitlines()
    assert line.startswith(f"stopped ({how}): ") and "run the same command again to resume" in line
    time.sleep(0.5)
    assert _group_alive(proc.pid) == []
    assert not list(folder.glob(".aggregate*"))
    if signum == signal.SIGTERM:
        again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                               env={**os.environ, **ONE_THREAD})  # fmt: skip
        assert again.returncode == 0, again.stderr[-2000:]
        assert (folder / "aggregate" / "report.html").exists()


def test_an_input_edited_after_planning_is_named(tmp_path):
    """A job whose key is not the one its sweep planned says which input file changed since
    (the sweep records every job's input files with their digests), or that the code did."""
    from experiments.jobs import identity
    from experiments.jobs.plan import plan_command
    from experiments.jobs.store import MANIFEST, changed_since_planned

    departments = tmp_path / "departments.csv"
    departments.write_text((ROOT / "sim" / "data" / "departments.csv").read_text())
    plan = plan_command([*OWNED_SWEEP, f"scenario.departments_file={departments}"])
    manifest = plan.manifest(["experiments/run.py"])
    recorded = manifest["inputs"]["1"]
    assert recorded["departments_file"] == [str(departments), identity.file_digest(departments)]
    assert recorded["practices_file"][0].endswith("practices.yaml")
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    now = {k: digest for k, (_, digest) in recorded.items()}
    assert changed_since_planned(tmp_path, "1", manifest["jobs"]["1"], now) is None
    edited = {**now, "departments_file": "another digest"}
    why = changed_since_planned(tmp_path, "1", "another key", edited)
    assert why.startswith(f"{departments} changed after the sweep was planned (job 1 ")
    assert "run the sweep's command again" in why
    code = changed_since_planned(tmp_path, "1", "another key", now)
    assert code.startswith("the code or the installed packages changed")


def test_a_sweep_says_its_jobs_time_and_memory_before_the_first_job():
    """The announcement follows from the plan: jobs, how many at once, the runs' rough time
    (`resources.run_seconds` for each replicate's run and its channel runs) and memory; twice
    the replicates, about twice the time."""
    from experiments.jobs.plan import duration, plan_command

    one = plan_command([*OWNED_SWEEP, "hydra.sweep.dir=/tmp/x"])
    two = plan_command([*OWNED_SWEEP, "replicates=2", "hydra.sweep.dir=/tmp/x"])
    assert two.cpu_seconds == pytest.approx(2 * one.cpu_seconds)
    words = two.announcement()
    assert words.startswith(f"sweep: 2 job(s), {min(two.workers, 2)} at once: about ")
    assert f"({duration(two.cpu_seconds)} of one core; rough, from timed runs)" in words
    assert "of memory" in words
    assert [duration(s) for s in (0.2, 90, 600, 9000)] == ["1 s", "90 s", "10 min", "2.5 h"]


# --- folder states: a property test that never loses a user file --------------------------------

#: What a folder given to a sweep or an aggregation may hold, as a user would have it.
STATES = ("foreign", "old_run", "other_definition", "half_written", "leftover_temp",
          "user_aggregate", "our_aggregate", "user_file_in_job")  # fmt: skip
MANIFEST = {"definition": "d-now", "sweeper": "basic", "command": [], "settings": {},
            "jobs": {"0": "k0", "1": "k1"}, "labels": {}, "inputs": {}}  # fmt: skip


def _make(root: Path, states: set[str], data: bytes) -> set[str]:
    """Build a folder in `states`; returns the relative paths of the user's own files."""
    from experiments.jobs import store

    user = set()

    def put(rel: str, content: bytes, mine: bool = False) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
        if mine:
            user.add(rel)

    root.mkdir(parents=True, exist_ok=True)
    if "foreign" in states:
        put("notes.txt", data, mine=True)
        put("0/measurements.csv", b"a,b\n" + data, mine=True)
    if "old_run" in states:
        put(".hydra/config.yaml", b"seed: 0\n")
        put("summary.parquet", data)
    if "other_definition" in states:
        put(store.MANIFEST, json.dumps({**MANIFEST, "definition": "d-old"}).encode())
        put("1/job.json", json.dumps({"key": "k-old", "label": "x", "extra_columns": []}).encode())
        put("1/summary.parquet", data)
    if "half_written" in states:
        put(store.MANIFEST, json.dumps(MANIFEST).encode())
        put("0/job.json", json.dumps({"key": "k0", "label": "x", "extra_columns": []}).encode())
        put("0/timeseries.parquet", data[: len(data) // 2])
    if "leftover_temp" in states:
        put(".aggregate.999.tmp/designs.parquet", data)
    if "user_aggregate" in states:
        put("aggregate/my_analysis.xlsx", data, mine=True)
    elif "our_aggregate" in states:
        put("aggregate/provenance.json", b"{}")
    if "user_file_in_job" in states:
        put("1/my_comment.txt", data, mine=True)
    return user


def _files(root: Path) -> dict[str, bytes]:
    from experiments.jobs import store

    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != store.LOCK
    }


def _as_run_py(folder: Path) -> None:
    """What experiments/run.py does to a sweep folder before its first job."""
    from experiments.jobs import store

    store.check_owned(folder)
    with store.writing(folder, "experiments/run.py -m ..."):
        store.prepare(folder, MANIFEST)


def _as_aggregate_py(folder: Path) -> None:
    """What experiments/aggregate.py does (tables only)."""
    from experiments.jobs import store
    from experiments.present import publish

    store.check_results_folder(folder)
    with store.writing(folder, "experiments/aggregate.py"):
        publish.aggregate(folder, figures=False)


@pytest.mark.parametrize("command", [_as_run_py, _as_aggregate_py])
def test_no_folder_state_loses_a_user_file(tmp_path_factory, command):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from experiments.jobs import store

    outcomes = set()

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        states=st.sets(st.sampled_from(STATES), max_size=4),
        absent=st.booleans(),
        locked=st.booleans(),
        data=st.binary(min_size=1, max_size=64),
    )
    def check(states, absent, locked, data):
        root = tmp_path_factory.mktemp("state") / "folder"
        if absent:
            states = set()
        else:
            user = _make(root, states, data)
        before = _files(root) if root.exists() else {}
        holder = store.writing(root, "another sweep") if locked and root.exists() else None
        refused = None
        try:
            if holder is not None:
                holder.__enter__()
            command(root)
        except (sim.UserError, store.AggregationError) as err:
            refused = err
            assert "\n" not in str(err)
        finally:
            if holder is not None:
                holder.__exit__(None, None, None)
        after = _files(root) if root.exists() else {}
        outcomes.add(type(refused).__name__ if refused is not None else "done")
        if holder is not None:  # another command writes there: refused, whatever the folder
            assert refused is not None
        if isinstance(refused, sim.UserError | store.Refused):
            assert after == before  # refused before any change
        if absent:
            return
        # every file of the user's is still in the folder with the same bytes (perhaps moved
        # aside with a job it was in), whatever happened
        contents = list(after.values())
        for rel in user:
            assert before[rel] in contents, (states, rel, refused)
        if refused is None and command is _as_run_py:
            assert json.loads((root / store.MANIFEST).read_text())["definition"] == "d-now"

    check()
    both = {"done", "UserError"} if command is _as_run_py else {"Refused", "AggregationError"}
    assert both <= outcomes, outcomes  # the states reached both ends


def test_a_stop_that_python_drops_in_a_gc_callback_is_sent_again():
    """A signal whose KeyboardInterrupt is raised inside a gc callback (dask's GC diagnosis
    runs one in every calibration on a cluster) is dropped by Python ("Exception ignored in
    ..."): the command must still stop. Without the second sending, nothing is raised here."""
    fired = []

    def callback(phase, _info):
        if phase == "start" and not fired:
            fired.append(phase)
            signal.raise_signal(signal.SIGTERM)  # its KeyboardInterrupt is raised in here

    gc.callbacks.append(callback)
    try:
        with pytest.raises(KeyboardInterrupt), stop_on_signals() as stop:
            gc.collect()
            for _ in range(100):  # ordinary code, where the stop lands
                time.sleep(0.01)
    finally:
        gc.callbacks.remove(callback)
    assert fired and stop.how == "SIGTERM" and stop.exit_code == 143
