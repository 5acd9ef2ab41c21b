"""A sweep folder and its current definition (`sweep.json`): which jobs belong to it.

Running a command writes the sweep's definition before any job starts: its command, run-level
settings (reference design, report), and, for a grid (Hydra's basic sweeper), the key of every job
by job number. Job folders that do not belong to the current definition are moved aside into
`superseded/` (or renumbered when the same job moved to another number), so a sweep aggregates
exactly the jobs of its current definition. An optimising sweeper picks its jobs as it goes: when
its definition changes, every earlier job folder is moved aside.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from experiments.outputs import write_json

MANIFEST = "sweep.json"
SUPERSEDED = "superseded"


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
        return data
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{path}: unreadable sweep definition ({err}); delete it to start over"
        ) from None


def job_key_of(folder: Path) -> str | None:
    """The key recorded in a job folder's job.json (None if there is none)."""
    try:
        return json.loads((folder / "job.json").read_text(encoding="utf-8"))["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _aside(folder: Path, sweep_dir: Path, definition: str) -> Path:
    dest = Path(sweep_dir) / SUPERSEDED / definition / folder.name
    n = 1
    while dest.exists():
        dest = dest.with_name(f"{folder.name}.{n}")
        n += 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder), dest)
    return dest


def prepare(sweep_dir: Path, manifest: dict) -> list[str]:
    """Make `sweep_dir` hold only jobs of `manifest`'s definition, then write the manifest.

    Returns notes for the terminal. The previous aggregate is removed: it is made again from the
    current jobs when the sweep ends.
    """
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    try:
        old = read_manifest(sweep_dir)
    except ValueError:
        old = None
    old_definition = old["definition"] if old else "unknown"
    notes = []
    if old is None or old["definition"] != manifest["definition"]:
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
    shutil.rmtree(sweep_dir / "aggregate", ignore_errors=True)
    write_json(sweep_dir / MANIFEST, manifest)
    return notes


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
    except ValueError as err:
        print(f"warning: {err}", file=sys.stderr)
        return {}
    return dict(manifest.get("settings", {})) if manifest else {}
