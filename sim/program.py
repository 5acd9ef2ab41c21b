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

from dataclasses import dataclass

import numpy as np

from sim import rules
from sim.config import SELECTION_POLICIES, ModelConfig, ProgramConfig
from sim.organisation import STAFF
from sim.state import ProgramState, StaffState, Streams, Structure


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


def eligible(staff: StaffState, structure: Structure, program: ProgramConfig) -> np.ndarray:
    """bool (n,): staff who may be sent in this month's cohort."""
    s, p = staff, program
    ok = ~s.abroad & (s.expert_months_left == 0)
    ok &= s.tenure >= p.min_tenure
    ok &= s.exchanges < p.max_exchanges_per_person
    if structure.target_mask is not None:
        ok &= structure.target_mask[structure.organisation.dept]
    return ok


@dataclass(frozen=True)
class Selection:
    """What a selection policy may read: the staff, the structure and the absorptive gain (for
    `capacity`); and the program's ledger, whose round-robin pointer `spread` advances."""

    staff: StaffState
    structure: Structure
    ledger: ProgramState
    absorptive_gain: float


def _top(scores: np.ndarray, candidates: np.ndarray, size: int) -> np.ndarray:
    """The `size` candidates with the highest score (ties broken by lower post index)."""
    order = np.argsort(-scores[candidates], kind="stable")
    return candidates[order[:size]]


def select_random(sel: Selection, candidates, size, rng):
    return rng.choice(candidates, size=size, replace=False)


def select_capacity(sel: Selection, candidates, size, rng):
    return _top(sel.staff.capacity(sel.absorptive_gain), candidates, size)


def select_central(sel: Selection, candidates, size, rng):
    return _top(sel.structure.centrality, candidates, size)


def managers_only(structure: Structure, candidates):
    return candidates[structure.organisation.rank[candidates] > STAFF]


def select_managers(sel: Selection, candidates, size, rng):
    """Heads first, then division heads, then section heads; at random within a rank."""
    shuffled = rng.permutation(candidates)
    order = np.argsort(-sel.structure.organisation.rank[shuffled], kind="stable")
    return shuffled[order[:size]]


def select_spread(sel: Selection, candidates, size, rng):
    """One per department in turn, continuing where the previous cohort stopped."""
    org = sel.structure.organisation
    dept = org.dept
    pools = {}
    for d in np.unique(dept[candidates]):
        pools[int(d)] = list(rng.permutation(candidates[dept[candidates] == d]))
    n_dep = org.n_departments
    chosen = []
    while len(chosen) < size and pools:
        d = sel.ledger.spread_next % n_dep
        sel.ledger.spread_next += 1
        pool = pools.get(d)
        if pool:
            chosen.append(pool.pop())
            if not pool:
                del pools[d]
    return np.array(chosen, dtype=np.int64)


#: Policies that choose from a narrower pool than the eligible staff (the pool limits the cohort).
POOLS = {"managers": managers_only}

#: "targeted" draws at random: the restriction to the targeted departments is part of eligibility.
select_targeted = select_random

#: Selection policies, (selection, candidates, size, rng) -> the chosen posts: for each name the
#: `selection` setting allows (`sim.config.SELECTION_POLICIES`, declared with the setting), the
#: function `select_<name>` of this module (a name without one fails at import).
POLICIES = {name: globals()[f"select_{name}"] for name in SELECTION_POLICIES}


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


def select_cohort(
    sel: Selection, program: ProgramConfig, u: float, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Posts of this month's cohort and the number of real staff it stands for."""
    p, structure = program, sel.structure
    candidates = np.flatnonzero(eligible(sel.staff, structure, p))
    pool = POOLS[p.selection](structure, candidates) if p.selection in POOLS else candidates
    size, real = scaled_group(p.cohort_size, structure.cohort_ratio, pool.size, u)
    if size == 0:
        return np.empty(0, dtype=np.int64), real
    chosen = np.asarray(POLICIES[p.selection](sel, pool, size, rng), dtype=np.int64)
    return np.sort(chosen), real


def placement_of(structure: Structure, program: ProgramConfig, rows: np.ndarray) -> np.ndarray:
    """Tokyo bureau of each of `rows`: the program's placement, else the department's
    counterpart bureau."""
    if program.placement is not None:
        return np.full(rows.size, structure.bureaus.index(program.placement))
    return structure.bureau_of_department[structure.organisation.dept[rows]]


def depart(
    staff: StaffState, structure: Structure, program: ProgramConfig, cohort: np.ndarray
) -> None:
    """Send the cohort to Tokyo for `duration` months."""
    s = staff
    s.abroad[cohort] = True
    s.months_left[cohort] = program.duration
    s.placement[cohort] = placement_of(structure, program, cohort)
    s.exchanges[cohort] += 1
    s.trained[cohort] = True


def start_expert_visit(
    staff: StaffState,
    structure: Structure,
    ledger: ProgramState,
    program: ProgramConfig,
    u: float,
    rng: np.random.Generator,
) -> int:
    """Bring `experts_per_visit` experts to the next department in turn; return the number of
    real staff they train (the simulated trainees are its scaled equivalent)."""
    p, s, org = program, staff, structure.organisation
    order = structure.expert_order
    d = int(order[ledger.expert_next % order.size])
    ledger.expert_next += 1
    lo, hi = org.dept_start[d], org.dept_start[d + 1]
    posts = np.arange(lo, hi)
    free = posts[~s.abroad[posts] & (s.expert_months_left[posts] == 0)]
    ratio = structure.simulated_per_real[d]
    k, real = scaled_group(p.experts_per_visit * p.trainees_per_expert, ratio, free.size, u)
    # the unit's managers first (up to half the group), the rest from its staff
    managers = free[org.rank[free] > STAFF]
    n_managers = min(managers.size, k // 2)
    lead = rng.choice(managers, size=n_managers, replace=False)
    others = np.setdiff1d(free, lead)
    trainees = np.concatenate([lead, rng.choice(others, size=k - n_managers, replace=False)])
    s.expert_months_left[trainees] = p.expert_duration
    s.expert_bureau[trainees] = structure.bureau_of_department[d]
    s.trained[trainees] = True
    return real


def run_month(
    month: int,
    config: ModelConfig,
    staff: StaffState,
    structure: Structure,
    ledger: ProgramState,
    streams: Streams,
) -> None:
    """Departures and visits due in `month`; the real staff away and this month's cost."""
    p, t = config.program, month
    if departure_due(t, p, config.horizon):
        u = streams.cohort_rounding.random()
        sel = Selection(staff, structure, ledger, config.behavior.absorptive_gain)
        cohort, real = select_cohort(sel, p, u, streams.selection)
        depart(staff, structure, p, cohort)
        ledger.cohorts_abroad.append((t, real, p.duration))
        ledger.totals["departures"] += real
        ledger.totals["cohort_shortfall"] += p.cohort_size - real
    if expert_visit_due(t, p, config.horizon):
        u = streams.visit_rounding.random()
        real = start_expert_visit(staff, structure, ledger, p, u, streams.experts)
        ledger.visit_groups.append((t, real, p.expert_duration))
        ledger.totals["expert_visits"] += p.experts_per_visit
        ledger.totals["cost"] += p.experts_per_visit * p.cost_per_expert_visit
    ledger.cohorts_abroad = [g for g in ledger.cohorts_abroad if t < g[0] + g[2]]
    ledger.visit_groups = [g for g in ledger.visit_groups if t < g[0] + g[2]]
    ledger.real_abroad = sum(g[1] for g in ledger.cohorts_abroad)
    ledger.real_trainees = sum(g[1] for g in ledger.visit_groups)
    ledger.totals["staff_months_abroad"] += ledger.real_abroad
    ledger.totals["cost"] += ledger.real_abroad * p.cost_per_staff_month
