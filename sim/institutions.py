"""Departments: who directs a practice, implementation, standard procedures, service quality.

A practice is put to work by people with the authority to do so (docs/model.md §7.10–7.11). A
*champion* is a manager (section head or above) at home who is proficient in it; the champion and
the people who report to them follow the practice (and learn it on the job, so that a champion's
reports become champions in turn: direction cascades down the hierarchy), and the whole
department does once it is standard procedure (SOP). A department's
implementation moves toward relevance x the share of its staff carrying the practice out (each
in proportion to their proficiency, fully from the proficiency threshold). Once a champion with
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
from sim.organisation import STAFF
from sim.state import DepartmentState, StaffState, Structure


def coverage(
    proficiency: np.ndarray,
    home: np.ndarray,
    structure: Structure,
    sop: np.ndarray,
    threshold: float,
    teaches: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 (n, P), bits `kernels.FOLLOWS` and `kernels.LEARNS`: the unit of each post follows
    practice k when a champion of k (a manager at home, proficient) holds the post or is its
    supervisor, or k is standard procedure in the department; the holder learns k on the job
    there unless the only source is a supervisor who passes nothing on (`teaches` (n,) False;
    default: everyone teaches). One compiled pass."""
    org = structure.organisation
    out = np.empty(proficiency.shape, dtype=np.uint8)
    teaches = np.ones(org.n_staff, dtype=bool) if teaches is None else teaches
    kernels.coverage(
        proficiency,
        home,
        org.rank,
        org.supervisor,
        org.dept,
        sop,
        teaches,
        np.float32(threshold),
        out,
    )
    return out


def tally(
    departments: DepartmentState,
    staff: StaffState,
    structure: Structure,
    threshold: float,
) -> None:
    """The month's per-department sums of the staff state (one compiled pass), kept in
    `departments`: `execution` (D, P), `authority` (D, P), `proficient_count` (D, P),
    `proficiency_total` (P,, summed department by department)."""
    deps, org = departments, structure.organisation
    home = ~staff.abroad
    in_use = coverage(staff.proficiency, home, structure, deps.sop, threshold)
    deps.execution, deps.authority, deps.proficient_count, totals = kernels.department_sums(
        staff.proficiency, org.dept_start, org.rank, home, in_use, np.float32(threshold)
    )
    deps.proficiency_total = totals.sum(axis=0)


def adoption_target(departments: DepartmentState, structure: Structure) -> np.ndarray:
    """float (D, P): the implementation each department's staff carry out now: relevance x
    (summed execution of its staff at home whose unit follows the practice) / headcount. Staff
    abroad count as zero."""
    return structure.relevance * departments.execution / structure.headcount[:, None]


def decide_standard_procedures(
    departments: DepartmentState,
    structure: Structure,
    behavior: BehaviorConfig,
    u: np.ndarray,
    allowed: bool = True,
) -> None:
    """Adopt and drop SOPs (in place): a department without one adopts practice k when a
    champion with authority is at home, implementation has reached the practice's threshold and
    the uniform draw `u` (D, P) is below `sop_adoption_rate` (never when not `allowed`: the
    counterfactual without standard procedures); an SOP lapses when implementation falls below
    half the threshold."""
    deps, threshold = departments, structure.sop_threshold[None, :]
    ready = deps.authority & (deps.implementation >= threshold)
    adopt = ready & (u < behavior.sop_adoption_rate) & allowed
    deps.sop = (deps.sop | adopt) & ~(deps.implementation < 0.5 * threshold)


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
