"""No inert setting: every behavioural setting moves a reported outcome.

A setting that changes nothing is a defect (a mechanism that never fires, or a number nobody
reads). Each `behavior.*` setting, and each channel switch, is moved within its allowed range in
a small Jakarta where every mechanism fires (cohorts and expert visits, coaching, champions,
standard procedures, turnover, rotation), or in the scenario its mechanism needs (the contagion
and threshold rules); the run must then differ, on the same seed, in a reported outcome of the
monthly city table. docs/model.md §9 points here; a new setting fails the test until it is
listed with the value it is moved to.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim import BehaviorConfig, ModelConfig, ProgramConfig, ScenarioConfig, run
from sim.config import with_settings

#: Columns of the city table a report is built from.
REPORTED = ("service_index", "mean_proficiency", "colleagues_proficient", "trained_proficient",
            "departments_with_sop")  # fmt: skip
REPORTED_PREFIXES = ("index_", "adoption_", "sop_")

#: The small Jakarta where every mechanism fires: 5% of the staff, four years, a cohort of 60
#: real staff (three simulated), managers first, every six months, and a visit of one expert
#: every year.
ACTIVE = ModelConfig(
    scenario=ScenarioConfig(scale=0.05),
    program=ProgramConfig(
        cohort_size=60,
        months_between_cohorts=6,
        selection="managers",
        min_tenure=0,
        experts_per_visit=1,
        months_between_expert_visits=12,
    ),
    horizon=48,
)

#: Scenarios by name: the active one, and the same under each other peer-transfer rule.
SCENARIOS = {
    "active": ACTIVE,
    "contagion": with_settings(ACTIVE, {"mechanism": "contagion"}),
    "threshold": with_settings(ACTIVE, {"mechanism": "threshold"}),
}

#: setting -> (the value it is moved to, the scenario where it must matter).
MOVES = {
    "mechanism": ("contagion", "active"),
    "contacts_per_month": (8, "active"),
    "transfer_rate": (0.9, "active"),
    "contagion_prob": (0.6, "contagion"),
    "threshold_share": (0.1, "threshold"),
    "proficiency_threshold": (0.4, "active"),
    "power_distance": (0.8, "active"),
    "tacitness_scale": (0.5, "active"),
    "abroad_learning_rate": (0.2, "active"),
    "abroad_tacitness_weight": (0.8, "active"),
    "expert_learning_factor": (0.5, "active"),
    "capacity_mean": (0.7, "active"),
    "capacity_sd": (0.05, "active"),
    "absorptive_gain": (0.0, "active"),
    "willingness_mean": (0.3, "active"),
    "willingness_sd": (0.05, "active"),
    "initial_knowledge": (0.5, "active"),
    "forgetting_rate": (0.1, "active"),
    "forgetting_in_use": (0.02, "active"),
    "sharing_months": (2, "active"),
    "coaching_rate": (0.3, "active"),
    "practice_learning_rate": (0.1, "active"),
    "turnover_rate": (0.1, "active"),
    "rotation_interval": (6, "active"),
    "rotation_share": (0.15, "active"),
    "institutionalisation_scale": (1.3, "active"),
    "adoption_speed": (0.2, "active"),
    "implementation_decay": (0.2, "active"),
    "sop_decay_factor": (1.0, "active"),
    "sop_adoption_rate": (0.5, "active"),
    "new_hire_sop_level": (0.0, "active"),
    "absence_penalty": (0.5, "active"),
    # the decomposition's channel switches (model level)
    "colleague_channel": (False, "active"),
    "sop_channel": (False, "active"),
}

SEED = 3


def reported(table):
    """The reported outcome columns of a monthly city table."""
    cols = [c for c in table if c in REPORTED or c.startswith(REPORTED_PREFIXES)]
    return table[cols].to_numpy(dtype=float)


_BASE: dict[str, np.ndarray] = {}


def base_run(scenario: str) -> np.ndarray:
    if scenario not in _BASE:
        _BASE[scenario] = reported(run(SCENARIOS[scenario], SEED))
    return _BASE[scenario]


def test_every_behavioural_setting_is_listed():
    names = {f.name for f in dataclasses.fields(BehaviorConfig)}
    assert names | {"colleague_channel", "sop_channel"} == set(MOVES)


@pytest.mark.parametrize("name", list(MOVES))
def test_moving_a_setting_moves_a_reported_outcome(name):
    value, scenario = MOVES[name]
    base = SCENARIOS[scenario]
    moved = with_settings(base, {name: value})
    assert moved != base, f"{name} = {value!r} is its value in {scenario}: move it elsewhere"
    difference = np.abs(reported(run(moved, SEED)) - base_run(scenario)).max()
    assert difference > 1e-9, f"{name} = {value!r} changes no reported outcome in {scenario}"
