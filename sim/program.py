"""The exchange program: when cohorts leave, who is chosen, and visits by Tokyo experts.

Months are model steps counted from 1. A cohort leaves in month t when
start <= t <= end and (t - start) is a multiple of `months_between_cohorts`; an expert visit
starts on the same rule with `months_between_expert_visits`. Selection only picks eligible staff:
at home, not in expert training, tenure >= min_tenure and fewer than max_exchanges_per_person
exchanges so far (and in the target departments when the program names any); the `managers`
policy further restricts the pool to section heads and above.

Counts of people in the program settings are real staff. At scale s < 1 a group of `real` people
is sent as `scaled_group`: the unbiased stochastic rounding of real x (simulated / real
headcount of the departments it is drawn from), with its own random stream, so that the
expected simulated group is exact and costs stay those of the real group.
"""

from __future__ import annotations

import numpy as np

from sim import rules
from sim.config import ProgramConfig
from sim.organisation import STAFF


def is_due(month: int, start: int, every: int, end: int) -> bool:
    return start <= month <= end and (month - start) % every == 0


def departure_due(month: int, program: ProgramConfig, horizon: int) -> bool:
    end = program.end if program.end is not None else horizon
    return program.cohort_size > 0 and is_due(
        month, program.start, program.months_between_cohorts, end
    )


def expert_visit_due(month: int, program: ProgramConfig, horizon: int) -> bool:
    end = program.end if program.end is not None else horizon
    return program.experts_per_visit > 0 and is_due(
        month, program.start, program.months_between_expert_visits, end
    )


def eligible(model) -> np.ndarray:
    """bool (n,): staff who may be sent in this month's cohort."""
    s, p = model.state, model.config.program
    ok = ~s.abroad & (s.expert_months_left == 0)
    ok &= s.tenure >= p.min_tenure
    ok &= s.exchanges < p.max_exchanges_per_person
    if model.target_mask is not None:
        ok &= model.target_mask[model.organisation.dept]
    return ok


def _top(scores: np.ndarray, candidates: np.ndarray, size: int) -> np.ndarray:
    """The `size` candidates with the highest score (ties broken by lower post index)."""
    order = np.argsort(-scores[candidates], kind="stable")
    return candidates[order[:size]]


def select_random(model, candidates, size, rng):
    return rng.choice(candidates, size=size, replace=False)


def select_capacity(model, candidates, size, rng):
    return _top(model.effective_capacity(), candidates, size)


def select_central(model, candidates, size, rng):
    return _top(model.centrality, candidates, size)


def managers_only(model, candidates):
    return candidates[model.organisation.rank[candidates] > STAFF]


def select_managers(model, candidates, size, rng):
    """Heads first, then division heads, then section heads; at random within a rank."""
    shuffled = rng.permutation(candidates)
    order = np.argsort(-model.organisation.rank[shuffled], kind="stable")
    return shuffled[order[:size]]


def select_spread(model, candidates, size, rng):
    """One per department in turn, continuing where the previous cohort stopped."""
    dept = model.organisation.dept
    pools = {}
    for d in np.unique(dept[candidates]):
        pools[int(d)] = list(rng.permutation(candidates[dept[candidates] == d]))
    n_dep = model.organisation.n_departments
    chosen = []
    while len(chosen) < size and pools:
        d = model.spread_next % n_dep
        model.spread_next += 1
        pool = pools.get(d)
        if pool:
            chosen.append(pool.pop())
            if not pool:
                del pools[d]
    return np.array(chosen, dtype=np.int64)


#: Policies that choose from a narrower pool than the eligible staff (the pool limits the cohort).
POOLS = {"managers": managers_only}

POLICIES = {
    "random": select_random,
    "capacity": select_capacity,
    "central": select_central,
    "managers": select_managers,
    "targeted": select_random,  # the target restriction is part of eligibility
    "spread": select_spread,
}


def scaled_group(real: int, ratio: float, available: int, u: float) -> tuple[int, int]:
    """(simulated people to send, real people they stand for) for a group of `real` staff.

    `ratio` is simulated per real staff in the pool (1 at full scale), `available` the simulated
    people who may go and `u` a uniform draw in [0, 1). The simulated group is the stochastic
    rounding of real x ratio; when that expected group is larger than the pool, the pool goes
    and stands for its real equivalent, round(available / ratio), at most `real`.
    """
    wanted = rules.stochastic_round(real * ratio, u)
    if real * ratio > available:
        return min(wanted, available), min(real, round(available / ratio))
    return wanted, real


def select_cohort(model, u: float, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Posts of this month's cohort and the number of real staff it stands for."""
    p = model.config.program
    candidates = np.flatnonzero(eligible(model))
    pool = POOLS[p.selection](model, candidates) if p.selection in POOLS else candidates
    size, real = scaled_group(p.cohort_size, model.cohort_ratio, pool.size, u)
    if size == 0:
        return np.empty(0, dtype=np.int64), real
    chosen = np.asarray(POLICIES[p.selection](model, pool, size, rng), dtype=np.int64)
    return np.sort(chosen), real


def depart(model, cohort: np.ndarray) -> None:
    """Send the cohort to Tokyo for `duration` months."""
    s = model.state
    s.abroad[cohort] = True
    s.months_left[cohort] = model.config.program.duration
    s.placement[cohort] = model.placement_of(cohort)
    s.exchanges[cohort] += 1


def start_expert_visit(model, u: float, rng: np.random.Generator) -> int:
    """Bring `experts_per_visit` experts to the next department in turn; return the number of
    real staff they train (the simulated trainees are its scaled equivalent)."""
    p, s, org = model.config.program, model.state, model.organisation
    d = int(model.expert_order[model.expert_next % model.expert_order.size])
    model.expert_next += 1
    lo, hi = org.dept_start[d], org.dept_start[d + 1]
    posts = np.arange(lo, hi)
    free = posts[~s.abroad[posts] & (s.expert_months_left[posts] == 0)]
    ratio = model.simulated_per_real[d]
    k, real = scaled_group(p.experts_per_visit * p.trainees_per_expert, ratio, free.size, u)
    # the unit's managers first (up to half the group), the rest from its staff
    managers = free[org.rank[free] > STAFF]
    n_managers = min(managers.size, k // 2)
    lead = rng.choice(managers, size=n_managers, replace=False)
    others = np.setdiff1d(free, lead)
    trainees = np.concatenate([lead, rng.choice(others, size=k - n_managers, replace=False)])
    s.expert_months_left[trainees] = p.expert_duration
    s.expert_bureau[trainees] = model.bureau_of_department[d]
    return real
