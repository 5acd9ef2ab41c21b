"""Combine the jobs of a sweep (or one run) into tables, figures and a report.

    python experiments/aggregate.py results/sweeps/cohort_frequency/<key>
    python experiments/aggregate.py results/runs/default/<date_time>      # one design

Reads exactly the jobs of the sweep's current definition (`sweep.json`; every numbered job
folder when there is none) and writes <folder>/aggregate/: timeseries, summary, designs,
effects, comparisons (.parquet and .csv), baseline.parquet, departments.parquet, failed_jobs,
provenance.json, figures/*.png|svg and report.html. The folder is built aside and put in place
whole, so a failed aggregation leaves no report at all rather than a stale one. Runs by itself at
the end of `experiments/run.py`. Exit code 0 on success, 1 when the aggregation failed or jobs
are missing from it, 2 for a folder that is not a sweep or run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from experiments import identity, sweep
from experiments.figures import make_figures
from experiments.jobs import LEVER_COLUMNS
from experiments.outputs import write_json, write_table
from experiments.report import write_report
from experiments.tables import (
    POINTS,
    SweepTables,
    design_labels,
    design_table,
    effects_table,
    judge,
    paired_comparisons,
    reference_design,
    versus_reference,
)

AGGREGATE = "aggregate"


class AggregationError(Exception):
    """The aggregation could not be made; the message is one line naming the cause."""


def varying_levers(summary: pd.DataFrame) -> list[str]:
    """Lever columns (and other swept settings) whose value differs between designs."""
    start = summary.columns.get_loc("design_id") + 1
    end = summary.columns.get_loc("replicate")
    candidates = [c for c in LEVER_COLUMNS if c in summary]
    candidates += [c for c in summary.columns[start:end] if c not in candidates]
    return [c for c in candidates if summary[c].astype(str).nunique() > 1]


def _read(folder: Path, name: str) -> pd.DataFrame:
    path = folder / f"{name}.parquet"
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise AggregationError(f"{path}: unreadable ({type(err).__name__}: {err})") from None


def failed_jobs(state: sweep.Status) -> pd.DataFrame:
    """Jobs of the current definition that failed: job, design label, error."""
    rows = []
    for folder in state.failed:
        try:
            data = json.loads((folder / "error.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {"error": f"unreadable {folder / 'error.json'}"}
        rows.append({"job": folder.name, "design": data.get("label"), "error": data.get("error")})
    return pd.DataFrame(rows, columns=["job", "design", "error"])


#: Tables every job writes (besides department_ties.csv).
JOB_TABLES = ("summary", "timeseries", "baseline", "effects", "departments")


def combine(jobs: list[dict[str, pd.DataFrame]], meta: dict, reference: str | None) -> SweepTables:
    """SweepTables from the tables of each job (as `experiments.jobs.run_job` returns them)."""

    def concat(name: str) -> pd.DataFrame:
        return pd.concat([job[name] for job in jobs], ignore_index=True)

    summary = concat("summary")
    # an optimising sweeper may run the same design twice: identical configuration and seeds
    # give identical results, so keep one copy rather than counting its seeds twice
    repeated = summary.duplicated(["design_id", "replicate"])
    summary = summary[~repeated].reset_index(drop=True)
    levers = varying_levers(summary)
    comparisons = paired_comparisons(summary)
    designs = judge(design_table(summary, levers), comparisons)
    meta = dict(meta)
    try:
        ref = reference_design(summary, reference)
    except ValueError as err:
        print(f"warning: {err}; no paired comparison with a reference", file=sys.stderr)
        ref = None
    if ref is not None:
        designs = versus_reference(designs, comparisons, ref)
        meta["reference"] = ref
    if repeated.any():
        meta["repeated_designs"] = f"{int(repeated.sum())} repeated replicate(s) counted once"
    first = ["design_id", "replicate"]
    baseline = concat("baseline")
    # designs that share their no-exchange runs (same city and behaviour) share one copy of
    # them: each design knows its baseline by id
    designs["baseline_id"] = designs.design_id.map(
        baseline.drop_duplicates("design_id").set_index("design_id").baseline_id
    )
    baseline = baseline.iloc[:, baseline.columns.get_loc("replicate") :]
    tables = SweepTables(
        timeseries=concat("timeseries").drop_duplicates([*first, "month"]),
        baseline=baseline.drop_duplicates(["baseline_id", "replicate", "month"]),
        summary=summary,
        designs=designs,
        effects=effects_table(concat("effects").drop_duplicates([*first, "kind", "outcome"])),
        comparisons=comparisons,
        departments=concat("departments").drop_duplicates([*first, "month", "department"]),
        department_ties=jobs[0]["department_ties"],
        levers=levers,
        meta=meta,
    )
    tables.designs.insert(1, "label", tables.designs.design_id.map(design_labels(tables)))
    return tables


def load_tables(folder: Path) -> SweepTables:
    """Read every finished job of the folder's current definition into SweepTables."""
    folder = Path(folder)
    state = sweep.status(folder)
    dirs = state.done
    if not dirs:
        raise AggregationError(f"{folder}: no finished job to aggregate")
    jobs = []
    for d in dirs:
        job = {name: _read(d, name) for name in JOB_TABLES}
        job["department_ties"] = pd.read_csv(d / "department_ties.csv", index_col=0)
        jobs.append(job)
    try:
        cfg = OmegaConf.load(dirs[0] / "config.yaml")
    except (OSError, OmegaConfBaseException) as err:
        raise AggregationError(f"{dirs[0] / 'config.yaml'}: unreadable ({err})") from None
    settings = sweep.settings(folder) or {"reference": cfg.get("reference")}
    meta = _meta(folder, cfg, jobs[0]["timeseries"], len(dirs), state)
    meta["provenance"] = _provenance(folder, dirs)
    return combine(jobs, meta, settings.get("reference"))


def _meta(folder: Path, cfg, first: pd.DataFrame, jobs: int, state: sweep.Status) -> dict:
    """Facts about what was run, for the report (from the first job's configuration and
    monthly table)."""
    meta = {
        "folder": str(folder),
        "jobs": jobs,
        "replicates": int(cfg.replicates),
        "horizon_months": int(cfg.horizon),
        "scale": float(cfg.scenario.scale),
        "scenario": str(cfg.scenario.name),
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
        meta["budget"] = f"IDR {budget.money_per_year:g} million per year"
    failed = failed_jobs(state)
    if len(failed) or state.missing:
        parts = [f"{f.design}: {f.error}" for f in failed.itertuples()]
        parts += [f"job {num}: did not finish" for num in state.missing]
        meta["failed_jobs"] = parts
    return meta


def _provenance(folder: Path, dirs: list[Path]) -> dict:
    """How the results were made: command, date, the jobs' code digest, git commit and package
    versions (as each job recorded them), the key of every job used."""
    manifest = {}
    with contextlib.suppress(ValueError):
        manifest = sweep.read_manifest(folder) or {}
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
        raise AggregationError(f"{path}: unreadable ({type(err).__name__}: {err})") from None
    return data if isinstance(data, dict) else {}


def write_tables(tables: SweepTables, failed: pd.DataFrame, out: Path) -> None:
    write_table(failed, out / "failed_jobs")
    for name in ("timeseries", "summary", "designs", "effects", "comparisons"):
        write_table(getattr(tables, name), out / name)
    write_table(tables.baseline, out / "baseline", csv=False)
    write_table(tables.departments, out / "departments", csv=False)
    write_json(out / "provenance.json", tables.meta["provenance"])


def aggregate(folder: Path, title: str | None = None, figures: bool = True) -> Path | None:
    """Aggregate a sweep or run folder into <folder>/aggregate; returns the report's path (None
    with `figures` False: tables only). Raises AggregationError; then no aggregate is left."""
    folder = Path(folder)
    final = folder / AGGREGATE
    work = folder / f".{AGGREGATE}.{os.getpid()}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    try:
        tables = load_tables(folder)
        work.mkdir()
        write_tables(tables, failed_jobs(sweep.status(folder)), work)
        report = None
        if figures:
            drawn = make_figures(tables, work / "figures")
            report = write_report(tables, drawn, work / "report.html", title or _title(tables))
        old = folder / f".{AGGREGATE}.{os.getpid()}.old"
        if final.exists():
            os.replace(final, old)
        os.replace(work, final)
        shutil.rmtree(old, ignore_errors=True)
        return final / report.name if report is not None else None
    except Exception as err:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)  # no stale report that looks current
        if isinstance(err, AggregationError):
            raise
        raise AggregationError(f"{type(err).__name__}: {err}") from err


def _title(tables: SweepTables) -> str:
    meta = tables.meta
    city = "Jakarta" if meta["scenario"].startswith("jakarta") else meta["scenario"]
    what = "one design" if len(tables.designs) == 1 else f"{meta['experiment']} sweep"
    return f"{city}–Tokyo staff exchange: {what}"


def print_ranking(folder: Path, top: int = 5) -> None:
    """The best designs of an aggregated folder, one line each, for the terminal."""
    designs = pd.read_parquet(Path(folder) / AGGREGATE / "designs.parquet")
    print(
        "best designs: gain in the final year in index points (1 point = 0.01 of the 0-1 "
        "index) with its 95% interval, real staff sent, cost in IDR billion"
    )
    for r in designs.head(top).itertuples():
        note = "" if r.gain_clear else "  (cannot be told apart from no gain)"
        print(
            f"  {r.rank:>2}. {r.label:<48} {POINTS * r.gain_mean:6.2f} "
            f"[{POINTS * r.gain_ci_low:.2f}, {POINTS * r.gain_ci_high:.2f}]  "
            f"{r.staff_sent_mean:7,.0f} staff  {r.cost_mean / 1000:9,.1f}{note}"
        )


def headline_line(folder: Path) -> str:
    """One design's paired gain, interval, staff and cost, in one sentence (single runs)."""
    r = pd.read_parquet(Path(folder) / AGGREGATE / "designs.parquet").iloc[0]
    if pd.isna(r.gain_ci_low):
        interval = "no interval with one replicate"
    else:
        interval = f"95% CI {POINTS * r.gain_ci_low:.2f} to {POINTS * r.gain_ci_high:.2f}"
    verdict = "" if r.gain_clear else "; it cannot be told apart from no gain"
    return (
        f"gain over no exchange in the final year: {POINTS * r.gain_mean:+.2f} index points "
        f"({interval}, {int(r.n)} paired replicates){verdict}; {r.staff_sent_mean:,.0f} staff "
        f"sent, {r.staff_months_abroad_mean:,.0f} staff-months in Tokyo, cost IDR "
        f"{r.cost_mean / 1000:,.1f} billion"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a sweep folder or a single run's folder")
    parser.add_argument("--title", help="report title")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"error: {args.folder}: not a folder", file=sys.stderr)
        return 2
    try:
        report = aggregate(args.folder, args.title)
    except AggregationError as err:
        print(f"error: aggregation failed: {err}", file=sys.stderr)
        print(f"  no report was kept in {args.folder / AGGREGATE}", file=sys.stderr)
        return 1
    print_ranking(args.folder)
    print(f"report: {report}")
    state = sweep.status(args.folder)
    if state.failed or state.missing:
        print(
            f"error: {len(state.failed) + len(state.missing)} job(s) failed or did not finish "
            "and are not in the report; run the sweep's command again to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
