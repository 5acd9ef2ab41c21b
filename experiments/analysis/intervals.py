"""The statistics every table uses: two-sided t intervals across replicates, censored
medians, and whether an interval excludes zero.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95


def t_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval of the finite values (NaN bounds if n < 2)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = values.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if n < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


def mean_ci(df: pd.DataFrame, by: str | list[str], column: str) -> pd.DataFrame:
    """Mean and t interval of `column` across the rows of each `by` group (NaN if n < 2)."""
    g = df.groupby(by, sort=True)[column].agg(["mean", "std", "count"])
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, g["count"] - 1) * g["std"] / np.sqrt(g["count"])
    return g.assign(low=g["mean"] - half, high=g["mean"] + half).reset_index()


def censored_median(months) -> float:
    """Median months to target over replicates, a replicate that never reached it counting as
    later than any that did (censored at the horizon): NaN ("not reached") when half or more
    never reached it."""
    values = np.sort(np.where(np.isnan(np.asarray(months, float)), np.inf, months))
    if values.size == 0:
        return float("nan")
    median = float(np.median(values))
    return median if math.isfinite(median) else float("nan")


def clear(low: float) -> bool:
    """An interval's lower end is above zero (NaN: not clear)."""
    return bool(np.isfinite(low) and low > 0)


def interval_side(low: float, high: float) -> int:
    """What a 95% interval of a gain (or of a paired difference) lets the words say: 1 when it
    lies wholly above zero (a clear gain), -1 when wholly below (a clear loss: the design lowered
    the index), 0 when it includes zero or there is none (cannot be told apart from no gain)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return 0
    return 1 if low > 0 else -1 if high < 0 else 0
