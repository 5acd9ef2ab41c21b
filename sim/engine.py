"""The default engine: one month of every staff member's life, as array operations.

It applies the same rules in the same order as `StaffAgent.step` (the reference engine), to all
rows at once: training abroad, training with visiting experts, learning from colleagues (read from
the start-of-month snapshot; the mechanisms are in `sim.transfer`), forgetting, returning home,
and turnover.
"""

from __future__ import annotations

import numpy as np

from sim import kernels, rules, transfer
from sim.network import sample_contacts


def staff_month(model) -> None:
    s, b = model.state, model.config.behavior
    home = model.home_at_start
    capacity = rules.effective_capacity(
        s.base_capacity, model.mean_proficiency_at_start, np.float32(b.absorptive_gain)
    )
    s.tenure += 1
    abroad = np.flatnonzero(s.abroad)
    learn_abroad(model, abroad, capacity)
    train_with_experts(model, capacity)
    at_home = np.flatnonzero(home)
    forget_share = forgetting_shares(model)
    if b.mechanism == "threshold":
        transfer.observe_colleagues(model, at_home)
    elif b.mechanism == "gap" and not model.ties.well_mixed:
        # the default: one compiled pass samples contacts, applies the gap rule and forgetting
        transfer.close_gaps_and_forget(model, at_home, capacity, forget_share)
        forget_share = None
    else:
        contacts, strength = sample_contacts(
            model.ties, at_home, b.contacts_per_month, model.streams["contacts"]
        )
        if b.mechanism == "gap":
            transfer.close_gaps(model, at_home, contacts, strength, capacity)
        else:
            transfer.catch_practices(model, at_home, contacts, strength)
    if forget_share is not None:
        kernels.forget(model.state.proficiency, at_home, forget_share, model.organisation.dept)
    count_down_exchanges(model, abroad)
    leave_or_stay(model, at_home)


def learn_abroad(model, rows: np.ndarray, capacity: np.ndarray) -> None:
    if rows.size == 0:
        return
    s, b = model.state, model.config.behavior
    rate = rules.learning_rate(
        b.abroad_learning_rate, capacity[rows, None], model.tacitness, b.abroad_tacitness_weight
    )
    rate = rate * model.taught[s.placement[rows]]
    s.proficiency[rows] = rules.learn(s.proficiency[rows], rate)


def train_with_experts(model, capacity: np.ndarray) -> None:
    s, b = model.state, model.config.behavior
    rows = np.flatnonzero(s.expert_months_left > 0)
    if rows.size == 0:
        return
    rate = rules.learning_rate(
        b.expert_learning_rate, capacity[rows, None], model.tacitness, b.abroad_tacitness_weight
    )
    rate = rate * model.taught[s.expert_bureau[rows]]
    s.proficiency[rows] = rules.learn(s.proficiency[rows], rate)
    s.expert_months_left[rows] -= 1


def forgetting_shares(model) -> np.ndarray:
    """float (D, P): this month's forgetting share of staff at home, by department."""
    b, deps = model.config.behavior, model.departments
    return rules.forgetting_share(
        b.forgetting_rate,
        b.use_protection,
        deps.implementation,
        deps.sop,
        b.sop_forgetting_factor,
    )


def count_down_exchanges(model, rows) -> None:
    s = model.state
    s.months_left[rows] -= 1
    s.abroad[rows[s.months_left[rows] == 0]] = False


def leave_or_stay(model, rows) -> None:
    u = model.streams["turnover"].random(rows.size)
    model.hire(rows[u < model.monthly_exit])
