"""Run one program design for R replicates (or a sweep of designs with -m).

    python experiments/run.py                                   # current practice, full scale
    python experiments/run.py program.cohort_size=20 program.months_between_cohorts=6
    python experiments/run.py -m program.cohort_size=10,30,100 program.months_between_cohorts=6,12
    python experiments/run.py -m +experiment=cohort_frequency   # a preset sweep (make demo)

Each job writes into its Hydra output directory: timeseries, summary (.parquet, .csv),
baseline.parquet, effects.parquet, departments.parquet, department_ties.csv, config.yaml, job.json
and provenance.json; summary.parquet is written last and marks the job complete. A sweep's folder
is named after its command line (results/sweeps/<experiment>/<key>) and holds its definition
(sweep.json), so running the same command again resumes it: finished jobs whose key (configuration,
input-file contents, code, package versions) is unchanged are skipped, the rest are recomputed,
and jobs that are no longer part of the sweep are moved aside. A job that fails writes error.json
and the sweep goes on. At the end the sweep is aggregated into <sweep dir>/aggregate/ (tables,
figures, report.html); a single run writes its own one-design report into <run dir>/aggregate/.

Exit code: 0 when every job and the aggregation succeeded, 1 when a job or the aggregation
failed or a file could not be written (the terminal says which and how to retry), 2 for a bad
setting (nothing is written).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from joblib.externals.loky import reusable_executor
from omegaconf import DictConfig

from experiments.jobs import store
from experiments.jobs.outputs import check_writable
from experiments.jobs.plan import (
    Plan,
    check_flags,
    fixed_run_dir,
    plan_command,
    run_dir_of,
    sweep_dir_of,
)
from experiments.jobs.signals import Stop, stop_on_signals
from experiments.jobs.task import LAST_RUN, run_and_write
from experiments.present import publish
from experiments.present.terminal import headline_line, print_ranking
from experiments.present.usage import run_help
from sim import UserError


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def main(cfg: DictConfig) -> float:
    logging.captureWarnings(True)  # warnings reach the job's run.log too
    hc = HydraConfig.get()
    return run_and_write(
        cfg,
        Path(hc.runtime.output_dir),
        multirun=hc.mode == RunMode.MULTIRUN,
        overrides=list(hc.overrides.task),
    )


# --- the command line -------------------------------------------------------------------------


def release_workers() -> None:
    """Stop the joblib launcher's idle worker processes (loky keeps them for reuse) before the
    aggregation: their memory is not needed any more."""
    executor = reusable_executor._executor
    if executor is not None:
        executor.shutdown(wait=True)


def stopped(stop: Stop, sweep_dir: Path | None, plan: Plan | None) -> int:
    """After Ctrl-C or SIGTERM: end the job processes now, say in one line what is kept, and
    return the shell's code for the signal."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleaning
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    executor = reusable_executor._executor
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)
    if sweep_dir is not None:  # a sweep has a plan
        try:
            done = len(store.status(sweep_dir).done)
        except UserError:
            done = 0
        print(
            f"stopped ({stop.how}): {done} of {len(plan.jobs)} job(s) finished and are kept in "
            f"{sweep_dir}; run the same command again to resume",
            file=sys.stderr,
        )
    else:
        print(
            f"stopped ({stop.how}): the run did not finish and nothing of it was kept",
            file=sys.stderr,
        )
    return stop.exit_code


def finish_sweep(sweep_dir: Path, report: bool) -> int:
    """Aggregate the sweep's current jobs and say what failed; the exit code."""
    release_workers()
    state = store.status(sweep_dir)
    failed = aggregate_and_print(sweep_dir, report) if state.done else True
    if not state.done:
        print(f"error: {sweep_dir}: no job finished; nothing to aggregate", file=sys.stderr)
    problems = store.problems(state)
    if problems:
        print(f"error: {len(problems)} job(s) of the sweep did not succeed:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        print(
            "  the report leaves them out; fix the cause and run the same command again: "
            "finished jobs are skipped, the others are retried",
            file=sys.stderr,
        )
    return 1 if problems or failed else 0


def aggregate_and_print(folder: Path, report: bool) -> bool:
    """Aggregate `folder` (a sweep or a single run); True when the aggregation failed."""
    try:
        path = publish.aggregate(folder, figures=report)
    except store.Refused as err:
        print(f"error: {err}", file=sys.stderr)
        return True
    except store.AggregationError as err:
        print(f"error: aggregation failed: {err}", file=sys.stderr)
        print(
            f"  no report was kept for {folder}; after fixing the cause run "
            f"experiments/aggregate.py {folder}",
            file=sys.stderr,
        )
        return True
    print_ranking(store.read_designs(folder))
    print_scale_note(folder)
    if path is not None:
        print(f"report: {path}")
    return False


def print_scale_note(folder: Path) -> None:
    """Below full scale, say how much gains shrink or grow there (`publish.scale_note`)."""
    note = publish.scale_note(folder)
    if note:
        print(note)


def finish_run(report: bool) -> int:
    """A single run: its paired gain, interval and cost, and a one-design report."""
    out = LAST_RUN.get("out")
    if out is None:
        return 1
    if not LAST_RUN.get("ok"):
        details = f"; details in {out / 'error.json'}" if (out / "error.json").exists() else ""
        print(
            f"error: the run failed: {LAST_RUN.get('error', 'see the messages above')}{details}",
            file=sys.stderr,
        )
        return 1
    try:
        path = publish.aggregate(out, figures=report)
    except store.AggregationError as err:
        print(f"error: aggregation failed: {err}", file=sys.stderr)
        return 1
    print(headline_line(store.read_designs(out)))
    print_scale_note(out)
    if path is not None:
        print(f"report: {path}")
    return 0


def cli(argv: list[str]) -> int:
    """Check every job first (a bad setting writes nothing), then hand over to Hydra, then
    aggregate and return an exit code that tells whether everything succeeded."""
    if "-h" in argv or "--help" in argv:
        print(run_help(__doc__.splitlines()[0]))
        return 0
    try:
        check_flags(argv)
        plan = plan_command(argv)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sweep_dir = None
    held = contextlib.ExitStack()  # the sweep folder's lock, from before it changes to the end
    try:
        if plan is not None and plan.line.multirun:
            folder = sweep_dir_of(plan.line, plan.experiment)
            store.check_owned(folder)
            command = " ".join(["experiments/run.py", *argv])
            held.enter_context(store.writing(folder, command))
            print(plan.announcement())
            argv = _prepare_sweep(argv, plan, folder)
            sweep_dir = folder
        elif plan is not None:
            check_writable(run_dir_of(plan.line, plan.experiment))
            fixed = fixed_run_dir(plan.line)
            if fixed is not None:
                store.check_owned(fixed, "hydra.run.dir", ".hydra")
    except UserError as err:  # a folder not writable or not ours, a damaged sweep.json
        held.close()
        print(f"error: {err}", file=sys.stderr)
        return 1
    with held, stop_on_signals() as stop:
        try:
            sys.argv = [sys.argv[0], *argv]
            main()
            if plan is None:
                return 0
            report = bool(plan.settings.get("report", True))
            try:
                return finish_sweep(sweep_dir, report) if sweep_dir else finish_run(report)
            except UserError as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
        except KeyboardInterrupt:
            return stopped(stop, sweep_dir, plan)


def _prepare_sweep(argv: list[str], plan: Plan, folder: Path) -> list[str]:
    """Make the sweep folder hold only jobs of this definition; the command line Hydra runs:
    with the folder named, and an optimising sweeper maximising the gain unless it says
    otherwise."""
    if plan.line.given("hydra.sweep.dir") is None:
        argv = [*argv, f"hydra.sweep.dir={folder}"]
    explicit = plan.line.given("hydra.sweeper.direction") is not None
    if plan.sweeper != "basic" and not explicit and plan.direction not in (None, "maximize"):
        argv = [*argv, "hydra.sweeper.direction=maximize"]
    for note in store.prepare(folder, plan.manifest(["experiments/run.py", *argv])):
        print(f"note: {note}", file=sys.stderr)
    return argv


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
