"""The paired gain and where it came from.

The gain is a design's service index minus that of the same city without the exchange, run with
the same seed (common random numbers), so chance differences between simulated cities cancel out.

Its decomposition by channel (docs/model.md §7.15) runs the design twice more with the same seed
and city, switching channels off (`ModelConfig.colleague_channel`, `sop_channel`) and adding them
back in causal order, each channel on top of those it needs:

- T, `alone`: both off: the trained alone (their own proficiency, and their own units following
  what they champion with what their people already master);
- C, `no_sops`: colleagues on, standard procedures off: the trained and everyone who learnt from
  them (coaching, conversation, and the colleagues of those colleagues);
- A: everything on: the design itself.

Month by month, `gain_travellers` = T - baseline, `gain_colleagues` = C - T and `gain_sops` =
A - C: they add up to the gain exactly. A standard procedure needs a pilot unit of proficient
people, which the trained alone rarely make, so SOPs come last: their part is what procedures add
on top of the people. "Travellers" includes the staff trained by visiting experts. The sweeps
(experiments/jobs/job.py) and the Python API (`sim.gain`) both compute all of it here.
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

#: The parts of a gain, in order: column of the monthly table -> what it is.
CHANNELS = {
    "gain_travellers": "the staff trained by the program themselves (in Tokyo or by experts)",
    "gain_colleagues": "colleagues who learnt from them (coaching, conversation, working under "
    "them), and those colleagues' colleagues",
    "gain_sops": "standard procedures (SOPs) that departments adopted",
}

#: The counterfactual runs of the decomposition: name -> (colleague_channel, sop_channel).
COUNTERFACTUALS = {"no_sops": (True, False), "alone": (False, False)}


def no_exchange(config: ModelConfig) -> ModelConfig:
    """The same city without cohorts or expert visits. Program settings and channel switches do
    nothing without them, so they are all reset: designs that differ only in their program
    share this run."""
    return dataclasses.replace(
        config,
        program=ProgramConfig(cohort_size=0, experts_per_visit=0),
        colleague_channel=True,
        sop_channel=True,
    )


def counterfactual(config: ModelConfig, name: str) -> ModelConfig:
    """The design with the channels of counterfactual `name` (`COUNTERFACTUALS`) switched off
    (a channel the design already has off stays off)."""
    colleagues, sops = COUNTERFACTUALS[name]
    return dataclasses.replace(
        config,
        colleague_channel=config.colleague_channel and colleagues,
        sop_channel=config.sop_channel and sops,
    )


def final_year(values: pd.Series) -> float:
    """Mean of the last FINAL_YEAR months (the whole run if shorter)."""
    return float(values.iloc[-FINAL_YEAR:].mean())


def decompose(design, no_sops, alone, baseline) -> dict:
    """The gain's parts (`CHANNELS`) from the service index (a number or a series of months) of
    the design, of its counterfactual runs (`COUNTERFACTUALS`) and of the no-exchange run; they
    add up to design - baseline."""
    return {
        "gain_travellers": alone - baseline,
        "gain_colleagues": no_sops - alone,
        "gain_sops": design - no_sops,
    }


def paired(
    design: RunResult, baseline: RunResult, counterfactuals: dict[str, RunResult] | None = None
) -> RunResult:
    """The design's tables with its no-exchange run beside them: `baseline_index` and `gain`
    (service index minus baseline_index, index units) in the city table, `baseline_quality` in
    the department table (in place); with the `counterfactuals` (`COUNTERFACTUALS`), also the
    gain's parts (`CHANNELS`) and `colleagues_proficient_without_sops`: the staff never trained
    who were proficient in the run without standard procedures, i.e. who learnt from the
    trained and their colleagues rather than on the job under an SOP."""
    months, deps = design.months, design.departments
    months["baseline_index"] = baseline.months.service_index.to_numpy()
    months["gain"] = months.service_index - months.baseline_index
    if counterfactuals is not None:
        index = {k: v.months.service_index.to_numpy() for k, v in counterfactuals.items()}
        parts = decompose(months.service_index, **index, baseline=months.baseline_index)
        for name, values in parts.items():
            months[name] = values
        taught = counterfactuals["no_sops"].months.colleagues_proficient.to_numpy()
        months["colleagues_proficient_without_sops"] = taught
    deps["baseline_quality"] = baseline.departments.quality.to_numpy()
    return design


def counterfactual_runs(
    config: ModelConfig, seed: int, city: City, design: RunResult | None = None
) -> dict[str, RunResult]:
    """The decomposition's counterfactual runs of a design (same seed and city). Given the
    design's own run, the run without standard procedures is not repeated when the design never
    adopted one: it would be the same run, draw for draw (SOP decisions draw from their own
    stream whether or not they are allowed; tested)."""
    runs = {}
    for name in COUNTERFACTUALS:
        never = design is not None and not design.months.departments_with_sop.any()
        if name == "no_sops" and never:
            runs[name] = design
        else:
            runs[name] = run_detailed(counterfactual(config, name), seed, city)
    return runs


def paired_run(
    config: ModelConfig,
    seed: int,
    city: City | None = None,
    channels: bool = True,
    baseline: RunResult | None = None,
) -> RunResult:
    """A design and its no-exchange run with the same seed and city (built once for both; the
    no-exchange run may be given, from a cache say), paired (`paired`); with `channels`, the
    gain decomposed (two more runs)."""
    city = city if city is not None else build_city(config, seed)
    design = run_detailed(config, seed, city)
    if baseline is None:
        baseline = run_detailed(no_exchange(config), seed, city)
    extra = counterfactual_runs(config, seed, city, design) if channels else None
    return paired(design, baseline, extra)


def gain(
    config: ModelConfig | None = None, seeds: Iterable[int] = range(10), **settings
) -> pd.DataFrame:
    """A design's paired gain over no exchange, one row per seed: `seed`, `gain` (mean of the
    final 12 months, index units 0-1; one index point is 0.01) and its parts `gain_travellers`,
    `gain_colleagues`, `gain_sops` (they add up to `gain`), `final_month_gain`, `final_index`,
    `baseline_final_index`, `staff_sent` (real staff), `cost` (IDR million), and in the final
    month `trained_proficient` and `colleagues_proficient` (real staff proficient in at least
    one practice who were / were never trained by the program),
    `colleagues_proficient_without_sops` (the latter in the run without standard procedures:
    those who learnt from colleagues) and `departments_with_sop`.
    The design is `config` (default: the command line's defaults, `ModelConfig()`) with any
    settings given by name, e.g. `sim.gain(cohort_size=30, months_between_cohorts=6,
    seeds=range(5))`; the same numbers a sweep's summary table gives for these seeds."""
    config = with_settings(config if config is not None else ModelConfig(), settings)
    rows = []
    for seed in seeds:
        months = paired_run(config, seed).months
        last = months.iloc[-1]
        rows.append(
            {
                "seed": seed,
                "gain": final_year(months.gain),
                **{name: final_year(months[name]) for name in CHANNELS},
                "final_month_gain": float(last.gain),
                "final_index": float(last.service_index),
                "baseline_final_index": float(last.baseline_index),
                "staff_sent": int(last.departures),
                "cost": float(last.cost),
                "trained_proficient": float(last.trained_proficient),
                "colleagues_proficient": float(last.colleagues_proficient),
                "colleagues_proficient_without_sops": float(
                    last.colleagues_proficient_without_sops
                ),
                "departments_with_sop": int(last.departments_with_sop),
            }
        )
    return pd.DataFrame(rows)
