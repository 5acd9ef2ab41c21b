"""The paired gain: a design's service index minus that of the same city without the exchange,
run with the same seed (common random numbers), so chance differences between simulated cities
cancel out. The sweeps (experiments/study.py) and the Python API (`sim.gain`) both compute it
here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pandas as pd

from sim.config import ModelConfig, ProgramConfig, with_settings
from sim.model import City, build_city
from sim.runner import RunResult, run_detailed

#: Months averaged for a design's headline gain (the final year; the whole run if shorter).
FINAL_YEAR = 12


def no_exchange(config: ModelConfig) -> ModelConfig:
    """The same city without cohorts or expert visits. Program settings do nothing without
    them, so they are all reset: designs that differ only in their program share this run."""
    return dataclasses.replace(config, program=ProgramConfig(cohort_size=0, experts_per_visit=0))


def final_year(values: pd.Series) -> float:
    """Mean of the last FINAL_YEAR months (the whole run if shorter)."""
    return float(values.iloc[-FINAL_YEAR:].mean())


def paired(design: RunResult, baseline: RunResult) -> RunResult:
    """The design's tables with its no-exchange run beside them: `baseline_index` and `gain`
    (service index minus baseline_index, index units) in the city table, `baseline_quality` in
    the department table (in place)."""
    months, deps = design.months, design.departments
    months["baseline_index"] = baseline.months.service_index.to_numpy()
    months["gain"] = months.service_index - months.baseline_index
    deps["baseline_quality"] = baseline.departments.quality.to_numpy()
    return design


def paired_run(config: ModelConfig, seed: int, city: City | None = None) -> RunResult:
    """A design and its no-exchange run with the same seed and city (built once for both),
    paired (`paired`)."""
    city = city if city is not None else build_city(config, seed)
    return paired(run_detailed(config, seed, city), run_detailed(no_exchange(config), seed, city))


def gain(
    config: ModelConfig | None = None, seeds: Iterable[int] = range(10), **settings
) -> pd.DataFrame:
    """A design's paired gain over no exchange, one row per seed: `seed`, `gain` (mean of the
    final 12 months, index units 0-1; one index point is 0.01), `final_month_gain`,
    `final_index`, `baseline_final_index`, `staff_sent` (real staff), `cost` (IDR million).
    The design is `config` (default: the command line's defaults, `ModelConfig()`) with any
    settings given by name, e.g. `sim.gain(cohort_size=30, months_between_cohorts=6,
    seeds=range(5))`; the same numbers a sweep's summary table gives for these seeds."""
    config = with_settings(config if config is not None else ModelConfig(), settings)
    rows = []
    for seed in seeds:
        months = paired_run(config, seed).months
        rows.append(
            {
                "seed": seed,
                "gain": final_year(months.gain),
                "final_month_gain": float(months.gain.iloc[-1]),
                "final_index": float(months.service_index.iloc[-1]),
                "baseline_final_index": float(months.baseline_index.iloc[-1]),
                "staff_sent": int(months.departures.iloc[-1]),
                "cost": float(months.cost.iloc[-1]),
            }
        )
    return pd.DataFrame(rows)
