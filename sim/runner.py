"""A model run as a pure function: config and seed in, monthly table out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.config import ModelConfig
from sim.model import City, ExchangeModel


def run(config: ModelConfig | None = None, seed: int = 0, city: City | None = None) -> pd.DataFrame:
    """Simulate `config.horizon` months with `seed`; one row per month 0..horizon.

    Columns: month, service_index, index_<domain>, mean_proficiency, staff (headcount, constant),
    staff_abroad (this month),
    expert_trainees (still in training at the end of the month), cumulative departures /
    staff_months_abroad / expert_visits (expert-visits: experts x visits) / cost (IDR million) /
    exits / rotations / cohort_shortfall, adoption_<practice> (share of staff proficient) and
    sop_<practice> (departments where it is standard procedure).
    """
    return run_detailed(config, seed, city).months


@dataclass(frozen=True)
class RunResult:
    """Everything one run reports: monthly city table, monthly department table, tie counts,
    and the returnees k months after their return (`ExchangeModel.returnee_results`)."""

    months: pd.DataFrame
    departments: pd.DataFrame
    department_ties: np.ndarray  # int (D, D)
    returnees: pd.DataFrame | None = None


def run_detailed(
    config: ModelConfig | None = None, seed: int = 0, city: City | None = None
) -> RunResult:
    """Like `run`, plus the per-department monthly table and the department tie counts."""
    model = ExchangeModel(config, seed=seed, city=city)
    try:
        for _ in range(model.config.horizon):
            model.step()
        return RunResult(
            model.results(),
            model.department_results(),
            model.department_ties(),
            model.returnee_results(),
        )
    finally:
        model.release()
