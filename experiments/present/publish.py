"""A folder's aggregate: its jobs' tables combined, the figures drawn and the report written,
into <folder>/aggregate, replacing the last one only when the new one is complete (the results
store, `experiments.jobs.store`, says which jobs there are and reads them)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from experiments.analysis.tables import SweepTables, combine
from experiments.jobs.outputs import write_json, write_table
from experiments.jobs.store import (
    AGGREGATE,
    AggregationError,
    check_not_partial,
    check_results_folder,
    failed_jobs,
    read_config,
    read_jobs,
    status,
)
from experiments.present.figures import make_figures
from experiments.present.report import write_report
from experiments.present.scale import caveat
from sim.errors import UserError


def aggregate(folder: Path, title: str | None = None, figures: bool = True) -> Path | None:
    """Aggregate a sweep or run folder into <folder>/aggregate; returns the report's path (None
    with `figures` False: tables only). Raises AggregationError; then no aggregate is left."""
    folder = Path(folder)
    final = folder / AGGREGATE
    check_results_folder(folder)
    state = status(folder)  # the lock keeps it so until the aggregate is written
    check_not_partial(folder, state)
    work = folder / f".{AGGREGATE}.{os.getpid()}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    try:
        read = read_jobs(folder, state)
        tables = combine(read.jobs, read.meta, read.reference)
        work.mkdir()
        failed = failed_jobs(state)
        report = None
        if figures:  # the tables are written while the figures are drawn
            drawn = make_figures(
                tables, work / "figures", meanwhile=lambda: write_tables(tables, failed, work)
            )
            report = write_report(tables, drawn, work / "report.html", title or _title(tables))
        else:
            write_tables(tables, failed, work)
        old = folder / f".{AGGREGATE}.{os.getpid()}.old"
        if final.exists():
            os.replace(final, old)
        os.replace(work, final)
        shutil.rmtree(old, ignore_errors=True)
        return final / report.name if report is not None else None
    except BaseException as err:
        shutil.rmtree(work, ignore_errors=True)
        if not isinstance(err, Exception):  # stopped (Ctrl-C, SIGTERM): the last aggregate stays
            raise
        shutil.rmtree(final, ignore_errors=True)  # no stale report that looks current
        if isinstance(err, AggregationError):
            raise
        if isinstance(err, UserError):  # a damaged sweep.json, a full disk: its own one line
            raise AggregationError(str(err)) from None
        raise AggregationError(f"{type(err).__name__}: {err}") from err


def _title(tables: SweepTables) -> str:
    meta = tables.meta
    city = "Jakarta" if meta["scenario"].startswith("jakarta") else meta["scenario"]
    what = "one design" if len(tables.designs) == 1 else f"{meta['experiment']} sweep"
    return f"{city}–Tokyo staff exchange: {what}"


def scale_note(folder: Path) -> str | None:
    """One line on how much gains at the scale of the folder's jobs differed from full-scale
    gains (measured: experiments/scale_gains.py), or None at full scale or with no job done."""
    done = status(Path(folder)).done
    return caveat(float(read_config(done[0]).scenario.scale)) if done else None


def write_tables(tables: SweepTables, failed: pd.DataFrame, out: Path) -> None:
    write_table(failed, out / "failed_jobs")
    for name in ("timeseries", "summary", "designs", "effects", "comparisons"):
        write_table(getattr(tables, name), out / name)
    write_table(tables.baseline, out / "baseline", csv=False)
    write_table(tables.departments, out / "departments", csv=False)
    write_table(tables.readiness, out / "sop_readiness")
    if tables.under_posterior:
        write_table(tables.ranks, out / "posterior_ranks")
    write_json(out / "provenance.json", tables.meta["provenance"])
