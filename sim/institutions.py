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


def tally(model) -> None:
    """Per-department sums of this month's staff state (one compiled pass), kept on the model:
    `level_sum` (4D, P), `led` (D, P), `proficient_count` (D, P), `proficiency_total` (P,)."""
    s, org = model.state, model.organisation
    model.level_sum, model.led, model.proficient_count, model.proficiency_total = (
        kernels.department_sums(
            s.proficiency,
            org.dept,
            org.rank,
            ~s.abroad,
            np.float32(model.config.behavior.proficiency_threshold),
            org.n_departments,
        )
    )


def adoption_target(model) -> np.ndarray:
    """float (D, P): the implementation level each department's staff can currently sustain.

    relevance x sum over rank levels of (level weight x mean proficiency of that level's staff
    at home), the level weights normalised over the levels the department has; zero unless a
    manager at home is proficient. Staff abroad count as zero: their level's mean drops.
    """
    n_pr = model.catalogue.n
    mean = (model.level_sum / model.posts_per_rank_group[:, None]).reshape(-1, 4, n_pr)
    weighted = np.einsum("dlp,dl->dp", mean, model.level_weights)
    return model.relevance * weighted * model.led


def update_departments(model) -> None:
    b, deps, cat = model.config.behavior, model.departments, model.catalogue
    tally(model)
    target = adoption_target(model)
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
    threshold = model.sop_threshold[None, :]
    deps.sop = (deps.sop | (deps.implementation >= threshold)) & ~(
        deps.implementation < 0.5 * threshold
    )
    gain = rules.quality_gain(cat.impact, model.relevance, deps.implementation)
    absent_share = deps.absent / model.headcount
    deps.quality = rules.service_quality(
        model.baseline_quality, gain, absent_share, b.absence_penalty
    )
