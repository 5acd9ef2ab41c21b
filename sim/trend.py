"""Jakarta's own improvement, and gains in units a planner knows (docs/model.md §7.17).

The packaged series `sim/data/jakarta_service_trend.csv` (Ombudsman RI compliance scores of the
province, with the SAKIP and Bureaucratic Reform indices as corroboration) gives:

- the city's own rate of improvement as the share of its gap to a perfect score it closes a year
  (`Trend.yearly_share`: the Ombudsman score 2017-2021, the most recent window; 2015-2017, the
  catch-up years of the first surveys, is the upper end of `Trend.yearly_range`);
- a mapping of index points to Ombudsman points (`Trend.anchor_score`, the latest score, stands
  for today's no-exchange index: one index point closes the same share of the remaining gap as
  `sim.rules.score_points_per_index_point` Ombudsman points; an assumption);
- year-to-year variation of that rate (`Trend.yearly_sd`, from the only consecutive years).

`own_improvement` turns it into an exogenous component of the city index, drawn per seed from a
stream of its own: the same for a design and its no-exchange run with the same seed, so gains are
unchanged by it. The model's `service_index` never includes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim import rules
from sim.errors import DataError
from sim.inputs.files import read_csv_records

#: The packaged series.
TREND_FILE = Path(__file__).resolve().parent / "data" / "jakarta_service_trend.csv"

#: Columns of the series, in order.
COLUMNS = ("measure", "year", "value", "top", "source")

#: Entropy added to a run's seed for the trend's stream (not one of the model's streams).
STREAM_KEY = 0x7472656E64  # "trend"

#: The measure the mapping and the rate come from, and the windows of the rate.
MEASURE = "ombudsman_compliance"
RECENT = (2017, 2021)
EARLY = (2015, 2017)


@dataclass(frozen=True)
class Trend:
    """The city's own improvement and the mapping to Ombudsman points (see the module)."""

    yearly_share: float  # share of the gap to a perfect score closed a year (recent window)
    yearly_range: tuple[float, float]  # plausible range of it (recent, early window)
    yearly_sd: float  # sd of the log of a year's gap closed, relative to the mean
    anchor_score: float  # the latest Ombudsman score, taken to stand for today's index
    anchor_year: int


def load_series(path: Path = TREND_FILE) -> pd.DataFrame:
    """The series, checked: a problem is one DataError line naming the file and line."""
    path = Path(path)
    rows = []
    for number, row in read_csv_records(path, "trend series", COLUMNS):
        try:
            row["year"], row["value"], row["top"] = (
                int(row["year"]), float(row["value"]), float(row["top"]))  # fmt: skip
        except ValueError as err:
            raise DataError(f"{path}:{number}: not a number: {err}") from None
        if not (math.isfinite(row["value"]) and math.isfinite(row["top"]) and row["top"] > 0):
            raise DataError(f"{path}:{number}: value and top must be finite, top above 0")
        if not 0 <= row["value"] < row["top"]:
            raise DataError(f"{path}:{number}: value {row['value']:g} not in [0, top)")
        if not row["source"].strip():
            raise DataError(f"{path}:{number}: every value needs a source")
        if any(r["measure"] == row["measure"] and r["year"] == row["year"] for r in rows):
            raise DataError(f"{path}:{number}: {row['measure']} {row['year']} given twice")
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    years = set(table[table.measure == MEASURE].year)
    if not set(RECENT) | set(EARLY) <= years:
        raise DataError(f"{path}: needs {MEASURE} values for the years {sorted({*RECENT, *EARLY})}")
    return table


def trend_of(table: pd.DataFrame) -> Trend:
    """The rates, their variation and the mapping's anchor from the series."""
    score = table[table.measure == MEASURE].set_index("year")
    top = float(score.top.iloc[0])

    def share(window: tuple[int, int]) -> float:
        a, b = window
        return float(rules.gap_closed_per_year(score.value[a], score.value[b], b - a, top))

    # year-to-year variation: the log-gap closed in each of the consecutive years on record
    years = sorted(score.index)
    steps = [
        math.log((top - score.value[a]) / (top - score.value[b]))
        for a, b in zip(years, years[1:], strict=False)
        if b == a + 1
    ]
    sd = float(np.std(steps, ddof=1) / np.mean(steps)) if len(steps) > 1 else 0.0
    last = max(years)
    return Trend(share(RECENT), (share(RECENT), share(EARLY)), sd, float(score.value[last]), last)


@cache
def packaged_trend() -> Trend:
    """The trend of the packaged series."""
    return trend_of(load_series())


def own_improvement(seed: int, months: np.ndarray, start_index: float, trend: Trend) -> np.ndarray:
    """Index units the city adds by itself by each month (0 at month 0): each year closes a
    share of the gap left at month 0, drawn around `trend.yearly_share` (log-normal, relative
    sd `trend.yearly_sd`) from the seed's own trend stream; same seed, same path."""
    months = np.asarray(months)
    years = int(np.max(months, initial=0)) // 12 + 1
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), STREAM_KEY]))
    mean = -math.log(1.0 - trend.yearly_share)  # log-gap closed per year
    sd = math.sqrt(math.log(1.0 + trend.yearly_sd**2))
    per_year = mean * np.exp(sd * rng.standard_normal(years) - sd**2 / 2)
    per_month = np.repeat(per_year / 12.0, 12)
    closed = np.concatenate([[0.0], np.cumsum(per_month)])  # log-gap closed by month m
    return (1.0 - start_index) * (1.0 - np.exp(-closed[months]))


def ombudsman_points(gain, index, trend: Trend):
    """A gain (index units) in Ombudsman compliance points, gap-proportional (an assumption)."""
    return 100.0 * gain * rules.score_points_per_index_point(trend.anchor_score, index)


def own_months(gain, index, trend: Trend, yearly_share: float | None = None):
    """A gain (index units) in months of the city's own improvement at `index`."""
    share = trend.yearly_share if yearly_share is None else yearly_share
    return rules.months_of_improvement(gain, index, share)
