"""Combine the jobs of a sweep into tidy tables, a scenario summary, figures and a report.

    python experiments/aggregate.py results/sweeps/cohort_frequency/2026-11-28_12-00-00

Writes into <sweep dir>/aggregate/: timeseries, summary and scenarios (.parquet and .csv),
departments.parquet, figures/*.png|svg and report.html. Runs by itself at the end of a multirun.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from experiments.jobs import LEVER_COLUMNS
from experiments.outputs import write_table

CONFIDENCE = 0.95


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Job folders with complete results (summary.parquet is written last)."""
    return sorted(
        (p.parent for p in Path(sweep_dir).glob("*/summary.parquet")),
        key=lambda p: (len(p.name), p.name),
    )


def failed_jobs(sweep_dir: Path) -> pd.DataFrame:
    """Jobs that recorded an error and have no complete results: job, label, error."""
    rows = []
    for err in sorted(Path(sweep_dir).glob("*/error.json")):
        if (err.parent / "summary.parquet").exists():
            continue
        data = json.loads(err.read_text())
        rows.append({"job": err.parent.name, "scenario": data.get("label"), "error": data["error"]})
    return pd.DataFrame(rows, columns=["job", "scenario", "error"])


def t_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval across replicates (NaN bounds if n < 2)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = values.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if n < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


def varying_levers(summary: pd.DataFrame) -> list[str]:
    """Lever columns whose value differs between scenarios (in a stable order)."""
    fixed = ["scenario", "replicate", "seed"]
    candidates = [c for c in LEVER_COLUMNS if c in summary]
    metric_start = summary.columns.get_loc("replicate")
    candidates += [c for c in summary.columns[:metric_start] if c not in candidates + fixed]
    return [c for c in candidates if summary[c].astype(str).nunique() > 1]


def scenario_table(summary: pd.DataFrame, levers: list[str]) -> pd.DataFrame:
    rows = []
    for label, g in summary.groupby("scenario", sort=False):
        mean, low, high = t_interval(g.gain.to_numpy())
        row = {"scenario": label, **{k: g[k].iloc[0] for k in levers}}
        cost = float(g.cost.mean())
        row.update(
            n=len(g),
            gain_mean=mean,
            gain_sd=float(g.gain.std(ddof=1)) if len(g) > 1 else float("nan"),
            gain_ci_low=low,
            gain_ci_high=high,
            final_index_mean=float(g.final_index.mean()),
            cost_mean=cost,
            staff_months_abroad_mean=float(g.staff_months_abroad.mean()),
            cost_per_point=cost / (100 * mean) if mean > 0 else float("nan"),
            months_to_target_median=float(g.months_to_target.median()),
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    out["rank"] = out.gain_mean.rank(ascending=False, method="min").astype(int)
    return out.sort_values(["rank", "cost_mean"]).reset_index(drop=True)


def reference_scenario(summary: pd.DataFrame, reference: str | None) -> str | None:
    """Label of the scenario whose levers match `reference` ("key=value,key=value")."""
    if not reference:
        return None
    mask = pd.Series(True, index=summary.index)
    for pair in reference.split(","):
        key, _, value = pair.strip().partition("=")
        key = key.strip().rsplit(".", 1)[-1]
        if key not in summary:
            raise ValueError(f"reference = {reference!r}: {key!r} is not a lever of this sweep")
        mask &= summary[key].astype(str) == value.strip()
    labels = summary.loc[mask, "scenario"].unique()
    if len(labels) != 1:
        raise ValueError(
            f"reference = {reference!r}: matches {len(labels)} designs of this sweep, not one"
        )
    return str(labels[0])


def paired_differences(summary: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Per scenario: mean gain minus the reference's on the same seeds, with a 95% t interval
    of the paired differences and the share of seeds on which the scenario does better."""
    ref = summary[summary.scenario == reference].set_index("seed").gain
    rows = []
    for label, g in summary.groupby("scenario", sort=False):
        diff = g.set_index("seed").gain - ref.reindex(g.seed).to_numpy()
        mean, low, high = t_interval(diff.to_numpy())
        rows.append(
            {
                "scenario": label,
                "diff_vs_reference": mean,
                "diff_ci_low": low,
                "diff_ci_high": high,
                "better_than_reference_share": float((diff > 0).mean()),
            }
        )
    return pd.DataFrame(rows)


def read_first(dirs: list[Path], name: str) -> pd.DataFrame:
    return pd.read_parquet(dirs[0] / f"{name}.parquet")


def load_sweep(sweep_dir: Path):
    """Read every complete job of a sweep into one SweepTables."""
    from omegaconf import OmegaConf

    from experiments.figures import SweepTables

    dirs = job_dirs(sweep_dir)
    if not dirs:
        raise FileNotFoundError(f"{sweep_dir}: no finished job (no */summary.parquet)")
    read = lambda name: pd.concat(  # noqa: E731
        [pd.read_parquet(d / f"{name}.parquet") for d in dirs], ignore_index=True
    )
    summary = read("summary")
    # an optimising sweeper may run the same design twice: identical configuration and seeds
    # give identical results, so keep one copy rather than counting its seeds twice
    repeated = summary.duplicated(["scenario", "replicate", "seed"])
    summary = summary[~repeated].reset_index(drop=True)
    levers = varying_levers(summary)
    cfg = OmegaConf.load(dirs[0] / "config.yaml")
    ties = pd.read_csv(dirs[0] / "department_ties.csv", index_col=0)
    meta = {
        "sweep": str(sweep_dir),
        "jobs": len(dirs),
        "replicates": int(cfg.replicates),
        "horizon_months": int(cfg.horizon),
        "scale": float(cfg.scenario.scale),
        "scenario": str(cfg.scenario.name),
        "seeds": f"{cfg.seed}..{cfg.seed + cfg.replicates - 1}",
        "mechanism": str(cfg.behavior.mechanism),
        "target_gain": float(cfg.target_gain),
    }
    first = read_first(dirs, "timeseries")
    if "staff" in first:
        meta["n_staff"] = int(first.staff.iloc[0])
    scenarios = scenario_table(summary, levers)
    try:
        reference = reference_scenario(summary, cfg.get("reference"))
    except ValueError as err:
        print(f"warning: {err}; no paired comparison", file=sys.stderr)
        reference = None
    if reference is not None:
        scenarios = scenarios.merge(paired_differences(summary, reference), on="scenario")
        meta["reference"] = reference
    if cfg.get("budget") is not None and cfg.budget.get("staff_months_per_year") is not None:
        meta["budget"] = f"{cfg.budget.staff_months_per_year:g} staff-months abroad per year"
    elif cfg.get("budget") is not None and cfg.budget.get("money_per_year") is not None:
        meta["budget"] = f"IDR {cfg.budget.money_per_year:g} million per year"
    if repeated.any():
        meta["repeated_designs"] = f"{int(repeated.sum())} repeated replicate(s) counted once"
    return SweepTables(
        timeseries=read("timeseries").drop_duplicates(["scenario", "replicate", "month"]),
        summary=summary,
        scenarios=scenarios,
        departments=read("departments").drop_duplicates(
            ["scenario", "replicate", "month", "department"]
        ),
        department_ties=ties,
        levers=levers,
        meta=meta,
    )


def aggregate(sweep_dir: Path, title: str | None = None, figures: bool = True) -> Path | None:
    """Aggregate a sweep folder; returns the report path (None if no job finished or
    `figures` is False: then only the tables are written)."""
    from experiments.figures import make_figures
    from experiments.report import write_report

    sweep_dir = Path(sweep_dir)
    failed = failed_jobs(sweep_dir)
    for _, f in failed.iterrows():
        print(f"failed job {f.job} ({f.scenario}): {f.error}", file=sys.stderr)
    if not job_dirs(sweep_dir):
        print(f"{sweep_dir}: no finished job to aggregate", file=sys.stderr)
        return None
    tables = load_sweep(sweep_dir)
    out = sweep_dir / "aggregate"
    out.mkdir(exist_ok=True)
    write_table(failed, out / "failed_jobs")
    if len(failed):
        tables.meta["failed_jobs"] = (
            f"{len(failed)} job(s) failed and are not in the tables: "
            + "; ".join(f"{f.scenario}: {f.error}" for _, f in failed.iterrows())
        )
    write_table(tables.timeseries, out / "timeseries")
    write_table(tables.summary, out / "summary")
    write_table(tables.scenarios, out / "scenarios")
    write_table(tables.departments, out / "departments", csv=False)
    if not figures:
        return None
    drawn = make_figures(tables, out / "figures")
    name = title or f"Jakarta–Tokyo staff exchange: {sweep_dir.parent.name} sweep"
    return write_report(tables, drawn, out / "report.html", name)


def print_ranking(sweep_dir: Path, top: int = 5) -> None:
    """The best designs of an aggregated sweep, one line each, for the terminal."""
    scen = pd.read_parquet(Path(sweep_dir) / "aggregate" / "scenarios.parquet")
    print(
        "best designs: gain in the final year in index points (1 point = 0.01 of the 0-1 "
        "index), its 95% CI, and cost in IDR billion"
    )
    for _, r in scen.head(top).iterrows():
        print(
            f"  {r['rank']:>2}. {r.scenario:<40} {100 * r.gain_mean:6.2f} "
            f"[{100 * r.gain_ci_low:.2f}, {100 * r.gain_ci_high:.2f}]  {r.cost_mean / 1000:8.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="folder of a multirun (holds job folders)")
    parser.add_argument("--title", help="report title")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir}: not a folder", file=sys.stderr)
        return 2
    report = aggregate(args.sweep_dir, args.title)
    if report is None:
        return 1
    print_ranking(args.sweep_dir)
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
