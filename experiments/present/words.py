"""How the report and the terminal say numbers: index points, IDR billion, people, intervals,
and the judgement a 95% interval of paired differences supports (`SAYS`).
"""

from __future__ import annotations

import math

import pandas as pd

from experiments.analysis.intervals import interval_side
from experiments.analysis.tables import (
    SweepTables,
    discount_rate,
    drawn_from_posterior,
)
from experiments.study.outcomes import POINTS


def number(x: float, digits: int = 2) -> str:
    """A number with thousands separators and `digits` decimals ("n/a" when missing)."""
    return "n/a" if x is None or not math.isfinite(x) else f"{x:,.{digits}f}"


def billion(idr_million: float) -> str:
    """IDR million -> 'x.x' billion, with fewer decimals for large amounts."""
    b = idr_million / 1000
    if not math.isfinite(b):
        return "n/a"
    return f"{b:,.0f}" if abs(b) >= 100 else f"{b:,.1f}" if abs(b) >= 10 else f"{b:,.2f}"


def points(x: float, sign: bool = False) -> str:
    """Index units in index points, two decimals (never "-0.00")."""
    if not math.isfinite(x):
        return "n/a"
    return f"{round(x * POINTS, 2) + 0.0:{'+' if sign else ''}.2f}"


def ci_text(low: float, high: float) -> str:
    """A 95% CI of a gain (index units) in index points, for a sentence."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no interval: one replicate"
    return f"95% CI {low * POINTS:.2f} to {high * POINTS:.2f}"


def people(x: float) -> str:
    """A count of real staff, whole."""
    return f"{x:,.0f}"


#: What the 95% interval of a gain lets the words say, by `analysis.intervals.interval_side`: the
#: verb and the verdict. Wholly above zero: a clear gain; wholly below: a loss; across zero:
#: neither.
SAYS = {
    1: ("raised", "a clear gain"),
    0: ("changed", "cannot be told apart from no gain"),
    -1: ("lowered", "a loss"),
}


def gain_words(gain: float, low: float, high: float, note: str = "") -> str:
    """A gain over no exchange (index units) with its 95% interval, as what the design did to
    the index, by the one rule every sentence of a gain follows (`SAYS`): e.g. "lowered the city
    service index by 0.40 index points (95% CI -0.60 to -0.20): a loss". `note` goes inside the
    brackets after the interval."""
    side = interval_side(low, high)
    verb, verdict = SAYS[side]
    size = points(gain, sign=True) if side == 0 else points(abs(gain))
    brackets = ci_text(low, high) + (f"; {note}" if note else "")
    return f"{verb} the city service index by {size} index points ({brackets}): {verdict}"


def shares_of(row: pd.Series) -> str:
    """What P(best) and P(gain > 0) of a designs row are shares of: the replicates every design
    ran, paired on seeds (under a posterior, one draw each); '' for a table without them."""
    if not math.isfinite(row.get("p_gain_positive", math.nan)):
        return ""
    n = int(row.paired_replicates)
    return f"the {n} posterior draws" if drawn_from_posterior(row) else f"the {n} paired replicates"


def shares_note(row: pd.Series, several: bool) -> str:
    """P(best) (with several designs) and P(gain > 0) of a designs row, and what they are shares
    of ('' without them)."""
    of = shares_of(row)
    if not of:
        return ""
    best = f"P(best) {row.p_best:.0%}, " if several else ""
    return f"{best}P(gain > 0) {row.p_gain_positive:.0%}: shares of {of}"


def sides(low: pd.Series, high: pd.Series) -> pd.Series:
    """`interval_side` of each interval."""
    return pd.Series(map(interval_side, low, high), index=low.index, dtype=int)


#: Most designs a sentence names before "and N more".
NAMED = 6


def present_value_words(tables: SweepTables) -> str:
    """How the present value of costs was computed, for a note."""
    rate = discount_rate(tables.meta)
    if rate == 0:
        return "costs are not discounted (discount_rate=0)"
    return (
        f"present value: each month's cost discounted to the start at {rate:.0%} a year (real; "
        "setting discount_rate, docs/model.md §7.13)"
    )


def listed(ids, labels: dict[str, str], limit: int = NAMED) -> str:
    """Labels of designs, "; "-separated (labels have commas), at most `limit` and "and N more"."""
    names = [labels[i] for i in ids]
    if len(names) > limit + 1:  # never "and 1 more"
        return "; ".join(names[:limit]) + f" and {len(names) - limit} more"
    return "; ".join(names)


def joined(names) -> str:
    """ "a", "a and b", "a, b and c"."""
    names = [str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def ci_range(low: float, high: float) -> str:
    """A 95% interval (index units) in index points, for a table cell."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no CI"
    return f"{number(low * POINTS)} to {number(high * POINTS)}"


def clear_tag(low: float, high: float) -> str:
    """A "not clear" tag for an interval that includes zero."""
    return "" if interval_side(low, high) else '<span class="tag">not clear</span>'


def resolved_words(d: pd.DataFrame, labels: dict[str, str]) -> str:
    """Which comparisons of the best design (first row of the ranked designs `d`) with each
    other design are resolved, the 95% interval of their paired difference excluding zero, and
    which are not (`tables.interval_side`)."""
    others = d.iloc[1:]
    side = sides(others.diff_vs_best_ci_low, others.diff_vs_best_ci_high)
    below, above, open_ = (others.design_id[side == k] for k in (-1, 1, 0))
    if open_.empty:
        return (
            f"Resolved: better than every other design (all {len(others)} paired 95% intervals "
            "exclude zero)."
        )
    if below.empty and above.empty:
        return (
            f"Not resolved: it cannot be told apart from any of the {len(others)} other "
            "design(s) (every paired 95% interval includes zero)."
        )
    # above: a design clearly better on the seeds both ran, though lower in mean (possible only
    # when designs ran different seeds)
    resolved = " and ".join(
        f"{word} than {listed(ids, labels)}"
        for word, ids in (("better", below), ("worse", above))
        if len(ids)
    )
    return (
        f"Resolved: {resolved} (paired 95% intervals exclude zero). "
        f"Not resolved: {listed(open_, labels)}."
    )


def planner_units_words(row: pd.Series) -> str:
    """A design's gain also in Ombudsman points and months of Jakarta's own recent improvement
    (both assumed conversions, docs/model.md §7.17), or '' when the table lacks them."""
    names = [f"gain_{u}_{s}" for u in ("ombudsman", "own_months") for s in ("mean", "ci_low")]
    if not all(n in row.index and math.isfinite(row[n]) for n in names):
        return ""
    ci = math.isfinite(row.get("gain_ombudsman_ci_high", math.nan))

    def unit(name: str, digits: int) -> str:
        value = f"{row[f'{name}_mean']:+.{digits}f}"
        if not ci:
            return value
        return (
            f"{value} ({row[f'{name}_ci_low']:.{digits}f} to {row[f'{name}_ci_high']:.{digits}f})"
        )

    return (
        f"{unit('gain_ombudsman', 2)} Ombudsman compliance points and "
        f"{unit('gain_own_months', 1)} months of Jakarta's own recent improvement "
        "(assumed conversions, docs/model.md §7.17)"
    )
