"""Run one program design for R replicates (or a sweep of designs with -m).

    python experiments/run.py                                   # current practice, laptop scale
    python experiments/run.py program.cohort_size=20 program.months_between_cohorts=6
    python experiments/run.py -m program.cohort_size=0,5,10,20 program.months_between_cohorts=6,12,24
    python experiments/run.py -m +experiment=cohort_frequency   # a preset sweep

Each job writes into its Hydra output directory: timeseries (.parquet, .csv), summary (.parquet,
.csv), departments.parquet, department_ties.csv, config.yaml, job.json and provenance.json;
summary.parquet is written last and marks the job complete. A sweep's folder is named after its
command line (results/sweeps/<experiment>/<key>), so running the same command again resumes it:
finished jobs with the same configuration and code version are skipped. A job that fails writes
error.json and the sweep goes on; the aggregate lists failed jobs. At the end of a multirun the
sweep is aggregated into <sweep dir>/aggregate/ with figures and report.html.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from experiments.jobs import LEVER_COLUMNS, run_job
from experiments.outputs import (
    atomic_write_text,
    code_version,
    provenance,
    write_json,
    write_table,
)
from sim import ModelConfig, UserError, config_from_dict, validate_config
from sim.schema import RunConfig

#: Overrides that do not change the design (left out of a job's scenario label).
NOT_DESIGN = ("experiment", "+experiment", "replicates", "seed", "progress", "report", "reference")
#: Settings that do not change results (left out of a job's key).
NOT_RESULT = ("progress", "report", "reference")
#: Testing hook: a job whose scenario label contains this text raises (see README).
FAULT_ENV = "EXCHANGE_FAULT_INJECTION"


def to_model_config(cfg: DictConfig | RunConfig) -> ModelConfig:
    """The model configuration of a job, with the cohort size derived from the budget if set."""
    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    keys = [f.name for f in dataclasses.fields(ModelConfig)]
    model = validate_config(config_from_dict({k: data[k] for k in keys}))
    resolve_data_paths(model)
    budget = data.get("budget") or {}
    yearly = budget_staff_months(budget, model.program.cost_per_staff_month)
    if yearly is not None:
        model.program.cohort_size = cohort_for_budget(
            yearly, model.program.months_between_cohorts, model.program.duration
        )
        validate_config(model)
    return model


#: Where relative data-file paths of a scenario are looked up, in order (after the working
#: directory): the scenario configs' folder, then the project folder.
DATA_SEARCH = (Path(__file__).resolve().parents[1] / "configs" / "scenario",
               Path(__file__).resolve().parents[1])  # fmt: skip
DATA_FILES = ("departments_file", "practices_file", "roster_file", "ties_file")


def resolve_data_paths(model: ModelConfig) -> None:
    """Make the scenario's relative file paths absolute: the working directory first, then
    DATA_SEARCH; a path found nowhere is left as it is (and reported when read)."""
    for key in DATA_FILES:
        value = getattr(model.scenario, key)
        if value is None or Path(value).is_absolute():
            continue
        for base in (Path.cwd(), *DATA_SEARCH):
            if (base / value).exists():
                setattr(model.scenario, key, str((base / value).resolve()))
                break


def budget_staff_months(budget: dict, cost_per_staff_month: float) -> float | None:
    """Staff-months abroad per year a design may spend (None: no budget)."""
    months, money = budget.get("staff_months_per_year"), budget.get("money_per_year")
    share = budget.get("share", 1.0)
    if months is not None and money is not None:
        raise UserError("budget: give staff_months_per_year or money_per_year, not both")
    if money is not None:
        if money < 0 or cost_per_staff_month <= 0:
            raise UserError(
                f"budget.money_per_year = {money!r}: must be >= 0 with a positive "
                "program.cost_per_staff_month"
            )
        months = money / cost_per_staff_month
    if months is None:
        return None
    if months < 0:
        raise UserError(f"budget.staff_months_per_year = {months!r}: must be >= 0")
    if not 0 < share <= 1:
        raise UserError(f"budget.share = {share!r}: must be a number in (0, 1]")
    return months * share


def cohort_for_budget(staff_months_per_year: float, frequency: int, duration: int) -> int:
    """Cohort size whose stays, `duration` months every `frequency` months, spend the budget
    (rounded to the nearest person; the actual spend is in the job's summary)."""
    return int(round(staff_months_per_year * frequency / (12 * duration)))


def design_overrides(overrides: list[str]) -> dict[str, str]:
    """The job's command-line overrides that define its design, as key -> value."""
    out = {}
    for item in overrides:
        key, _, value = item.partition("=")
        key = key.lstrip("+~")
        if key.startswith("hydra") or key in NOT_DESIGN:
            continue
        out[key] = value
    return out


def scenario_label(design: dict[str, str]) -> str:
    if not design:
        return "as configured"
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={_short(v)}" for k, v in design.items())


def _short(value: str) -> str:
    """A float from a sampler (0.7693540895275148) as 3 significant digits; others unchanged."""
    try:
        number = float(value)
    except ValueError:
        return value
    return value if "." not in value or len(value) <= 6 else f"{number:.3g}"


def check_settings(cfg: DictConfig) -> None:
    if not isinstance(cfg.replicates, int) or cfg.replicates < 1:
        raise UserError(f"replicates = {cfg.replicates!r}: must be an integer >= 1")
    if not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise UserError(f"seed = {cfg.seed!r}: must be a non-negative integer")
    if not 0 <= cfg.target_gain <= 1:
        raise UserError(f"target_gain = {cfg.target_gain!r}: must be a number in [0, 1]")


def job_key(cfg: DictConfig, version: str) -> str:
    """Identity of a job's results: its resolved settings and the code version."""
    data = OmegaConf.to_container(cfg, resolve=True)
    for key in NOT_RESULT:
        data.pop(key, None)
    blob = json.dumps({"config": data, "code": version}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def previous_result(out: Path, key: str) -> str:
    """'done' if `out` holds complete results with this key, 'other' if with another key (they
    are then moved aside, never overwritten), 'none' otherwise. Leftover temporary files of an
    interrupted job are removed."""
    for tmp in out.glob(".*.tmp*"):
        tmp.unlink(missing_ok=True)
    if not (out / "summary.parquet").exists():
        return "none"
    try:
        old = json.loads((out / "job.json").read_text())["key"]
    except (OSError, ValueError, KeyError):
        old = "unknown"
    if old == key:
        return "done"
    aside = out / f"superseded-{old}"
    aside.mkdir(exist_ok=True)
    for item in out.iterdir():
        if item.is_file():
            shutil.move(str(item), aside / item.name)
    print(
        f"warning: {out} held results of another configuration or code version; moved to {aside}",
        file=sys.stderr,
    )
    return "other"


def run_and_write(cfg: DictConfig, out: Path, multirun: bool, overrides: list[str]) -> float:
    """Run (or skip, if done) one job and write its files; return its mean gain over replicates
    (the objective an optimising sweeper maximises; NaN for a failed job)."""
    version = code_version()
    key = job_key(cfg, version)
    design = design_overrides(overrides)
    label = scenario_label(design)
    if previous_result(out, key) == "done":
        print(f"{label}: already done, skipped ({out})")
        return float(pd.read_parquet(out / "summary.parquet").gain.mean())
    (out / "error.json").unlink(missing_ok=True)
    extra = {
        (k if "." in k else f"{k}_preset"): v  # a group override such as scenario=small
        for k, v in design.items()
        if k.rsplit(".", 1)[-1] not in LEVER_COLUMNS
    }
    job = {"key": key, "code_version": version, "label": label, "extra_columns": extra}
    started = time.perf_counter()
    try:
        fault = os.environ.get(FAULT_ENV)
        if fault and fault in label:
            raise RuntimeError(f"fault injected by {FAULT_ENV}={fault!r}")
        with threadpool_limits(1):  # one BLAS thread per worker: the workers fill the cores
            tables = run_job(
                to_model_config(cfg),
                replicates=cfg.replicates,
                seed=cfg.seed,
                target_gain=cfg.target_gain,
                label=label,
                extra_columns=extra,
                progress=cfg.progress and not multirun,  # parallel bars would interleave
                cache_dir=Path(HydraConfig.get().sweep.dir) / ".baselines" if multirun else None,
                code_version=version,
            )
    except Exception as err:  # a failing job is recorded; the other jobs go on
        write_json(
            out / "error.json",
            {**job, "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()},
        )
        print(f"error: {label}: {type(err).__name__}: {err} (details: {out / 'error.json'})")
        return float("nan")
    atomic_write_text(out / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    atomic_write_text(out / "department_ties.csv", tables["department_ties"].to_csv())
    write_table(tables["departments"], out / "departments", csv=False)
    write_table(tables["timeseries"], out / "timeseries")
    write_json(out / "job.json", job)
    write_json(
        out / "provenance.json",
        provenance(
            seeds=[cfg.seed + r for r in range(cfg.replicates)],
            overrides=overrides,
            wall_time_s=round(time.perf_counter() - started, 3),
        ),
    )
    write_table(tables["summary"], out / "summary")  # written last: marks the job complete
    print(f"{label}: results in {out}")
    return float(tables["summary"].gain.mean())


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def main(cfg: DictConfig) -> float:
    hc = HydraConfig.get()
    return run_and_write(
        cfg,
        Path(hc.runtime.output_dir),
        multirun=hc.mode == RunMode.MULTIRUN,
        overrides=list(hc.overrides.task),
    )


def sweep_dir_override(argv: list[str], experiment: str) -> str:
    """`hydra.sweep.dir=results/sweeps/<experiment>/<key of the command line>`."""
    from experiments.preflight import split_argv

    _, overrides, _ = split_argv(argv)
    relevant = sorted(o for o in overrides if not o.startswith(("hydra", "progress", "report")))
    key = hashlib.sha256("\n".join(relevant).encode()).hexdigest()[:10]
    return f"hydra.sweep.dir=results/sweeps/{experiment}/{key}"


def cli(argv: list[str]) -> int:
    """Check every job first (a bad setting writes nothing), then hand over to Hydra."""
    from experiments.preflight import check_command, experiment_name, split_argv

    problem = check_command(argv)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    multirun, overrides, runs = split_argv(argv)
    if multirun and runs and not any(o.startswith("hydra.sweep.dir=") for o in overrides):
        argv = [*argv, sweep_dir_override(argv, experiment_name(overrides))]
    sys.argv = [sys.argv[0], *argv]
    main()
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
