"""The task Hydra runs for each job, in the job's process: the composed configuration in, the
job's files out (`store.write_job`), or error.json with one line when it fails; a job already
done with the same key is skipped. Its return value is the job's mean gain in index points (the
objective an optimising sweeper maximises).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import traceback
from pathlib import Path

import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from experiments.jobs import identity, store
from experiments.jobs.job import one_thread, run_job
from experiments.jobs.outputs import provenance, storage_error, write_json
from experiments.study.levers import LEVERS, design_label, design_overrides
from experiments.study.outcomes import POINTS
from experiments.study.posterior import Posterior, posterior_of
from experiments.study.settings import to_model_config
from sim import ModelConfig, UserError
from sim.errors import StorageError

#: Testing hook: a job whose design label contains this text raises (see README).
FAULT_ENV = "EXCHANGE_FAULT_INJECTION"


#: What the last single run of this process did: its folder, ok, error. Read by run.py after
#: Hydra returns: Hydra 1.3 drops the task's return value in a single run and names the run's
#: (dated) folder itself; a sweep reads its folder instead.
LAST_RUN: dict = {}


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
    LAST_RUN.update(out=out, label=label, ok=False)
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
        LAST_RUN["ok"] = True
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
    LAST_RUN["ok"] = True
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
    LAST_RUN["error"] = message
    return float("nan")


def _not_written(out: Path, job: dict, err: StorageError) -> float:
    """A job whose files could not be written: not done, said in one line, recorded in
    error.json if even that can be written (then the sweep lists it as failed); NaN."""
    with contextlib.suppress(StorageError):
        write_json(out / "error.json", {**job, "error": f"StorageError: {err}"})
    print(f"error: {job['label']}: {err}", file=sys.stderr)
    log.error("%s: %s", job["label"], err)
    LAST_RUN["error"] = str(err)
    return float("nan")
