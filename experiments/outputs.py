"""Writing results: atomic files (temporary name, then rename) and provenance records.

Files get the permissions of any file the user creates (0666 less the umask), so results on a
shared folder are readable by others: `tempfile.mkstemp` alone would leave them 0600.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

import sim
from experiments import identity


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


#: Mode of a newly created file under this process's umask.
FILE_MODE = 0o666 & ~_umask()


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` so that readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_table(df: pd.DataFrame, stem: Path, csv: bool = True) -> list[Path]:
    """Write `stem`.parquet (and `stem`.csv for spreadsheet users), each atomically."""
    stem = Path(stem)
    paths = []
    parquet = stem.with_suffix(".parquet")
    tmp = parquet.with_name(f".{parquet.name}.tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, parquet)
    paths.append(parquet)
    if csv:
        paths.append(atomic_write_text(stem.with_suffix(".csv"), df.to_csv(index=False)))
    return paths


def git_commit() -> str | None:
    """The repository's current commit (with '+dirty' for local changes), or None."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(**extra) -> dict:
    """What is needed to reproduce a result: command, date, code digest (contents), git commit
    (for orientation), package versions, platform."""
    return {
        "command": " ".join(sys.argv),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "package_version": sim.__version__,
        "code_digest": identity.code_digest(),
        "git_commit": git_commit(),
        "packages": identity.package_versions(),
        "platform": platform.platform(),
        **extra,
    }


def write_json(path: Path, data: dict) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")
