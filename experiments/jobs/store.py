"""A sweep folder and its current definition (`sweep.json`): which jobs belong to it.

Running a command writes the sweep's definition before any job starts: its command, run-level
settings (reference design, report), and, for a grid (Hydra's basic sweeper), the key of every job
by job number. Job folders that do not belong to the current definition are moved aside into
`superseded/` (or renumbered when the same job moved to another number), so a sweep aggregates
exactly the jobs of its current definition. An optimising sweeper picks its jobs as it goes: when
its definition changes, every earlier job folder is moved aside.

A finished job records the sha256 and size of every file it wrote in `checksums.json` (written
just before `summary.parquet`, the job's done marker). Resuming and aggregating verify them: a job
whose files are missing, truncated or altered is redone, never reported. Jobs of a version
without checksums are verified by reading their tables and metadata.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from experiments import PROJECT
from experiments.jobs import identity
from experiments.jobs.outputs import (
    atomic_write_bytes,
    checksum,
    csv_bytes,
    file_checksum,
    json_bytes,
    make_folder,
    storage_error,
    table_files,
    write_json,
)
from sim.errors import StorageError, UserError, one_line
from sim.inputs.spreadsheet import unescape_cell

MANIFEST = "sweep.json"
#: The lock a command holds while it writes in a sweep folder (`writing`): one writer at a time.
LOCK = ".writing.lock"
#: The folders of the project's source (under `PROJECT`): never a results folder (results there
#: would change the code's digest, and so every job's key, or mix with the code).
SOURCE_FOLDERS = ("sim", "experiments", "configs", "tests", "docs", "benchmarks", "examples",
                  "hydra_plugins", ".git")  # fmt: skip
SUPERSEDED = "superseded"
CHECKSUMS = "checksums.json"
#: What to do about a finished job whose files are damaged.
REDO = "run the command that made it again (a sweep redoes just this job)"


class SweepFileError(UserError):
    """A sweep's or job's own file (sweep.json, job.json, config.yaml) is unreadable or
    malformed; the message names it and what to do."""


def job_folders(sweep_dir: Path) -> list[Path]:
    """Numbered job folders of a sweep, in job order."""
    found = [p for p in Path(sweep_dir).iterdir() if p.is_dir() and p.name.isdigit()]
    return sorted(found, key=lambda p: int(p.name))


def read_manifest(sweep_dir: Path) -> dict | None:
    """The sweep's current definition, or None for a folder without one (a single run, or a
    sweep made by hand)."""
    path = Path(sweep_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "definition" not in data:
            raise ValueError("no definition")
        if not isinstance(data.get("jobs"), dict | None):
            raise ValueError("its jobs are not a table of job numbers")
        if not isinstance(data.get("settings", {}), dict):
            raise ValueError("its settings are not a table")
        return data
    except (OSError, ValueError) as err:
        raise SweepFileError(
            f"{path}: unreadable sweep definition ({one_line(err)}); delete it and run the "
            "sweep's command again (finished jobs are kept)"
        ) from None


def job_key_of(folder: Path) -> str | None:
    """The key recorded in a job folder's job.json (None if there is none)."""
    try:
        return json.loads((folder / "job.json").read_text(encoding="utf-8"))["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_job(folder: Path) -> dict:
    """A job's job.json; SweepFileError naming it when it is unreadable or malformed."""
    path = Path(folder) / "job.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a table of fields")
        missing = [k for k in ("key", "label", "extra_columns") if k not in data]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        return data
    except (OSError, ValueError) as err:
        raise SweepFileError(f"{path}: unreadable ({one_line(err)}); {REDO}") from None


#: Settings every job's config.yaml holds (read by the aggregate and rerun.py).
CONFIG_KEYS = ("replicates", "seed", "horizon", "target_gain", "scenario", "program", "behavior")


def read_config(folder: Path) -> DictConfig:
    """A job's resolved config.yaml; SweepFileError naming it when unreadable or malformed."""
    path = Path(folder) / "config.yaml"
    try:
        cfg = OmegaConf.load(path)
        if not isinstance(cfg, DictConfig):
            raise ValueError("not a table of settings")
        missing = [k for k in CONFIG_KEYS if k not in cfg]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        return cfg
    except (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException) as err:
        raise SweepFileError(f"{path}: unreadable ({one_line(err)}); {REDO}") from None


def read_error(folder: Path) -> dict:
    """A failed job's label and error from its error.json (an unreadable one says so)."""
    path = Path(folder) / "error.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a table of fields")
        return {"label": data.get("label"), "error": data.get("error")}
    except (OSError, ValueError) as err:
        return {"label": None, "error": f"failed (unreadable {path}: {one_line(err)})"}


def _aside(folder: Path, sweep_dir: Path, definition: str) -> Path:
    dest = Path(sweep_dir) / SUPERSEDED / definition / folder.name
    n = 1
    while dest.exists():
        dest = dest.with_name(f"{folder.name}.{n}")
        n += 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder), dest)
    return dest


def check_owned(sweep_dir: Path, setting: str = "hydra.sweep.dir", mark: str = MANIFEST) -> None:
    """Refuse, in one line and before any work, a sweep folder that is not a sweep's to write:
    the project's folder or one of its source folders, a file, or a folder that holds anything
    but has no sweep definition (`mark`; a single run's folder: Hydra's `.hydra`): a sweep or
    run writes only into a new or empty folder, or into one of its kind, so that nothing of
    the user's is ever moved, overwritten or deleted."""
    folder = Path(sweep_dir).resolve()
    if folder == PROJECT or any(folder.is_relative_to(PROJECT / s) for s in SOURCE_FOLDERS):
        raise UserError(
            f"{setting}={sweep_dir}: that is the project's source ({folder}), never a results "
            "folder; choose a folder under results/ or outside the project (nothing was written)"
        )
    if not folder.exists() or (folder / mark).exists():
        return
    if not folder.is_dir():
        raise UserError(f"{setting}={sweep_dir}: a file, not a folder (nothing was written)")
    try:
        held = sorted(p.name for p in folder.iterdir() if p.name != LOCK)
    except OSError as err:
        raise storage_error(folder, err, "list") from None
    if held:
        shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
        raise UserError(
            f"{setting}={sweep_dir}: the folder holds {shown} and no {mark}, so it is not a "
            f"{'sweep' if mark == MANIFEST else 'run'}'s; a command writes only into a new or "
            "empty folder, or one of its kind: choose another folder (nothing was written, "
            "nothing moved)"
        )


@contextlib.contextmanager
def writing(folder: Path, command: str):
    """Hold `folder`'s lock while `command` (words naming it) writes in it: a second writer (a
    sweep, an aggregation) is refused in one line naming the holder, before it changes
    anything. The operating system releases the lock when its holder ends, however it ends,
    so a stopped command never leaves the folder locked."""
    folder = make_folder(folder)
    try:
        handle = open(folder / LOCK, "a+", encoding="utf-8")  # noqa: SIM115 (held until the end)
    except OSError as err:
        raise storage_error(folder / LOCK, err, "create") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another command"
            raise UserError(
                f"{folder}: {holder} is writing in this folder; wait until it ends (or stop it), "
                "then run this command again (nothing was done)"
            ) from None
        handle.seek(0)
        handle.truncate()
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        handle.write(f"process {os.getpid()} ({command}, since {since})\n")
        handle.flush()
        yield folder
    finally:
        handle.close()  # releases the lock


def not_ours(report: Path) -> bool:
    """Whether `report` (a folder's `aggregate`) exists but was not written by an aggregation
    (which always writes its provenance.json): a folder of the user's, never to be replaced."""
    return report.exists() and not (report / "provenance.json").is_file()


def prepare(sweep_dir: Path, manifest: dict) -> list[str]:
    """Make `sweep_dir` hold only jobs of `manifest`'s definition, then write the manifest.

    Returns notes for the terminal. The previous aggregate is removed: it is made again from the
    current jobs when the sweep ends. The caller has checked the folder is the sweep's to write
    (`check_owned`) and holds its lock (`writing`).
    """
    sweep_dir = make_folder(sweep_dir)
    jobs = manifest.get("jobs")
    for entry in sweep_dir.iterdir():
        taken = jobs is None or entry.name in jobs  # an optimising sweeper: any number
        if entry.name.isdigit() and taken and not entry.is_dir():
            raise UserError(
                f"{entry}: a file where job {entry.name}'s folder goes; move or delete it, then "
                "run the command again (nothing was done)"
            )
    report = sweep_dir / AGGREGATE
    if not_ours(report):
        raise UserError(
            f"{report}: not an aggregate this command wrote (no provenance.json), where the "
            "sweep writes its report; move it elsewhere, then run the command again (nothing "
            "was done)"
        )
    try:
        old = read_manifest(sweep_dir)
    except SweepFileError:
        old = None
    notes = []
    if old is None or old["definition"] != manifest["definition"]:
        try:
            notes = _keep_only(sweep_dir, manifest, old["definition"] if old else "unknown")
        except OSError as err:
            raise storage_error(Path(err.filename or sweep_dir), err, "move") from None
    shutil.rmtree(report, ignore_errors=True)
    write_json(sweep_dir / MANIFEST, manifest)
    return notes


def _keep_only(sweep_dir: Path, manifest: dict, old_definition: str) -> list[str]:
    """Move aside (or renumber) job folders that are not jobs of `manifest`; notes for the
    terminal."""
    notes = []
    wanted = manifest.get("jobs")  # job number -> key, or None (optimising sweeper)
    by_key = {key: num for num, key in (wanted or {}).items()}
    staged = []
    for folder in job_folders(sweep_dir):
        key = job_key_of(folder)
        num = by_key.get(key) if key is not None else None
        if num is None:
            dest = _aside(folder, sweep_dir, old_definition)
            notes.append(f"job {folder.name} is not part of this sweep now: moved to {dest}")
        elif num != folder.name:
            tmp = sweep_dir / f".renumber-{folder.name}"
            shutil.move(str(folder), tmp)
            staged.append((tmp, num))
    for tmp, num in staged:
        target = sweep_dir / num
        if target.exists():
            _aside(target, sweep_dir, old_definition)
        shutil.move(str(tmp), target)
        notes.append(f"job {tmp.name.removeprefix('.renumber-')} is job {num} now (same job)")
    return notes


# --- a job's folder -----------------------------------------------------------------------------


def previous_result(out: Path, key: str) -> str:
    """'done' if `out` holds complete, intact results with this key; 'damaged' if they are not
    intact (see `damage`: moved aside and redone, said in one line); 'other' if it held results
    of another key (moved aside, never overwritten); 'none' otherwise. Leftover temporary files
    of an interrupted job are removed. StorageError when the folder refuses the moves."""
    for tmp in out.glob(".*.tmp*"):
        tmp.unlink(missing_ok=True)
    if not (out / "summary.parquet").exists():
        return "none"
    old = job_key_of(out)
    if old == key or (old is None and (out / "job.json").exists()):
        problem = damage(out)
        if problem is None and old == key:
            return "done"
        name, what = problem or ("job.json", "is unreadable")
        _move_files(out, out / "superseded-damaged")
        print(f"warning: job {out.name}: {name} {what}: redone", file=sys.stderr)
        return "damaged"
    aside = _move_files(out, out / f"superseded-{old or 'unknown'}")
    print(
        f"warning: {out} held results of another configuration, input or code version; "
        f"moved to {aside}",
        file=sys.stderr,
    )
    return "other"


def _move_files(out: Path, aside: Path) -> Path:
    """Move the files of `out` (not its folders) into `aside`."""
    try:
        aside.mkdir(exist_ok=True)
        for item in out.iterdir():
            if item.is_file():
                shutil.move(str(item), aside / item.name)
    except OSError as err:
        raise storage_error(Path(err.filename or aside), err, "move") from None
    return aside


def job_files(out: Path, tables: dict, config_yaml: str, job: dict, provenance: dict) -> dict:
    """A finished job's files (path -> contents) in the order they are written: checksums.json
    (every other file's sha256 and size) next to last, summary.parquet, the done marker, last."""
    files = {
        out / "config.yaml": config_yaml.encode("utf-8"),
        out / "department_ties.csv": csv_bytes(tables["department_ties"]),
    }
    for name in ("departments", "baseline", "effects"):
        files.update(table_files(tables[name], out / name, csv=False))
    files.update(table_files(tables["timeseries"], out / "timeseries"))
    files[out / "job.json"] = json_bytes(job)
    files[out / "provenance.json"] = json_bytes(provenance)
    summary = table_files(tables["summary"], out / "summary")
    marker = out / "summary.parquet"
    files[out / "summary.csv"] = summary[out / "summary.csv"]
    recorded = {path.name: checksum(data) for path, data in {**files, **summary}.items()}
    files[out / CHECKSUMS] = json_bytes(recorded)
    files[marker] = summary[marker]
    return files


def write_job(out: Path, tables: dict, config_yaml: str, job: dict, provenance: dict) -> None:
    """Write a finished job's files, each atomically, in the order of `job_files` (see the
    README's output files). On a StorageError the files written so far are removed: the job is
    not done and a full disk gets its space back."""
    written = []
    try:
        for path, data in job_files(out, tables, config_yaml, job, provenance).items():
            written.append(atomic_write_bytes(path, data))
    except StorageError:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise


def damage(folder: Path) -> tuple[str, str] | None:
    """The first of a finished job's files that is missing, truncated or altered, and what is
    wrong with it (`("summary.parquet", "does not match its checksum ...")`); None when the job
    is intact. A job without checksums.json (written before checksums were recorded) is checked
    by reading its tables with pyarrow and its job.json and config.yaml."""
    path = Path(folder) / CHECKSUMS
    if not path.exists():
        return _unreadable_file(Path(folder))
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(recorded, dict) or not all(
            isinstance(v, dict) for v in recorded.values()
        ):
            raise ValueError("not a table of files")
    except (OSError, ValueError) as err:
        return CHECKSUMS, f"is unreadable ({one_line(err)})"
    for name, expected in recorded.items():
        try:
            found = file_checksum(Path(folder) / name)
        except FileNotFoundError:
            return name, "is missing"
        except OSError as err:
            return name, f"is unreadable ({one_line(err)})"
        if found != expected:
            return name, "does not match its checksum (truncated or altered)"
    return None


def _unreadable_file(folder: Path) -> tuple[str, str] | None:
    """The first unreadable table or metadata file of a job without checksums."""
    for name in JOB_TABLES:
        try:
            pq.read_table(folder / f"{name}.parquet")
        except (OSError, ValueError) as err:
            return f"{name}.parquet", f"is unreadable ({one_line(err)})"
    for name, read in (("job.json", read_job), ("config.yaml", read_config)):
        try:
            read(folder)
        except SweepFileError:
            return name, "is unreadable"
    return None


@dataclass(frozen=True)
class Status:
    """Job folders of the current definition by state."""

    done: list[Path]
    failed: list[Path]
    missing: list[str]


def is_done(folder: Path, key: str | None = None) -> bool:
    """Complete results (summary.parquet is written last), with `key` if given."""
    if not (folder / "summary.parquet").exists():
        return False
    return key is None or job_key_of(folder) == key


def status(sweep_dir: Path) -> Status:
    """Which jobs of the current definition are done, failed or missing.

    Without a manifest (a folder made by hand or by an older version), every numbered folder
    counts; a single run's folder is its own one job.
    """
    sweep_dir = Path(sweep_dir)
    if (sweep_dir / "summary.parquet").exists() or (sweep_dir / "error.json").exists():
        single = is_done(sweep_dir)
        return Status([sweep_dir] if single else [], [] if single else [sweep_dir], [])
    manifest = read_manifest(sweep_dir)
    wanted = manifest.get("jobs") if manifest else None
    if wanted is None:
        folders = {f.name: (f, None) for f in job_folders(sweep_dir)}
    else:
        folders = {num: (sweep_dir / num, key) for num, key in wanted.items()}
    done, failed, missing = [], [], []
    for num, (folder, key) in sorted(folders.items(), key=lambda kv: int(kv[0])):
        if is_done(folder, key):
            done.append(folder)
        elif (folder / "error.json").exists():
            failed.append(folder)
        else:
            missing.append(num)
    return Status(done, failed, missing)


def settings(sweep_dir: Path) -> dict:
    """Run-level settings of the sweep's current definition (reference design, report, ...)."""
    try:
        manifest = read_manifest(sweep_dir)
    except SweepFileError as err:
        print(f"warning: {err}", file=sys.stderr)
        return {}
    return dict(manifest.get("settings", {})) if manifest else {}


# --- the aggregate of a folder ----------------------------------------------------------------

AGGREGATE = "aggregate"


class AggregationError(Exception):
    """The aggregation could not be made; the message is one line naming the cause."""


class Refused(AggregationError):
    """The aggregation was refused before it changed anything: the folder is not one of ours,
    or a report of every job would be replaced with one that lacks some."""


def changed_since_planned(sweep_dir: Path, number: str, key: str, digests: dict) -> str | None:
    """Why job `number` no longer is the job the sweep planned (its key differs from sweep.json's):
    the input files edited since, named, or the code or packages; None when it is the same job
    or the sweep planned no keys (an optimising sweeper)."""
    manifest = read_manifest(sweep_dir) or {}
    planned = (manifest.get("jobs") or {}).get(number)
    if planned is None or planned == key:
        return None
    before = (manifest.get("inputs") or {}).get(number) or {}
    edited = [path for setting, (path, digest) in before.items() if digests.get(setting) != digest]
    what = ", ".join(edited) if edited else "the code or the installed packages"
    return (
        f"{what} changed after the sweep was planned (job {number} is not the job it planned); "
        "run the sweep's command again to plan it with the files as they are now"
    )


def unreadable(path: Path, err: BaseException) -> AggregationError:
    """A job's table that cannot be read, with the way out that works: running the command
    again redoes a job whose checksums show the damage; one whose checksums match what cannot
    be read (written so, or altered with them) would be kept as it is, so it must be deleted."""
    job = path.parent
    kept = (job / CHECKSUMS).exists() and damage(job) is None
    way_out = f"delete the folder {job} and run the sweep's command again" if kept else REDO
    return AggregationError(f"{path}: unreadable ({one_line(err)}); {way_out}")


def _read(folder: Path, name: str) -> pd.DataFrame:
    path = folder / f"{name}.parquet"
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise unreadable(path, err) from None


#: Columns of a job's department_ties.csv (`ExchangeModel.department_ties`).
TIE_COLUMNS = ["department", "other_department", "ties"]


def _department_ties(folder: Path) -> pd.DataFrame:
    """A job's department_ties.csv, its spreadsheet escaping undone."""
    path = folder / "department_ties.csv"
    try:
        ties = pd.read_csv(path, dtype={"department": str, "other_department": str})
    except (OSError, ValueError) as err:
        raise unreadable(path, err) from None
    if list(ties.columns) != TIE_COLUMNS or not pd.api.types.is_integer_dtype(ties["ties"]):
        columns = ", ".join(map(str, ties.columns))
        err = ValueError(f"columns {columns}, expected {', '.join(TIE_COLUMNS)} with whole ties")
        raise unreadable(path, err)
    for column in TIE_COLUMNS[:2]:
        ties[column] = ties[column].map(unescape_cell)
    return ties


def _check_intact(folder: Path, state: Status) -> None:
    """AggregationError naming the first damaged file of a finished job (also of one that looks
    finished but whose job.json no longer says so): such a job is redone, never reported."""
    looks_done = [
        folder / num for num in state.missing if (folder / num / "summary.parquet").exists()
    ]
    for job in [*state.done, *looks_done]:
        problem = damage(job)
        if problem is not None:
            name, what = problem
            raise AggregationError(f"{job / name} {what}; {REDO}")


def failed_jobs(state: Status) -> pd.DataFrame:
    """Jobs of the current definition that failed: job, design label, error."""
    rows = []
    for folder in state.failed:
        data = read_error(folder)
        rows.append({"job": folder.name, "design": data["label"], "error": data["error"]})
    return pd.DataFrame(rows, columns=["job", "design", "error"])


def problems(state: Status) -> list[str]:
    """One line for each job of the current definition that failed or did not finish."""
    lines = []
    for folder in state.failed:
        data = read_error(folder)
        label = f" ({data['label']})" if data["label"] is not None else ""
        lines.append(f"job {folder.name}{label}: {data['error']}")
    return lines + [f"job {num}: did not finish" for num in state.missing]


#: Tables every job writes (besides department_ties.csv).
JOB_TABLES = ("summary", "timeseries", "baseline", "effects", "departments")


@dataclass(frozen=True)
class JobTables:
    """The finished jobs of a folder as read from the store: each job's tables (`JOB_TABLES`
    and department_ties), what the aggregate says about them (`meta`) and the run's `reference`
    design; `experiments.analysis.tables.combine` makes a sweep's tables of them."""

    jobs: list[dict[str, pd.DataFrame]]
    meta: dict
    reference: str | None


def read_jobs(folder: Path, state: Status | None = None) -> JobTables:
    """Read every finished job of the folder's current definition (`state`, read if not given)."""
    folder = Path(folder)
    state = status(folder) if state is None else state
    dirs = state.done
    _check_intact(folder, state)
    if not dirs:
        raise AggregationError(f"{folder}: no finished job to aggregate")
    jobs = []
    for d in dirs:
        job = {name: _read(d, name) for name in JOB_TABLES}
        job["department_ties"] = _department_ties(d)
        jobs.append(job)
    cfg = read_config(dirs[0])
    if read_manifest(folder) is None:
        check_one_city(dirs)
    run_settings = settings(folder) or {"reference": cfg.get("reference")}
    try:
        meta = _meta(folder, cfg, jobs[0]["timeseries"], len(dirs), state)
    except (OmegaConfBaseException, AttributeError, KeyError, TypeError, ValueError) as err:
        raise AggregationError(
            f"{dirs[0] / 'config.yaml'}: malformed ({one_line(err)}); {REDO}"
        ) from None
    meta["discount_rate"] = run_settings.get("discount_rate", cfg.get("discount_rate"))
    pick = optimiser_pick(folder)
    if pick:
        meta["optimiser_pick"] = pick
    meta["provenance"] = _provenance(folder, dirs)
    meta["provenance"]["complete"] = not (state.failed or state.missing)
    posterior = _json(dirs[0] / "job.json").get("posterior")
    if posterior:
        meta["posterior"] = posterior
    return JobTables(jobs, meta, run_settings.get("reference"))


#: Settings every job of one comparison shares: the designs are paired in one city, seed by
#: seed, over one horizon (the program's settings are what differs between designs).
SAME_CITY = ("scenario", "horizon", "replicates", "seed", "posterior", "behavior", "network")


def check_one_city(dirs: list[Path]) -> None:
    """AggregationError when jobs gathered without a sweep definition (put together by hand)
    simulate different cities or settings: their designs cannot be compared."""
    first = OmegaConf.to_container(read_config(dirs[0]))
    for job in dirs[1:]:
        cfg = OmegaConf.to_container(read_config(job))
        for key in SAME_CITY:
            where = _difference(first.get(key), cfg.get(key), key)
            if where is not None:
                setting, a, b = where
                raise AggregationError(
                    f"jobs {dirs[0].name} and {job.name} of {job.parent} differ in {setting} "
                    f"({a!r} and {b!r}): designs are compared in one city with the same seeds "
                    "and settings; aggregate each sweep's jobs in a folder of their own"
                )


def _difference(a, b, key: str) -> tuple[str, object, object] | None:
    """The first setting under `key` whose values differ (setting, a, b), or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for sub in sorted(set(a) | set(b)):
            found = _difference(a.get(sub), b.get(sub), f"{key}.{sub}")
            if found is not None:
                return found
        return None
    return None if a == b else (key, a, b)


#: What an optimising sweeper (hydra-optuna-sweeper) writes at the end: its best parameters
#: and best value (the objective `run.run_and_write` returns: mean gain in index points).
OPTIMISER_RESULTS = "optimization_results.yaml"


def optimiser_pick(folder: Path) -> dict:
    """The optimiser's own pick ({'best_params': {...}, 'best_value': points}), or {} without
    one or when it cannot be read (the report then leaves it out)."""
    try:
        data = yaml.safe_load((Path(folder) / OPTIMISER_RESULTS).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("best_params"), dict):
        return {}
    return {"best_params": data["best_params"], "best_value": data.get("best_value")}


def _meta(folder: Path, cfg, first: pd.DataFrame, jobs: int, state: Status) -> dict:
    """Facts about what was run, for the report (from the first job's configuration and
    monthly table)."""
    meta = {
        "folder": str(folder),
        "jobs": jobs,
        "replicates": int(cfg.replicates),
        "horizon_months": int(cfg.horizon),
        "scale": float(cfg.scenario.scale),
        "scenario": scenario_of(cfg.scenario),
        "organisation": organisation_of(cfg.scenario),
        "seeds": f"{cfg.seed}..{cfg.seed + cfg.replicates - 1}",
        "mechanism": str(cfg.behavior.mechanism),
        "target_gain": float(cfg.target_gain),
        "real_staff": int(first.staff.iloc[0]),
        "simulated_staff": int(first.simulated_staff.iloc[0]),
        "experiment": str(cfg.get("experiment", "default")),
        "cost_per_staff_month": float(cfg.program.cost_per_staff_month),
    }
    budget = cfg.get("budget")
    if budget is not None and budget.get("staff_months_per_year") is not None:
        meta["budget"] = f"{budget.staff_months_per_year:g} staff-months abroad per year"
    elif budget is not None and budget.get("money_per_year") is not None:
        meta["budget"] = f"IDR {budget.money_per_year / 1000:g} billion per year"
    failed = failed_jobs(state)
    if len(failed) or state.missing:
        parts = [f"{f.design}: {f.error}" for f in failed.itertuples()]
        parts += [f"job {num}: did not finish" for num in state.missing]
        meta["failed_jobs"] = parts
    return meta


def _own_files(scenario) -> list[str]:
    """The user's own organisation files of a scenario, as 'departments my.csv'."""
    pairs = (("departments", scenario.departments_file), ("roster", scenario.roster_file))
    return [f"{what} {Path(path).name}" for what, path in pairs if path]


def organisation_of(scenario) -> str:
    """Whose staff were simulated, as the report says it: Jakarta's (the packaged table) or the
    organisation of the user's own files, named."""
    files = _own_files(scenario)
    if not files:
        return "Jakarta's provincial government"
    return f"the organisation of {' and '.join(files)}"


def scenario_of(scenario) -> str:
    """The scenario's name, with the user's own files when they replace Jakarta's."""
    files = _own_files(scenario)
    name = str(scenario.name)
    return f"{name} with {' and '.join(files)}" if files else name


def _provenance(folder: Path, dirs: list[Path]) -> dict:
    """How the results were made: command, date, the jobs' code digest, git commit and package
    versions (as each job recorded them), the key of every job used."""
    manifest = {}
    with contextlib.suppress(SweepFileError):
        manifest = read_manifest(folder) or {}
    jobs = {d.name: _json(d / "job.json") for d in dirs}
    runs = {d.name: _json(d / "provenance.json") for d in dirs}
    command = manifest.get("command")
    if command is None:
        command = runs[dirs[0].name].get("command", "unknown").split()

    def one(values) -> str:
        distinct = sorted({str(v) for v in values})
        return distinct[0] if len(distinct) == 1 else "several: " + ", ".join(distinct)

    packages = [j.get("packages", {}) for j in jobs.values()]
    return {
        "command": " ".join(command),
        "aggregated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "run_at": one(r.get("date", "unknown") for r in runs.values())
        if len(runs) == 1
        else f"{min(r.get('date', '?') for r in runs.values())} to "
        f"{max(r.get('date', '?') for r in runs.values())}",
        "code_digest": one(j.get("code_digest") for j in jobs.values()),
        "git_commit": one(r.get("git_commit") for r in runs.values()),
        "packages": {k: one(p.get(k) for p in packages) for k in packages[0]},
        "aggregated_with_code": identity.code_digest(),
        "definition": manifest.get("definition"),
        "jobs": {name: j.get("key") for name, j in jobs.items()},
    }


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise AggregationError(f"{path}: unreadable ({one_line(err)}); {REDO}") from None
    return data if isinstance(data, dict) else {}


def check_results_folder(folder: Path) -> None:
    """AggregationError unless `folder` holds results this project made: a sweep's (its
    definition, or numbered job folders), or a single run's (Hydra's .hydra, a job's files),
    and an `aggregate` in it, if any, is one of ours: an aggregation writes and replaces only
    its own files, never a folder of the user's."""
    folder = Path(folder)
    if not folder.is_dir():
        raise Refused(f"{folder}: not a folder; give the folder a sweep or run wrote")
    marks = (MANIFEST, ".hydra", "summary.parquet", "error.json", "job.json")
    if not (any((folder / m).exists() for m in marks) or job_folders(folder)):
        raise Refused(
            f"{folder}: not a sweep's or a run's folder (no {MANIFEST}, .hydra or numbered "
            "job folders); give the folder a sweep or run wrote"
        )
    final = folder / AGGREGATE
    if not_ours(final):
        raise Refused(
            f"{final}: not an aggregate this command wrote (no provenance.json); move it "
            "elsewhere, then aggregate again (nothing was changed)"
        )


def check_not_partial(folder: Path, state: Status) -> None:
    """Refused when some jobs of the folder's definition failed or did not finish (`state`)
    while its report covers every one of them (made from the same definition): a complete
    report is never replaced with a partial one."""
    if not (state.failed or state.missing):
        return
    try:
        made = json.loads((folder / AGGREGATE / "provenance.json").read_text(encoding="utf-8"))
        manifest = read_manifest(folder) or {}
    except (OSError, ValueError, SweepFileError):
        return
    if not isinstance(made, dict) or made.get("complete") is not True:
        return
    if made.get("definition") != manifest.get("definition"):
        return  # a report of another definition: not this sweep's, so not kept
    lacking = [*state.failed, *(folder / num for num in state.missing)]
    first = f"job {lacking[0].name}: {_why_not_done(lacking[0])}"
    more = f" and {len(lacking) - 1} more" if len(lacking) > 1 else ""
    raise Refused(
        f"{first}{more}, but the report covers every job: the complete report in "
        f"{folder / AGGREGATE} is kept; run the sweep's command again to redo those jobs, "
        "then aggregate"
    )


def _why_not_done(job: Path) -> str:
    """Why a job of the definition has no results now: its error, a damaged file, or none."""
    if (job / "error.json").exists():
        return str(read_error(job)["error"])
    if not job.is_dir():
        return "its folder is gone"
    problem = damage(job)
    if problem is not None:
        return f"{job / problem[0]} {problem[1]}"
    try:
        read_job(job)
    except SweepFileError as err:
        return str(err).split("; ")[0]
    return "did not finish"


def read_designs(folder: Path) -> pd.DataFrame:
    """The designs table of an aggregated folder."""
    return pd.read_parquet(Path(folder) / AGGREGATE / "designs.parquet")
