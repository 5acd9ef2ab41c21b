"""Hydra schema: the run configuration as a dataclass registered in Hydra's ConfigStore.

`configs/config.yaml` composes the YAML groups (scenario, program, behavior, network, experiment)
onto this schema, so a mistyped key or a wrong type is refused by Hydra before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore

from sim.config import ModelConfig


@dataclass
class BudgetConfig:
    """Equal-budget designs: derive each design's cohort size from a yearly budget."""

    #: Staff-months abroad per year the program may spend; None = cohort_size as given.
    staff_months_per_year: float | None = None
    #: Alternatively a yearly budget in IDR million (converted with program.cost_per_staff_month).
    money_per_year: float | None = None
    #: Share of the budget a design spends, in (0, 1] (a lever for optimisation).
    share: float = 1.0


@dataclass
class RunConfig(ModelConfig):
    """One sweep job: a model configuration (all of ModelConfig), replicated."""

    budget: BudgetConfig = field(default_factory=BudgetConfig)
    #: Replicates per job, >= 1; replicate r uses seed + r in every job (common random numbers).
    replicates: int = 10
    #: Base seed, >= 0.
    seed: int = 0
    #: Gain in service index (0-1 scale) whose first month is reported as months_to_target.
    target_gain: float = 0.005
    #: Reference design for paired comparisons in the aggregate, as lever=value pairs separated
    #: by commas (e.g. "duration=6,frequency=12,selection=random"); None = no reference.
    reference: str | None = None
    #: Name of the experiment (folder name of its sweeps).
    experiment: str = "default"
    #: Show a progress bar over replicates.
    progress: bool = True
    #: After a sweep, draw the figures and write report.html (tables are always written).
    report: bool = True


def register() -> None:
    ConfigStore.instance().store(name="run_schema", node=RunConfig)


register()
