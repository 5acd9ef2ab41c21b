"""What a sweep prints in the terminal: the ranking of its designs and a one-line headline."""

from __future__ import annotations

import math

import pandas as pd

from experiments.analysis.intervals import interval_side
from experiments.analysis.tables import drawn_from_posterior
from experiments.present import words
from experiments.study.outcomes import POINTS
from sim.pairing import CHANNELS


def print_ranking(designs: pd.DataFrame, top: int = 5) -> None:
    """The best designs of an aggregated folder, one line each, for the terminal."""
    shares = words.shares_of(designs.iloc[0]) if len(designs) else ""
    print(
        "best designs: gain in the final year in index points (1 point = 0.01 of the 0-1 "
        "index) with its 95% interval, real staff sent, cost in IDR billion"
        + (f"; P(best) and P(gain > 0) are shares of {shares}" if shares else "")
    )
    for r in designs.head(top).itertuples():
        side = interval_side(r.gain_ci_low, r.gain_ci_high)
        note = "" if side > 0 else f"  ({words.SAYS[side][1]})"
        if shares:
            note = f"  P(best) {r.p_best:.0%}, P(gain > 0) {r.p_gain_positive:.0%}" + note
        print(
            f"  {r.rank:>2}. {r.label:<48} {POINTS * r.gain_mean:6.2f} "
            f"[{POINTS * r.gain_ci_low:.2f}, {POINTS * r.gain_ci_high:.2f}]  "
            f"{r.staff_sent_mean:7,.0f} staff  {r.cost_mean / 1000:9,.1f}{note}"
        )
    parts = channel_words(designs.iloc[0]) if len(designs) else ""
    if parts:
        print(f"  the best design's gain came {parts}")
    units = words.planner_units_words(designs.iloc[0]) if len(designs) else ""
    if units:
        print(f"  the best design's gain is about {units}")
    if len(designs) > 1:
        labels = dict(zip(designs.design_id, designs.label, strict=True))
        print(f"  the best design against each other one: {words.resolved_words(designs, labels)}")


def channel_words(row: pd.Series) -> str:
    """Where a design's mean gain came from, in words (index points), or '' without channels."""
    values = [row.get(f"{name}_mean", math.nan) for name in CHANNELS]
    if not all(math.isfinite(v) for v in values):
        return ""
    t, c, s = (f"{POINTS * v:+.2f}" for v in values)
    return (
        f"{t} from the staff trained themselves, {c} from colleagues who learnt from them, "
        f"{s} from standard procedures (index points)"
    )


def headline_line(designs: pd.DataFrame) -> str:
    """One design's paired gain, interval, staff and cost, in one sentence (single runs)."""
    r = designs.iloc[0]
    note = words.shares_note(r, False) or f"{int(r.n)} paired replicates"
    gain = words.gain_words(r.gain_mean, r.gain_ci_low, r.gain_ci_high, note)
    if drawn_from_posterior(r):
        gain += (
            f"; under the posterior the gain lay between {POINTS * r.gain_p05:+.2f} and "
            f"{POINTS * r.gain_p95:+.2f} points on 90% of the draws"
        )
    parts = channel_words(r)
    parts = f"; it came {parts}" if parts else "; not decomposed by channel (channels=false)"
    units = words.planner_units_words(r)
    parts += f"; about {units}" if units else ""
    return (
        f"gain over no exchange in the final year: it {gain}{parts}; "
        f"{r.staff_sent_mean:,.0f} staff sent, {r.staff_months_abroad_mean:,.0f} staff-months "
        f"in Tokyo, cost IDR {r.cost_mean / 1000:,.1f} billion"
    )
