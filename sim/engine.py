"""The default engine: one month of every staff member's life, as array operations.

It applies the same rules in the same order as `StaffAgent.step` (the reference engine), to all
rows at once: training abroad, training with visiting experts, learning from colleagues (read from
the start-of-month snapshot), forgetting, returning home, and turnover.
"""

from __future__ import annotations

import numpy as np

from sim import kernels, rules
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
        observe_colleagues(model, at_home)
    elif b.mechanism == "gap" and not model.ties.well_mixed:
        # the default: one compiled pass samples contacts, applies the gap rule and forgetting
        close_gaps_and_forget(model, at_home, capacity, forget_share)
        forget_share = None
    else:
        contacts, strength = sample_contacts(
            model.ties, at_home, b.contacts_per_month, model.streams["contacts"]
        )
        if b.mechanism == "gap":
            close_gaps(model, at_home, contacts, strength, capacity)
        else:
            catch_practices(model, at_home, contacts, strength)
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


def _sender_factor(model, rows, contacts, strength) -> tuple[np.ndarray, np.ndarray]:
    """(safe contact indices, factor) with factor 0 for missing or absent contacts."""
    s, b, rank = model.state, model.config.behavior, model.organisation.rank
    valid = contacts >= 0
    j = np.where(valid, contacts, 0)
    valid &= model.home_at_start[j]
    up = rules.upward_factor(rank[j], rank[rows][:, None], b.power_distance)
    return j, (strength * s.willingness[j] * up * valid).astype(np.float32)


def close_gaps_and_forget(model, rows, capacity, forget_share) -> None:
    s, b, ties = model.state, model.config.behavior, model.ties
    u = model.streams["contacts"].random((rows.size, b.contacts_per_month))
    alias_keep, alias = ties.alias
    kernels.close_gaps_and_forget(
        s.proficiency,
        model.snapshot,
        rows,
        u,
        ties.indptr,
        ties.indices,
        ties.weights,
        alias_keep,
        alias,
        model.home_at_start,
        s.willingness,
        model.organisation.rank,
        capacity,
        model.explicitness,
        float(b.transfer_rate),
        np.float32(1.0 - b.power_distance),
        forget_share.astype(np.float32),
        model.organisation.dept,
    )


def close_gaps(model, rows, contacts, strength, capacity) -> None:
    """Gap rule for given contacts (well-mixed organisations; forgetting follows separately)."""
    s, b = model.state, model.config.behavior
    j, sender = _sender_factor(model, rows, contacts, strength)
    rate = (b.transfer_rate * capacity[rows, None] * sender).astype(np.float32)
    keep = (1.0 - model.tacitness).astype(np.float32)
    p = s.proficiency[rows]
    delta = np.zeros_like(p)
    for c in range(j.shape[1]):
        delta += rules.gap_increment(p, model.snapshot[j[:, c]], rate[:, c, None] * keep)
    s.proficiency[rows] = p + delta / b.contacts_per_month


def catch_practices(model, rows, contacts, strength) -> None:
    s, b = model.state, model.config.behavior
    theta = b.proficiency_threshold
    j, sender = _sender_factor(model, rows, contacts, strength)
    p = s.proficiency[rows]
    susceptible = p < theta
    new = p.copy()
    rng = model.streams["transfer"]
    for c in range(j.shape[1]):
        sj = model.snapshot[j[:, c]]
        chance = b.contagion_prob * sender[:, c, None] * (1.0 - model.tacitness)
        hit = susceptible & (sj >= theta) & (rng.random(p.shape) < chance)
        new = np.where(hit, np.maximum(new, sj), new)
    s.proficiency[rows] = new


def observe_colleagues(model, rows) -> None:
    """Threshold (complex) contagion over all of a person's ties at home."""
    s, b = model.state, model.config.behavior
    theta = b.proficiency_threshold
    snap = model.snapshot[rows]
    own = snap >= theta
    if model.ties.well_mixed:
        count = model.proficient_at_start_count - own
        share = count / max(model.home_at_start.sum() - 1, 1)
        level_sum = model.proficient_level_sum - np.where(own, snap, 0.0)
        level = np.where(count > 0, level_sum / np.maximum(count, 1), 0.0)
        reachable = np.ones(rows.size, dtype=bool)
    else:
        a = model.upward_ties
        home = model.home_at_start.astype(np.float64)
        prof = (model.snapshot >= theta) * home[:, None]
        total = (a @ home)[rows]
        count = (a @ prof)[rows]
        level_sum = (a @ (model.snapshot * prof))[rows]
        reachable = total > 0
        share = count / np.where(reachable, total, 1.0)[:, None]
        level = np.where(count > 0, level_sum / np.maximum(count, 1e-30), 0.0)
    p = s.proficiency[rows]
    chance = b.contagion_prob * (1.0 - model.tacitness)
    adopt = (share >= b.threshold_share) & (share > 0) & (p < theta) & reachable[:, None]
    adopt &= model.streams["transfer"].random(p.shape) < chance
    s.proficiency[rows] = np.where(adopt, np.maximum(p, level), p)


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
