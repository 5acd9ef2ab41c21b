"""The posterior of a calibration: its generations (temperature, acceptance, effective sample
size), its summary per parameter (weighted median and 90% interval) and equally weighted draws
for runs (`posterior=`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.calibration.targets import Prior
from sim.config import BehaviorConfig
from sim.settings import declared, plausible_ranges


def generation_table(history) -> pd.DataFrame:
    """Per generation: temperature, samples, accepted particles, acceptance rate and effective
    sample size (1 / sum of squared normalised weights)."""
    pops = history.get_all_populations()
    pops = pops[pops.t >= 0].reset_index(drop=True)
    ess = [effective_size(history.get_distribution(m=0, t=int(t))[1]) for t in pops.t]
    return pd.DataFrame(
        {
            "generation": pops.t.astype(int),
            "temperature": pops.epsilon.astype(float),
            "samples": pops.samples.astype(int),
            "particles": pops.particles.astype(int),
            "acceptance": pops.particles / pops.samples,
            "ess": ess,
        }
    )


def effective_size(weights) -> float:
    """Kish's effective sample size of weighted particles: 1 / sum of squared normalised weights."""
    w = np.asarray(weights, float) / np.sum(weights)
    return float(1.0 / np.sum(w**2))


def weighted_quantile(values, weights, q: float) -> float:
    """Quantile q of a weighted sample (linear in the cumulative weight)."""
    order = np.argsort(values)
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cum, v))


def posterior_summary(posterior: pd.DataFrame, priors: list[Prior]) -> pd.DataFrame:
    rows = []
    for p in priors:
        v, w = posterior[p.name], posterior.weight
        rows.append(
            {
                "parameter": p.name,
                "prior_low": p.low,
                "prior_high": p.high,
                "default": dict(declared(BehaviorConfig))[p.name].default,
                "median": weighted_quantile(v, w, 0.5),
                "p05": weighted_quantile(v, w, 0.05),
                "p95": weighted_quantile(v, w, 0.95),
            }
        )
    return pd.DataFrame(rows)


def posterior_draws(posterior: pd.DataFrame, names: list[str], n: int, seed: int) -> pd.DataFrame:
    """`n` equally weighted draws (resampled in proportion to the weights, with `seed`), in a
    fixed order: replicate i of a run with `posterior=` uses draw i."""
    rng = np.random.default_rng(seed)
    w = posterior.weight.to_numpy(float)
    pick = rng.choice(len(posterior), size=n, replace=True, p=w / w.sum())
    out = posterior.iloc[pick][names].reset_index(drop=True)
    out.insert(0, "draw", np.arange(n))
    return out


def behaviour_draws(draws: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """Every replicate's behaviour: the posterior `draws` of the calibrated parameters and, beside
    them, draws uniform over its plausible range (with `seed`) of every other behaviour parameter
    that declares one: the uncertainty the targets do not inform, carried as stated. Returns the
    table (draw, parameters) and the names drawn from ranges."""
    calibrated = [c for c in draws.columns if c != "draw"]
    ranges = {n: r for n, r in plausible_ranges(BehaviorConfig).items() if n not in calibrated}
    rng = np.random.default_rng([seed, len(draws)])
    out = draws.copy()
    for name, (low, high) in ranges.items():
        out[name] = rng.uniform(low, high, len(draws))
    return out, list(ranges)
