"""The outcomes: the numbers each replicate reports and how designs summarise them, and
what a gain means (per domain, staff proficient, standard procedures).

Gains are paired: every replicate of a design runs beside the no-exchange run with the same
seed, and `gain` is the service index minus the no-exchange one (index units; `POINTS` per
unit in the report).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.pairing import CHANNELS, FINAL_YEAR, final_year


def months_to_target(gain: np.ndarray, target: float) -> float:
    """First month with gain >= target (NaN if never: censored at the horizon)."""
    hit = np.flatnonzero(gain >= target)
    return float(hit[0]) if hit.size else float("nan")


#: Index points per unit of service index (the index runs 0-1; its points 0-100).
POINTS = 100.0


def cost_per_point(cost: float, gain: float) -> float:
    """IDR million per index point of gain (`gain` in index units 0-1); NaN without a gain."""
    return cost / (POINTS * gain) if gain > 0 else float("nan")


def _cost_per_point(months: pd.DataFrame, _target: float) -> float:
    return cost_per_point(float(months.cost.iloc[-1]), final_year(months.gain))


@dataclass(frozen=True)
class Outcome:
    """A number every replicate reports, computed from its paired monthly table (the model's
    columns plus baseline_index and gain) and the target gain.

    summary: how the designs table summarises it across replicates: "mean" (mean, sd and 95%
    interval), "median" (median with never-reached replicates counted last, see
    `tables.censored_median`), "share" (share of replicates), or "none".
    """

    words: str
    of: Callable[[pd.DataFrame, float], float | int | bool]
    summary: str = "mean"
    points: bool = False  # index units, shown in index points
    money: bool = False  # IDR million in the tables, shown in IDR billion
    count: bool = False  # whole things (people, visits, departments), shown as whole numbers


#: Outcomes of one replicate, in the order of the summary table's columns (index units; people
#: real; money IDR million). The designs table, the terminal and the report read them from here.
OUTCOMES = {
    "final_index": Outcome(
        "service index in the final month (0-1)", lambda m, t: float(m.service_index.iloc[-1])
    ),
    "baseline_final_index": Outcome(
        "no-exchange service index in the final month (0-1)",
        lambda m, t: float(m.baseline_index.iloc[-1]),
    ),
    "gain": Outcome(
        f"gain over no exchange, mean of the final {FINAL_YEAR} months (index points)",
        lambda m, t: final_year(m.gain),
        points=True,
    ),
    "final_month_gain": Outcome(
        "gain over no exchange in the final month (index points)",
        lambda m, t: float(m.gain.iloc[-1]),
        points=True,
    ),
    **{
        name: Outcome(
            f"gain through {words} (index points, final year)",
            lambda m, t, name=name: final_year(m[name]) if name in m else float("nan"),
            points=True,
        )
        for name, words in CHANNELS.items()
    },
    "mean_gain": Outcome(
        "gain over no exchange, mean of the whole run (index points)",
        lambda m, t: float(m.gain.mean()),
        points=True,
    ),
    "months_to_target": Outcome(
        "months until the gain first reaches the target",
        lambda m, t: months_to_target(m.gain.to_numpy(), t),
        summary="median",
    ),
    "reached_target": Outcome(
        "replicates whose gain reached the target",
        lambda m, t: not math.isnan(months_to_target(m.gain.to_numpy(), t)),
        summary="share",
    ),
    "colleagues_proficient": Outcome(
        "Jakarta staff never trained by the program but proficient in a Tokyo practice (final "
        "month)",
        lambda m, t: float(m.colleagues_proficient.iloc[-1]),
        count=True,
    ),
    "colleagues_proficient_without_sops": Outcome(
        "of them, in the run without standard procedures: staff who learnt from the trained and "
        "their colleagues (final month)",
        lambda m, t: (
            float(m.colleagues_proficient_without_sops.iloc[-1])
            if "colleagues_proficient_without_sops" in m
            else float("nan")
        ),
        count=True,
    ),
    "trained_proficient": Outcome(
        "staff trained by the program and still proficient in a Tokyo practice (final month)",
        lambda m, t: float(m.trained_proficient.iloc[-1]),
        count=True,
    ),
    "departments_with_sop": Outcome(
        "departments where a Tokyo practice is standard procedure (final month)",
        lambda m, t: int(m.departments_with_sop.iloc[-1]),
        count=True,
    ),
    "staff_sent": Outcome(
        "Jakarta staff sent to Tokyo", lambda m, t: int(m.departures.iloc[-1]), count=True
    ),
    "staff_months_abroad": Outcome(
        "staff-months in Tokyo", lambda m, t: int(m.staff_months_abroad.iloc[-1]), count=True
    ),
    "expert_visits": Outcome(
        "Tokyo experts' visits (experts x visits)",
        lambda m, t: int(m.expert_visits.iloc[-1]),
        count=True,
    ),
    "cost": Outcome("program cost", lambda m, t: float(m.cost.iloc[-1]), money=True),
    "cost_per_point": Outcome(
        "cost per index point of gain", _cost_per_point, summary="none", money=True
    ),
}


def replicate_summary(months: pd.DataFrame, target_gain: float) -> dict:
    """One replicate's value of every outcome."""
    return {name: outcome.of(months, target_gain) for name, outcome in OUTCOMES.items()}


@dataclass(frozen=True)
class Effect:
    """What a gain means, per domain or practice: a family of the model's monthly columns
    (`prefix`<name>) read for the design and for the no-exchange run with the same seed."""

    heading: str  # report heading, with unit
    prefix: str  # column prefix in the monthly table
    final_year: bool  # mean of the final year (else the final month)
    per_staff: bool  # a share of staff, reported as real people
    unit: str  # of a difference
    level_format: str  # format of a level (no exchange, with the design)
    names: str  # "domain" or "practice" (how the report names an outcome)
    none: str | None = None  # sentence for the report when the outcome is zero everywhere
    points: bool = False  # levels are index units: differences shown in index points


#: Effects, in report order: service index per domain, staff proficient per practice, departments
#: where a practice is standard procedure.
EFFECTS = {
    "domain_index": Effect(
        f"Service index by domain (0–1, mean of the final {FINAL_YEAR} months)",
        "index_",
        final_year=True,
        per_staff=False,
        unit="index points",
        level_format=".3f",
        names="domain",
        points=True,
    ),
    "staff_proficient": Effect(
        "Jakarta staff proficient in each Tokyo practice (final month)",
        "adoption_",
        final_year=False,
        per_staff=True,
        unit="people",
        level_format=",.0f",
        names="practice",
        none="No staff member was proficient in any Tokyo practice in the final month, with or "
        "without the exchange.",
    ),
    "sop_departments": Effect(
        "Departments where the practice is standard procedure (final month)",
        "sop_",
        final_year=False,
        per_staff=False,
        unit="departments",
        level_format=".1f",
        names="practice",
        none="No practice became standard procedure (SOP) in any department by the final "
        "month, with or without the exchange: in the model, a department institutionalises a "
        "practice only once its staff's proficiency and its managers carry implementation past "
        "the practice's threshold.",
    ),
}


def _level(months: pd.DataFrame, col: str, effect: Effect) -> float:
    if effect.final_year:
        return final_year(months[col])
    last = months.iloc[-1]
    return last[col] * last["staff"] if effect.per_staff else last[col]


def effects(months: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """Every effect of one replicate, design minus no exchange with the same seed."""
    rows = []
    for kind, effect in EFFECTS.items():
        for col in (c for c in months if c.startswith(effect.prefix)):
            name = col.removeprefix(effect.prefix)
            rows.append((kind, name, _level(months, col, effect), _level(base, col, effect)))
    out = pd.DataFrame(rows, columns=["kind", "outcome", "value", "baseline"])
    out["value"], out["baseline"] = out["value"].astype(float), out["baseline"].astype(float)
    out["difference"] = out["value"] - out["baseline"]
    return out
