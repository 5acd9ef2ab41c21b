"""The run-level settings of a study (replicates, seeds, target, budget, reference,
discount rate), registered in Hydra's ConfigStore, and how a run configuration becomes a
model configuration (data paths, the budget rule).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from experiments import PROJECT
from experiments.study.posterior import Posterior, posterior_of
from sim import (
    ModelConfig,
    UserError,
    config_from_dict,
    settings,
    validate_config,
)
from sim.settings import boolean, integer, interval, optional, setting, share, text


@dataclass
class BudgetConfig:
    """Equal-budget designs: derive each design's cohort size from a yearly budget."""

    #: Real staff-months abroad per year the program may spend; None = cohort_size as given.
    staff_months_per_year: float | None = setting(
        None,
        "real staff-months per year",
        optional(interval(0.0, 1e9)),
        "lever for equal-budget comparisons; the cohort follows from the months between cohorts "
        "and the stay: budget x months between cohorts / (12 x duration), rounded",
        also="; not with money_per_year",
    )
    #: Alternatively a yearly budget in IDR million (converted with program.cost_per_staff_month).
    money_per_year: float | None = setting(
        None,
        "IDR million per year",
        optional(interval(0.0, 1e12)),
        "as staff_months_per_year, converted at program.cost_per_staff_month",
        also="; not with staff_months_per_year; needs a positive program.cost_per_staff_month",
    )
    #: Share of the budget a design spends (a lever for optimisation).
    share: float = setting(
        1.0,
        "share of the budget",
        interval(0.0, 1.0, open_low=True),
        "lever for the Optuna search: a design may spend less than the budget",
    )


@dataclass
class RunConfig(ModelConfig):
    """One sweep job: a model configuration (all of ModelConfig), replicated."""

    budget: BudgetConfig = field(default_factory=BudgetConfig)
    #: Replicates per job; replicate r uses seed + r in every job (common random numbers).
    replicates: int = setting(
        10,
        "paired seeds per design",
        integer(1, 10_000),
        "assumption: at full scale 10 paired seeds give gain intervals of a few hundredths of a "
        "point (make demo)",
    )
    #: Base seed.
    seed: int = setting(0, "seed", integer(0, 2**32 - 1), "replicate r uses seed + r in every job")
    #: Gain whose first month is reported as months_to_target.
    target_gain: float = setting(
        0.005,
        "index units (0–1)",
        share(),
        "half an index point: a gain a planner notices; months to target is its first month",
    )
    #: Reference design for paired comparisons in the aggregate, as lever=value pairs separated
    #: by commas (e.g. "duration=6,months_between_cohorts=12"); None = no reference.
    reference: str | None = setting(
        None,
        "lever=value pairs",
        optional(text()),
        "the aggregate adds each design's paired difference from it",
        also="; must match exactly one design of the sweep",
    )
    #: Name of the experiment (folder name of its sweeps).
    experiment: str = setting(
        "default", "label", text(), "results/sweeps/<experiment>/<key of the command line>"
    )
    #: Show a progress bar over replicates.
    progress: bool = setting(True, None, boolean(), "terminal only; no bar in parallel sweeps")
    #: After a sweep, draw the figures and write report.html (tables are always written).
    report: bool = setting(True, None, boolean(), "report=false for table-only sweeps")
    #: Decompose every replicate's gain by channel: travellers, colleagues, standard procedures.
    channels: bool = setting(
        True,
        None,
        boolean(),
        "two more runs per replicate (docs/model.md §7.15); false for large searches, whose "
        "report then says the gain was not decomposed",
    )
    #: Whose behaviour the replicates have: `packaged` (replicate r takes draw r of the packaged
    #: behaviour draws: the calibrated posterior beside the stated ranges of the other parameters),
    #: `none` (the configured behaviour: assumed defaults), or a posterior_draws.parquet of
    #: experiments/calibrate.py (or its folder). Replicate r of every design, and its no-exchange
    #: run, uses draw r.
    posterior: str | None = setting(
        "packaged",
        "path",
        optional(text()),
        "carries calibrated parameter uncertainty into the comparison of designs (docs/model.md "
        "§11); `none` (or null) = the configured behaviour, labelled as assumed",
        also="; needs at least `replicates` draws",
    )
    #: Real yearly rate at which the report discounts each month's program cost to the start
    #: (present value of the costs over the horizon).
    discount_rate: float = setting(
        0.06,
        "per year (real)",
        interval(0.0, 0.5),
        "ADB, Guidelines for the Economic Analysis of Projects (2017): 9% real in general, 6% for "
        "social-sector projects, as staff training is; 0 = undiscounted (docs/model.md §7.13)",
    )


def register() -> None:
    """Make `run_schema` (RunConfig) known to Hydra (configs/config.yaml composes onto it)."""
    ConfigStore.instance().store(name="run_schema", node=RunConfig)


register()


#: Where relative data-file paths of a scenario are looked up, in order (after the working
#: directory): the scenario configs' folder, then the project folder.


DATA_SEARCH = (PROJECT / "configs" / "scenario", PROJECT)


DATA_FILES = ("departments_file", "practices_file", "roster_file", "ties_file")


def to_model_config(cfg: DictConfig | RunConfig | dict) -> ModelConfig:
    """The model configuration of a job, with the cohort size derived from the budget if set."""
    if isinstance(cfg, DictConfig):
        data = OmegaConf.to_container(cfg, resolve=True)
    else:
        data = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else cfg
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
    """Real staff-months abroad per year a design may spend (None: no budget)."""
    months, money = budget.get("staff_months_per_year"), budget.get("money_per_year")
    if months is not None and money is not None:
        raise UserError("budget: give staff_months_per_year or money_per_year, not both")
    if money is not None:
        if cost_per_staff_month <= 0:
            raise UserError(
                f"budget.money_per_year = {money!r}: needs a positive program.cost_per_staff_month"
            )
        months = money / cost_per_staff_month
    return None if months is None else months * budget.get("share", 1.0)


def cohort_for_budget(staff_months_per_year: float, months_between: int, duration: int) -> int:
    """Cohort size (real staff) whose stays, `duration` months every `months_between` months,
    spend the budget (rounded to the nearest person; the actual spend is in the summary)."""
    return int(round(staff_months_per_year * months_between / (12 * duration)))


def check_settings(cfg: DictConfig | RunConfig) -> Posterior | None:
    """The run-level settings, from their declarations (the model's own are checked by
    `sim.validate_config`), and the posterior draws file if one is given (returned)."""
    run = OmegaConf.to_object(cfg) if isinstance(cfg, DictConfig) else cfg
    for obj, prefix in ((run, ""), (run.budget, "budget")):
        message = settings.problem(obj, prefix)
        if message:
            raise UserError(message)
    return posterior_of(cfg)
