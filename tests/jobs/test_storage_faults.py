"""Storage faults are handled like bad input: a full disk, a read-only folder or a file in the way
gives one line naming the file and what to do, leaves no temporary file and the previous content
intact; damaged results (truncated, altered) are redone on resume, never reported; a damaged
baseline cache is rebuilt; damaged metadata stops aggregate.py and rerun.py with one line; CSV
text cells are spreadsheet-safe."""

from __future__ import annotations

import errno
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

from experiments.jobs import outputs, store
from experiments.jobs.cache import cache_baseline, cached_baseline
from sim import ExchangeModel
from sim.errors import StorageError
from sim.inputs.export import export_organisation
from tests.conftest import ONE_THREAD, ROOT, practice, run_script, tiny_config

ARGS = ["scenario=small", "horizon=12", "replicates=2", "program.cohort_size=400,800",
        "progress=false", "report=false", "hydra/launcher=basic", "channels=false"]  # fmt: skip


def sweep_command(folder: Path) -> list[str]:
    return ["-m", *ARGS, f"hydra.sweep.dir={folder}"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished two-job sweep (copy it before changing anything)."""
    folder = tmp_path_factory.mktemp("finished") / "sweep"
    run_script("run.py", *sweep_command(folder))
    return folder


@pytest.fixture
def copy(finished, tmp_path) -> Path:
    folder = tmp_path / "sweep"
    shutil.copytree(finished, folder)
    return folder


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


def one_error_line(stderr: str) -> str:
    """The only `error:` line of a script's error output (and no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def fail(name: str, code: int, when=lambda *args: True):
    """A replacement for os.`name` that raises OSError(`code`) when `when(*args)` holds."""
    real = getattr(os, name)

    def failing(*args, **kwargs):
        if when(*args):
            raise OSError(code, os.strerror(code))
        return real(*args, **kwargs)

    return failing


def alter_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# --- writing a file ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "code", "says"),
    [
        ("write", errno.ENOSPC, "No space left on device (errno 28): free space"),
        ("fsync", errno.EIO, "Input/output error (errno 5): check the disk"),
        ("replace", errno.EROFS, "Read-only file system (errno 30): choose a writable"),
        ("replace", errno.EACCES, "Permission denied (errno 13): choose a writable"),
    ],
)
def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary_file(
    tmp_path, monkeypatch, call, code, says
):
    path = tmp_path / "results" / "summary.parquet"
    outputs.atomic_write_bytes(path, b"previous results")
    monkeypatch.setattr(os, call, fail(call, code))
    with pytest.raises(StorageError) as caught:
        outputs.atomic_write_bytes(path, b"new results" * 1000)
    monkeypatch.undo()
    message = str(caught.value)
    assert message.startswith(f"cannot write {path}: ") and says in message
    assert "\n" not in message
    assert path.read_bytes() == b"previous results"
    assert leftovers(tmp_path) == []


def test_a_table_whose_csv_cannot_be_written_keeps_the_old_csv(tmp_path, monkeypatch):
    stem = tmp_path / "designs"
    outputs.write_table(pd.DataFrame({"gain": [1.0]}), stem)
    old_csv = stem.with_suffix(".csv").read_bytes()
    is_csv = lambda src, dst: str(dst).endswith(".csv")  # noqa: E731
    monkeypatch.setattr(os, "replace", fail("replace", errno.ENOSPC, is_csv))
    with pytest.raises(StorageError, match=r"designs\.csv: No space left on device"):
        outputs.write_table(pd.DataFrame({"gain": [2.0]}), stem)
    monkeypatch.undo()
    assert stem.with_suffix(".csv").read_bytes() == old_csv
    assert pd.read_parquet(stem.with_suffix(".parquet")).gain.tolist() == [2.0]
    assert leftovers(tmp_path) == []


def test_parquet_is_written_through_the_atomic_writer(tmp_path, monkeypatch):
    stem = tmp_path / "summary"
    outputs.write_table(pd.DataFrame({"gain": [1.0]}), stem, csv=False)
    monkeypatch.setattr(os, "write", fail("write", errno.ENOSPC))
    with pytest.raises(StorageError, match="No space left on device"):
        outputs.write_table(pd.DataFrame({"gain": [2.0] * 10_000}), stem, csv=False)
    monkeypatch.undo()
    assert pd.read_parquet(stem.with_suffix(".parquet")).gain.tolist() == [1.0]
    assert leftovers(tmp_path) == []


def test_a_figure_goes_through_the_atomic_writer(tmp_path, monkeypatch):
    """Every figure (sweep, calibration, screening: `outputs.save_figure`): a full disk is one
    line naming the file, the previous figure stays whole, no temporary file is left."""
    import matplotlib.pyplot as plt

    from experiments.present import figures

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with plt.rc_context({"svg.hashsalt": "test"}):
        png = outputs.save_figure(fig, tmp_path / "gain.png")
        before = png.read_bytes(), png.with_suffix(".svg").read_bytes()
        outputs.save_figure(fig, png)
    assert (png.read_bytes(), png.with_suffix(".svg").read_bytes()) == before  # no date in them
    is_svg = lambda src, dst: str(dst).endswith(".svg")  # noqa: E731
    monkeypatch.setattr(os, "replace", fail("replace", errno.ENOSPC, is_svg))
    ax.plot([0, 1], [1, 0])
    with pytest.raises(StorageError, match=r"^cannot write .*gain\.svg: No space left on device"):
        outputs.save_figure(fig, png)
    monkeypatch.undo()
    plt.close(fig)
    assert png.with_suffix(".svg").read_bytes() == before[1]
    assert leftovers(tmp_path) == []
    assert figures.save_figure is outputs.save_figure  # the sweep's figures use it


def test_a_file_where_the_folder_should_be_is_one_line(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    with pytest.raises(StorageError) as caught:
        outputs.write_table(pd.DataFrame({"gain": [1.0]}), tmp_path / "results" / "0" / "summary")
    message = str(caught.value)
    assert message.startswith(f"cannot create folder {tmp_path / 'results' / '0'}: Not a directory")
    assert "choose another output folder" in message and "\n" not in message
    assert (tmp_path / "results").read_text() == "not a folder"


@pytest.mark.parametrize("mode", ["-m", "single"])
def test_run_py_refuses_an_output_folder_inside_a_file(tmp_path, mode):
    (tmp_path / "afile").write_text("in the way")
    if mode == "-m":
        args = sweep_command(tmp_path / "afile" / "sweep")
    else:
        args = [*ARGS[:2], "replicates=2", "progress=false", f"hydra.run.dir={tmp_path}/afile/run"]
    proc = run_script("run.py", *args, check=False)
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert f"{tmp_path / 'afile'}" in line and "Not a directory (errno 20)" in line
    assert (tmp_path / "afile").read_text() == "in the way"


# --- a job's files ----------------------------------------------------------------------------


def job_tables(job: Path) -> dict:
    tables = {name: pd.read_parquet(job / f"{name}.parquet") for name in store.JOB_TABLES}
    tables["department_ties"] = pd.read_csv(job / "department_ties.csv")
    return tables


def test_a_job_records_the_checksum_of_every_file_it_wrote(finished):
    job = finished / "0"
    recorded = json.loads((job / store.CHECKSUMS).read_text())
    written = {p.name for p in job.iterdir() if p.is_file()} - {store.CHECKSUMS, "run.log"}
    assert set(recorded) == written
    for name, expected in recorded.items():
        assert outputs.file_checksum(job / name) == expected, name
    assert store.damage(job) is None


def test_a_job_that_cannot_write_a_file_is_not_done_and_leaves_nothing(
    finished, tmp_path, monkeypatch
):
    out = tmp_path / "job"
    out.mkdir()
    tables = job_tables(finished / "0")
    is_marker = lambda src, dst: Path(dst).name == "summary.parquet"  # noqa: E731
    monkeypatch.setattr(os, "replace", fail("replace", errno.ENOSPC, is_marker))
    with pytest.raises(StorageError, match="summary.parquet: No space left on device"):
        store.write_job(out, tables, "replicates: 2\n", {"key": "k"}, {"command": "x"})
    monkeypatch.undo()
    assert list(out.iterdir()) == []  # no half job: what was written is removed
    assert store.previous_result(out, "k") == "none"


def test_a_storage_error_in_a_sweep_job_fails_that_job_and_the_sweep_exits_1(copy):
    (copy / "1" / "summary.parquet").unlink()  # job 1 runs again, and meets a full disk
    script = (
        "import errno, os, runpy, sys\n"
        "real = os.replace\n"
        "def replace(src, dst, *a, **k):\n"
        "    if str(dst).endswith(os.path.join('1', 'summary.parquet')):\n"
        "        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "    return real(src, dst, *a, **k)\n"
        "os.replace = replace\n"
        "sys.argv[0] = 'experiments/run.py'\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, *sweep_command(copy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **ONE_THREAD},
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert f"cannot write {copy / '1' / 'summary.parquet'}: No space left on device" in proc.stderr
    assert not (copy / "1" / "summary.parquet").exists() and leftovers(copy) == []
    assert store.status(copy).done == [copy / "0"]
    again = run_script("run.py", *sweep_command(copy))  # the disk has space again
    assert again.stdout.count("already done, skipped") == 1
    assert store.damage(copy / "1") is None and (copy / "aggregate" / "designs.parquet").exists()


# --- damaged results are redone, never reported ------------------------------------------------


def test_truncated_or_altered_results_are_redone_on_resume(copy):
    before = {j: pd.read_parquet(copy / j / "timeseries.parquet") for j in ("0", "1")}
    truncate(copy / "0" / "summary.parquet")
    alter_byte(copy / "1" / "timeseries.parquet")
    proc = run_script("run.py", *sweep_command(copy))
    assert "already done" not in proc.stdout
    assert (
        "job 0: summary.parquet does not match its checksum (truncated or altered): redone"
        in proc.stderr
    )
    assert (
        "job 1: timeseries.parquet does not match its checksum (truncated or altered): redone"
        in proc.stderr
    )
    for job in ("0", "1"):
        assert store.damage(copy / job) is None
        pd.testing.assert_frame_equal(
            pd.read_parquet(copy / job / "timeseries.parquet"), before[job]
        )
        assert (copy / job / "superseded-damaged" / "summary.parquet").exists()  # kept aside
    summary = pd.read_parquet(copy / "aggregate" / "summary.parquet")
    assert len(summary) == 2 * 2


def test_aggregate_refuses_an_altered_table_in_one_line(copy):
    alter_byte(copy / "1" / "effects.parquet")
    proc = run_script("aggregate.py", str(copy), check=False)
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert f"{copy / '1' / 'effects.parquet'} does not match its checksum" in line
    assert "run the command that made it again" in line
    assert not (copy / "aggregate").exists()


def test_damage_a_rerun_keeps_is_reported_with_the_way_out_that_works(copy):
    """Random bytes in a table whose recorded checksum matches them (altered with its checksum,
    or written so): running the command again keeps the job as it is, so the error says to
    delete the job; doing what it says gives the report."""
    job = copy / "1"
    (job / "effects.parquet").write_bytes(bytes(range(256)) * 8)
    recorded = json.loads((job / store.CHECKSUMS).read_text())
    recorded["effects.parquet"] = outputs.file_checksum(job / "effects.parquet")
    (job / store.CHECKSUMS).write_text(json.dumps(recorded))
    again = run_script("run.py", *sweep_command(copy), check=False)
    assert again.returncode == 1  # the re-run kept it: the advice to run again would not work
    proc = run_script("aggregate.py", str(copy), check=False)
    line = one_error_line(proc.stderr)
    assert f"{job / 'effects.parquet'}: unreadable (" in line
    assert line.endswith(f"delete the folder {job} and run the sweep's command again")
    shutil.rmtree(job)
    run_script("run.py", *sweep_command(copy))
    assert run_script("aggregate.py", str(copy)).returncode == 0


def test_a_job_without_checksums_is_accepted_when_its_tables_read(copy):
    """Jobs of a version that recorded no checksums: done if pyarrow reads their tables."""
    job = copy / "0"
    key = store.job_key_of(job)
    (job / store.CHECKSUMS).unlink()
    assert store.previous_result(job, key) == "done"
    truncate(job / "departments.parquet")
    assert store.previous_result(job, key) == "damaged"
    assert not (job / "summary.parquet").exists()


# --- the baseline cache -----------------------------------------------------------------------


def test_a_damaged_baseline_cache_is_rebuilt_with_a_note(copy):
    before = pd.read_parquet(copy / "0" / "timeseries.parquet")
    (copy / "0" / "summary.parquet").unlink()  # job 0 runs again and reads the cache
    cache = copy / ".baselines"
    first, second = sorted(cache.glob("*.checksums.json"))
    city = first.with_name(first.name.replace(".checksums.json", ".city.parquet"))
    truncate(city)
    second.write_text('{"city": {"sha256"')
    proc = run_script("run.py", *sweep_command(copy))
    assert proc.stdout.count("already done, skipped") == 1
    assert (
        f"note: baseline cache {city} does not match its checksum (truncated or altered): "
        "deleted, computed again" in proc.stderr
    )
    assert f"note: baseline cache {second} is unreadable (JSONDecodeError" in proc.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(copy / "0" / "timeseries.parquet"), before)
    for marker in (first, second):
        stem = marker.with_name(marker.name.removesuffix(".checksums.json"))
        assert cached_baseline(stem) is not None  # rebuilt and intact


def test_a_cache_that_cannot_be_written_does_not_fail_the_job(
    finished, tmp_path, monkeypatch, capsys
):
    stem = next((finished / ".baselines").glob("*.checksums.json"))
    stem = stem.with_name(stem.name.removesuffix(".checksums.json"))
    result = cached_baseline(stem)
    monkeypatch.setattr(os, "write", fail("write", errno.ENOSPC))
    cache_baseline(tmp_path / "cache" / "entry", result)
    monkeypatch.undo()
    assert "note: baseline cache not kept: cannot write" in capsys.readouterr().err
    assert cached_baseline(tmp_path / "cache" / "entry") is None
    assert leftovers(tmp_path) == []


# --- damaged metadata -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "contents"),
    [
        ("0/config.yaml", b"replicates: [2\nseed: 0\n"),
        ("0/job.json", b"[]"),
        ("sweep.json", b'{"definition": "abc", "jobs": [1, 2]}'),
        ("1/error.json", b'{"label": "cohort_size=800", "err'),
    ],
)
def test_aggregate_names_a_damaged_metadata_file_in_one_line(copy, name, contents):
    if name.endswith("error.json"):
        (copy / "1" / "summary.parquet").unlink()  # job 1 failed
    (copy / name).write_bytes(contents)
    proc = run_script("aggregate.py", str(copy), check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if str(copy / name) in line]
    assert len(lines) == 1, proc.stderr


@pytest.mark.parametrize(
    ("name", "contents"),
    [
        ("config.yaml", b"replicates: [2\nseed: 0\n"),
        ("config.yaml", b"just a line\n"),
        ("job.json", b'{"key": "abc", "lab'),
        ("timeseries.parquet", b"PAR1 truncated"),
    ],
)
def test_rerun_names_a_damaged_file_in_one_line(copy, name, contents):
    (copy / "0" / name).write_bytes(contents)
    proc = run_script("rerun.py", str(copy / "0"), check=False)
    assert proc.returncode == 2
    line = one_error_line(proc.stderr)
    assert line.startswith(f"error: {copy / '0' / name}: unreadable (")
    assert "run the command that made it again" in line


# --- spreadsheet-safe CSV ---------------------------------------------------------------------


def test_csv_text_cells_are_escaped_and_numbers_stay_numbers(tmp_path):
    df = pd.DataFrame({"label": ["=1+1", "-x", "plain"], "gain": [-1.5, 2.0, 0.25]})
    parquet, csv = outputs.write_table(df, tmp_path / "designs")
    lines = csv.read_text().splitlines()
    assert lines == ["label,gain", "'=1+1,-1.5", "'-x,2.0", "plain,0.25"]
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), df)  # Parquet keeps the text


def test_exported_organisation_csv_is_spreadsheet_safe(tmp_path):
    departments = [
        {"id": "water", "headcount": 6, "name": "=HYPERLINK(1)"},
        {"id": "roads", "headcount": 4, "name": "@roads"},
    ]
    model = ExchangeModel(tiny_config(tmp_path, departments, [practice("p1")]), seed=1)
    paths = export_organisation(model, tmp_path / "export")
    model.release()
    text = paths["departments"].read_text()
    assert "'=HYPERLINK(1)" in text and "'@roads" in text
    weights = pd.read_csv(paths["departments"]).baseline_quality
    assert weights.dtype == float  # numbers are not escaped


def test_a_complete_report_is_never_replaced_with_a_partial_one(copy):
    before = {p.name: p.read_bytes() for p in (copy / "aggregate").iterdir() if p.is_file()}
    assert json.loads(before["provenance.json"])["complete"] is True
    shutil.rmtree(copy / "1")  # a job lost after the sweep ended
    proc = run_script("aggregate.py", str(copy), check=False)
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert "job 1: its folder is gone" in line
    assert f"the complete report in {copy / 'aggregate'} is kept" in line
    after = {p.name: p.read_bytes() for p in (copy / "aggregate").iterdir() if p.is_file()}
    assert after == before
    assert leftovers(copy) == []
    run_script("run.py", *sweep_command(copy))  # what the line says to do
    assert json.loads((copy / "aggregate" / "provenance.json").read_text())["complete"] is True


def test_jobs_of_different_cities_put_together_are_not_compared(finished, tmp_path):
    other = tmp_path / "other_city"
    args = [a for a in ARGS if not a.startswith(("program.", "hydra/launcher"))]
    run_script("run.py", *args, "scenario.scale=0.02", f"hydra.run.dir={other}")
    mixed = tmp_path / "mixed"
    shutil.copytree(finished / "0", mixed / "0")
    shutil.copytree(other, mixed / "1")
    proc = run_script("aggregate.py", str(mixed), check=False)
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert "jobs 0 and 1" in line and "differ in scenario.scale (0.01 and 0.02)" in line
    assert not (mixed / "aggregate").exists()


def test_a_file_where_a_job_folder_goes_is_refused_before_any_work(copy):
    shutil.rmtree(copy / "1")
    (copy / "1").write_text("the user's notes\n")
    report = (copy / "aggregate" / "provenance.json").read_bytes()
    proc = run_script("run.py", *sweep_command(copy), check=False)
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert f"{copy / '1'}: a file where job 1's folder goes" in line
    assert (copy / "1").read_text() == "the user's notes\n"
    assert (copy / "aggregate" / "provenance.json").read_bytes() == report  # nothing was done


@pytest.mark.parametrize(("signum", "code", "how"), [(signal.SIGTERM, 143, "SIGTERM"),
                                                      (signal.SIGINT, 130, "Ctrl-C")])  # fmt: skip
def test_a_signal_stops_an_aggregation_in_one_line_keeping_the_last_report(copy, signum, code, how):
    from tests.jobs.test_reliability import _group_alive

    before = {p.name: p.read_bytes() for p in (copy / "aggregate").iterdir() if p.is_file()}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "experiments" / "aggregate.py"), str(copy)], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, **ONE_THREAD},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(copy.glob(".aggregate.*.tmp/figures")) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert proc.poll() is None, "the aggregation ended before the signal"
    proc.send_signal(signum)  # while the figures are drawn (by forked processes)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err[-2000:]
    (line,) = err.strip().splitlines()
    assert line.startswith(f"stopped ({how}): the aggregation did not finish")
    time.sleep(0.5)
    assert _group_alive(proc.pid) == []
    assert not list(copy.glob(".aggregate*"))
    after = {p.name: p.read_bytes() for p in (copy / "aggregate").iterdir() if p.is_file()}
    assert after == before  # the last report is kept
