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
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from joblib.externals.loky import reusable_executor
from omegaconf import DictConfig, OmegaConf

from experiments.jobs import identity, store
from experiments.jobs.job import one_thread, run_job
from experiments.jobs.outputs import check_writable, provenance, storage_error, write_json
from experiments.jobs.plan import CommandLine, Plan, plan_command
from experiments.jobs.signals import Stop, stop_on_signals
from experiments.present import publish
from experiments.present.terminal import headline_line, print_ranking
from experiments.present.usage import run_help
from experiments.study.levers import LEVERS, design_label, design_overrides
from experiments.study.outcomes import POINTS
from experiments.study.posterior import Posterior, posterior_of
from experiments.study.settings import to_model_config
from sim import ModelConfig, UserError
from sim.errors import StorageError

#: Testing hook: a job whose design label contains this text raises (see README).
FAULT_ENV = "EXCHANGE_FAULT_INJECTION"
#: What the last single run did (read by `cli` after Hydra returns; a sweep reads its folder).
OUTCOME: dict = {}
#: The job's log (`run.log` in the job's folder; configs/config.yaml sends it to the file only).
log = logging.getLogger("exchange")


def run_and_write(cfg: DictConfig, out: Path, multirun: bool, overrides: list[str]) -> float:
    """Run (or skip, if done) one job and write its files; return its mean gain over replicates
    in index points, the unit of every table and report (the objective an optimising sweeper
    maximises, so its best value reads like them; NaN for a failed job)."""
    model = to_model_config(cfg)
    posterior = posterior_of(cfg)
    drawn = None if posterior is None else posterior.digest
    key = identity.job_key(model, cfg.replicates, cfg.seed, cfg.target_gain, drawn)
    design = design_overrides(overrides)
    label = design_label(design)
    OUTCOME.update(out=out, label=label, ok=False)
    try:
        previous = store.previous_result(out, key)
        if previous != "done":
            (out / "error.json").unlink(missing_ok=True)
    except OSError as err:
        return _not_written(out, {"key": key, "label": label}, storage_error(out, err, "clear"))
    except StorageError as err:
        return _not_written(out, {"key": key, "label": label}, err)
    if previous == "done":
        print(f"{label}: already done, skipped ({out})")
        log.info("%s: already done with the same key %s, skipped", label, key)
        OUTCOME["ok"] = True
        return POINTS * float(pd.read_parquet(out / "summary.parquet").gain.mean())
    extra = {
        (k if "." in k else f"{k}_preset"): v  # a group override such as scenario=small
        for k, v in design.items()
        if k.rsplit(".", 1)[-1] not in LEVERS
    }
    job = job_record(model, key, label, extra, posterior)
    started = time.perf_counter()
    try:
        tables = _compute(cfg, model, job, posterior, multirun)
    except Exception as err:  # a failing job is recorded; the other jobs go on
        return _failed(out, job, err)
    try:
        store.write_job(
            out,
            tables,
            config_yaml=OmegaConf.to_yaml(cfg, resolve=True),
            job=job,
            provenance=provenance(
                # the job alone, as one run (a sweep's command is in its sweep.json)
                command=" ".join(["experiments/run.py", *overrides]),
                seeds=[cfg.seed + r for r in range(cfg.replicates)],
                overrides=overrides,
                wall_time_s=round(time.perf_counter() - started, 3),
            ),
        )
    except StorageError as err:
        return _not_written(out, job, err)
    print(f"{label}: results in {out}")
    log.info(
        "%s: done in %.1f s, mean gain %+.3f index points; results in %s",
        label, time.perf_counter() - started, POINTS * tables["summary"].gain.mean(), out,
    )  # fmt: skip
    OUTCOME["ok"] = True
    return POINTS * float(tables["summary"].gain.mean())


def job_record(
    model: ModelConfig, key: str, label: str, extra: dict, posterior: Posterior | None
) -> dict:
    """What job.json says of a job: its key and design, the code, inputs and packages it ran
    with, and the posterior draws its replicates took their behaviour from."""
    drawn = None if posterior is None else posterior.digest
    job = {
        "key": key,
        "design_id": identity.design_id(model, drawn),
        "label": label,
        "extra_columns": extra,
        "code_digest": identity.code_digest(),
        "inputs": identity.input_digests(model),
        "packages": identity.package_versions(),
    }
    if posterior is not None:
        job["posterior"] = {
            "path": str(posterior.path),
            "sha256": posterior.digest,
            "draws": len(posterior.draws),
            "parameters": posterior.parameters,
            "packaged": posterior.description.get("packaged", False),
            "calibrated": posterior.description.get("calibrated", posterior.parameters),
            "from_ranges": posterior.description.get("from_ranges", []),
        }
    return job


def _compute(
    cfg: DictConfig, model: ModelConfig, job: dict, posterior: Posterior | None, multirun: bool
):
    """The job's tables (`jobs.job.run_job`), after checking in a sweep that it is still the job
    the sweep planned (no input file edited since)."""
    label, sc = job["label"], model.scenario
    log.info(
        "%s: key %s; %d paired replicates, seeds %d to %d, horizon %d months; scenario %s "
        "(departments %s, scale %g)%s",
        label, job["key"], cfg.replicates, cfg.seed, cfg.seed + cfg.replicates - 1,
        model.horizon, sc.name, sc.departments_file or "packaged Jakarta table", sc.scale,
        f"; behaviour from posterior {posterior.path}" if posterior is not None else "",
    )  # fmt: skip
    fault = os.environ.get(FAULT_ENV)
    if fault and fault in label:
        raise RuntimeError(f"fault injected by {FAULT_ENV}={fault!r}")
    if multirun:
        hc = HydraConfig.get()
        why = store.changed_since_planned(
            Path(hc.sweep.dir), str(hc.job.num), job["key"], job["inputs"]
        )
        if why is not None:
            raise UserError(why)
    with one_thread() if multirun else contextlib.nullcontext():
        return run_job(
            model,
            replicates=cfg.replicates,
            seed=cfg.seed,
            target_gain=cfg.target_gain,
            label=label,
            extra_columns=job["extra_columns"],
            progress=cfg.progress and not multirun,  # parallel bars would interleave
            cache_dir=Path(HydraConfig.get().sweep.dir) / ".baselines" if multirun else None,
            posterior=posterior,
            channels=cfg.channels,
        )


def _failed(out: Path, job: dict, err: Exception) -> float:
    """A job whose computation failed: error.json with the traceback, one line; NaN."""
    message = f"{type(err).__name__}: {err}"
    try:
        write_json(
            out / "error.json", {**job, "error": message, "traceback": traceback.format_exc()}
        )
    except StorageError as storage:
        return _not_written(out, job, storage)
    print(f"error: {job['label']}: {message} (details: {out / 'error.json'})", file=sys.stderr)
    log.error("%s: failed: %s", job["label"], message)
    OUTCOME["error"] = message
    return float("nan")


def _not_written(out: Path, job: dict, err: StorageError) -> float:
    """A job whose files could not be written: not done, said in one line, recorded in
    error.json if even that can be written (then the sweep lists it as failed); NaN."""
    with contextlib.suppress(StorageError):
        write_json(out / "error.json", {**job, "error": f"StorageError: {err}"})
    print(f"error: {job['label']}: {err}", file=sys.stderr)
    log.error("%s: %s", job["label"], err)
    OUTCOME["error"] = str(err)
    return float("nan")


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


def sweep_dir_of(line: CommandLine, experiment: str) -> Path:
    """The sweep folder: `hydra.sweep.dir=...` if given, else
    results/sweeps/<experiment>/<key of the command line>."""
    given = line.given("hydra.sweep.dir")
    if given is not None:
        if not given.strip():
            raise UserError(
                "hydra.sweep.dir is empty: give the sweep's folder (a new or empty one, or a "
                "sweep's), or leave the setting out for results/sweeps/<experiment>/<key>"
            )
        return Path(given)
    relevant = sorted(
        o for o in line.overrides if not o.startswith(("hydra", "progress", "report"))
    )
    return Path("results") / "sweeps" / experiment / identity.folder_key("\n".join(relevant))


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
    out = OUTCOME.get("out")
    if out is None:
        return 1
    if not OUTCOME.get("ok"):
        details = f"; details in {out / 'error.json'}" if (out / "error.json").exists() else ""
        print(
            f"error: the run failed: {OUTCOME.get('error', 'see the messages above')}{details}",
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
            fixed = _fixed_run_dir(plan.line)
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


#: Hydra's flags that show something instead of running, which it allows only without -m.
SHOW_FLAGS = ("--cfg", "-c", "--info", "-i", "--shell-completion", "-sc")


def check_flags(argv: list[str]) -> None:
    """Refuse, in one line, -m with a flag Hydra allows only alone (it raised a traceback)."""
    shown = next((a for a in argv if a.split("=")[0] in SHOW_FLAGS), None)
    if shown is not None and any(a in ("-m", "--multirun") for a in argv):
        raise UserError(
            f"{shown} shows one job and cannot be combined with -m: leave out -m and give one "
            "value per setting (e.g. program.cohort_size=10) to see that job's configuration"
        )


def run_dir_of(line: CommandLine, experiment: str) -> Path:
    """Where a single run's folder will be made: `hydra.run.dir=...` up to its first
    interpolation (a date), else results/runs/<experiment>."""
    given = line.given("hydra.run.dir")
    if given is None:
        return Path("results") / "runs" / experiment
    fixed, dated, _ = given.partition("${")
    return Path(fixed).parent if dated and not fixed.endswith("/") else Path(fixed)


def _fixed_run_dir(line: CommandLine) -> Path | None:
    """The run folder `hydra.run.dir=...` names when it is a fixed path (no interpolation such
    as the date), else None: a fixed folder may already hold something."""
    given = line.given("hydra.run.dir")
    if given is not None and not given.strip():
        raise UserError("hydra.run.dir is empty: give the run's folder, or leave it out")
    return None if given is None or "${" in given else Path(given)


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
