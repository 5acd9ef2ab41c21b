"""The default engine: one month of every staff member's life, as array operations.

It applies the same rules in the same order as `StaffAgent.step` (the reference engine), to all
rows at once: training abroad, training with visiting experts, learning from colleagues (read from
the start-of-month snapshot; the mechanisms are in `sim.transfer`), forgetting, returning home,
and turnover. `hire`, the turnover rule, serves both engines.
"""

from __future__ import annotations

import numpy as np

from sim import kernels, rules, transfer
from sim.config import BehaviorConfig
from sim.network import sample_contacts
from sim.state import DepartmentState, ProgramState, Snapshot, StaffState, Streams, Structure


def staff_month(
    staff: StaffState,
    snapshot: Snapshot,
    structure: Structure,
    departments: DepartmentState,
    behavior: BehaviorConfig,
    streams: Streams,
    ledger: ProgramState,
) -> None:
    """The month of every staff member; exits are added to `ledger.totals`."""
    s, b = staff, behavior
    capacity = rules.effective_capacity(
        s.base_capacity, snapshot.mean_proficiency, np.float32(b.absorptive_gain)
    )
    s.tenure += 1
    abroad = np.flatnonzero(s.abroad)
    learn_abroad(s, structure, b, abroad, capacity)
    train_with_experts(s, structure, b, capacity)
    at_home = np.flatnonzero(snapshot.home)
    forget_share = forgetting_shares(departments, b)
    if b.mechanism == "threshold":
        transfer.observe_colleagues(s, snapshot, structure, b, at_home, streams.transfer)
    elif b.mechanism == "gap" and not structure.ties.well_mixed:
        # the default: one compiled pass samples contacts, applies the gap rule and forgetting
        transfer.close_gaps_and_forget(
            s, snapshot, structure, b, at_home, capacity, forget_share, streams.contacts
        )
        forget_share = None
    else:
        contacts, strength = sample_contacts(
            structure.ties, at_home, b.contacts_per_month, streams.contacts
        )
        if b.mechanism == "gap":
            transfer.close_gaps(s, snapshot, structure, b, at_home, contacts, strength, capacity)
        else:
            transfer.catch_practices(
                s, snapshot, structure, b, at_home, contacts, strength, streams.transfer
            )
    if forget_share is not None:
        kernels.forget(s.proficiency, at_home, forget_share, structure.organisation.dept)
    count_down_exchanges(s, abroad)
    ledger.totals["exits"] += leave_or_stay(s, structure, departments, b, at_home, streams.turnover)


def learn_abroad(
    staff: StaffState,
    structure: Structure,
    behavior: BehaviorConfig,
    rows: np.ndarray,
    capacity: np.ndarray,
) -> None:
    if rows.size == 0:
        return
    s, b = staff, behavior
    rate = rules.learning_rate(
        b.abroad_learning_rate,
        capacity[rows, None],
        structure.tacitness,
        b.abroad_tacitness_weight,
    )
    rate = rate * structure.taught[s.placement[rows]]
    s.proficiency[rows] = rules.learn(s.proficiency[rows], rate)


def train_with_experts(
    staff: StaffState, structure: Structure, behavior: BehaviorConfig, capacity: np.ndarray
) -> None:
    s, b = staff, behavior
    rows = np.flatnonzero(s.expert_months_left > 0)
    if rows.size == 0:
        return
    rate = rules.learning_rate(
        b.expert_learning_rate,
        capacity[rows, None],
        structure.tacitness,
        b.abroad_tacitness_weight,
    )
    rate = rate * structure.taught[s.expert_bureau[rows]]
    s.proficiency[rows] = rules.learn(s.proficiency[rows], rate)
    s.expert_months_left[rows] -= 1


def forgetting_shares(departments: DepartmentState, behavior: BehaviorConfig) -> np.ndarray:
    """float (D, P): this month's forgetting share of staff at home, by department."""
    b, deps = behavior, departments
    return rules.forgetting_share(
        b.forgetting_rate,
        b.use_protection,
        deps.implementation,
        deps.sop,
        b.sop_forgetting_factor,
    )


def count_down_exchanges(staff: StaffState, rows: np.ndarray) -> None:
    staff.months_left[rows] -= 1
    staff.abroad[rows[staff.months_left[rows] == 0]] = False


def leave_or_stay(
    staff: StaffState,
    structure: Structure,
    departments: DepartmentState,
    behavior: BehaviorConfig,
    rows: np.ndarray,
    rng: np.random.Generator,
) -> float:
    """Turnover: each of `rows` leaves with the monthly exit probability and is replaced by a new
    hire (`turnover` stream `rng`); returns the real staff who left."""
    u = rng.random(rows.size)
    return hire(staff, structure, departments, behavior, rows[u < structure.monthly_exit], rng)


def hire(
    staff: StaffState,
    structure: Structure,
    departments: DepartmentState,
    behavior: BehaviorConfig,
    rows: np.ndarray,
    rng: np.random.Generator,
) -> float:
    """The holders of `rows` leave; new hires take the posts with what the SOPs teach and fresh
    capacity and willingness (`turnover` stream `rng`). Returns the real staff who left."""
    if rows.size == 0:
        return 0.0
    b, s, deps = behavior, staff, departments
    d = structure.organisation.dept[rows]
    s.proficiency[rows] = rules.new_hire_proficiency(
        deps.implementation[d], deps.sop[d], b.new_hire_sop_level
    )
    s.base_capacity[rows] = rules.draw_beta(rng, b.capacity_mean, b.capacity_sd, rows.size)
    s.willingness[rows] = rules.draw_beta(rng, b.willingness_mean, b.willingness_sd, rows.size)
    s.tenure[rows] = 0
    s.exchanges[rows] = 0
    s.expert_months_left[rows] = 0
    s.returned[rows] = -1
    return float(structure.real_per_post[d].sum())
