"""The default engine: one month of every staff member's life, as array operations.

It applies the same rules in the same order as `StaffAgent.step` (the reference engine), to all
rows at once: training abroad, training with visiting experts, coaching by the trained, casual
learning from colleagues (read from the start-of-month snapshot; the mechanisms are in
`sim.transfer`), learning on the job and use-dependent forgetting, returning home, and
turnover. `hire`, the turnover rule, serves both engines.
"""

from __future__ import annotations

import numpy as np

from sim import rules, transfer
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
    count_down_sharing(s, snapshot)
    abroad = np.flatnonzero(s.abroad)
    learn_abroad(s, structure, b, abroad, capacity)
    train_with_experts(s, structure, b, capacity, streams.sharing)
    at_home = np.flatnonzero(snapshot.home)
    used = transfer.coach(s, snapshot, structure, b, capacity)
    if b.mechanism == "gap" and not structure.ties.well_mixed:
        # the default: one compiled pass samples contacts, applies the gap rule, learning on
        # the job and forgetting
        transfer.close_gaps_practise_forget(
            s, snapshot, structure, departments, b, at_home, capacity, used, streams.contacts
        )
    else:
        if b.mechanism == "threshold":
            transfer.observe_colleagues(s, snapshot, structure, b, at_home, streams.transfer)
        else:
            contacts, strength = sample_contacts(
                structure.ties, at_home, b.contacts_per_month, streams.contacts
            )
            if b.mechanism == "gap":
                transfer.close_gaps(
                    s, snapshot, structure, b, at_home, contacts, strength, capacity
                )
            else:
                transfer.catch_practices(
                    s, snapshot, structure, b, at_home, contacts, strength, streams.transfer
                )
        transfer.practise_forget(s, snapshot, structure, departments, b, at_home, capacity, used)
    count_down_exchanges(s, b, abroad, streams.sharing)
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


def expert_rate(behavior: BehaviorConfig) -> float:
    """Monthly learning rate with a visiting expert at capacity 1: a multiple of the rate in
    Tokyo (`expert_learning_factor`)."""
    return behavior.abroad_learning_rate * behavior.expert_learning_factor


def train_with_experts(
    staff: StaffState,
    structure: Structure,
    behavior: BehaviorConfig,
    capacity: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """A month with the visiting expert for everyone in expert training; those who finish
    may start their sharing months (`start_sharing`, `sharing` stream `rng`)."""
    s, b = staff, behavior
    rows = np.flatnonzero(s.expert_months_left > 0)
    if rows.size == 0:
        return
    rate = rules.learning_rate(
        expert_rate(b), capacity[rows, None], structure.tacitness, b.abroad_tacitness_weight
    )
    rate = rate * structure.taught[s.expert_bureau[rows]]
    s.proficiency[rows] = rules.learn(s.proficiency[rows], rate)
    s.expert_months_left[rows] -= 1
    start_sharing(s, b, rows[s.expert_months_left[rows] == 0], rng)


def count_down_sharing(staff: StaffState, snapshot: Snapshot) -> None:
    """One sharing month fewer for everyone at home with sharing months left at the start of
    the month (they coach this month, from the snapshot); run before anything sets new ones."""
    s = staff
    s.sharing_left[snapshot.home & (s.sharing_left > 0)] -= 1


def start_sharing(
    staff: StaffState, behavior: BehaviorConfig, rows: np.ndarray, rng: np.random.Generator
) -> None:
    """`rows` have just finished their program training: each shares what they learnt (coaches,
    §7.4) for `sharing_months` with probability their willingness to share, else not at all
    (one uniform draw each from the `sharing` stream `rng`)."""
    if rows.size == 0:
        return
    shares = rng.random(rows.size) < staff.willingness[rows]
    staff.sharing_left[rows] = np.where(shares, behavior.sharing_months, 0)


def count_down_exchanges(
    staff: StaffState, behavior: BehaviorConfig, rows: np.ndarray, rng: np.random.Generator
) -> None:
    """One month fewer in Tokyo for `rows`; those who finish are home and may share what they
    learnt (`start_sharing`)."""
    staff.months_left[rows] -= 1
    back = rows[staff.months_left[rows] == 0]
    staff.abroad[back] = False
    start_sharing(staff, behavior, back, rng)


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
    s.trained[rows] = False
    s.sharing_left[rows] = 0
    return float(structure.real_per_post[d].sum())
