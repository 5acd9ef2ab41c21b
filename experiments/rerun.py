"""Reproduce a finished job from its saved configuration and check the result is identical.

    python experiments/rerun.py results/sweeps/cohort_frequency/<key>/3

Reads the job's config.yaml and job.json, runs the same replicates again (computing each
no-exchange baseline afresh), and compares the new monthly table with the saved
timeseries.parquet value by value. Exit 0 when identical, 1 when not (the first difference is
printed), 2 when the folder is not a finished job.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from experiments import identity
from experiments.study import run_job, to_model_config
from sim import UserError


def rerun(job_dir: Path) -> pd.DataFrame:
    """The job's monthly table, computed again from its saved configuration."""
    cfg = OmegaConf.load(job_dir / "config.yaml")
    job = json.loads((job_dir / "job.json").read_text())
    tables = run_job(
        to_model_config(cfg),
        replicates=cfg.replicates,
        seed=cfg.seed,
        target_gain=cfg.target_gain,
        label=job["label"],
        extra_columns=job["extra_columns"],
        progress=False,
    )
    return tables["timeseries"]


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    job = json.loads((job_dir / "job.json").read_text())
    if job.get("code_digest") != identity.code_digest():
        print(
            f"note: saved with code {job.get('code_digest')}, running {identity.code_digest()}",
            file=sys.stderr,
        )
    try:
        again = rerun(job_dir)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    saved = pd.read_parquet(job_dir / "timeseries.parquet")
    difference = compare(saved, again)
    if difference is not None:
        print(f"DIFFERENT: {difference}")
        return 1
    print(f"identical: {len(saved)} rows x {saved.shape[1]} columns of {job_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
