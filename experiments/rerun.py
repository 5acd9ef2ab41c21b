"""Reproduce a finished job from its saved configuration and check the result is identical.

    python experiments/rerun.py results/sweeps/cohort_frequency/<key>/3

Reads the job's config.yaml and job.json, runs the same replicates again (computing each
no-exchange baseline afresh), and compares the new monthly table with the saved
timeseries.parquet value by value. Exit 0 when identical, 1 when not (the first difference is
printed), 2 when the folder is not a finished job or one of its files is unreadable (one line
names it). A file that no longer matches the checksum the job recorded is noted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from omegaconf.errors import OmegaConfBaseException

from experiments.jobs import identity, store
from experiments.jobs.job import run_job
from experiments.present.usage import CommandParser
from experiments.study.posterior import posterior_of
from experiments.study.settings import to_model_config
from sim import ModelConfig, UserError
from sim.errors import one_line


def model_of(job_dir: Path, cfg) -> ModelConfig:
    """The model configuration of a job's config.yaml; UserError naming the file if it is not
    one."""
    try:
        return to_model_config(cfg)
    except (OmegaConfBaseException, AttributeError, KeyError, TypeError, ValueError) as err:
        raise UserError(
            f"{job_dir / 'config.yaml'}: malformed ({one_line(err)}); {store.REDO}"
        ) from None


def rerun(job_dir: Path) -> pd.DataFrame:
    """The job's monthly table, computed again from its saved configuration."""
    cfg = store.read_config(job_dir)
    job = store.read_job(job_dir)
    posterior = posterior_of(cfg)
    saved = job.get("posterior")
    if saved and (posterior is None or posterior.digest != saved.get("sha256")):
        raise UserError(
            f"{job_dir}: the job took its behaviour from {saved.get('path')}, whose draws have "
            "changed (or are gone) since it ran; it cannot be reproduced with them"
        )
    tables = run_job(
        model_of(job_dir, cfg),
        replicates=cfg.replicates,
        seed=cfg.seed,
        target_gain=cfg.target_gain,
        label=job["label"],
        extra_columns=job["extra_columns"],
        progress=False,
        channels=cfg.get("channels", True),
        posterior=posterior,
    )
    return tables["timeseries"]


def read_timeseries(job_dir: Path) -> pd.DataFrame:
    """The job's saved monthly table; UserError naming it when it cannot be read."""
    path = job_dir / "timeseries.parquet"
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: unreadable ({one_line(err)}); {store.REDO}") from None


def compare(saved: pd.DataFrame, again: pd.DataFrame) -> str | None:
    """None if identical, else a one-line description of the first difference."""
    if list(saved.columns) != list(again.columns) or len(saved) != len(again):
        return f"shape or columns differ: {saved.shape} vs {again.shape}"
    for col in saved.columns:
        a, b = saved[col], again[col]
        same = a.astype(str).equals(b.astype(str)) if a.dtype == object else a.equals(b)
        if not same:
            row = int((a != b).to_numpy().nonzero()[0][0])
            return f"column {col}, row {row}: saved {a.iloc[row]!r}, now {b.iloc[row]!r}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(description=__doc__)
    parser.add_argument("job_dir", type=Path, help="a job folder (holds config.yaml, job.json)")
    args = parser.parse_args(argv)
    job_dir = args.job_dir if args.job_dir.is_dir() else args.job_dir.parent
    needed = ("config.yaml", "job.json", "timeseries.parquet", "summary.parquet")
    missing = [n for n in needed if not (job_dir / n).exists()]
    if missing:
        print(
            f"error: {job_dir}: not a finished job (missing {', '.join(missing)})", file=sys.stderr
        )
        return 2
    try:
        job = store.read_job(job_dir)
        saved = read_timeseries(job_dir)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if job.get("code_digest") != identity.code_digest():
        print(
            f"note: saved with code {job.get('code_digest')}, running {identity.code_digest()}",
            file=sys.stderr,
        )
    problem = store.damage(job_dir)
    if problem is not None:
        print(f"note: {job_dir / problem[0]} {problem[1]}", file=sys.stderr)
    try:
        again = rerun(job_dir)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    difference = compare(saved, again)
    if difference is not None:
        print(f"DIFFERENT: {difference}")
        return 1
    print(f"identical: {len(saved)} rows x {saved.shape[1]} columns of {job_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
