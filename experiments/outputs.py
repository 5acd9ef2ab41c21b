"""Writing results: atomic files (temporary name, then rename) and provenance records."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import pandas as pd


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` so that readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
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


def code_version() -> str:
    """Package version and git commit: results from different code are never mixed."""
    import sim

    return f"{sim.__version__}@{git_commit()}"


def provenance(**extra) -> dict:
    """Versions and environment needed to reproduce a result."""
    import hydra
    import mesa
    import numpy

    import sim

    return {
        "package_version": sim.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "mesa": mesa.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "hydra": hydra.__version__,
        "platform": platform.platform(),
        **extra,
    }


def write_json(path: Path, data: dict) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")
