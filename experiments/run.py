"""Run one program design for R replicates (or a sweep of designs with -m).

    python experiments/run.py                                   # current practice, laptop scale
    python experiments/run.py program.cohort_size=20 program.frequency=6
    python experiments/run.py -m program.cohort_size=0,5,10,20 program.frequency=6,12,24
    python experiments/run.py -m +experiment=cohort_frequency   # a preset sweep

Each job writes into its Hydra output directory: timeseries (.parquet, .csv), summary (.parquet,
.csv), departments.parquet, department_ties.csv, config.yaml and provenance.json. At the end of
a multirun the sweep is aggregated into <sweep dir>/aggregate/ with figures and report.html.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import hydra
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
NOT_DESIGN = ("experiment", "+experiment", "replicates", "seed", "progress")


def to_model_config(cfg: DictConfig | RunConfig) -> ModelConfig:
    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    keys = ("scenario", "network", "program", "behavior", "horizon", "engine", "record_staff_every")
    model = {k: data[k] for k in keys}
    return validate_config(config_from_dict(model))


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
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in design.items())


def check_settings(cfg: DictConfig) -> None:
    if not isinstance(cfg.replicates, int) or cfg.replicates < 1:
        raise UserError(f"replicates = {cfg.replicates!r}: must be an integer >= 1")
    if not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise UserError(f"seed = {cfg.seed!r}: must be a non-negative integer")


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        check_settings(cfg)
        model_cfg = to_model_config(cfg)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    design = design_overrides(list(hc.overrides.task))
    extra = {
        (k if "." in k else f"{k}_preset"): v  # a group override such as scenario=small
        for k, v in design.items()
        if k.rsplit(".", 1)[-1] not in LEVER_COLUMNS
    }
    multirun = hc.mode == RunMode.MULTIRUN
    started = time.perf_counter()
    with threadpool_limits(1):  # one BLAS thread per worker: the workers already fill the cores
        tables = run_job(
            model_cfg,
            replicates=cfg.replicates,
            seed=cfg.seed,
            target_gain=cfg.target_gain,
            label=scenario_label(design),
            extra_columns=extra,
            progress=cfg.progress and not multirun,  # parallel bars would interleave
            cache_dir=Path(hc.sweep.dir) / ".baselines" if multirun else None,
            code_version=code_version(),
        )
    atomic_write_text(out / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    tables["department_ties"].to_csv(out / "department_ties.csv")
    write_table(tables["departments"], out / "departments", csv=False)
    write_table(tables["timeseries"], out / "timeseries")
    write_json(
        out / "provenance.json",
        provenance(
            seeds=[cfg.seed + r for r in range(cfg.replicates)],
            overrides=list(hc.overrides.task),
            wall_time_s=round(time.perf_counter() - started, 3),
        ),
    )
    write_table(tables["summary"], out / "summary")  # written last: marks the job complete
    print(f"{scenario_label(design)}: results in {out}")


if __name__ == "__main__":
    main()
