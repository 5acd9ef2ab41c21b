"""The exchange program: when cohorts leave, who is chosen, and visits by Tokyo experts.

Months are model steps counted from 1. A cohort leaves in month t when
start <= t <= end and (t - start) is a multiple of `frequency`; an expert visit starts on the same
rule with `expert_frequency`. Selection only picks eligible staff: at home, not in expert
training, tenure >= min_tenure and fewer than max_exchanges_per_person exchanges so far (and in the
target departments when the program names any).
"""

from __future__ import annotations

import numpy as np

from sim.config import ProgramConfig
from sim.organisation import STAFF


def is_due(month: int, start: int, every: int, end: int) -> bool:
    return start <= month <= end and (month - start) % every == 0


def departure_due(month: int, program: ProgramConfig, horizon: int) -> bool:
    end = program.end if program.end is not None else horizon
    return program.cohort_size > 0 and is_due(month, program.start, program.frequency, end)


def expert_visit_due(month: int, program: ProgramConfig, horizon: int) -> bool:
    end = program.end if program.end is not None else horizon
    return program.experts_per_visit > 0 and is_due(
        month, program.start, program.expert_frequency, end
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


def select_managers(model, candidates, size, rng):
    managers = candidates[model.organisation.rank[candidates] > STAFF]
    shuffled = rng.permutation(managers)
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


POLICIES = {
    "random": select_random,
    "capacity": select_capacity,
    "central": select_central,
    "managers": select_managers,
    "targeted": select_random,  # the target restriction is part of eligibility
    "spread": select_spread,
}


def select_cohort(model, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Indices of this month's cohort and the shortfall (places left empty for lack of staff)."""
    p = model.config.program
    candidates = np.flatnonzero(eligible(model))
    size = min(p.cohort_size, candidates.size)
    if size == 0:
        return np.empty(0, dtype=np.int64), p.cohort_size
    chosen = np.asarray(POLICIES[p.selection](model, candidates, size, rng), dtype=np.int64)
    return np.sort(chosen), p.cohort_size - chosen.size


def depart(model, cohort: np.ndarray) -> None:
    """Send the cohort to Tokyo for `duration` months."""
    s = model.state
    s.abroad[cohort] = True
    s.months_left[cohort] = model.config.program.duration
    s.placement[cohort] = model.placement_of(cohort)
    s.exchanges[cohort] += 1


def start_expert_visit(model, rng: np.random.Generator) -> int:
    """Bring `experts_per_visit` experts to the next department in turn; return the trainees."""
    p, s, org = model.config.program, model.state, model.organisation
    d = int(model.expert_order[model.expert_next % model.expert_order.size])
    model.expert_next += 1
    lo, hi = org.dept_start[d], org.dept_start[d + 1]
    posts = np.arange(lo, hi)
    free = posts[~s.abroad[posts] & (s.expert_months_left[posts] == 0)]
    k = min(p.experts_per_visit * p.trainees_per_expert, free.size)
    # the unit's managers first (up to half the group), the rest from its staff
    managers = free[org.rank[free] > STAFF]
    n_managers = min(managers.size, k // 2)
    lead = rng.choice(managers, size=n_managers, replace=False)
    others = np.setdiff1d(free, lead)
    trainees = np.concatenate([lead, rng.choice(others, size=k - n_managers, replace=False)])
    s.expert_months_left[trainees] = p.expert_duration
    s.expert_bureau[trainees] = model.bureau_of_department[d]
    return int(k)
