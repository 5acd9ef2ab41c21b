"""Writing results: atomic files (temporary name, then rename), checksums and provenance records.

Files get the permissions of any file the user creates (0666 less the umask), so results on a
shared folder are readable by others: `tempfile.mkstemp` alone would leave them 0600. A write
that fails (full disk, read-only folder, a file where a folder should be) leaves the previous
file as it was and no temporary file, and raises `StorageError` with one line naming the file.
CSV tables are spreadsheet-safe: text cells that would run as a formula are escaped.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
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
from experiments.jobs import identity
from sim.errors import StorageError
from sim.inputs.export import spreadsheet_safe


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


#: Mode of a newly created file under this process's umask.
FILE_MODE = 0o666 & ~_umask()

#: What to do about a failed write, by errno.
_REMEDIES = {
    errno.ENOSPC: "free space on that disk or choose another output folder",
    errno.EDQUOT: "free space within your quota or choose another output folder",
    errno.EROFS: "choose a writable output folder",
    errno.EACCES: "choose a writable output folder",
    errno.EPERM: "choose a writable output folder",
    errno.ENOTDIR: "part of the path is a file, not a folder: choose another output folder",
    errno.EEXIST: "a file is in the way of the folder: move it or choose another output folder",
}
_HINT = " (hydra.sweep.dir=... for a sweep, hydra.run.dir=... for a run)"


def storage_error(
    path: Path, err: OSError, action: str = "write", hint: str = _HINT
) -> StorageError:
    """A one-line StorageError: what could not be done to `path`, why, and what to do (`hint`:
    how this command chooses its output folder)."""
    why = str(err) if err.errno is None else f"{os.strerror(err.errno)} (errno {err.errno})"
    remedy = _REMEDIES.get(err.errno, "check the disk and the folder, then run the command again")
    hint = hint if "output folder" in remedy else ""
    return StorageError(f"cannot {action} {path}: {why}: {remedy}{hint}")


def make_folder(folder: Path) -> Path:
    """Create `folder` (and its parents) if needed; StorageError if it cannot be."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise storage_error(folder, err, "create folder") from None
    return folder


def check_writable(folder: Path, hint: str = _HINT) -> None:
    """StorageError unless files can be created in `folder`, or where it would be created."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        err = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        raise storage_error(folder, err, "create folder", hint)
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise storage_error(folder, err, "write into", hint) from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` so that readers never see a half-written file."""
    path = Path(path)
    make_folder(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise storage_error(path, err) from None
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):  # the folder may refuse even this: nothing to do
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise storage_error(path, err) from None
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def save_figure(fig, png: Path) -> Path:
    """A matplotlib figure as `png` (150 dpi) and the same name in SVG, each written atomically
    (a full disk is one line naming the file, never half a figure) and without a date, so the
    same figure gives the same files. Returns `png`."""
    for ext in ("png", "svg"):
        buffer = io.BytesIO()
        meta = {"Date": None} if ext == "svg" else {"Software": None}
        fig.savefig(buffer, format=ext, dpi=150, metadata=meta)
        atomic_write_bytes(Path(png).with_suffix(f".{ext}"), buffer.getvalue())
    return Path(png)


def write_files(files: dict[Path, bytes]) -> list[Path]:
    """Write each file atomically, in the given order."""
    return [atomic_write_bytes(path, data) for path, data in files.items()]


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """`df` as a Parquet file's bytes (without its index)."""
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    return buffer.getvalue()


def csv_bytes(df: pd.DataFrame, index: bool = False) -> bytes:
    """`df` as spreadsheet-safe CSV (text cells that would run as a formula are escaped)."""
    return spreadsheet_safe(df).to_csv(index=index).encode("utf-8")


def table_files(df: pd.DataFrame, stem: Path, csv: bool = True) -> dict[Path, bytes]:
    """The files of a table: `stem`.parquet and, for spreadsheet users, `stem`.csv."""
    stem = Path(stem)
    files = {stem.with_suffix(".parquet"): parquet_bytes(df)}
    if csv:
        files[stem.with_suffix(".csv")] = csv_bytes(df)
    return files


def write_table(df: pd.DataFrame, stem: Path, csv: bool = True) -> list[Path]:
    """Write `stem`.parquet (and `stem`.csv for spreadsheet users), each atomically."""
    return write_files(table_files(df, stem, csv))


def checksum(data: bytes) -> dict:
    """The sha256 and size of a file's contents, as recorded in checksums files."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def file_checksum(path: Path) -> dict:
    """`checksum` of a file on disk, read in blocks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return {"sha256": digest.hexdigest(), "size": size}


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


def json_bytes(data: dict) -> bytes:
    return (json.dumps(data, indent=2, default=str) + "\n").encode("utf-8")


def write_json(path: Path, data: dict) -> Path:
    return atomic_write_bytes(path, json_bytes(data))
