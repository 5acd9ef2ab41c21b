"""Departments: who directs a practice, implementation, standard procedures, service quality.

A practice is put to work by people with the authority to do so (docs/model.md §7.10–7.11). A
*champion* is a manager (section head or above) at home who is proficient in it; the champion and
the people who report to them follow the practice (those who master it carry it out), and the
whole department does once it is standard procedure (SOP). A department's
implementation moves toward relevance x the share of its staff carrying the practice out
(following it and proficient). Once a champion with
authority over procedures (the head or a division head) is at home and implementation has
reached the practice's institutionalisation threshold, the department adopts it as SOP with a
monthly probability (a management decision, `institutions` stream). An SOP covers the whole
department, decays slowly, is taught to new hires, and lapses if implementation falls below half
the threshold.
"""

from __future__ import annotations

import numpy as np

from sim import kernels, rules
from sim.config import BehaviorConfig
from sim.state import DepartmentState, StaffState, Structure


def coverage(
    proficiency: np.ndarray,
    home: np.ndarray,
    structure: Structure,
    sop: np.ndarray,
    threshold: float,
) -> np.ndarray:
    """uint8 (n, P), bits `kernels.FOLLOWS` and `kernels.LEARNS`: each post follows practice k
    when a champion of k (a manager at home, proficient) holds it or is its holder's supervisor,
    or k is standard procedure in the department; its holder learns k on the job under a
    standard procedure (and a champion in what they champion). One compiled pass."""
    org = structure.organisation
    out = np.empty(proficiency.shape, dtype=np.uint8)
    kernels.coverage(
        proficiency, home, org.rank, org.supervisor, org.dept, sop, np.float32(threshold), out
    )
    return out


def tally(
    departments: DepartmentState,
    staff: StaffState,
    structure: Structure,
    threshold: float,
) -> None:
    """The month's per-department sums of the staff state (one compiled pass), kept in
    `departments`: `execution`, `pilot`, `led`, `proficient_count` (all (D, P)), `people`
    (D, 3) and `proficiency_total` (P,, summed department by department)."""
    deps, org = departments, structure.organisation
    sums = kernels.department_sums(
        staff.proficiency,
        org.dept_start,
        org.rank,
        org.supervisor,
        structure.authority_slot,
        structure.n_authority,
        structure.reports,
        ~staff.abroad,
        deps.sop,
        staff.trained,
        np.float32(threshold),
    )
    deps.execution, deps.pilot, deps.led, deps.proficient_count, totals, deps.people = sums
    deps.proficiency_total = totals.sum(axis=0)


def adoption_target(departments: DepartmentState, structure: Structure) -> np.ndarray:
    """float (D, P): the implementation each department's staff carry out now: relevance x the
    share of its posts held by someone at home who follows the practice and masters it. Staff
    abroad count as zero."""
    return structure.relevance * departments.execution / structure.headcount[:, None]


def readiness(departments: DepartmentState, structure: Structure) -> np.ndarray:
    """float (D, P): how far the best pilot of each practice in each department has come, as
    a multiple of the practice's institutionalisation threshold: relevance x the share of a
    champion with authority's unit carrying it out (`DepartmentState.pilot`) / threshold; a
    threshold of 0 counts as ready (1) wherever such a champion is. >= 1: ready to decide."""
    level = structure.relevance * departments.pilot
    threshold = np.broadcast_to(structure.sop_threshold[None, :], level.shape)
    ready = np.where(departments.pilot > 0, 1.0, 0.0)
    return np.divide(level, threshold, out=ready, where=threshold > 0)


def decide_standard_procedures(
    departments: DepartmentState,
    structure: Structure,
    behavior: BehaviorConfig,
    u: np.ndarray,
    allowed: bool = True,
) -> None:
    """Adopt and drop SOPs (in place). A department without one adopts practice k when a
    champion with authority has a unit carrying it out at the practice's threshold
    (`readiness` >= 1) and the uniform draw `u` (D, P) is below `sop_adoption_rate` (never
    when not `allowed`: the counterfactual without standard procedures). An SOP lapses when no
    manager at home masters the practice any more (`DepartmentState.led`)."""
    deps = departments
    adopt = (readiness(deps, structure) >= 1.0) & (u < behavior.sop_adoption_rate) & allowed
    deps.sop = (deps.sop | adopt) & deps.led


def update_departments(
    departments: DepartmentState,
    staff: StaffState,
    structure: Structure,
    behavior: BehaviorConfig,
    rng: np.random.Generator,
    sop_channel: bool = True,
) -> None:
    """Tally the staff, then move implementation, decide SOPs (`institutions` stream `rng`, one
    draw per department and practice every month) and compute service quality."""
    b, deps, st = behavior, departments, structure
    tally(deps, staff, st, b.proficiency_threshold)
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
    u = rng.random(deps.implementation.shape)
    decide_standard_procedures(deps, st, b, u, sop_channel)
    gain = rules.quality_gain(st.catalogue.impact, st.relevance, deps.implementation)
    absent_share = deps.absent / st.headcount
    deps.quality = rules.service_quality(st.baseline_quality, gain, absent_share, b.absence_penalty)
