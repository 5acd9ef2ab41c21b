"""A model run as a pure function: config and seed in, monthly table out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.config import ModelConfig
from sim.errors import NonFiniteError
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
    department_ties: pd.DataFrame  # department, other_department, ties (`department_ties`)
    returnees: pd.DataFrame | None = None
    statistics: dict[str, float] | None = None  # run-level (`ExchangeModel.run_statistics`)


def run_detailed(
    config: ModelConfig | None = None, seed: int = 0, city: City | None = None
) -> RunResult:
    """Like `run`, plus the per-department monthly table and the department tie counts."""
    model = ExchangeModel(config, seed=seed, city=city)
    try:
        for _ in range(model.config.horizon):
            model.step()
        result = RunResult(
            model.results(),
            model.department_results(),
            model.department_ties(),
            model.returnee_results(),
            model.run_statistics(),
        )
    finally:
        model.release()
    check_finite(result.months, "city table", model.seed)
    check_finite(result.departments, "department table", model.seed)
    return result


def check_finite(table: pd.DataFrame, what: str, seed: int) -> None:
    """Raise NonFiniteError naming the first NaN or infinite value of a recorded table (a NaN
    service index must fail the run, never be averaged into a report)."""
    numbers = table.select_dtypes("number")
    bad = ~np.isfinite(numbers.to_numpy(dtype=float))
    if not bad.any():
        return
    row, col = np.argwhere(bad)[0]
    month = table["month"].iloc[row] if "month" in table else row
    raise NonFiniteError(
        f"the run (seed {seed}) recorded {numbers.iloc[row, col]} in {what} column "
        f"{numbers.columns[col]!r} at month {month}: an input value is out of range for the "
        "model (a weight, a cost or a rate far too large); check the settings and data files"
    )
