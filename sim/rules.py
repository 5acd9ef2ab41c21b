"""The model's rules as small formulas shared by both engines.

Each function works on scalars (reference engine, one agent) and on numpy arrays (vectorised
engine, all agents at once), so the two engines cannot drift apart in their arithmetic. The peer
transfer formulas (gap, contagion, threshold) are in `sim.transfer`.
All proficiencies, capacities, rates and shares are in [0, 1]; time is in months.
"""

from __future__ import annotations

import numpy as np


def effective_capacity(base, mean_proficiency, absorptive_gain):
    """Absorptive capacity grows with related prior knowledge (Cohen & Levinthal 1990)."""
    return np.clip(base * (1.0 + absorptive_gain * mean_proficiency), 0.0, 1.0)


def effective_tacitness(tacitness, scale):
    return np.clip(tacitness * scale, 0.0, 1.0)


def learning_rate(base_rate, capacity, tacitness, tacitness_weight):
    """Share of the remaining gap learnt in one month of side-by-side learning: in Tokyo, from a
    visiting expert, or on the job in a unit that follows the practice."""
    return np.clip(base_rate * capacity * (1.0 - tacitness_weight * tacitness), 0.0, 1.0)


def learn(proficiency, rate):
    """One month of training: close `rate` of the gap to full proficiency."""
    return proficiency + (1.0 - proficiency) * rate


def forgetting_share(used, unused_rate, in_use_rate):
    """Monthly share of proficiency lost: slow for a skill in use, fast for one that is not
    (Arthur et al. 1998; Tatel & Ackerman 2025)."""
    return np.where(used, in_use_rate, unused_rate)


def half_life(monthly_share):
    """Months until a skill out of use keeps half its level, losing `monthly_share` a month."""
    return float(np.log(0.5) / np.log1p(-monthly_share)) if monthly_share > 0 else float("inf")


def monthly_probability(yearly):
    """Monthly probability of an event with the given yearly probability."""
    return 1.0 - (1.0 - yearly) ** (1.0 / 12.0)


def new_hire_proficiency(implementation, is_sop, level):
    """New hires learn what the department's standard procedures teach."""
    return level * implementation * is_sop


def stochastic_round(x: float, u: float) -> int:
    """Unbiased whole number for a non-negative count `x`: floor(x), plus 1 with probability
    frac(x) (u is a uniform draw in [0, 1)); E = x, variance frac(x)(1 - frac(x)) <= 1/4."""
    whole = int(np.floor(x))
    return whole + int(u < x - whole)


def draw_beta(rng: np.random.Generator, mean: float, sd: float, size=None):
    """Beta draws with the given mean and standard deviation (constant `mean` when sd is 0)."""
    if sd <= 0:
        return np.full(size, mean) if size is not None else mean
    nu = mean * (1.0 - mean) / sd**2 - 1.0
    return rng.beta(mean * nu, (1.0 - mean) * nu, size=size)


def implementation_step(implementation, target, speed, decay, is_sop, sop_decay_factor):
    """Implementation moves up toward its target at `speed`, down at a slower decay rate."""
    up = implementation + speed * (target - implementation)
    down_rate = decay * np.where(is_sop, sop_decay_factor, 1.0)
    down = implementation - down_rate * (implementation - target)
    return np.where(target >= implementation, up, down)


def quality_gain(impact, relevance, implementation):
    """Combined relative gain of independent practices: 1 - prod(1 - impact*relevance*impl)."""
    return 1.0 - np.prod(1.0 - impact * relevance * implementation, axis=-1)


def service_quality(baseline, gain, absent_share, absence_penalty):
    """Quality = baseline + gain on the headroom, minus the work lost to staff abroad; in [0, 1]."""
    return np.clip(baseline + (1.0 - baseline) * gain - absence_penalty * absent_share, 0.0, 1.0)


# --- units a planner knows (docs/model.md §7.17; sim/trend.py) ---------------------------------


def gap_closed_per_year(before, after, years, top=100.0):
    """Share of the gap to `top` closed per year between two scores (per year; Ombudsman RI)."""
    return 1.0 - ((top - after) / (top - before)) ** (1.0 / years)


def score_points_per_index_point(score, index, top=100.0):
    """Score points per index point when both close the same share of their gap (assumption)."""
    return (top - score) / (100.0 * (1.0 - index))


def own_points_per_month(index, yearly_share):
    """Index points a month the city gains by itself closing `yearly_share` of its gap a year."""
    return 100.0 * (1.0 - index) * monthly_probability(yearly_share)


def months_of_improvement(gain, index, yearly_share):
    """A gain (index units) as months of the city's own improvement at `index` (months)."""
    return 100.0 * gain / own_points_per_month(index, yearly_share)
