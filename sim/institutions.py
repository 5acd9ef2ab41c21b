"""Departments: implementation of practices, standard procedures, and service quality.

A department's implementation of a practice moves toward a target set by its staff at home:
relevance x leader-weighted mean proficiency, and zero unless at least one manager (section
head or above) at home is proficient. Past the practice's institutionalisation threshold it
becomes standard procedure (SOP): it then decays more slowly, protects staff from forgetting and
is taught to new hires; it stops being an SOP if implementation falls below half the threshold.
"""

from __future__ import annotations

import numpy as np

from sim import kernels, rules
from sim.config import BehaviorConfig
from sim.organisation import Organisation
from sim.state import DepartmentState, StaffState, Structure


def tally(
    departments: DepartmentState, staff: StaffState, organisation: Organisation, threshold: float
) -> None:
    """The month's per-department sums of the staff state (one compiled pass), kept in
    `departments`: `level_sum` (4D, P), `led` (D, P), `proficient_count` (D, P),
    `proficiency_total` (P,, summed department by department)."""
    deps, org = departments, organisation
    deps.level_sum, deps.led, deps.proficient_count, totals = kernels.department_sums(
        staff.proficiency, org.dept_start, org.rank, ~staff.abroad, np.float32(threshold)
    )
    deps.proficiency_total = totals.sum(axis=0)


def adoption_target(departments: DepartmentState, structure: Structure) -> np.ndarray:
    """float (D, P): the implementation level each department's staff can currently sustain.

    relevance x sum over rank levels of (level weight x mean proficiency of that level's staff
    at home), the level weights normalised over the levels the department has; zero unless a
    manager at home is proficient. Staff abroad count as zero: their level's mean drops.
    """
    n_pr = structure.catalogue.n
    level_mean = departments.level_sum / structure.posts_per_rank_group[:, None]
    mean = level_mean.reshape(-1, 4, n_pr)
    weighted = np.einsum("dlp,dl->dp", mean, structure.level_weights)
    return structure.relevance * weighted * departments.led


def update_departments(
    departments: DepartmentState, staff: StaffState, structure: Structure, behavior: BehaviorConfig
) -> None:
    """Tally the staff, then move implementation, SOPs and service quality."""
    b, deps, st = behavior, departments, structure
    tally(deps, staff, st.organisation, b.proficiency_threshold)
    target = adoption_target(deps, st)
    deps.implementation = np.clip(
        rules.implementation_step(
            deps.implementation,
            target,
            b.adoption_speed,
            b.implementation_decay,
            deps.sop,
            b.sop_decay_factor,
        ),
        0.0,
        1.0,
    )
    threshold = st.sop_threshold[None, :]
    deps.sop = (deps.sop | (deps.implementation >= threshold)) & ~(
        deps.implementation < 0.5 * threshold
    )
    gain = rules.quality_gain(st.catalogue.impact, st.relevance, deps.implementation)
    absent_share = deps.absent / st.headcount
    deps.quality = rules.service_quality(st.baseline_quality, gain, absent_share, b.absence_penalty)
